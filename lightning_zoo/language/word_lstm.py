"""The word-level language model of 'Generating Singlish text messages with an LSTM network' (article 2):
Embedding -> Bidirectional LSTM -> Dropout -> Dense(vocab), the previous four words predicting the next."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_zoo.cards import Card, Result
from lightning_zoo.keras import KerasOptimizer, keras_dense_init_
from lightning_zoo.language.base import LanguageModelBase
from lightning_zoo.sequence.recurrent import FUSED_SIGMOID_GATES, keras_recurrent_init_
from lightning_zoo.sequence.text_classifier import keras_embedding


class WordLSTM(LanguageModelBase):
    """Embedding -> (Bidirectional) LSTM, its final state only (Keras without ``return_sequences``) -> Dropout ->
    Dense(vocab). It reads a whole window at once (a backward direction has no state to carry forward), so
    generation keeps the last ``sequence_length`` words and reads them again for each new word.

    Args:
        embedding_dim: Embedding width (the article's model states none; its rule of thumb is vocab ** 0.25, its
            illustration of an embedding uses 3).
        hidden_size: LSTM units per direction (the article gives none).
        bidirectional: The article's ``Bidirectional`` wrapper.
        dropout: Dropout before the output layer (the article gives no rate).
        sequence_length: Words per window (linked from the DataModule); generation pads a shorter prompt in front
            with index 0, as the article pads its seed.
        **kwargs: As :class:`LanguageModelBase`.
    """

    def __init__(
        self,
        embedding_dim: int = 10,
        hidden_size: int = 100,
        bidirectional: bool = True,
        dropout: float = 0.2,
        sequence_length: int = 4,
        optimizer: KerasOptimizer = "adam",
        **kwargs: Any,
    ) -> None:
        super().__init__(optimizer=optimizer, **kwargs)
        if sequence_length < 1:
            raise ValueError(f"sequence_length must be at least 1, got {sequence_length}")
        self.embedding = keras_embedding(self.hparams.vocab_size, embedding_dim)
        self.lstm = keras_recurrent_init_(
            nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=bidirectional), single_bias=True
        )
        self.dropout = nn.Dropout(dropout)
        self.head = keras_dense_init_(nn.Linear(hidden_size * (2 if bidirectional else 1), self.hparams.vocab_size))

    def read(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, None]:
        """Logits (batch, 1, vocab) of the word after each window; no state (see the class)."""
        _, (h, _) = self.lstm(self.embedding(tokens))
        final = torch.cat(list(h), dim=-1)  # the forward direction's last state, then the backward's
        return self.head(self.dropout(final)).unsqueeze(1), None

    def start(self, prompt: Tensor) -> tuple[Tensor, Tensor]:
        length = self.hparams.sequence_length
        window = F.pad(prompt[-length:], (max(0, length - len(prompt)), 0))
        return self(window.unsqueeze(0))[0, -1], window

    def advance(self, token: Tensor, window: Tensor) -> tuple[Tensor, Tensor]:
        window = torch.cat([window[1:], token.view(1)])
        return self(window.unsqueeze(0))[0, -1], window


def _keras_count(vocab: int, embedding: int, units: int) -> int:
    lstm = 2 * 4 * (embedding * units + units * units + units)
    return vocab * embedding + lstm + 2 * units * vocab + vocab


CARDS = (
    Card(
        name="word_bilstm_sherlock",
        family="language_model",
        source="'Generating Singlish text messages with an LSTM network' (generative articles, article 2)",
        config="configs/language/word_bilstm_sherlock.yaml",
        dataset="The Adventures of Sherlock Holmes as words (the article's NUS SMS corpus is not public)",
        parameters={"": _keras_count(3000, 10, 100) + 2 * 4 * 100},
        parameters_from_book=False,
        parameter_sizes={"vocab_size": 3000},
        results=(
            Result(
                "validation accuracy",
                None,
                "next-word accuracy on the held-out last 10 % of the text at the "
                "epoch of the lowest validation loss (the article: 9.35 % on SMS messages, not comparable)",
                "word_bilstm_sherlock.json:val_acc_pct",
                note="{note}",
            ),
            Result(
                "training accuracy",
                None,
                "next-word accuracy on the training windows at that epoch (the article: 20.5 % on SMS messages)",
                "word_bilstm_sherlock.json:train_acc_pct",
                note="{note}",
            ),
        ),  # fmt: skip
        deviations=(
            "The article's corpus (the first 1,000 messages of the NUS SMS corpus) is not public: this runs on the "
            "Sherlock Holmes text, with a 3,000-word vocabulary (padding and OOV included), so its numbers are not "
            "the article's.",
            "The article's model states no layer sizes or dropout rate (its illustration of an embedding uses 3 "
            "dimensions; its rule of thumb, vocab ** 0.25, gives 7.4 for 3,000 words): embedding 10, 100 LSTM units "
            "per direction and dropout 0.2 are our choices.",
            "PyTorch's LSTM holds a second bias vector: 800 parameters more than Keras would count, kept at zero and "
            "out of training.",
            FUSED_SIGMOID_GATES.format("article"),
        ),
    ),
)
