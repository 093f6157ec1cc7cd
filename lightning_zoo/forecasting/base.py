"""The loop every forecaster shares: a regression loss on scaled targets, errors in scaled and in data units, and
forecasts written next to the truth."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_lightning.loggers import WandbLogger
from torch import Tensor

from lightning_zoo.cards import Result
from lightning_zoo.core import SharedStepModule
from lightning_zoo.files import atomic_path
from lightning_zoo.keras import KerasOptimizer, keras_optimizer

LOSSES = {"mse": F.mse_loss, "mae": F.l1_loss}

# Every GRU forecaster card's: the fused GRU is TF 2's, the books ran Keras 2's.
KERAS2_GRU = (
    "the GRU is PyTorch's (Keras' TF 2 GRU: reset gate after the product, a second bias vector, sigmoid gates); "
    "the book's Keras 2 GRU (reset gate before the product, one bias vector, hard_sigmoid gates, a dropout mask per "
    "gate) is --model.keras2 true, in the unfused loop"
)


class Forecaster(SharedStepModule):
    """Base of the forecasters: a subclass builds ``self.net`` (inputs (batch, time, features) to one value per
    sample). Batches are ``(inputs, target, scale, offset, time)`` as the time-series DataModules make them: the loss
    is on the scaled target, and ``target * scale + offset`` is in the data's units (prices, degrees).

    Logs ``{train,val,test}/loss``, ``/mae`` and ``/mse`` (scaled) and ``/mae_units`` and ``/mse_units`` (in the
    data's units) per epoch; ``predict`` writes ``forecasts.csv`` (time, target, forecast, error, in units; the
    forecasts past the file's last row with no target) and ``forecast.png``, and, when W&B logs, an interactive line
    chart of both.

    Args:
        input_size: Features per time step (linked from the DataModule).
        loss: ``"mse"`` (the stock example) or ``"mae"`` (the weather chapter).
        optimizer: A Keras optimizer with Keras' defaults.
        lr: Learning rate; default Keras' for the optimizer.
        eps: The optimizer's epsilon; default Keras 2.1.3 and later's, 1e-7. Keras up to 2.1.2 (DLwP's) defaulted to
            1e-8, and the Hands-On book's RMSprop passes it.
    """

    is_family_base = True
    family = "forecaster"
    monitor = "val/loss"
    monitor_mode = "min"
    prediction_files = ("forecasts.csv", "forecast.png")

    def __init__(
        self,
        input_size: int = 1,
        loss: Literal["mse", "mae"] = "mse",
        optimizer: KerasOptimizer = "rmsprop",
        lr: float | None = None,
        eps: float | None = None,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        self.loss_fn = LOSSES[loss]
        names = ("loss", "mae", "mse", "mae_units", "mse_units")
        self.track_epoch_means(*names)

    net: torch.nn.Module
    built_networks = ("net",)

    def forward(self, x: Tensor) -> Tensor:
        """One forecast per sample, (batch,)."""
        return self.net(x).squeeze(-1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return keras_optimizer(self.hparams.optimizer, self.parameters(), self.hparams.lr, self.hparams.eps)

    def shared_step(self, batch: tuple[Tensor, ...], stage: str) -> Tensor:
        x, y, scale, _, _ = batch
        forecast = self(x)
        loss = self.loss_fn(forecast, y)
        with torch.no_grad():
            error = forecast.detach() - y
            units = error * scale
            self.epoch_means[stage].update(
                len(y),
                loss=loss.detach() * len(y),
                mae=error.abs().sum(),
                mse=error.pow(2).sum(),
                mae_units=units.abs().sum(),
                mse_units=units.pow(2).sum(),
            )
        return loss

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict[str, Tensor]:
        x, y, scale, offset, time = batch
        return {"forecast": self(x) * scale + offset, "target": y * scale + offset, "time": time}

    def write_predictions(self, outputs: list[dict[str, Tensor]], directory: Path) -> list[Path]:
        """``forecasts.csv`` (time, target, forecast, error, in the data's units, and the DataModule's columns, such
        as each window's ``split``) and ``forecast.png``."""
        joined = {key: torch.cat([o[key] for o in outputs]).double().cpu().numpy() for key in outputs[0]}
        times = joined["time"].astype(np.int64).astype("datetime64[s]")
        inputs = self._prediction_inputs(len(times))
        as_text = getattr(getattr(self._trainer, "datamodule", None), "time_texts", None)  # as the data wrote them
        texts = as_text(times) if callable(as_text) else [str(t) for t in times]
        table = directory / "forecasts.csv"
        with atomic_path(table) as partial, open(partial, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["time", "target", "forecast", "error", *inputs])
            for i, (t, target, forecast) in enumerate(zip(texts, joined["target"], joined["forecast"], strict=True)):
                # 8 significant digits: the float32 the model computes in (a close of 10584.34 stays 10584.34); a
                # target past the file's end is unknown, its target and error blank
                known = not np.isnan(target)
                numbers = (
                    f"{target:.8g}" if known else "",
                    f"{forecast:.8g}",
                    f"{forecast - target:.8g}" if known else "",
                )
                writer.writerow([t, *numbers, *(column[i] for column in inputs.values())])
        plot = directory / "forecast.png"
        plot_forecast(times, joined["target"], joined["forecast"], plot, title=type(self).__name__)
        self._log_line_chart(times, joined["target"], joined["forecast"])
        return [table, plot]

    def _log_line_chart(self, times: np.ndarray, target: np.ndarray, forecast: np.ndarray) -> None:
        for logger in self.loggers:
            if isinstance(logger, WandbLogger):
                import wandb

                xs = ((times - times[0]) / np.timedelta64(1, "D")).tolist()  # days since the first forecast
                truth = [None if np.isnan(v) else v for v in target.tolist()]  # unknown past the file's end
                chart = wandb.plot.line_series(
                    xs=xs, ys=[truth, forecast.tolist()], keys=["truth", "forecast"],
                    title="forecast", xname=f"days since {times[0]}",
                )  # fmt: skip
                logger.experiment.log({"predict/forecast": chart})


def plot_forecast(times: np.ndarray, target: np.ndarray, forecast: np.ndarray, path: Path, title: str) -> Path:
    """Truth and forecast against time, as a PNG written atomically."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 4), dpi=100)
    axes.plot(times, target, label="truth", linewidth=1)
    axes.plot(times, forecast, label="forecast", linewidth=1)
    axes.set_title(title)
    axes.legend()
    figure.autofmt_xdate()
    with atomic_path(path) as partial:
        figure.savefig(partial)
    plt.close(figure)
    return path


JENA = "Jena climate 2009-2016 (not in ../shared/data: downloaded by the DataModule)"
NYC = "NYC 2013 hourly weather, Newark (../shared/data/weather)"


def jena_results(name: str, book: float, evaluated: str = "best validation MAE over the epochs, normalised"):
    """The book's Jena number (normalised MAE; 1.0 is 8.86 degC) and ours, when a run with the data was made."""
    return (
        Result("validation MAE", book, evaluated, ours=f"{name}.json:best_val_mae", unit="", tolerance=0.01,
               lower_is_better=True, note="seed 0, {epochs_trained} epochs"),
    )  # fmt: skip


def nyc_results(name: str, keras2: bool = False) -> tuple[Result, ...]:
    """Ours on the NYC series (no book number: the ordering of the models is the book's claim to check); with
    ``keras2``, also the run with the book's Keras 2 GRU (``<name>_keras2.json``)."""
    variants = [("", name, "seed 0")]
    if keras2:
        variants.append((", the book's Keras 2 GRU", f"{name}_keras2", "--model.keras2 true, seed 0"))
    return tuple(
        Result(f"test MAE{variant}", None, "best-validation weights, the last quarter of 2013",
               ours=f"{file}.json:test_mae_units", unit="degF",
               note=how + "; validation MAE {best_val_mae:.4f} normalised")
        for variant, file, how in variants
    )  # fmt: skip
