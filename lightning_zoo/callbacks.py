"""Callbacks shared by every family: checkpointing by the model's own metric, sample grids, prediction files."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter, Callback, ModelCheckpoint, RichProgressBar
from pytorch_lightning.callbacks.progress.rich_progress import RichProgressBarTheme
from pytorch_lightning.utilities import rank_zero_info

from lightning_zoo.core import ZooError, evaluating
from lightning_zoo.files import numbered
from lightning_zoo.lightning_private import save_last_checkpoint_if_skipped
from lightning_zoo.media import image_grid, log_image, tested_run_folder


class ZooModelCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` that keeps ``last.ckpt`` (the state after the latest epoch, whether or not it was the best)
    and, unless told otherwise, the best checkpoint by the metric the model names (``monitor`` / ``monitor_mode`` on
    the LightningModule; naming that metric without a ``mode`` takes the model's too). A model that names none keeps
    ``last.ckpt`` only. Every other ``ModelCheckpoint`` argument works as usual."""

    def __init__(
        self,
        monitor: str | None = None,
        mode: Literal["min", "max"] | None = None,
        save_last: bool | Literal["link"] | None = True,
        save_top_k: int | None = None,
        **kwargs: Any,
    ) -> None:
        top_k = 1 if save_top_k is None else save_top_k
        super().__init__(monitor=monitor, mode=mode or "min", save_last=save_last, save_top_k=top_k, **kwargs)
        self._explicit_mode, self._explicit_top_k = mode, save_top_k
        self._fitting = True  # setup says

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        model_monitor = getattr(pl_module, "monitor", None)
        if model_monitor and self.monitor in (None, model_monitor):  # the model's metric: its direction too
            self.monitor = model_monitor
            self.mode = self._explicit_mode or pl_module.monitor_mode
            self.kth_value = torch.tensor(float("inf") if self.mode == "min" else float("-inf"))
        if self.monitor is None and self._explicit_top_k is None:
            self.save_top_k = 0  # nothing to rank by: last.ckpt is the checkpoint
        self._fitting = stage == "fit"
        super().setup(trainer, pl_module, stage)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if self._fitting:  # a resume into another folder: Lightning's warning says what is not carried over
            return super().load_state_dict(state_dict)
        # validate, test or predict of a checkpoint: nothing of the ranking is used, so Lightning's warning that
        # this run's checkpoint folder is not the checkpoint's would only puzzle
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The dirpath has changed from")
            super().load_state_dict(state_dict)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.dirpath and not trainer.fast_dev_run and Path(self.dirpath).is_dir():
            rank_zero_info(f"this run's checkpoints are in {self.dirpath}")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        save_last_checkpoint_if_skipped(self, trainer, at_train_epoch_end=True)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        save_last_checkpoint_if_skipped(self, trainer, at_train_epoch_end=False)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning 2.6 writes last.ckpt here even in a fast_dev_run, which it announces as writing no checkpoint.
        if not trainer.fast_dev_run:
            super().on_train_end(trainer, pl_module)


class ZooProgressBar(RichProgressBar):
    """The default progress bar: Rich's, updated at most every ``update_interval`` seconds (and at an epoch's last
    batch). Rich's bar reads the progress-bar metrics and updates its tasks after every batch, about 330 Python
    calls a step; on a small model's CPU step that was several percent of the epoch.

    Metrics show 4 significant digits (Rich's default, 3 decimals, showed a forecaster's validation MSE of 1e-4 as
    0.000).

    Args:
        update_interval: Seconds between updates of the counters and metrics shown.
        **kwargs: Any ``RichProgressBar`` argument (``refresh_rate``, ``leave``, ``theme`` ...).
    """

    def __init__(self, update_interval: float = 0.25, **kwargs: Any) -> None:
        kwargs.setdefault("theme", RichProgressBarTheme(metrics_format=".4g"))
        super().__init__(**kwargs)
        self.update_interval = update_interval
        self._last_update = 0.0

    def _due(self, batch_idx: int, total: int | float) -> bool:
        now = time.monotonic()
        if batch_idx + 1 < total and now - self._last_update < self.update_interval:
            return False
        self._last_update = now
        return True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._due(batch_idx, trainer.num_training_batches):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        total = trainer.num_sanity_val_batches if trainer.sanity_checking else trainer.num_val_batches
        if self._due(batch_idx, total[dataloader_idx]):
            super().on_validation_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)

    def on_train_end(self, trainer, pl_module) -> None:
        # An epoch's train/ means are logged after the callbacks' on_train_epoch_end: the line left on screen at the
        # end of fit showed the epoch before the last's.
        self._update_metrics(trainer, pl_module)
        self.refresh()

    def get_metrics(self, trainer, pl_module) -> dict:
        # Rich formats every number as a metric: a TensorBoard or CSV logger's version 3 read "v_num: 3.000".
        items = super().get_metrics(trainer, pl_module)
        if isinstance(items.get("v_num"), int):
            items["v_num"] = str(items["v_num"])
        return items


