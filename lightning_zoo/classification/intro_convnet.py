"""The first convnet of "Deep Learning with Python" (1st ed., 5.1) on MNIST."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from lightning_zoo.cards import DLWP, Card, Result
from lightning_zoo.classification.base import Classifier
from lightning_zoo.keras import keras_init_
from lightning_zoo.layers import checked_image_shape


class IntroConvNetNetwork(nn.Sequential):
    """Conv 32 - pool - conv 64 - pool - conv 64 (3x3 'valid' convs, ReLU, 2x2 max pooling), flatten, Dense 64 - ReLU,
    Dense of logits; Keras' initialisation. Usable without Lightning."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, filters: Sequence[int] = (32, 64, 64)) -> None:
        c1, c2, c3 = filters
        features = nn.Sequential(
            nn.Conv2d(input_shape[0], c1, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3), nn.ReLU(), nn.Flatten(),
        )  # fmt: skip
        with torch.no_grad():
            width = features(torch.zeros(1, *input_shape)).shape[1]
        super().__init__(*features, nn.Linear(width, 64), nn.ReLU(), nn.Linear(64, num_classes))
        keras_init_(self)


class IntroConvNet(Classifier):
    """The book's 93,322-parameter MNIST convnet: RMSprop with Keras' defaults, batch 64, 5 epochs, 99.1 % test.

    Args:
        input_shape: (channels, height, width), linked from the DataModule; at least 28x28 for the three convs.
        filters: Filters of the three conv layers.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        filters: Sequence[int] = (32, 64, 64),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        checked_image_shape(type(self).__name__, input_shape, min_side=18)
        self.net = IntroConvNetNetwork(input_shape, self.hparams.num_classes, filters)
        self.example_input_array = torch.zeros(2, *input_shape)


CARDS = (
    Card(
        name="intro_convnet_mnist",
        family="classifier",
        source=f"{DLWP}, 5.1 (spec B1)",
        config="configs/classification/intro_convnet_mnist.yaml",
        dataset="MNIST",
        parameters={"": 93_322},
        results=(
            Result(
                "test accuracy",
                99.13,
                "final weights after 5 epochs, 10,000 test images (the printed 0.9913; the text says 99.3 %)",
                ours="intro_convnet_mnist.json:test_acc_pct_mean",
                tolerance=0.13,
                note="{seeds}",
            ),
        ),
        deviations=("softmax lives in the loss (cross-entropy on logits); predict returns probabilities",),
    ),
)
