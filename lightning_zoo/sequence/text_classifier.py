"""What the text classifiers share: Keras' embedding, optionally started from word vectors and frozen."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lightning_zoo.cards import Result
from lightning_zoo.classification.base import Classifier
from lightning_zoo.core import ZooError


def keras_embedding(vocab_size: int, dim: int) -> nn.Embedding:
    """Keras' ``Embedding``: uniform(-0.05, 0.05) (PyTorch: normal(0, 1)); index 0, the padding, is a word like any
    other (Keras without ``mask_zero``)."""
    embedding = nn.Embedding(vocab_size, dim)
    nn.init.uniform_(embedding.weight, -0.05, 0.05)
    return embedding


# Every IMDB card's: the books' reviews come from Keras' imdb.npz (or its Tokenizer on the raw text), which read each
# "<br />" as the word "br"; the DataModule drops them unless asked.
LINE_BREAKS_DROPPED = (
    "the reviews' <br /> line breaks are dropped; the book's Keras data reads each as the word \"br\" "
    "(--data.line_breaks true)"
)


class TextClassifier(Classifier):
    """Base of the classifiers of word-index sequences: ``self.net`` holds an ``embedding`` and takes (batch, time)
    indices. Two classes get one sigmoid logit, as the books' ``Dense(1, activation="sigmoid")``.

    Args:
        vocab_size: Embedding rows (linked from the DataModule's ``num_words``).
        embedding_dim: Embedding width.
        pretrained_embedding: Start the embedding from the DataModule's word vectors (``--data.word_vectors``,
            a GloVe file), read when training starts.
        freeze_embedding: Keep the embedding fixed (``trainable = False``), as with pretrained vectors.
    """

    is_family_base = True

    def __init__(
        self,
        vocab_size: int = 10000,
        embedding_dim: int = 32,
        pretrained_embedding: bool = False,
        freeze_embedding: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)

    @property
    def outputs(self) -> int:
        return self.output_units(binary=True)

    def freeze_embedding_if_asked(self) -> None:
        """Call after building ``self.net``: a frozen embedding stays out of the optimizer."""
        self.net.embedding.weight.requires_grad_(not self.hparams.freeze_embedding)

    def load_initial_weights(self) -> None:
        if not self.hparams.pretrained_embedding:
            return
        datamodule = self.trainer.datamodule
        if not hasattr(datamodule, "embedding_matrix"):
            raise ZooError(f"pretrained_embedding needs word vectors, which {type(datamodule).__name__} does not have")
        matrix = datamodule.embedding_matrix(self.hparams.embedding_dim)
        with torch.no_grad():
            self.net.embedding.weight.copy_(matrix)


DLWP_PROTOCOL = "best validation accuracy of 10 epochs, validation = the last 20 % of the training reviews"
HONEST = "test accuracy of the best-validation epoch's weights, 25,000 test reviews"


def dlwp_results(name: str, book: float, tolerance: float = 1.5) -> tuple[Result, ...]:
    """The book's number (best validation accuracy over its epochs) and the honest one (test accuracy of the epoch
    that validation picks), from ``benchmarks/results/<name>.json`` (written by ``benchmarks/epoch_curves.py``)."""
    return (
        Result("validation accuracy", book, DLWP_PROTOCOL, f"{name}.json:best_val_acc_pct_mean", tolerance=tolerance,
               note="{seeds}; seeded random 20 % split"),
        Result("test accuracy", None, HONEST, f"{name}.json:test_acc_at_best_val_pct_mean",
               note="{seeds}"),
    )  # fmt: skip