def due(trainer: pl.Trainer, every_n_epochs: int, from_first: bool = False) -> bool:
    """Whether an every-n-epochs callback acts now: every ``every_n_epochs`` epochs (after epochs n, 2n, ...; with
    ``from_first`` after epochs 1, n + 1, 2n + 1, ..., as a Keras callback's ``epoch % n == 0`` on its 0-based epoch),
    and after the run's last, whether ``max_epochs``, ``max_steps`` or a stop (early stopping, ``max_time``, a
    callback) ends it."""
    epoch = trainer.current_epoch + 1
    last = epoch == trainer.max_epochs or trainer.should_stop or 0 < trainer.max_steps <= trainer.global_step
    counted = trainer.current_epoch if from_first else epoch
    return not trainer.sanity_checking and (counted % every_n_epochs == 0 or last)


class SampleGrid(Callback):
    """Logs a grid of the generator's samples from its fixed latent every ``every_n_epochs`` epochs.

    Works with any generative model that has ``fixed_samples()`` and ``output_range``, and any logger
    (see :func:`lightning_zoo.media.log_image`). Every GAN gets one by default (``GANBase.family_callbacks``).
    """

    def __init__(self, every_n_epochs: int = 1, nrow: int = 10, key: str = "samples") -> None:
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be at least 1, got {every_n_epochs}")
        self.every_n_epochs, self.nrow, self.key = every_n_epochs, nrow, key

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not callable(getattr(pl_module, "fixed_samples", None)):
            raise ZooError(
                f"SampleGrid needs a generative model with fixed_samples(); {type(pl_module).__name__} has none"
            )

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if due(trainer, self.every_n_epochs) and trainer.is_global_zero:
            log_image(trainer, self.key, image_grid(pl_module.fixed_samples(), self.nrow, pl_module.output_range))


