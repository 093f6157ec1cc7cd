"""One logger-agnostic path for images and text: W&B, TensorBoard, or PNG and text files when no logger can show
them."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger
from torch import Tensor
from torchvision.utils import make_grid, save_image

from lightning_zoo.files import atomic_path, numbered
from lightning_zoo.lightning_private import logger_step


def image_grid(images: Tensor, nrow: int, value_range: tuple[float, float]) -> Tensor:
    """A uint8 (3, H, W) grid of ``images`` (N, C, h, w) whose values lie in ``value_range``.

    uint8 because ``wandb.Image`` casts floats to uint8 without rescaling (a [0, 1] image turns black).
    """
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, padding=2, normalize=True, value_range=value_range)
    return grid.mul(255).round_().clamp_(0, 255).to(torch.uint8)


def save_png(image: Tensor, path: str | Path) -> Path:
    """Writes a uint8 (C, H, W) image to ``path`` atomically."""
    with atomic_path(path) as partial:
        save_image(image.float().div(255), partial)
    return Path(path)


def run_folder(trainer: pl.Trainer) -> Path:
    """Where a run writes the files no logger shows: the run's folder as Lightning lays it out (``ModelCheckpoint``
    puts ``checkpoints/`` in it): the first logger's ``log_dir`` (TensorBoard, CSV), or for a logger without one (W&B,
    which keeps its own files elsewhere) ``<save_dir>/<name>/<version>``; without a logger, the trainer's root."""
    if not trainer.loggers:
        return Path(trainer.default_root_dir)
    logger = trainer.loggers[0]
    if getattr(logger, "log_dir", None):
        return Path(logger.log_dir)
    version = logger.version if isinstance(logger.version, str) else f"version_{logger.version}"  # as Lightning
    return Path(logger.save_dir or trainer.default_root_dir) / str(logger.name) / version


def written_checkpoints_run_folder(trainer: pl.Trainer) -> Path | None:
    """The run folder (:func:`checkpoint_run_folder`) of the checkpoints this run writes, once Lightning has placed
    them; None without a ``ModelCheckpoint``."""
    callback = next((c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.dirpath), None)
    return None if callback is None else checkpoint_run_folder(Path(callback.dirpath) / "last.ckpt")


def w_and_b_disabled(logger: WandbLogger) -> bool:
    """Whether W&B runs in its disabled mode (``WANDB_MODE=disabled``), where it shows and keeps nothing."""
    return getattr(logger.experiment, "disabled", False) is True


def writes_files(trainer: pl.Trainer) -> bool:
    """Whether the run may write files of results or media: not a ``fast_dev_run``, which Lightning runs without
    logging or checkpoints (and whose one batch would overwrite a real run's results)."""
    return not trainer.fast_dev_run


def checkpoint_run_folder(checkpoint: str | Path) -> Path:
    """The run folder a checkpoint belongs to: the one holding its ``checkpoints/`` folder, else its own folder.
    Links are not followed (a run's linked checkpoint belongs to the run that links it)."""
    path = Path(os.path.abspath(checkpoint))
    return path.parent.parent if path.parent.name == "checkpoints" else path.parent


def tested_run_folder(trainer: pl.Trainer) -> Path | None:
    """The run folder of the local checkpoint the trainer started from (``--ckpt_path``); None without one, or for
    a remote one (``s3://...``)."""
    if not trainer.ckpt_path or "://" in str(trainer.ckpt_path):
        return None
    return checkpoint_run_folder(trainer.ckpt_path)


def results_path(trainer: pl.Trainer, name: str) -> Path:
    """Where ``test`` writes a results file such as ``n_way.csv``: ``test/`` in the folder of the run whose checkpoint
    it tests (``--ckpt_path``), named after the checkpoint too (``test/n_way-last.csv``), so that testing another
    checkpoint keeps this one's; without a checkpoint, ``test/`` in the folder of this run's checkpoints, the same
    folder a later test of one of them uses (a custom ``dirpath`` too). A test of part of the test set
    (``--trainer.limit_test_batches``) says so in the name, so that it does not replace the whole set's results. A
    name an earlier test already wrote gets a number (``n_way-last-2.csv``, ``-3`` ...), as predict's folders, so no
    test replaces another's results (with other ``ways``, or another protocol)."""
    stem, suffix = Path(name).stem, Path(name).suffix
    limit = trainer.limit_test_batches
    if not (isinstance(limit, float) and limit == 1.0):  # an int counts batches (1: one), a float is a fraction
        stem = f"{stem}-limit_test_batches_{limit}"
    tested = tested_run_folder(trainer)
    if tested is not None:
        path = tested / "test" / f"{stem}-{Path(trainer.ckpt_path).stem}{suffix}"
    else:
        path = (written_checkpoints_run_folder(trainer) or run_folder(trainer)) / "test" / f"{stem}{suffix}"
    return next(p for p in numbered(path) if not p.exists())


