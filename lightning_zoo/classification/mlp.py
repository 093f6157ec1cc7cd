"""The MLP MNIST classifier of "Advanced Deep Learning with TensorFlow 2 and Keras", listing 1.3.2."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lightning_zoo.cards import Card, Result
from lightning_zoo.classification.base import Classifier
from lightning_zoo.keras import KerasOptimizer, keras_dense_init_, l2_penalty


class MLPNetwork(nn.Sequential):
    """Flatten, then Dense-ReLU-Dropout per hidden layer, then a Dense layer of logits; Keras' initialisation
    (glorot_uniform kernels, zero biases). Usable without Lightning."""

    def __init__(
        self, in_features: int, hidden_units: Sequence[int], num_classes: int, dropout: float, relu: bool = True
    ) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for units in hidden_units:
            layers += [keras_dense_init_(nn.Linear(width, units)), nn.ReLU() if relu else nn.Identity()]
            layers += [nn.Dropout(dropout)] if dropout else []
            width = units
        layers.append(keras_dense_init_(nn.Linear(width, num_classes)))
        super().__init__(*layers)

    def kernels(self) -> list[Tensor]:
        return [m.weight for m in self if isinstance(m, nn.Linear)]


class MLP(Classifier):
    """784-256-256-10 with ReLU and dropout 0.45 after each hidden layer: 269,322 parameters.

    Ported with Keras' defaults, since the book relies on them: glorot_uniform kernels and zero biases, Adam's
    epsilon 1e-7, RMSprop's rho 0.9, and ``l2`` as Keras' kernel penalty added to the loss. Softmax lives in the
    loss (``F.cross_entropy`` on logits), as numerically stabler; ``predict`` returns probabilities.

    Every row of the book's Table 1.3.3 is a one-line override of these arguments (see the README).

    Args:
        input_shape: Shape of one sample (linked from the DataModule); flattened to its product.
        hidden_units: Units of each hidden layer.
        dropout: Dropout after each hidden layer (0 disables it).
        relu: ReLU after each hidden layer; False leaves the hidden layers linear (Table 1.3.3, row 1).
        l2: Keras ``kernel_regularizer=l2(l2)`` on every layer's kernel, the output layer's too (the book's snippet
            shows it on the first Dense only, and its table says "L2" for the whole model).
        optimizer: A Keras optimizer with Keras' defaults.
        binary_output: With two classes, one sigmoid logit (Keras' ``Dense(1, 'sigmoid')``, as the head on VGG16's
            features in "Deep Learning with Python" 5.3) instead of one logit per class.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (784,),
        hidden_units: Sequence[int] = (256, 256),
        dropout: float = 0.45,
        relu: bool = True,
        l2: float = 0.0,
        optimizer: KerasOptimizer = "adam",
        binary_output: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(optimizer=optimizer, **kwargs)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        outputs = self.output_units(binary_output)
        self.net = MLPNetwork(math.prod(input_shape), hidden_units, outputs, dropout, relu)
        self.example_input_array = torch.zeros(2, *input_shape)

    def regularization_loss(self) -> Tensor | float:
        return l2_penalty(self.net.kernels(), self.hparams.l2) if self.hparams.l2 else 0.0


ADL = '"Advanced Deep Learning with TensorFlow 2 and Keras", ch. 1'

CARDS = (
    Card(
        name="mlp_mnist",
        family="classifier",
        source=f"{ADL}, listing 1.3.2 (Table 1.3.3, row 16)",
        config="configs/classification/mlp_mnist.yaml",
        dataset="MNIST",
        parameters={"": 269_322},
        results=(
            Result(
                "test accuracy",
                98.5,
                "final weights after 20 epochs, 10,000 test images",
                ours="mlp_mnist.json:test_acc_pct_mean",
                tolerance=0.3,
                note="mean of 3 seeds",
            ),
            Result(
                "train accuracy",
                99.39,
                "final weights after 20 epochs, 60,000 training images (the book does not say how)",
                ours="mlp_mnist.json:train_eval_acc_pct_mean",
                tolerance=0.5,
                note="eval mode, mean of 3 seeds",
            ),
        ),
        deviations=(
            "Table 1.3.3 writes the layers as 256-256-256; listing 1.3.2 (its best row) has two hidden layers of 256",
            "softmax lives in the loss (cross-entropy on logits); predict returns probabilities",
        ),
    ),
    Card(
        name="mlp_fashion_mnist",
        family="classifier",
        source=f"{ADL}, listing 1.3.2 on Fashion-MNIST (not in the book)",
        config="configs/classification/mlp_fashion_mnist.yaml",
        dataset="Fashion-MNIST",
        parameters={"": 269_322},
        results=(
            Result(
                "test accuracy",
                None,
                "final weights after 20 epochs, 10,000 test images",
                ours="mlp_fashion_mnist.json:test_acc_pct_mean",
                note="seed 0",
            ),
        ),
    ),
)
