"""VGG16 transfer learning as "Deep Learning with Python" (1st ed., 5.3) does it on the small cats-vs-dogs set: a dense
head on features cached once (see ``datamodules.VGG16FeaturesDataModule`` and the ``vgg16_features_*`` config), the
frozen conv base with a new head trained end to end on augmented photos, and fine-tuning from ``block5_conv1``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lightning_zoo.cards import DLWP, Card, Result
from lightning_zoo.classification.base import Classifier
from lightning_zoo.core import ZooError
from lightning_zoo.keras import keras_init_
from lightning_zoo.layers import checked_image_shape
from lightning_zoo.pretrained import (
    ImageNetNormalize,
    imagenet_weights_path,
    keras_vgg16_layer,
    vgg16_conv_base,
    vgg16_imagenet_features,
)


class VGG16TransferNetwork(nn.Module):
    """``normalize`` (ImageNet statistics, or nothing), ``base`` (VGG16's conv base), ``head``: flatten, optional
    dropout, Dense ``head_units`` - ReLU, Dense of ``outputs`` logits. Usable without Lightning."""

    def __init__(
        self, input_shape: Sequence[int], outputs: int, head_units: int, dropout: float, imagenet_normalize: bool
    ) -> None:
        super().__init__()
        self.normalize = ImageNetNormalize() if imagenet_normalize else nn.Identity()
        self.base = vgg16_conv_base()
        with torch.no_grad():
            flat = self.base(torch.zeros(1, *input_shape)).numel()
        dropout_layer = [nn.Dropout(dropout)] if dropout else []
        self.head = keras_init_(
            nn.Sequential(
                nn.Flatten(), *dropout_layer, nn.Linear(flat, head_units), nn.ReLU(), nn.Linear(head_units, outputs)
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.base(self.normalize(x)))


class VGG16Transfer(Classifier):
    """VGG16's conv base and a new dense head: 16,812,353 parameters at 150x150 with one sigmoid output.

    Which layers train is the experiment: ``trainable_from=None`` freezes the whole base (5.3's second method,
    RMSprop 2e-5, 30 epochs); ``trainable_from="block5_conv1"`` trains block 5 and the head (fine-tuning, RMSprop 1e-5,
    starting from the second method's checkpoint through ``init_from``). Frozen weights take no gradient and are left
    out of the optimizer.

    The base starts from ``weights`` when a fit starts from scratch (not on resume, and not when this run's own
    checkpoints are loaded later, so the file is needed for training only).

    Args:
        input_shape: (channels, height, width), linked from the DataModule; at least 32x32.
        weights: ``imagenet`` (torchvision's file, from the torch hub cache or downloaded once), a path to that
            file, or None for random weights (tests; a base from scratch).
        imagenet_normalize: Normalise [0, 1] inputs with ImageNet's mean and spread, which torchvision's weights
            expect. (The book feeds [0, 1] pixels to Keras' VGG16, whose weights expect mean-subtracted BGR in 0-255.)
        trainable_from: Keras' name of the first base layer that trains (e.g. ``block5_conv1``); None freezes the
            whole base.
        init_from: A VGG16Transfer checkpoint this run starts from (fine-tuning starts from the frozen-base run);
            it replaces ``weights``.
        head_units: Width of the head's hidden layer.
        dropout: Dropout after flatten (the book's end-to-end head has none).
        binary_output: With two classes, one sigmoid logit (the book's ``Dense(1, 'sigmoid')``).
        lr: Learning rate.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (3, 150, 150),
        weights: str | None = "imagenet",
        imagenet_normalize: bool = True,
        trainable_from: str | None = None,
        init_from: str | None = None,
        head_units: int = 256,
        dropout: float = 0.0,
        binary_output: bool = True,
        lr: float | None = 2e-5,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr=lr, **kwargs)
        checked_image_shape("VGG16", input_shape, min_side=32, channels=3)
        outputs = self.output_units(binary_output)
        self.net = VGG16TransferNetwork(input_shape, outputs, head_units, dropout, imagenet_normalize)
        first_trained = len(self.net.base) if trainable_from is None else keras_vgg16_layer(trainable_from)
        for index, layer in enumerate(self.net.base):
            layer.requires_grad_(index >= first_trained)
        self.example_input_array = torch.zeros(2, *input_shape)

    def prepare_data(self) -> None:
        # Lightning calls this on one process per machine before the others set up: the download happens once.
        if self.trainer.state.fn == "fit" and self.hparams.weights and not self.hparams.init_from:
            imagenet_weights_path(self.hparams.weights)

    def check_fit_from_scratch(self) -> None:
        # Not when the model is built: test and predict of a fine-tuned checkpoint need no frozen-base file.
        if self.hparams.trainable_from is not None and not self.hparams.init_from:
            raise ZooError(
                "fine-tuning (trainable_from) starts from the frozen-base run's trained head, as the book's: give its "
                "checkpoint with --model.init_from PATH (its checkpoints/last.ckpt, or its run folder); an untrained "
                "head's large gradients would wreck the base's features"
            )

    def load_initial_weights(self) -> None:
        if self.hparams.init_from:
            self.initialise_from(self.hparams.init_from)
        elif self.hparams.weights is not None:
            self.net.base.load_state_dict(vgg16_imagenet_features(self.hparams.weights))


DLWP_5_3 = f"{DLWP}, 5.3"
DATASET = "DLwP's cats-vs-dogs subset (2,000 / 1,000 / 1,000 photos, 150x150); VGG16's ImageNet weights"
IMAGENET_INPUTS = (
    "torchvision's VGG16 weights on ImageNet-normalised RGB; the book feeds [0, 1] RGB to Keras' caffe-style weights "
    "(BGR, mean-subtracted 0-255), which works but is not what they were trained on"
)
NOT_HERE = (
    "not reproduced here: torchvision's ImageNet weights of VGG16 are not on this machine (no internet); with them "
    "in the torch hub cache, or --model.weights PATH, the config runs as it is"
)

CARDS = (
    Card(
        name="vgg16_features_cats_and_dogs",
        family="classifier",
        source=f"{DLWP_5_3}, fast feature extraction: a dense head on the conv base's cached features (spec B9)",
        config="configs/classification/vgg16_features_cats_and_dogs.yaml",
        dataset=DATASET + ", run once through the conv base and cached",
        parameters={"": 2_097_665},
        parameter_sizes={"input_shape": (8192,)},
        learns_within=300,  # lr 2e-5
        results=(
            Result(
                "validation accuracy",
                90.0,
                "read off the book's curve ('about 90 %') over 30 epochs; ours: final weights",
                ours=None,
                tolerance=2.0,
            ),
        ),
        deviations=(NOT_HERE, IMAGENET_INPUTS),
    ),
    Card(
        name="vgg16_frozen_cats_and_dogs",
        family="classifier",
        source=f"{DLWP_5_3}, the frozen conv base with a new head, end to end on augmented photos (spec B10)",
        config="configs/classification/vgg16_frozen_cats_and_dogs.yaml",
        dataset=DATASET,
        parameters={"": 16_812_353, "net.base": 14_714_688},
        parameter_sizes={"input_shape": (3, 150, 150)},
        learns_within=300,  # lr 2e-5
        results=(
            Result(
                "validation accuracy",
                96.0,
                "read off the book's curve ('about 96 %') after 30 epochs; ours: final weights",
                ours=None,
                tolerance=2.0,
            ),
        ),
        deviations=(
            NOT_HERE,
            IMAGENET_INPUTS,
        ),
    ),
    Card(
        name="vgg16_finetune_cats_and_dogs",
        family="classifier",
        source=f"{DLWP_5_3}, fine-tuning block 5 and the head, from the frozen-base run (spec B11)",
        config="configs/classification/vgg16_finetune_cats_and_dogs.yaml",
        dataset=DATASET,
        parameters={"": 16_812_353, "net.base.24": 2_359_808},
        parameter_sizes={"input_shape": (3, 150, 150)},
        learns_within=300,  # lr 1e-5
        results=(
            Result(
                "test accuracy",
                96.8,
                "evaluate_generator on the test photos after 100 epochs (the book: 0.968, '97 %'); ours: final weights",
                ours=None,
                tolerance=2.0,
            ),
        ),
        deviations=(NOT_HERE, IMAGENET_INPUTS),
        starts_from="vgg16_frozen_cats_and_dogs",
    ),
)
