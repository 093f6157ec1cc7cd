"""A 1D convnet in front of a GRU: "Deep Learning with Python" (1st ed., 6.4) on long weather sequences."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lightning_zoo.cards import DLWP, Card
from lightning_zoo.forecasting.base import JENA, KERAS2_GRU, NYC, Forecaster, jena_results, nyc_results
from lightning_zoo.keras import keras_dense_init_, keras_init_
from lightning_zoo.sequence.recurrent import Cell, KerasRecurrent, keras2_options


class ConvRecurrentNetwork(nn.Module):
    """Conv1D-ReLU, MaxPool1D, Conv1D-ReLU ('valid'), a recurrent layer's final state, Dense(1): the convolutions
    shorten the sequence (by ``pool_size``) before the slower recurrent layer reads it. Usable without Lightning."""

    def __init__(
        self, input_size: int, filters: int, kernel_size: int, pool_size: int, recurrent: KerasRecurrent
    ) -> None:
        super().__init__()
        self.convs = keras_init_(nn.Sequential(
            nn.Conv1d(input_size, filters, kernel_size), nn.ReLU(), nn.MaxPool1d(pool_size),
            nn.Conv1d(filters, filters, kernel_size), nn.ReLU(),
        ))  # fmt: skip
        self.recurrent = recurrent
        self.head = keras_dense_init_(nn.Linear(recurrent.output_size, 1))

    def forward(self, x: Tensor) -> Tensor:
        features = self.convs(x.transpose(1, 2)).transpose(1, 2)  # convolve over time, back to (batch, time, ch)
        return self.head(self.recurrent(features)[1])


class ConvRecurrentForecaster(Forecaster):
    """Conv1D(32, 5) - MaxPool1D(3) - Conv1D(32, 5) - GRU(32, dropout 0.1, recurrent_dropout 0.5) - Dense(1).

    Args:
        filters: Filters of both convolutions.
        kernel_size: Width of both convolutions.
        pool_size: Max pooling between them.
        cell: The recurrent layer: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        hidden_size: Its units.
        dropout: Its Keras ``dropout``.
        recurrent_dropout: Its Keras ``recurrent_dropout`` (an unfused loop while training).
        keras2: The book's Keras 2 recurrent layer (see :func:`~lightning_zoo.sequence.recurrent.keras2_options`).
        **kwargs: ``input_size``, ``loss``, ``optimizer``, ``lr``, ``eps`` of ``Forecaster``.
    """

    def __init__(
        self,
        filters: int = 32,
        kernel_size: int = 5,
        pool_size: int = 3,
        cell: Cell = "gru",
        hidden_size: int = 32,
        dropout: float = 0.1,
        recurrent_dropout: float = 0.5,
        keras2: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        options = keras2_options(cell) if keras2 else {}
        recurrent = KerasRecurrent(
            filters, hidden_size, cell, dropout=dropout, recurrent_dropout=recurrent_dropout, **options
        )
        self.net = ConvRecurrentNetwork(self.hparams.input_size, filters, kernel_size, pool_size, recurrent)
        self.example_input_array = torch.ones(2, 2 * kernel_size * pool_size, self.hparams.input_size)


CARDS = (
    Card(
        name="conv1d_gru_jena",
        family="forecaster",
        source=f"{DLWP}, 6.4 (spec B30)",
        config="configs/forecasting/conv1d_gru_jena.yaml",
        dataset=JENA,
        parameters={"": 13_793},
        parameters_from_book=False,
        results=jena_results("conv1d_gru_jena", 0.273),
        deviations=(KERAS2_GRU + ": 13,793 parameters, the book's Keras 2.0 GRU 13,697",),
    ),
    Card(
        name="conv1d_gru_nyc_weather",
        family="forecaster",
        source=f"{DLWP}, 6.4, on NYC weather (not in the book)",
        config="configs/forecasting/conv1d_gru_nyc_weather.yaml",
        dataset=NYC,
        parameters={"": 12_833},
        parameters_from_book=False,
        results=nyc_results("conv1d_gru_nyc_weather", keras2=True),
        deviations=(KERAS2_GRU,),
    ),
)
