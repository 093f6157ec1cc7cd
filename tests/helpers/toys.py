"""Small stand-ins for what the families will add: a per-sample dataset with random augmentation, a DataModule
that provides a size no DataModule of the zoo has yet, and models that take it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from datamodules import ZooDataModule
from lightning_zoo.core import ZooModule
from lightning_zoo.gan import DCGAN, ClassConditionedGAN, RealBatch


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


class ToyConditionalGenerator(nn.Module):
    def __init__(self, latent_dim: int, num_classes: int, image_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.embed = nn.Embedding(num_classes, 8)
        self.net = nn.Sequential(nn.Linear(latent_dim + 8, 32), nn.ReLU(), nn.Linear(32, math.prod(image_shape)))

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return torch.tanh(self.net(torch.cat([z, self.embed(labels)], 1))).view(-1, *self.image_shape)


class ToyConditionalDiscriminator(nn.Module):
    def __init__(self, num_classes: int, image_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, 8)
        self.net = nn.Sequential(nn.Linear(math.prod(image_shape) + 8, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        return self.net(torch.cat([images.flatten(1), self.embed(labels)], 1)).flatten()


class ToyConditionalGAN(ClassConditionedGAN):
    """A conditional GAN in miniature, declaring only what the latent contract leaves to a model: networks that read
    the class label, the real batch's labels for training, and a discriminator that sees them."""

    def __init__(self, input_shape: tuple[int, ...] = (1, 32, 32), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        num_classes = self.hparams.num_classes
        self.generator = ToyConditionalGenerator(self.hparams.latent_dim, num_classes, input_shape)
        self.discriminator = ToyConditionalDiscriminator(num_classes, input_shape)
        self.paired_labels: list[Tensor] = []

    def latent_for(self, batch: RealBatch) -> dict[str, Tensor]:
        self.paired_labels.append(batch.labels)
        return {**self.sample_latent(len(batch.images)), "labels": self.real_labels(batch)}

    def discriminate(self, images: Tensor, latent: Mapping[str, Tensor]) -> Tensor:
        return self.discriminator(images, latent["labels"])


class ClippedDCGAN(DCGAN):
    """WGAN's weight clipping on the book's DCGAN: the hook after each discriminator step, and nothing else."""

    def __init__(self, clip: float = 0.01, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clipped = 0

    def after_discriminator_step(self) -> None:
        self.clipped += 1
        for parameter in self.discriminator.parameters():
            parameter.data.clamp_(-self.hparams.clip, self.hparams.clip)
