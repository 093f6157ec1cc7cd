"""The Keras example ``cifar10_cnn.py``: a small VGG-style convnet on CIFAR-10 with shift-and-flip augmentation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from lightning_zoo.cards import Card, Result
from lightning_zoo.classification.base import Classifier
from lightning_zoo.keras import keras_decay, keras_init_
from lightning_zoo.layers import checked_image_shape


class Cifar10ConvNetNetwork(nn.Sequential):
    """Two blocks of conv 'same' - ReLU - conv 'valid' - ReLU - 2x2 max pooling - dropout 0.25 (32, then 64 filters),
    flatten, Dense 512 - ReLU - dropout 0.5, Dense of logits; Keras' initialisation. Usable without Lightning."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, filters: Sequence[int] = (32, 64)) -> None:
        layers: list[nn.Module] = []
        channels = input_shape[0]
        for width in filters:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3), nn.ReLU()]
            layers += [nn.MaxPool2d(2), nn.Dropout(0.25)]
            channels = width
        layers.append(nn.Flatten())
        with torch.no_grad():
            flat = nn.Sequential(*layers)(torch.zeros(1, *input_shape)).shape[1]
        layers += [nn.Linear(flat, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, num_classes)]
        super().__init__(*layers)
        keras_init_(self)


class Cifar10ConvNet(Classifier):
    """1,250,858 parameters; RMSprop lr 1e-4 with Keras 2's ``decay=1e-6`` (lr / (1 + 1e-6 x batches)), batch 32.

    Args:
        input_shape: (channels, height, width), linked from the DataModule.
        filters: Filters of the two blocks.
        lr: Learning rate.
        decay: Keras 2's per-batch learning-rate decay.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (3, 32, 32),
        filters: Sequence[int] = (32, 64),
        lr: float | None = 1e-4,
        decay: float = 1e-6,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr=lr, **kwargs)
        checked_image_shape(type(self).__name__, input_shape, min_side=10)
        self.net = Cifar10ConvNetNetwork(input_shape, self.hparams.num_classes, filters)
        self.example_input_array = torch.zeros(2, *input_shape)

    def configure_optimizers(self) -> dict:
        return keras_decay(super().configure_optimizers(), self.hparams.decay)


CARDS = (
    Card(
        name="cifar10_convnet_cifar10",
        family="classifier",
        source="Keras example cifar10_cnn.py (spec A4)",
        config="configs/classification/cifar10_convnet_cifar10.yaml",
        dataset="CIFAR-10 (50,000 train / 10,000 test), augmented by shifts and flips; not on this machine",
        parameters={"": 1_250_858},
        results=(
            Result(
                "test log-loss after 25 epochs",
                0.65,
                "the script's docstring; the test set is its validation data",
                ours=None,
                unit="",
                lower_is_better=True,
                tolerance=0.05,
            ),
            Result(
                "test log-loss after 50 epochs",
                0.55,
                "the script's docstring ('still underfitting')",
                ours=None,
                unit="",
                lower_is_better=True,
                tolerance=0.05,
            ),
        ),
        deviations=(
            "not reproduced here: CIFAR-10 is not in ../shared/data and this machine has no internet; "
            "`python cli.py fit --config configs/classification/cifar10_convnet_cifar10.yaml` downloads it",
        ),
    ),
)
