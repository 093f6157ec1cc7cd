"""The convnet that "Deep Learning with Python" (1st ed., 5.2) trains from scratch on 2,000 photos of cats and dogs,
without and with data augmentation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lightning_zoo.cards import DLWP, Card, Result
from lightning_zoo.classification.base import Classifier
from lightning_zoo.keras import keras_init_
from lightning_zoo.layers import checked_image_shape


class SmallConvNetNetwork(nn.Module):
    """``features``: four blocks of a 3x3 'valid' conv with ReLU and 2x2 max pooling (32, 64, 128, 128 filters);
    ``head``: flatten, optional dropout, Dense 512 - ReLU, Dense of ``outputs`` logits. Keras' initialisation.
    Usable without Lightning."""

    def __init__(
        self,
        input_shape: Sequence[int],
        outputs: int,
        filters: Sequence[int] = (32, 64, 128, 128),
        dense_units: int = 512,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = input_shape[0]
        for width in filters:
            blocks += [nn.Conv2d(channels, width, 3), nn.ReLU(), nn.MaxPool2d(2)]
            channels = width
        self.features = nn.Sequential(*blocks)
        with torch.no_grad():
            flat = self.features(torch.zeros(1, *input_shape)).numel()
        dropout_layer = [nn.Dropout(dropout)] if dropout else []
        self.head = nn.Sequential(
            nn.Flatten(), *dropout_layer, nn.Linear(flat, dense_units), nn.ReLU(), nn.Linear(dense_units, outputs)
        )
        keras_init_(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class SmallConvNet(Classifier):
    """(conv + pool) x 4, flatten, Dense 512, one sigmoid output: 3,453,121 parameters at 150x150. RMSprop lr 1e-4
    (Keras' rho 0.9). The augmented variant adds dropout 0.5 after flatten.

    Args:
        input_shape: (channels, height, width), linked from the DataModule; at least 46x46 for four blocks.
        filters: Filters of the four conv layers.
        dense_units: Width of the hidden Dense layer.
        dropout: Dropout after flatten (0: none, the book's first model; 0.5 in its augmented one).
        binary_output: With two classes, one logit with binary cross-entropy (the book's ``Dense(1, 'sigmoid')``);
            False: one logit per class with softmax cross-entropy.
        lr: Learning rate.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (3, 150, 150),
        filters: Sequence[int] = (32, 64, 128, 128),
        dense_units: int = 512,
        dropout: float = 0.0,
        binary_output: bool = True,
        lr: float | None = 1e-4,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr=lr, **kwargs)
        checked_image_shape(type(self).__name__, input_shape, min_side=46)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.net = SmallConvNetNetwork(input_shape, self.output_units(binary_output), filters, dense_units, dropout)
        self.example_input_array = torch.zeros(2, *input_shape)


DLWP_5_2 = f"{DLWP}, 5.2"
DATASET = "DLwP's cats-vs-dogs subset: 2,000 train / 1,000 validation / 1,000 test photos, 150x150"

CARDS = (
    Card(
        name="small_convnet_cats_and_dogs",
        family="classifier",
        source=f"{DLWP_5_2}, the convnet from scratch without augmentation (spec B4)",
        config="configs/classification/small_convnet_cats_and_dogs.yaml",
        dataset=DATASET,
        parameters={"": 3_453_121},
        parameter_sizes={"input_shape": (3, 150, 150)},
        results=(
            Result(
                "validation accuracy",
                71.0,
                "read off the book's curve: it 'stalls at 70-72 %' over 30 epochs; ours: final weights after 30 epochs",
                ours="small_convnet_cats_and_dogs.json:val_acc_pct_mean",
                tolerance=2.0,
                note="{seeds}, {epochs_run} epochs",
            ),
            Result(
                "test accuracy",
                None,
                "final weights after 30 epochs, the 1,000 test photos (the book reports none for this model)",
                ours="small_convnet_cats_and_dogs.json:test_acc_pct_mean",
                note="{seeds}, {epochs_run} epochs",
            ),
        ),
        deviations=("images are resized with antialiased bilinear interpolation (Keras' load_img: nearest neighbour)",),
    ),
    Card(
        name="small_convnet_augmented_cats_and_dogs",
        family="classifier",
        source=f"{DLWP_5_2}, the convnet with dropout and data augmentation (spec B6)",
        config="configs/classification/small_convnet_augmented_cats_and_dogs.yaml",
        dataset=DATASET,
        parameters={"": 3_453_121},
        parameter_sizes={"input_shape": (3, 150, 150)},
        results=(
            Result(
                "validation accuracy",
                82.0,
                "read off the book's curve after 100 epochs of 100 batches of 32 (ours: 160 passes over the 2,000 "
                "photos, the same 320,000 images), final weights",
                ours="small_convnet_augmented_cats_and_dogs.json:val_acc_pct_mean",
                tolerance=2.0,
                note="{seeds}, {epochs_run} of {epochs_scheduled} epochs",
            ),
            Result(
                "test accuracy",
                None,
                "final weights, the 1,000 test photos (the book reports none for this model)",
                ours="small_convnet_augmented_cats_and_dogs.json:test_acc_pct_mean",
                note="{seeds}, {epochs_run} of {epochs_scheduled} epochs",
            ),
        ),
        deviations=(
            "one epoch is one pass over the 2,000 photos; the book's epoch is 100 batches of 32 (3,200 images, its "
            "generator loops), so its 100 epochs are our 160",
            "the book validates on 50 batches of 32 drawn from its looping generator (1,600 draws: 600 of the 1,000 "
            "validation photos count twice, which ones changing each epoch); ours on the 1,000 photos once each",
            "Keras zooms width and height by independent factors; torchvision's RandomAffine by one",
            "images are resized with antialiased bilinear interpolation (Keras' load_img: nearest neighbour)",
        ),
    ),
)
