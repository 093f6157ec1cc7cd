"""The DCGAN of "Hands-On Deep Learning Architectures with Python", ch. 7 (MNIST padded to 32x32)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from lightning_zoo.cards import HANDS_ON, Card, Result
from lightning_zoo.gan.base import GANBase, normal_init_
from lightning_zoo.layers import checked_image_shape


def down5(in_channels: int, out_channels: int) -> nn.Conv2d:
    """5x5 stride-2 convolution that halves H and W ('same' padding)."""
    return nn.Conv2d(in_channels, out_channels, 5, stride=2, padding=2)


def up5(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    """5x5 stride-2 transposed convolution that doubles H and W ('same' padding)."""
    return nn.ConvTranspose2d(in_channels, out_channels, 5, stride=2, padding=2, output_padding=1)


class DCGANGenerator(nn.Sequential):
    """z (N, latent_dim) -> images (N, channels, 32, 32) in [-1, 1]: Dense 4x4x256, then three 5x5 stride-2
    transposed convolutions (BatchNorm and ReLU between them, tanh at the end)."""

    def __init__(self, latent_dim: int = 100, channels: int = 1) -> None:
        super().__init__(
            nn.Linear(latent_dim, 256 * 4 * 4),
            nn.ReLU(),
            nn.Unflatten(1, (256, 4, 4)),
            up5(256, 128), nn.BatchNorm2d(128), nn.ReLU(),
            up5(128, 64), nn.BatchNorm2d(64), nn.ReLU(),
            up5(64, channels), nn.Tanh(),
        )  # fmt: skip


class DCGANDiscriminator(nn.Sequential):
    """Images (N, channels, 32, 32) -> one logit each (N,): three 5x5 stride-2 convolutions with LeakyReLU(0.2)
    (BatchNorm after the second and third unless ``batch_norm`` is False, as a WGAN-GP critic needs), then a dense
    layer (without bias for a Wasserstein critic, whose loss a constant offset cannot change)."""

    def __init__(self, channels: int = 1, batch_norm: bool = True, output_bias: bool = True) -> None:
        norm = nn.BatchNorm2d if batch_norm else lambda _: nn.Identity()
        super().__init__(
            down5(channels, 64), nn.LeakyReLU(0.2),
            down5(64, 128), norm(128), nn.LeakyReLU(0.2),
            down5(128, 256), norm(256), nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(256 * 4 * 4, 1, bias=output_bias),
            nn.Flatten(0),  # one logit per image
        )  # fmt: skip


class DCGAN(GANBase):
    """DCGAN with the book's layer table; images 32x32 in [-1, 1].

    ============================================  ==========================================
    Discriminator                                 Generator
    ============================================  ==========================================
    Conv 64, 5x5/2, LeakyReLU(0.2)     16x16x64   Dense 4096, ReLU, reshape         4x4x256
    Conv 128, 5x5/2, BN, LeakyReLU     8x8x128    ConvT 128, 5x5/2, BN, ReLU         8x8x128
    Conv 256, 5x5/2, BN, LeakyReLU     4x4x256    ConvT 64, 5x5/2, BN, ReLU          16x16x64
    Flatten, Dense 1 (logit)           1          ConvT channels, 5x5/2, tanh        32x32xC
    ============================================  ==========================================

    Weights N(0, 0.02), biases 0; BatchNorm eps 1e-5 and TF momentum 0.9 (PyTorch's defaults, momentum 0.1).
    TF pads 'same' stride-2 convolutions asymmetrically (1, 2); PyTorch's symmetric padding gives the same
    shapes and parameter counts (D 1,030,913, G 1,439,873) and trains the same from scratch.

    Args:
        input_shape: (channels, 32, 32), linked from the DataModule (MNIST with ``padding: 2``).
        g_steps: Generator steps per batch: the book's 2, after one discriminator step.
        discriminator_batch_norm: BatchNorm in the discriminator (the book's; a WGAN-GP critic has none).
        **kwargs: Any argument of :class:`~lightning_zoo.gan.base.GANBase`; their defaults are the book's.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 32, 32),
        g_steps: int = 2,
        discriminator_batch_norm: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(g_steps=g_steps, **kwargs)
        channels, _, _ = checked_image_shape(
            type(self).__name__, input_shape, side=32, fix=": pad 28x28 MNIST with --data.padding 2"
        )
        self.generator = DCGANGenerator(self.hparams.latent_dim, channels)
        self.discriminator = DCGANDiscriminator(channels, discriminator_batch_norm, self.discriminator_output_bias)
        normal_init_(self)


CARDS = (
    Card(
        name="dcgan_mnist",
        family="gan",
        source=f"{HANDS_ON}, ch. 7",
        config="configs/gan/dcgan_mnist.yaml",
        dataset="MNIST train+test (70,000), padded to 32x32",
        parameters={"generator": 1_439_873, "discriminator": 1_030_913},
        parameters_from_book=False,
        results=(
            Result(
                "classifier-FID",
                None,
                "10,000 training images vs 10,000 samples (the book shows sample grids at epochs 25 and 50 only)",
                ours="dcgan_mnist_gpu_fid.json:epochs.-1.classifier_fid",
                unit="",
                lower_is_better=True,
                note="after 25 of the book's 50 epochs, one H100; measured with the earlier 32x32 feature network, "
                "not on the scale of the other GANs' values",
            ),
        ),
        deviations=(
            "MNIST is padded with background (-1); the book pads after scaling, leaving a grey border",
            "TF's asymmetric 'same' padding is PyTorch's symmetric padding (same shapes and parameter counts)",
        ),
    ),
)
