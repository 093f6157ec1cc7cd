"""The 1D convnet on IMDB of "Deep Learning with Python" (1st ed.), 6.4."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lightning_zoo.cards import DLWP, Card
from lightning_zoo.core import ZooError
from lightning_zoo.keras import keras_init_
from lightning_zoo.sequence.text_classifier import LINE_BREAKS_DROPPED, TextClassifier, dlwp_results, keras_embedding


class Conv1DTextNetwork(nn.Module):
    """Embedding, Conv1D(filters, k)-ReLU, MaxPool1D(pool_size), Conv1D(filters, k)-ReLU, global max pooling, Dense of
    logits; 'valid' convolutions. Usable without Lightning."""

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        outputs: int,
        filters: int = 32,
        kernel_size: int = 7,
        pool_size: int = 5,
    ) -> None:
        super().__init__()
        self.embedding = keras_embedding(vocab_size, embedding_dim)
        self.minimum_length = (kernel_size - 1) + pool_size * kernel_size  # shortest review both convolutions fit in
        self.features = nn.Sequential(
            nn.Conv1d(embedding_dim, filters, kernel_size), nn.ReLU(), nn.MaxPool1d(pool_size),
            nn.Conv1d(filters, filters, kernel_size), nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Linear(filters, outputs)
        keras_init_(self.features)
        keras_init_(self.head)

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.shape[1] < self.minimum_length:
            raise ValueError(f"Conv1DTextNetwork needs sequences of at least {self.minimum_length} words")
        return self.head(self.features(self.embedding(tokens).transpose(1, 2)))  # convolve over time


class Conv1DTextClassifier(TextClassifier):
    """Embedding(10000, 128) - Conv1D(32, 7) - MaxPool(5) - Conv1D(32, 7) - GlobalMaxPool - Dense(1), RMSprop 1e-4.

    The book's last layer has no activation yet is trained with ``binary_crossentropy``, which expects
    probabilities: here the output is a logit and the loss is binary cross-entropy on logits, the evident intent.

    Args:
        filters: Filters of both convolutions.
        kernel_size: Width of both convolutions.
        pool_size: Width of the max pooling between them.
        lr: Learning rate (the book's 1e-4).
        **kwargs: ``vocab_size``, ``embedding_dim`` and the embedding options of ``TextClassifier``; ``optimizer``
            of ``Classifier`` (Keras' rmsprop, the book's, unless given).
    """

    def __init__(
        self,
        filters: int = 32,
        kernel_size: int = 7,
        pool_size: int = 5,
        lr: float | None = 1e-4,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr=lr, **kwargs)
        hp = self.hparams
        self.net = Conv1DTextNetwork(hp.vocab_size, hp.embedding_dim, self.outputs, filters, kernel_size, pool_size)
        self.freeze_embedding_if_asked()
        self.example_input_array = torch.ones(2, self.net.minimum_length, dtype=torch.long)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        length = getattr(self.trainer.datamodule, "sequence_length", None)  # every review is padded to it
        if length is not None and length < self.net.minimum_length:
            raise ZooError(
                f"{type(self).__name__}'s two convolutions need reviews of at least {self.net.minimum_length} words, "
                f"the data pads them to {length}: raise --data.maxlen"
            )


CARDS = (
    Card(
        name="conv1d_imdb",
        family="classifier",
        source=f"{DLWP}, 6.4 (spec B29)",
        config="configs/sequence/conv1d_imdb.yaml",
        dataset="IMDB (10,000 words, maxlen 500)",
        parameters={"": 1_315_937},
        parameter_sizes={"vocab_size": 10000},
        results=dlwp_results("conv1d_imdb", 83.82),
        learns_within=300,  # RMSprop at the book's 1e-4
        deviations=(
            "the book's Dense(1) has no sigmoid under binary_crossentropy; ours is a logit, BCE with logits",
            LINE_BREAKS_DROPPED,
        ),
    ),
)