class InterpolationGrid(SampleGrid):
    """Logs, every ``every_n_epochs`` epochs, ``rows`` rows of ``steps`` samples each, walking the latent space from
    one fixed latent to another (a GAN's ``interpolate``; a conditional GAN's rows keep their class): smooth rows
    mean the generator did not memorise.

    Args:
        rows: Pairs of fixed latents interpolated (the first ``2 * rows`` of the model's fixed latent batch).
        steps: Samples per row, both ends included.
        spherical: Along the great circle between the noise vectors (slerp) instead of the straight line.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        rows: int = 4,
        steps: int = 10,
        spherical: bool = False,
        key: str | None = None,
    ) -> None:
        super().__init__(every_n_epochs, nrow=steps, key=key or ("slerp" if spherical else "interpolation"))
        if rows < 1 or steps < 2:
            raise ValueError(f"InterpolationGrid needs rows >= 1 and steps >= 2, got {rows} and {steps}")
        self.rows, self.steps, self.spherical = rows, steps, spherical

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not all(callable(getattr(pl_module, n, None)) for n in ("interpolate", "fixed_latent", "generate")):
            raise ZooError(
                f"InterpolationGrid needs a GAN (interpolate, fixed_latent); {type(pl_module).__name__} is not"
            )
        available = len(pl_module.fixed_latent()["z"])
        if 2 * self.rows > available:
            raise ZooError(
                f"InterpolationGrid: {self.rows} rows need {2 * self.rows} fixed latents, the model has {available}"
            )

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not (due(trainer, self.every_n_epochs) and trainer.is_global_zero):
            return
        fixed = pl_module.fixed_latent()
        start = {k: v[0 : 2 * self.rows : 2] for k, v in fixed.items()}
        end = {k: v[1 : 2 * self.rows : 2] for k, v in fixed.items()}
        with evaluating(pl_module.generator):
            images = pl_module.generate(pl_module.interpolate(start, end, self.steps, self.spherical))
        log_image(trainer, self.key, image_grid(images, self.steps, pl_module.output_range))


class PredictionWriter(BasePredictionWriter):
    """Writes what ``predict`` produced as the model family's natural artefact (``write_predictions``).

    Args:
        output_dir: Where to write (files of the same names there are replaced). Default: ``predictions/`` beside
            the ``checkpoints/`` folder of the checkpoint given with ``--ckpt_path`` (beside the checkpoint itself if
            it is not in one), or ``./predictions`` without one; when that folder already holds files, the first of
            ``predictions-2/``, ``predictions-3/`` ... that does not, so a second predict keeps the first's output.
    """

    def __init__(self, output_dir: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.output_dir = output_dir

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "predict":
            return
        if not callable(getattr(pl_module, "write_predictions", None)):
            raise ZooError(
                f"{type(pl_module).__name__} has no write_predictions(); PredictionWriter cannot save its output"
            )
        if trainer.world_size > 1:
            raise ZooError("predict writes one set of files: run it in one process (--trainer.devices 1)")

    def resolve_dir(self, trainer: pl.Trainer) -> Path:
        if self.output_dir is not None:
            return Path(self.output_dir)
        tested = tested_run_folder(trainer)
        default = Path("predictions") if tested is None else tested / "predictions"
        return next(f for f in numbered(default) if not f.exists() or (f.is_dir() and not any(f.iterdir())))

    def write_on_epoch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, predictions: Any, batch_indices: Any
    ) -> None:
        paths = pl_module.write_predictions(predictions, self.resolve_dir(trainer))
        rank_zero_info("predictions written to " + ", ".join(str(Path(p).absolute()) for p in paths))


class CompileNetworks(Callback):
    """Opt-in ``torch.compile`` of the model's networks (``ZooModule.networks()``: the generator and discriminator of
    a GAN, a classifier's network), never of the LightningModule itself, whose optimizer toggling and hooks
    ``torch.compile`` breaks. Compiled in place (``nn.Module.compile``), so checkpoints keep their keys and load
    into uncompiled models. The first steps pay the compilation (tens of seconds on a CPU); see the README's
    measurements for whether it pays back on your model and device.

    ``--trainer.callbacks+=lightning_zoo.callbacks.CompileNetworks``

    Args:
        mode: ``torch.compile`` mode (``default``, ``reduce-overhead``, ``max-autotune``).
        backend: ``torch.compile`` backend (``inductor``; ``eager`` traces without generating code, for checks).
    """

    def __init__(self, mode: str | None = None, backend: str = "inductor") -> None:
        self.mode, self.backend = mode, backend

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        networks = getattr(pl_module, "networks", None)
        if not callable(networks):
            raise ZooError(f"CompileNetworks needs a zoo model (networks()); {type(pl_module).__name__} is not")
        for network in networks().values():
            network.compile(mode=self.mode, backend=self.backend)


class ChannelsLast(Callback):
    """Opt-in channels-last (NHWC) layout for the model's 4-D weights, the layout oneDNN's convolutions run fastest in
    on CPUs; PyTorch then carries activations channels-last through every convolution. Together with bf16 mixed
    precision (``--trainer.precision bf16-mixed``) on a CPU with bf16 units it is the zoo's fastest way to train a
    convolutional GAN on a CPU: see the README's Speed section (``benchmarks/layout_precision_speed.py``). Layout is
    not content: state dicts and checkpoints are the same either way and load into either. Applied in ``setup``,
    before a checkpoint's weights are copied in and before DDP wraps the model (layers a model builds in its own
    ``setup`` or ``configure_model`` come later and keep their layout).

    ``--trainer.callbacks+=lightning_zoo.callbacks.ChannelsLast``
    """

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        pl_module.to(memory_format=torch.channels_last)  # only 4-D parameters and buffers change


class EpochTimer(Callback):
    """Measures the wall time of every training epoch (``durations``, seconds) and logs it as ``time/epoch_s``."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        synchronize(pl_module.device)
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        synchronize(pl_module.device)
        self.durations.append(time.perf_counter() - self._start)
        pl_module.log("time/epoch_s", self.durations[-1], on_epoch=True, rank_zero_only=True)


def synchronize(device: torch.device) -> None:
    """Waits for a GPU's queued work: it runs behind the host, so a clock read without this measures launch time."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
