"""The Fashion-MNIST GAN of "Generate your own fashion line in 1 click" (article 6)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from lightning_zoo.cards import Card, classifier_fid_results
from lightning_zoo.gan.base import GANBase, normal_init_
from lightning_zoo.layers import checked_image_shape


def fc_bn_relu(a: int, b: int) -> list[nn.Module]:
    return [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]


class FashionGenerator(nn.Sequential):
    """z -> (FC-BN-ReLU) x 3 -> 128x7x7 -> DeConv 64 (4x4/2) -> BN -> ReLU -> DeConv channels (4x4/2) -> sigmoid:
    28x28 images in [0, 1]. The article gives the sequence, not the widths: 256, 1024 and 6272 make the 6.9 M
    parameters (27.5 MB as float32) that match its "about 27 MB of weights" shipped to the browser."""

    def __init__(self, latent_dim: int = 100, channels: int = 1, widths: Sequence[int] = (256, 1024)) -> None:
        dense = [latent_dim, *widths, 128 * 7 * 7]
        super().__init__(
            *[layer for a, b in zip(dense, dense[1:], strict=False) for layer in fc_bn_relu(a, b)],
            nn.Unflatten(1, (128, 7, 7)),
            nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, channels, 4, stride=2, padding=1), nn.Sigmoid(),
        )  # fmt: skip


class FashionDiscriminator(nn.Sequential):
    """28x28 images -> Conv 64 (4x4/2) -> LeakyReLU(0.2) -> Conv 128 (4x4/2) -> BN -> LeakyReLU -> Dense 1024 -> BN ->
    LeakyReLU -> Dense 1 (a logit). The article names no discriminator: this is the one of the GAN collections its
    generator comes from."""

    def __init__(self, channels: int = 1) -> None:
        super().__init__(
            nn.Conv2d(channels, 64, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, stride=2, padding=1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(128 * 7 * 7, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2),
            nn.Linear(1024, 1), nn.Flatten(0),
        )  # fmt: skip


class FashionGAN(GANBase):
    """Article 6's generator, a matching discriminator, Adam 2e-4 / 0.5 (the article's YellowFin is not a maintained
    PyTorch optimizer), one D and one G step per batch, Fashion-MNIST in [0, 1].

    Args:
        input_shape: (channels, 28, 28), linked from the DataModule.
        **kwargs: Any argument of :class:`~lightning_zoo.gan.base.GANBase`.
    """

    output_range = (0.0, 1.0)

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        channels, _, _ = checked_image_shape(type(self).__name__, input_shape, side=28)
        self.generator = FashionGenerator(self.hparams.latent_dim, channels)
        self.discriminator = FashionDiscriminator(channels)
        normal_init_(self)


CARDS = (
    Card(
        name="fashion_gan_fashion_mnist",
        family="gan",
        source='"Generate your own fashion line in 1 click" (article 6)',
        config="configs/gan/fashion_gan_fashion_mnist.yaml",
        dataset="Fashion-MNIST train (60,000) in [0, 1]",
        parameters={"generator": 6_865_217, "discriminator": 6_559_169},
        parameters_from_book=False,
        results=classifier_fid_results("fashion_gan_fashion_mnist", "{epochs_trained} of 25 epochs, 2 CPU cores"),
        deviations=(
            "YellowFin -> Adam 2e-4 / 0.5; layer widths and the discriminator are not in the article (see the "
            "network classes); no schedule is given: 25 epochs",
        ),
    ),
)
