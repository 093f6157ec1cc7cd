"""The Keras example ``antirectifier.py``: an MNIST MLP whose activation is the :class:`Antirectifier` layer, and
the ReLU network with Dense layers twice as wide that the script says it should be compared with."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from lightning_zoo.cards import Card, Result
from lightning_zoo.classification.base import Classifier
from lightning_zoo.keras import keras_init_
from lightning_zoo.layers import Antirectifier


class AntirectifierNetwork(nn.Sequential):
    """Flatten, then Dense - Antirectifier - Dropout per hidden layer (each Antirectifier doubles the width), then a
    Dense layer of logits; Keras' initialisation. Usable without Lightning."""

    def __init__(self, in_features: int, hidden_units: Sequence[int], num_classes: int, dropout: float) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for units in hidden_units:
            layers += [nn.Linear(width, units), Antirectifier(), nn.Dropout(dropout)]
            width = 2 * units
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)
        keras_init_(self)


class AntirectifierMLP(Classifier):
    """784 - Dense 256 - Antirectifier - Dropout 0.1, twice - Dense 10: 337,418 parameters. RMSprop with Keras'
    defaults, batch 128, 40 epochs; the script validates on the test set and reports no number.

    Args:
        input_shape: Shape of one sample (linked from the DataModule); flattened to its product.
        hidden_units: Units of each Dense layer before an Antirectifier (which doubles them).
        dropout: Dropout after each Antirectifier.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (784,),
        hidden_units: Sequence[int] = (256, 256),
        dropout: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.net = AntirectifierNetwork(math.prod(input_shape), hidden_units, self.hparams.num_classes, dropout)
        self.example_input_array = torch.zeros(2, *input_shape)


SCRIPT = "Keras example antirectifier.py (spec A2)"
EVALUATED = "final weights after 40 epochs, 10,000 test images (the script prints the test set as validation data)"

CARDS = (
    Card(
        name="antirectifier_mnist",
        family="classifier",
        source=SCRIPT,
        config="configs/classification/antirectifier_mnist.yaml",
        dataset="MNIST",
        parameters={"": 337_418},
        results=(
            Result(
                "test accuracy",
                None,
                EVALUATED,
                ours="antirectifier_mnist.json:test_acc_pct_mean",
                note="{seeds}",
            ),
        ),
        deviations=("softmax lives in the loss (cross-entropy on logits); predict returns probabilities",),
    ),
    Card(
        name="antirectifier_relu_baseline_mnist",
        family="classifier",
        source=f"{SCRIPT}: the ReLU network with Dense layers twice as wide that its last comment proposes",
        config="configs/classification/antirectifier_relu_baseline_mnist.yaml",
        dataset="MNIST",
        parameters={"": 669_706},
        parameters_from_book=False,
        results=(
            Result(
                "test accuracy",
                None,
                EVALUATED,
                ours="antirectifier_relu_baseline_mnist.json:test_acc_pct_mean",
                note="{seeds}",
            ),
        ),
    ),
)
