"""The fully connected GANs: the vanilla GAN of "Hands-On Deep Learning Architectures with Python" (ch. 7), and,
as configs of the same class, the small TensorFlow GAN of article 12 and the one-hidden-layer GAN of article 15."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_zoo.cards import HANDS_ON, Card, classifier_fid_results
from lightning_zoo.gan.base import GANBase, Latent, RealBatch, normal_init_

LayerActivation = Literal["leaky_relu", "relu"]
ACTIVATION_LAYERS = {"leaky_relu": lambda: nn.LeakyReLU(0.2), "relu": nn.ReLU}
OUTPUTS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def dense_stack(widths: Sequence[int], activation: LayerActivation) -> list[nn.Module]:
    """Linear layers between consecutive ``widths``, each followed by ``activation`` except the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(ACTIVATION_LAYERS[activation]())
    return layers


class MLPGenerator(nn.Sequential):
    """z (N, latent_dim) -> dense layers -> images (N, *image_shape) through tanh (in [-1, 1]) or sigmoid ([0, 1])."""

    def __init__(
        self,
        latent_dim: int,
        hidden_units: Sequence[int],
        image_shape: Sequence[int],
        activation: LayerActivation = "leaky_relu",
        output: Literal["tanh", "sigmoid"] = "tanh",
    ) -> None:
        widths = [latent_dim, *hidden_units, math.prod(image_shape)]
        super().__init__(*dense_stack(widths, activation), OUTPUTS[output](), nn.Unflatten(1, tuple(image_shape)))


class MLPDiscriminator(nn.Sequential):
    """Images (N, *image_shape) -> flattened -> dense layers -> one logit each (N,)."""

    def __init__(
        self, image_shape: Sequence[int], hidden_units: Sequence[int], activation: LayerActivation = "leaky_relu"
    ):
        widths = [math.prod(image_shape), *hidden_units, 1]
        super().__init__(nn.Flatten(), *dense_stack(widths, activation), nn.Flatten(0))


class VanillaGAN(GANBase):
    """The book's vanilla GAN: G 100-256-512-1024-784 (tanh), D 784-1024-512-256-1 (a logit), LeakyReLU(0.2), no batch
    norm or dropout, weights N(0, 0.02) and zero biases; 1 discriminator step then 2 generator steps per batch, each
    with Adam 2e-4 / 0.5. Parameters: G 1,486,352, D 1,460,225 (with the book's sizes).

    Args:
        input_shape: Shape of one image (linked from the DataModule); the networks flatten it.
        generator_units: Hidden widths of the generator.
        discriminator_units: Hidden widths of the discriminator.
        activation: Hidden activation of both networks (LeakyReLU 0.2 in the book, ReLU in article 15).
        output: The generator's last activation: ``tanh`` for data in [-1, 1], ``sigmoid`` for [0, 1].
        weight_init: ``normal`` (N(0, 0.02), the book) or ``glorot`` (TensorFlow's dense default, article 12).
        generator_loss: ``non_saturating`` (the book: maximise log D(G(z))) or ``minimax`` (article 15: minimise
            log(1 - D(G(z))), whose gradient vanishes while D wins).
        g_steps: Generator steps per batch: the book's 2.
        **kwargs: Any argument of :class:`~lightning_zoo.gan.base.GANBase` (``real_label`` 0.9 smooths one-sidedly).
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        generator_units: Sequence[int] = (256, 512, 1024),
        discriminator_units: Sequence[int] = (1024, 512, 256),
        activation: LayerActivation = "leaky_relu",
        output: Literal["tanh", "sigmoid"] = "tanh",
        weight_init: Literal["normal", "glorot"] = "normal",
        generator_loss: Literal["non_saturating", "minimax"] = "non_saturating",
        g_steps: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(g_steps=g_steps, **kwargs)
        self.output_range = (-1.0, 1.0) if output == "tanh" else (0.0, 1.0)
        self.generator = MLPGenerator(self.hparams.latent_dim, generator_units, input_shape, activation, output)
        self.discriminator = MLPDiscriminator(input_shape, discriminator_units, activation)
        if weight_init == "normal":
            normal_init_(self)
        else:
            for layer in self.modules():
                if isinstance(layer, nn.Linear):
                    nn.init.xavier_uniform_(layer.weight)
                    nn.init.zeros_(layer.bias)

    def g_loss(self, batch: RealBatch, latent: Latent) -> Tensor:
        if self.hparams.generator_loss == "non_saturating":
            return super().g_loss(batch, latent)
        fake_logits = self.discriminate(self.generate(latent), latent)
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))  # log(1 - D(G(z)))


HANDS_ON_GANS = f"{HANDS_ON}, ch. 7"
CARDS = (
    Card(
        name="gan_mnist",
        family="gan",
        source=f"{HANDS_ON_GANS}, vanilla GAN (E5)",
        config="configs/gan/gan_mnist.yaml",
        dataset="MNIST train+test (70,000)",
        parameters={"generator": 1_486_352, "discriminator": 1_460_225},
        parameters_from_book=False,
        results=classifier_fid_results(
            "gan_mnist",
            "{epochs_trained} of the book's 100 epochs, 2 CPU cores; it was best at epoch "
            "{lowest_classifier_fid_epoch} (classifier-FID {lowest_classifier_fid})",
        ),
        deviations=("images stay 1x28x28 and the networks flatten them; the book flattens the data (same layers)",),
    ),
    Card(
        name="gan_label_smoothing_mnist",
        family="gan",
        source=f"{HANDS_ON_GANS}, vanilla GAN (E5) with one-sided label smoothing (real label 0.9, article 12)",
        config="configs/gan/gan_label_smoothing_mnist.yaml",
        dataset="MNIST train+test (70,000)",
        parameters={"generator": 1_486_352, "discriminator": 1_460_225},
        parameters_from_book=False,
        results=classifier_fid_results(
            "gan_label_smoothing_mnist",
            "{epochs_trained} of 100 epochs, 2 CPU cores; it was best at epoch {lowest_classifier_fid_epoch} "
            "(classifier-FID {lowest_classifier_fid})",
        ),
    ),
    Card(
        name="gan_small_mnist",
        family="gan",
        source='"Generative adversarial networks using TensorFlow" (article 12; its companion code, spec A2)',
        config="configs/gan/gan_small_mnist.yaml",
        dataset="MNIST train (60,000)",
        parameters={"generator": 130_576, "discriminator": 117_121},
        parameters_from_book=False,
        results=classifier_fid_results("gan_small_mnist", "{epochs_trained} of the code's 100 epochs, 2 CPU cores"),
        deviations=("MNIST's 60,000 training images; the article's TF tutorial loader has 55,000",),
    ),
    Card(
        name="gan_one_hidden_mnist",
        family="gan",
        source='"GAN in Android: tictactoe.ai" (article 15): one hidden ReLU layer, sigmoid outputs, minimax loss',
        config="configs/gan/gan_one_hidden_mnist.yaml",
        dataset="MNIST train (60,000) in [0, 1]",
        parameters={"generator": 114_064, "discriminator": 100_609},
        parameters_from_book=False,
        results=classifier_fid_results("gan_one_hidden_mnist", "{epochs_trained} of 100 epochs, 2 CPU cores"),
        deviations=(
            "the article's X and O glyphs are not available: MNIST digits instead",
            "hidden width 128 (the article gives none); optimizer Adam 2e-4 / 0.5, 100 epochs and N(0, 0.02) weights "
            "with zero biases (none given)",
        ),
    ),
)
