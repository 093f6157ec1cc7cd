"""Every private Lightning API the zoo relies on, in one place.

Lightning may change any of these in a minor release. Each is exercised by a test that fails when the attribute or
behaviour it reads is gone (most in ``tests/test_lightning_private.py``; the checkpoint workaround in
``tests/test_checkpoints.py``, the run's batch index through the n_critic and resume tests of the GANs), so an
upgrade breaks a test with a name, not a training run at step 3,000.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.strategies import DDPStrategy


def should_log_this_step(trainer: pl.Trainer | None) -> bool:
    """Whether the loggers record the current training step (every ``log_every_n_steps`` batches).

    Lightning decides this in its logger connector; without a trainer (a bare forward) the answer is yes.
    """
    connector = getattr(trainer, "_logger_connector", None)
    return connector is None or connector.should_update_logs


def logger_step(trainer: pl.Trainer) -> int:
    """The step axis Lightning's loggers use: batches that stepped, not ``global_step`` (which counts every optimizer
    step, so a GAN with 1 D + 2 G steps per batch advances it by 3)."""
    return trainer.fit_loop.epoch_loop._batches_that_stepped


def batches_trained_this_epoch(trainer: pl.Trainer) -> int:
    """Training batches of the current epoch that the loop has finished (the loader itself runs ahead by the batches
    Lightning prefetches)."""
    return trainer.fit_loop.epoch_loop.batch_progress.current.processed


def batch_index_of_run(trainer: pl.Trainer) -> int:
    """The index of the current training batch counted over the whole run (every epoch, and across a resume)."""
    return trainer.fit_loop.epoch_loop.total_batch_idx


def ddp_finds_unused_parameters(strategy: Any) -> bool | None:
    """For a DDP strategy, whether it was built with ``find_unused_parameters=True``; None for other strategies."""
    if not isinstance(strategy, DDPStrategy):
        return None
    return bool(strategy._ddp_kwargs.get("find_unused_parameters"))


def keep_hyperparameters(module: pl.LightningModule, names: set[str]) -> None:
    """Drops every recorded hyperparameter not in ``names`` (LightningCLI records the whole config it was given,
    including sizes it links into models that take no such argument, and its own ``_class_path``)."""
    for key in [k for k in module._hparams if k not in names]:
        module._hparams.pop(key)
        module._hparams_initial.pop(key, None)


def drop_wandb_init_setting(logger: WandbLogger, name: str) -> None:
    """Removes a setting ``WandbLogger`` passes to ``wandb.init`` (it sets ``anonymous`` even when not asked to, and
    W&B then warns on every run that the setting has no effect)."""
    logger._wandb_init.pop(name, None)


def wandb_run_started(logger: WandbLogger) -> bool:
    """Whether ``logger.experiment`` was already created (reading the property would create it)."""
    return logger._experiment is not None


def save_last_checkpoint_if_skipped(callback: ModelCheckpoint, trainer: pl.Trainer, at_train_epoch_end: bool) -> None:
    """Writes ``last.ckpt`` now if ``callback`` would checkpoint at this point (the end of the training epoch, or of
    validation) but skipped it. Lightning 2.6 writes ``last.ckpt`` only when it also writes a top-k checkpoint, so
    with a monitored metric that stopped improving, ``last.ckpt`` silently stays at the best epoch."""
    if (
        callback.save_last
        and not callback._should_skip_saving_checkpoint(trainer)
        and callback._should_save_on_train_epoch_end(trainer) == at_train_epoch_end
    ):
        callback._save_last_checkpoint(trainer, callback._monitor_candidates(trainer))


def in_resumed_epoch(trainer: pl.Trainer) -> bool:
    """Whether the current epoch is the one a resumed fit started in (from within it, or at its end): Lightning keeps
    ``fit_loop.restarting`` true until that epoch's end hooks have run."""
    return trainer.fit_loop.restarting


def resumed_at_epoch_end(trainer: pl.Trainer) -> bool:
    """Whether the current epoch is one a resume started at its end: the checkpoint was written in its
    ``on_train_epoch_end`` hooks (a checkpoint at its last validation counts as one from within the epoch), and
    Lightning reruns those hooks."""
    return trainer.fit_loop.restarted_on_epoch_end


def count_cut_epoch_as_unfinished(trainer: pl.Trainer, checkpoint: dict[str, Any]) -> None:
    """A checkpoint written after training stopped within an epoch (``max_steps``, ``max_time``, a callback's stop),
    at that epoch's end or the training's: Lightning has counted the cut epoch as processed (and completed), so a
    resume from it would skip the rest of the epoch. Its counts are set back to those of a checkpoint within the
    epoch, which a resume continues from the next batch (the loader skips the trained ones)."""
    if trainer.state.fn != "fit" or training_epoch_finished(trainer):
        return
    progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress")
    if progress is None:
        return
    for counts in (progress["total"], progress["current"]):
        if counts["processed"] == counts["started"]:  # (one within the epoch has processed = started - 1 already)
            counts["processed"] = counts["completed"] = counts["started"] - 1


def training_epoch_finished(trainer: pl.Trainer) -> bool:
    """Whether every training batch of the current epoch has run: validation now is the one at the epoch's end (not
    one within it), and an epoch cut short by ``max_steps`` has not finished. Lightning steps epoch schedules on it."""
    return trainer.fit_loop.epoch_loop._num_ready_batches_reached()
