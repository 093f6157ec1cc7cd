"""A small CNN that this project trains on a GAN's dataset, so that its penultimate layer can serve as the feature
space of "classifier-FID" and its class logits can judge conditional samples (see ``lightning_zoo.metrics``). Not a
book model: a measuring instrument, available offline where the Inception weights of the published FID are not.
The zoo ships one per dataset (``lightning_zoo/feature_networks/``, made by ``benchmarks/feature_networks.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from lightning_zoo.cards import Card, Result
from lightning_zoo.classification.base import Classifier
from lightning_zoo.layers import checked_image_shape


class FeatureCNNNetwork(nn.Module):
    """Two conv-ReLU-maxpool blocks and a ``feature_dim`` ReLU layer (``extractor``, the features), then dropout and
    the class logits (``head``). Usable without Lightning."""

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        channels: Sequence[int] = (16, 32),
        feature_dim: int = 64,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        in_channels, height, width = input_shape
        c1, c2 = channels
        self.extractor = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * (height // 4) * (width // 4), feature_dim), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.extractor(x))


class FeatureCNN(Classifier):
    """The feature network of classifier-FID: :class:`FeatureCNNNetwork`, trained as a classifier.

    Args:
        input_shape: (channels, height, width); height and width divisible by 4 (linked from the DataModule). The
            shipped networks take 28x28 images in [-1, 1]; classifier-FID brings a GAN's images to that layout.
        channels: Filters of the two conv blocks.
        feature_dim: Width of the feature layer.
        dropout: Dropout after the feature layer (training only; features are taken before it).
        optimizer: PyTorch's Adam only (the shipped networks were trained with it; not a book model).
        lr: Adam's learning rate.
    """

    # Before the network was a class of its own, its two halves were attributes of the module.
    checkpoint_renames = {"extractor": "net.extractor", "head": "net.head"}

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        channels: Sequence[int] = (16, 32),
        feature_dim: int = 64,
        dropout: float = 0.25,
        optimizer: Literal["adam"] = "adam",
        lr: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(optimizer=optimizer, lr=lr, **kwargs)
        if optimizer != "adam":
            raise ValueError(f"FeatureCNN trains with Adam (its shipped networks were), got optimizer={optimizer!r}")
        _, height, width = checked_image_shape(type(self).__name__, input_shape)
        if height % 4 or width % 4:
            raise ValueError(f"FeatureCNN needs sides divisible by 4 (its two poolings), the data has {height}x{width}")
        self.net = FeatureCNNNetwork(input_shape, self.hparams.num_classes, channels, feature_dim, dropout)
        self.example_input_array = torch.zeros(2, *input_shape)

    def features(self, x: Tensor) -> Tensor:
        """(N, feature_dim) activations of the feature layer."""
        return self.net.extractor(x)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def feature_network_card(dataset: str, title: str) -> Card:
    return Card(
        name=f"feature_cnn_{dataset}",
        family="classifier",
        source=f"not a book model: the feature network of classifier-FID for the {title} GANs",
        config=f"configs/classification/feature_cnn_{dataset}.yaml",
        dataset=f"{title} (28x28, [-1, 1])",
        parameters={"": 105_866},
        parameters_from_book=False,
        results=(
            Result(
                "test accuracy",
                None,
                "final weights after 5 epochs, 10,000 test images",
                ours=f"feature_networks.json:{dataset}.test_acc_pct",
                note="seed 0; shipped in lightning_zoo/feature_networks",
            ),
        ),
    )


CARDS = (
    feature_network_card("mnist", "MNIST"),
    feature_network_card("fashion_mnist", "Fashion-MNIST"),
    Card(
        name="feature_cnn_pokemon",
        family="classifier",
        source="not a book model: the feature network of classifier-FID for the RGB folder GANs, trained on "
        "RotNet's pretext task (which of 4 quarter turns an image shows), as the folder has no classes",
        config="configs/classification/feature_cnn_pokemon.yaml",
        dataset="Pokemon artwork folder, turned 0/90/180/270 degrees (64x64, [-1, 1])",
        parameters={"": 2_117_188},
        parameters_from_book=False,
        parameter_sizes={"input_shape": (3, 64, 64)},  # the tests train it at 32x32
        results=(
            Result(
                "rotation accuracy",
                None,
                "final weights after 30 epochs, the 82 held-out artworks x 4 turns",
                ours="feature_networks.json:pokemon.val_acc_pct",
                note="seed 0; shipped in lightning_zoo/feature_networks",
            ),
        ),
    ),
)
