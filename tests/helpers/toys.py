"""Small stand-ins for what the families will add: a per-sample dataset with random augmentation, a DataModule
that provides a size no DataModule of the zoo has yet, and models that take it."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from datamodules import ZooDataModule
from lightning_zoo.core import ZooModule


class AugmentedSeries(Dataset):
    """Sample i is (i + noise, i): like an image decoded from its file and randomly augmented, made on demand."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x = torch.full((4,), float(index)) + torch.rand(4)  # the augmentation draws from the global RNG
        return x, torch.tensor(index % 3)


class AugmentedDataModule(ZooDataModule):
    """Per-sample data with augmentation, optionally in worker processes; provides ``vocab_size``."""

    data_sizes = ("vocab_size",)

    def __init__(self, size: int = 48, batch_size: int = 4, num_workers: int = 0, vocab: int = 7) -> None:
        super().__init__(batch_size, num_workers)
        self.size, self.vocab_size = size, vocab

    def train_dataloader(self) -> DataLoader:
        return self.loader(AugmentedSeries(self.size), train=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader(AugmentedSeries(self.size // 4))


class ToyRegressor(ZooModule):
    """A linear layer with dropout, trained on ``AugmentedDataModule``; takes the linked ``vocab_size``."""

    def __init__(self, vocab_size: int = 3, lr: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(0.2), nn.Linear(4, vocab_size))

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, y = batch
        return F.cross_entropy(self.net(x / 48), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val/loss", F.cross_entropy(self.net(x / 48), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
