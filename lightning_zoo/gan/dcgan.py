"""The DCGAN of "Hands-On Deep Learning Architectures with Python", ch. 7 (MNIST padded to 32x32)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from lightning_zoo.gan.base import GAN, normal_init_


def down(in_channels: int, out_channels: int) -> nn.Conv2d:
    """5x5 stride-2 convolution that halves H and W ('same' padding)."""
    return nn.Conv2d(in_channels, out_channels, 5, stride=2, padding=2)


def up(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    """5x5 stride-2 transposed convolution that doubles H and W ('same' padding)."""
    return nn.ConvTranspose2d(in_channels, out_channels, 5, stride=2, padding=2, output_padding=1)


class DCGAN(GAN):
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
        Others: see :class:`~lightning_zoo.gan.base.GAN`; the defaults are the book's.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 32, 32),
        latent_dim: int = 100,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        d_steps: int = 1,
        g_steps: int = 2,
        num_fixed_samples: int = 40,
        predict_samples: int = 100,
    ) -> None:
        super().__init__(latent_dim, lr_g, lr_d, betas, d_steps, g_steps, num_fixed_samples, predict_samples)
        channels, height, width = input_shape
        if (height, width) != (32, 32):
            raise ValueError(
                f"DCGAN's layer table makes 32x32 images, the data has {height}x{width}: "
                "pad 28x28 MNIST with --data.padding 2"
            )
        self.save_hyperparameters()
        self.generator = nn.Sequential(
            nn.Linear(latent_dim, 256 * 4 * 4),
            nn.ReLU(),
            nn.Unflatten(1, (256, 4, 4)),
            up(256, 128), nn.BatchNorm2d(128), nn.ReLU(),
            up(128, 64), nn.BatchNorm2d(64), nn.ReLU(),
            up(64, channels), nn.Tanh(),
        )  # fmt: skip
        self.discriminator = nn.Sequential(
            down(channels, 64), nn.LeakyReLU(0.2),
            down(64, 128), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
            down(128, 256), nn.BatchNorm2d(256), nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(256 * 4 * 4, 1),
            nn.Flatten(0),  # one logit per image
        )  # fmt: skip
        normal_init_(self)