def shown_by_loggers(trainer: pl.Trainer, to_wandb: Callable, to_tensorboard: Callable) -> bool:
    """Calls ``to_wandb(logger, step)`` for each W&B logger and ``to_tensorboard(writer, step)`` for each TensorBoard
    one, at the loggers' step; whether any logger showed it (else the caller writes a file)."""
    step = logger_step(trainer)
    shown = False
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            if w_and_b_disabled(logger):
                continue
            to_wandb(logger, step)
            shown = True
        elif isinstance(logger, TensorBoardLogger):
            to_tensorboard(logger.experiment, step)
            shown = True
    return shown


def markdown_table(columns: list[str], rows: list[list]) -> str:
    """A table as Markdown (TensorBoard's text panel shows it as a table); line breaks inside cells as <br>."""
    header = " | ".join(columns) + "\n" + " | ".join("---" for _ in columns) + "\n"
    return header + "\n".join(" | ".join(str(v).replace("\n", "<br>") for v in row) for row in rows)


def file_for(trainer: pl.Trainer, kind: str, key: str, suffix: str) -> Path:
    """``<run folder>/<kind>/<key>/epoch=NNN-step=S<suffix>``: where a logger-less run keeps what it could not show.
    NNN is Lightning's 0-based epoch, as in the checkpoints' names; S is the loggers' step (batches on which the
    optimizer stepped)."""
    name = f"epoch={trainer.current_epoch:03d}-step={logger_step(trainer)}{suffix}"
    return run_folder(trainer) / kind / key / name


def log_image(trainer: pl.Trainer, key: str, image: Tensor) -> Path | None:
    """Logs a uint8 (3, H, W) image to every logger that shows images; writes a PNG if none does.

    Returns the PNG's path when one was written. Call on global rank zero only.
    """
    if not writes_files(trainer):
        return None
    if shown_by_loggers(
        trainer,
        lambda logger, step: logger.log_image(key=key, images=[image.permute(1, 2, 0).numpy()], step=step),
        lambda writer, step: writer.add_image(key, image, global_step=step),
    ):
        return None
    return save_png(image, file_for(trainer, "images", key, ".png"))


def log_text(trainer: pl.Trainer, key: str, columns: list[str], rows: list[list]) -> Path | None:
    """Logs a table of text (generated samples) to W&B as a table and to TensorBoard as Markdown; writes a text file
    when no logger shows text. Returns the file's path when one was written. Call on global rank zero only."""
    if not writes_files(trainer):
        return None
    if shown_by_loggers(
        trainer,
        lambda logger, step: logger.log_text(key=key, columns=columns, data=rows, step=step),
        lambda writer, step: writer.add_text(key, markdown_table(columns, rows), global_step=step),
    ):
        return None
    path = file_for(trainer, "text", key, ".txt")
    with atomic_path(path) as partial:
        # One "--- {fields}" line per row, then its text (the last column).
        partial.write_text(
            "".join(f"--- {dict(zip(columns[:-1], row[:-1], strict=True))}\n{row[-1]}\n" for row in rows),
            encoding="utf-8",
        )
    return path


def log_table(
    trainer: pl.Trainer, key: str, columns: list[str], rows: list[list], file_if_not_shown: bool = True
) -> Path | None:
    """Logs a table of numbers (an N-way evaluation) as a W&B table and as Markdown to TensorBoard; writes a CSV file
    when no logger shows tables (unless the caller writes its own: ``file_if_not_shown``). Returns the CSV's path when
    one was written. Call on global rank zero only."""
    if not writes_files(trainer):
        return None
    shown = shown_by_loggers(
        trainer,
        lambda logger, step: logger.log_table(key=key, columns=columns, data=rows, step=step),
        lambda writer, step: writer.add_text(key, markdown_table(columns, rows), global_step=step),
    )
    if shown or not file_if_not_shown:
        return None
    return write_csv(file_for(trainer, "tables", key, ".csv"), columns, rows)


def write_csv(path: str | Path, columns: list[str], rows: list[list]) -> Path:
    """Writes a table as CSV, atomically."""
    with atomic_path(path) as partial, open(partial, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)
    return Path(path)
