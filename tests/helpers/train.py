"""Small in-process training runs for the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

from datamodules import MNISTDataModule


def mlp_data(data_root: Path, **kwargs: Any) -> MNISTDataModule:
    return MNISTDataModule(data_dir=str(data_root), flatten=True, **{"batch_size": 64, **kwargs})


def gan_data(data_root: Path, **kwargs: Any) -> MNISTDataModule:
    return MNISTDataModule(
        data_dir=str(data_root), **{"padding": 2, "value_range": (-1.0, 1.0), "batch_size": 32, **kwargs}
    )


def trainer(root: Path, **kwargs: Any) -> pl.Trainer:
    options = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        log_every_n_steps=1,  # so that every step's values reach callback_metrics
    )
    return pl.Trainer(**{**options, **kwargs})


class MetricHistory(Callback):
    """Records chosen callback metrics after every training batch."""

    def __init__(self, *keys: str) -> None:
        self.keys, self.history = keys, {k: [] for k in keys}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        for key in self.keys:
            self.history[key].append(float(trainer.callback_metrics[key]))


def state_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"differ: {different[:5]}"
