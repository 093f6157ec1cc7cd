"""The character-level recurrent language models: Hands-On's 2 x SimpleRNN(800) and 2 x LSTM(800) on War and Peace
(E1, E2), the Sherlock Holmes LSTM(128) (article 3) and the LSTM(75) of article 4: one module whose cell, sizes and
dropout are arguments."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_zoo.cards import Card, Result
from lightning_zoo.keras import keras_dense_init_
from lightning_zoo.language.base import LanguageModelBase
from lightning_zoo.sequence.recurrent import CELLS, FUSED_SIGMOID_GATES, Cell, keras_recurrent_init_


class CharRNN(LanguageModelBase):
    """One-hot characters -> stacked recurrent layers (fused kernel, Keras' initialisation and forget bias), each
    followed by ``Dropout`` -> ``TimeDistributed(Dense(vocab))``.

    Keras' ``Dropout`` after a ``return_sequences`` layer drops every step's units independently, which is what the
    fused kernel's ``dropout`` does between layers; the last layer's dropout is a layer of its own.

    Args:
        cell: ``"rnn"`` (Keras' SimpleRNN), ``"lstm"`` or ``"gru"``.
        hidden_size: Units per layer.
        num_layers: Stacked layers.
        dropout: Dropout after every layer.
        activation: A SimpleRNN's activation, ``"tanh"`` (Keras' default) or ``"relu"`` (E1).
        single_bias: Keep PyTorch's second recurrent bias at zero and out of training, so that the gates' bias learns
            at Keras' rate (see :func:`~lightning_zoo.sequence.recurrent.keras_recurrent_init_`).
        generation_window: Generate as the books' code does: each character from the last ``generation_window``
            characters (prompt included) re-read from a zero state. None: read each character once and carry the
            state, which sees the whole prefix and costs one step a character instead of a window's.
        **kwargs: As :class:`LanguageModelBase` (``vocab_size``, ``optimizer``, ``lr``, generation).
    """

    def __init__(
        self,
        cell: Cell = "rnn",
        hidden_size: int = 800,
        num_layers: int = 2,
        dropout: float = 0.3,
        activation: Literal["tanh", "relu"] = "tanh",
        single_bias: bool = True,
        generation_window: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if generation_window is not None and generation_window < 1:
            raise ValueError(
                f"generation_window must be at least 1 (or null: carry the state), got {generation_window}"
            )
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if activation != "tanh" and cell != "rnn":
            raise ValueError(f"activation is a SimpleRNN's ('rnn'); an {cell.upper()} has its gates' own")
        if not 0 <= dropout < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(f"need dropout in [0, 1), hidden_size and num_layers >= 1; got {dropout}, "
                             f"{hidden_size}, {num_layers}")  # fmt: skip
        vocab_size = self.hparams.vocab_size
        options = {"nonlinearity": activation} if cell == "rnn" else {}
        between = dropout if num_layers > 1 else 0.0  # the kernel's dropout acts between layers only
        self.rnn = keras_recurrent_init_(
            CELLS[cell](vocab_size, hidden_size, num_layers, batch_first=True, dropout=between, **options),
            single_bias,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = keras_dense_init_(nn.Linear(hidden_size, vocab_size))

    def read(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Logits (batch, time, vocab) of the character after each position, and the recurrent state."""
        one_hot = F.one_hot(tokens, self.hparams.vocab_size).to(self.head.weight.dtype)
        outputs, state = self.rnn(one_hot, state)
        return self.head(self.dropout(outputs)), state

    def start(self, prompt: Tensor) -> tuple[Tensor, Any]:
        if self.hparams.generation_window is None:
            return super().start(prompt)
        return self.reread(prompt)

    def advance(self, token: Tensor, state: Any) -> tuple[Tensor, Any]:
        if self.hparams.generation_window is None:
            return super().advance(token, state)
        return self.reread(torch.cat([state, token.view(1)]))

    def reread(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """The logits after the last ``generation_window`` tokens of ``context``, read from a zero state, and that
        window (the state :meth:`advance` continues from)."""
        window = context[-self.hparams.generation_window :]
        return self.read(window.unsqueeze(0))[0][0, -1], window


EPSILON_1E8 = (
    "RMSprop's epsilon is Keras' default 1e-7, as measured; the book sets 1e-8 (--model.eps 1e-8; the measured "
    "runs predate the option)."
)


def _keras_count(cell: str, vocab: int, units: int, layers: int) -> int:
    """Keras' parameter count of the stack (one bias per gate); PyTorch's adds ``bias_hh``, gates x units a layer."""
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    inputs = [vocab] + [units] * (layers - 1)
    return sum(gates * (width * units + units * units + units) for width in inputs) + units * vocab + vocab


def _second_bias(cell: str, units: int, layers: int) -> int:
    return {"rnn": 1, "lstm": 4, "gru": 3}[cell] * units * layers


def _second_bias_note(extra: int, keras: int) -> str:
    return (
        f"PyTorch's recurrent layers hold a second bias vector (bias_hh): {extra:,} parameters more than Keras' "
        f"{keras:,}, kept at zero and out of training (single_bias), so the model trains Keras' {keras:,}."
    )


_E1_KERAS, _E2_KERAS = _keras_count("rnn", 57, 800, 2), _keras_count("lstm", 57, 800, 2)  # 2,012,857, 7,914,457
_SHERLOCK_KERAS = _keras_count("lstm", 62, 128, 1)
_LSTM75_KERAS = _keras_count("lstm", 62, 75, 1)

CARDS = (
    Card(
        name="char_rnn_warpeace",
        family="language_model",
        source="Hands-On Deep Learning Architectures with Python, ch. 6, vanilla RNN text generator (E1)",
        config="configs/language/char_rnn_warpeace.yaml",
        dataset="War and Peace (char-rnn text, 3,196,213 characters, 57 symbols)",
        parameters={"": _E1_KERAS + _second_bias("rnn", 800, 2)},
        parameters_from_book=False,
        parameter_sizes={"vocab_size": 57},
        results=(
            Result(
                "training loss after epoch 1",
                2.1955,
                "mean training cross-entropy of epoch 1 (nats/char)",
                "char_rnn_warpeace.json:epoch_train_loss.0",
                unit="",
                tolerance=0.1,
                lower_is_better=True,
                note="{note}",
            ),
            Result(
                "training loss after epoch 11",
                1.2493,
                "mean training cross-entropy of epoch 11",
                "char_rnn_warpeace.json:epoch_train_loss.10",
                unit="",
                tolerance=0.05,
                lower_is_better=True,
                note="{note}",
            ),
            Result(
                "best training loss",
                1.10864,
                "lowest epoch training loss, early stopping (patience 50) at 203 (the whole schedule: bash "
                "benchmarks/gpu.sh language)",
                "char_rnn_warpeace_gpu.json:best_train_loss",
                unit="",
                tolerance=0.05,
                lower_is_better=True,
                note="{note}",
            ),
        ),  # fmt: skip
        deviations=(
            _second_bias_note(_second_bias("rnn", 800, 2), _E1_KERAS),
            "Generation re-reads the last 102 characters from a zero state for each one, as the book's code does "
            "(generation_window 102: its slice X[:, max(0, i - seq_length - 1) : i + 1] takes seq_length + 2, not "
            "the 'at most 100' its prose says).",
            "Keras' categorical cross-entropy computed from logits and index targets, with Keras' clip of the "
            "probabilities at 1e-7 (loss: keras). A first run with PyTorch's unbounded cross-entropy and both "
            "recurrent biases trained diverged in its first epoch (mean training loss 4e13).",
            EPSILON_1E8,
        ),
    ),
    Card(
        name="char_lstm_warpeace",
        family="language_model",
        source="Hands-On Deep Learning Architectures with Python, ch. 6, LSTM text generator (E2)",
        config="configs/language/char_lstm_warpeace.yaml",
        dataset="War and Peace (char-rnn text, 19,976 windows of 160 characters)",
        parameters={"": _E2_KERAS + _second_bias("lstm", 800, 2)},
        parameters_from_book=False,
        parameter_sizes={"vocab_size": 57},
        results=(
            Result(
                "training loss after epoch 151",
                0.7300,
                "mean training cross-entropy of epoch 151",
                "char_lstm_warpeace_gpu.json:epoch_train_loss.150",
                unit="",
                tolerance=0.05,
                lower_is_better=True,
                note="{note}",
            ),
            Result(
                "training loss after epoch 300",
                0.6001,
                "mean training cross-entropy of epoch 300",
                "char_lstm_warpeace_gpu.json:epoch_train_loss.299",
                unit="",
                tolerance=0.05,
                lower_is_better=True,
                note="{note}",
            ),
            Result(
                "training loss after the last epoch run",
                0.6001,
                "mean training cross-entropy of the last epoch run so far; the book's is its epoch 300's",
                "char_lstm_warpeace_gpu.json:epoch_train_loss.-1",
                unit="",
                tolerance=0.05,
                lower_is_better=True,
                note="{note}",
            ),
        ),  # fmt: skip
        deviations=(
            _second_bias_note(_second_bias("lstm", 800, 2), _E2_KERAS),
            "Generation re-reads the last 162 characters from a zero state for each one, as the book's code does "
            "(generation_window 162, seq_length + 2 by its slice).",
            FUSED_SIGMOID_GATES.format("book"),
        ),
    ),
    Card(
        name="char_lstm_sherlock",
        family="language_model",
        source="'Generating text using a recurrent neural network' (generative articles, article 3)",
        config="configs/language/char_lstm_sherlock.yaml",
        dataset="The Adventures of Sherlock Holmes (Project Gutenberg #1661, lower-cased, 62 symbols)",
        parameters={"": _SHERLOCK_KERAS + _second_bias("lstm", 128, 1)},
        parameters_from_book=False,
        parameter_sizes={"vocab_size": 62},
        results=(
            Result(
                "training loss after epoch 1",
                1.9731,
                "mean training cross-entropy of epoch 1 (of 5)",
                "char_lstm_sherlock.json:epoch_train_loss.0",
                unit="",
                tolerance=0.1,
                lower_is_better=True,
                note="{note}",
            ),
        ),  # fmt: skip
        deviations=(
            _second_bias_note(_second_bias("lstm", 128, 1), _SHERLOCK_KERAS),
            "The article's text file is the same Project Gutenberg book; its exact copy (and so its vocabulary size) "
            "is not known: ours has 62 symbols after lower-casing.",
            FUSED_SIGMOID_GATES.format("article"),
        ),
    ),
    Card(
        name="char_lstm75_sherlock",
        family="language_model",
        source="'Generating text with neural networks (LSTMs)' (generative articles, article 4)",
        config="configs/language/char_lstm75_sherlock.yaml",
        dataset="The Adventures of Sherlock Holmes (the article's 500 lines of lyrics are not public)",
        parameters={"": _LSTM75_KERAS + _second_bias("lstm", 75, 1)},
        parameters_from_book=False,
        parameter_sizes={"vocab_size": 62},
        results=(
            Result(
                "training accuracy",
                None,
                "next-character accuracy on the training windows; the article's 80 % "
                "is on 500 lines of J. Cole lyrics, not comparable",
                "char_lstm75_sherlock.json:train_acc_pct",
                note="{note}",
            ),
        ),  # fmt: skip
        deviations=(
            "The article trains on 500 lines of J. Cole lyrics, which are not public: this runs on the Sherlock "
            "Holmes text, so its numbers are not the article's.",
            "The article's code (from its machinelearningmastery reference) is character-level, one-hot input, "
            "windows of 10 characters: the issue lists it among the word-level models, the code says otherwise.",
            _second_bias_note(_second_bias("lstm", 75, 1), _LSTM75_KERAS),
            "Batch 128 instead of Keras' default 32 (the article gives none), to make an epoch of 560,000 windows "
            "affordable on a CPU.",
            FUSED_SIGMOID_GATES.format("article"),
        ),
    ),
)
