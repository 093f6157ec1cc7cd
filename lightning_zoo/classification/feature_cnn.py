"""A small CNN that this project trains on a GAN's own dataset, so that its penultimate layer can serve as the
feature space of "classifier-FID" (see ``lightning_zoo.metrics``). Not a book model: a measuring instrument,
available offline where the Inception weights of the published FID are not."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_zoo.classification.base import Classifier


class FeatureCNN(Classifier):
    """Two conv-ReLU-maxpool blocks, a ``feature_dim`` hidden layer (the features), dropout, the class logits.

    Args:
        input_shape: (channels, height, width); height and width divisible by 4. Train it on the data layout the
            GAN generates (MNIST for DCGAN: padded to 32x32, values in [-1, 1]).
        num_classes: Classes of the dataset.
        channels: Filters of the two conv blocks.
        feature_dim: Width of the feature layer.
        dropout: Dropout after the feature layer (training only; features are taken before it).
        lr: Adam's learning rate.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 32, 32),
        num_classes: int = 10,
        channels: tuple[int, int] = (32, 64),
        feature_dim: int = 128,
        dropout: float = 0.25,
        lr: float = 1e-3,
    ) -> None:
        super().__init__(num_classes)
        if len(input_shape) != 3 or input_shape[1] % 4 or input_shape[2] % 4:
            raise ValueError(f"FeatureCNN needs (channels, height, width) with sides divisible by 4, got {input_shape}")
        self.save_hyperparameters()
        in_channels, height, width = input_shape
        c1, c2 = channels
        self.extractor = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * (height // 4) * (width // 4), feature_dim), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def features(self, x: Tensor) -> Tensor:
        """(N, feature_dim) activations of the feature layer."""
        return self.extractor(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
