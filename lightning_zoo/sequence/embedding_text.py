"""Embedding - Flatten - Dense on IMDB ("Deep Learning with Python" 6.1), with learned or GloVe word vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lightning_zoo.cards import DLWP, Card, Result
from lightning_zoo.keras import keras_dense_init_
from lightning_zoo.sequence.text_classifier import LINE_BREAKS_DROPPED, TextClassifier, dlwp_results, keras_embedding


class EmbeddingDenseNetwork(nn.Module):
    """Embedding, Flatten, Dense-ReLU per hidden layer, Dense of logits. Usable without Lightning."""

    def __init__(
        self, vocab_size: int, embedding_dim: int, sequence_length: int, hidden_units: Sequence[int], outputs: int
    ) -> None:
        super().__init__()
        self.embedding = keras_embedding(vocab_size, embedding_dim)
        layers: list[nn.Module] = [nn.Flatten()]
        width = embedding_dim * sequence_length
        for units in hidden_units:
            layers += [keras_dense_init_(nn.Linear(width, units)), nn.ReLU()]
            width = units
        self.dense = nn.Sequential(*layers, keras_dense_init_(nn.Linear(width, outputs)))

    def forward(self, tokens: Tensor) -> Tensor:
        return self.dense(self.embedding(tokens))


class EmbeddingDenseClassifier(TextClassifier):
    """The first text models of "Deep Learning with Python": each review's word vectors flattened into one Dense
    layer (6.1, ``Embedding(10000, 8)``, maxlen 20), or with a Dense(32) hidden layer on GloVe vectors (6.1, the
    pretrained-embedding listing).

    Args:
        sequence_length: Words per review (linked from the DataModule's ``maxlen``).
        hidden_units: Units of the ReLU hidden layers between Flatten and the output.
        **kwargs: ``vocab_size``, ``embedding_dim`` and the embedding options of ``TextClassifier``; ``optimizer``
            and ``lr`` of ``Classifier`` (Keras' rmsprop at its own rate unless given).
    """

    def __init__(
        self,
        sequence_length: int = 20,
        hidden_units: Sequence[int] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        hp = self.hparams
        self.net = EmbeddingDenseNetwork(hp.vocab_size, hp.embedding_dim, sequence_length, hidden_units, self.outputs)
        self.freeze_embedding_if_asked()
        self.example_input_array = torch.ones(2, sequence_length, dtype=torch.long)


CARDS = (
    Card(
        name="embedding_dense_imdb",
        family="classifier",
        source=f"{DLWP}, 6.1 (spec B20)",
        config="configs/sequence/embedding_dense_imdb.yaml",
        dataset="IMDB (10,000 words, maxlen 20)",
        parameters={"": 80_161},
        parameter_sizes={"vocab_size": 10000, "sequence_length": 20},
        results=dlwp_results("embedding_dense_imdb", 75.94),
        deviations=(LINE_BREAKS_DROPPED,),
    ),
    Card(
        name="glove_dense_imdb",
        family="classifier",
        source=f"{DLWP}, 6.1 (spec B21)",
        config="configs/sequence/glove_dense_imdb.yaml",
        dataset="IMDB, 200 training reviews, GloVe 6B 100-d vectors (supplied by the user)",
        parameters={"": 1_320_065},
        parameter_sizes={"vocab_size": 10000, "sequence_length": 100},
        results=(
            Result(
                "test accuracy",
                53.66,
                "final weights after 10 epochs on 200 training reviews, 25,000 test reviews",
                ours="glove_dense_imdb.json:test_acc_pct",
                tolerance=1.5,
                note="seed 0",
            ),
            Result(
                "validation accuracy without GloVe",
                52.82,
                "the same model with a learned embedding: best validation accuracy of 10 epochs, 10,000 reviews",
                ours="glove_dense_imdb_without_glove.json:best_val_acc_pct",
                tolerance=1.5,
                note="seed 0; --model.pretrained_embedding false --model.freeze_embedding false",
            ),
        ),
        deviations=(
            "GloVe's files cannot be downloaded here: the run needs glove.6B.100d.txt under <data_dir>/glove/",
            "the tokenizer is Keras' Tokenizer(num_words=10000) on the raw reviews, ranks from the training reviews",
            LINE_BREAKS_DROPPED,
        ),
    ),
)
