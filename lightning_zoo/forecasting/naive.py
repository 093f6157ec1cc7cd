"""The common-sense baseline of "Deep Learning with Python" (1st ed., 6.3): tomorrow's temperature is today's."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lightning_zoo.cards import DLWP, HANDS_ON, Card, Result
from lightning_zoo.forecasting.base import JENA, NYC, Forecaster, jena_results, nyc_results


class NaiveForecaster(Forecaster):
    """Forecasts the target's last input value: no parameters, nothing to learn. "Training" it runs its epochs
    only to measure it (a model any learner must beat, in the same table and through the same loop).

    Args:
        target_index: Which input feature is the target (linked from the DataModule).
        **kwargs: ``input_size`` and ``loss`` of ``Forecaster``.
    """

    has_weights = False
    built_networks = ()  # its forward is the last value

    def __init__(self, target_index: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False  # there is nothing to optimise
        self.example_input_array = torch.ones(2, 10, self.hparams.input_size)

    def forward(self, x: Tensor) -> Tensor:
        return x[:, -1, self.hparams.target_index]

    def configure_optimizers(self) -> None:
        return None

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        loss = self.shared_step(batch, "train")
        self.log_on_logging_steps({"train/loss_step": loss})


CARDS = (
    Card(
        name="naive_djia",
        family="forecaster",
        source=f"The baseline of {HANDS_ON} ch. 6's GRU (not in the book)",
        config="configs/forecasting/naive_djia.yaml",
        dataset="DJIA daily closes 2001-2017, windows of 10 scaled by their last close",
        parameters={"": 0},
        parameters_from_book=False,
        results=(
            Result(
                "validation MSE",
                None,
                "the last 30 % of windows (scaled), gru_djia's book-way validation set",
                ours="naive_djia.json:best_val_mse",
                unit="",
                note="tomorrow = today: the bar gru_djia's 5.23e-05 must clear",
            ),
            Result(
                "test RMSE in index points (honest)",
                None,
                "the last 15 % of windows, gru_djia_honest's test set",
                ours="naive_djia_honest.json:test_rmse_units",
                unit="points",
                note="test MSE (scaled) {test_mse}",
            ),
        ),
    ),
    Card(
        name="naive_jena",
        family="forecaster",
        source=f"{DLWP}, 6.3 (spec B25)",
        config="configs/forecasting/naive_jena.yaml",
        dataset=JENA,
        parameters={"": 0},
        results=jena_results("naive_jena", 0.2897, "validation MAE, normalised (2.57 degC)"),
    ),
    Card(
        name="naive_nyc_weather",
        family="forecaster",
        source=f"{DLWP}, 6.3, on NYC weather (not in the book)",
        config="configs/forecasting/naive_nyc_weather.yaml",
        dataset=NYC,
        parameters={"": 0},
        parameters_from_book=False,
        results=nyc_results("naive_nyc_weather"),
    ),
)
