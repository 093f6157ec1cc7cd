"""DCGANs for folders of RGB images: the DCGAN paper's guidelines as article 11 lists them (64x64) and article 10's
plant generator (128x128), one layer pattern at two sizes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from lightning_zoo.cards import Card, classifier_fid_results
from lightning_zoo.gan.base import GANBase, normal_init_
from lightning_zoo.layers import checked_image_shape


def up4(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    """4x4 stride-2 transposed convolution: doubles H and W."""
    return nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)


def down4(in_channels: int, out_channels: int) -> nn.Conv2d:
    """4x4 stride-2 convolution: halves H and W."""
    return nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1)


class ImageDCGANGenerator(nn.Sequential):
    """z -> Dense to (size/16)^2 x 8w, then four fractionally-strided convolutions that double the side and halve the
    filters (8w, 4w, 2w, w, then the image's channels); BatchNorm and ReLU after every layer but the last, tanh there.
    With w = 128 and 64x64 RGB: 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3."""

    def __init__(self, latent_dim: int, image_shape: Sequence[int], width: int = 128) -> None:
        channels, side, _ = image_shape
        seed = side // 16
        widths = [8 * width, 4 * width, 2 * width, width]
        layers: list[nn.Module] = [
            nn.Linear(latent_dim, widths[0] * seed * seed),
            nn.Unflatten(1, (widths[0], seed, seed)),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        ]
        for a, b in zip(widths, widths[1:], strict=False):
            layers += [up4(a, b), nn.BatchNorm2d(b), nn.ReLU()]
        layers += [up4(widths[-1], channels), nn.Tanh()]
        super().__init__(*layers)


class ImageDCGANDiscriminator(nn.Sequential):
    """The generator's mirror: four strided convolutions (w, 2w, 4w, 8w filters) with LeakyReLU(0.2), BatchNorm on
    all but the first (the input layer) unless ``batch_norm`` is False (a WGAN-GP critic), then a dense layer to one
    logit (without bias for a Wasserstein critic)."""

    def __init__(
        self, image_shape: Sequence[int], width: int = 128, batch_norm: bool = True, output_bias: bool = True
    ) -> None:
        channels, side, _ = image_shape
        widths = [width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = [down4(channels, widths[0]), nn.LeakyReLU(0.2)]
        for a, b in zip(widths, widths[1:], strict=False):
            layers += [down4(a, b), *([nn.BatchNorm2d(b)] if batch_norm else []), nn.LeakyReLU(0.2)]
        layers += [nn.Flatten(), nn.Linear(widths[-1] * (side // 16) ** 2, 1, bias=output_bias), nn.Flatten(0)]
        super().__init__(*layers)


class ImageDCGAN(GANBase):
    """A DCGAN for square RGB images whose side is a multiple of 16 (64 for article 11, 128 for article 10):
    strided convolutions instead of pooling, no fully connected hidden layers, BatchNorm except at the generator's
    output and the discriminator's input, ReLU/tanh in G, LeakyReLU in D; Adam 2e-4 with beta1 0.5, weights
    N(0, 0.02).

    Args:
        input_shape: (channels, side, side), linked from the DataModule; side a multiple of 16.
        width: Filters of the generator's last hidden layer (and the discriminator's first); the others are 2x, 4x,
            8x that.
        discriminator_batch_norm: BatchNorm in the discriminator (the guidelines'; a WGAN-GP critic has none).
        **kwargs: Any argument of :class:`~lightning_zoo.gan.base.GANBase` (article 10: ``g_steps: 2``).
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (3, 64, 64),
        width: int = 128,
        discriminator_batch_norm: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _, side, other_side = checked_image_shape(type(self).__name__, input_shape)
        if side != other_side or side % 16 or side < 32:
            raise ValueError(
                f"ImageDCGAN makes square images whose side is a multiple of 16 (at least 32), the data has "
                f"{side}x{other_side}: set --data.image_size 64 or 128"
            )
        self.generator = ImageDCGANGenerator(self.hparams.latent_dim, input_shape, width)
        self.discriminator = ImageDCGANDiscriminator(
            input_shape, width, discriminator_batch_norm, self.discriminator_output_bias
        )
        normal_init_(self)


POKEMON = (
    "Pokemon artwork (<data_dir>/pokemon/images): 819 RGB images on white, the Pokemon GAN set of kvpratama/gan, "
    "flipped"
)

CARDS = (
    Card(
        name="dcgan64_pokemon",
        family="gan",
        source="the DCGAN paper's guidelines as article 11 lists them (64x64 RGB; the article shows LSUN bedrooms)",
        config="configs/gan/dcgan64_pokemon.yaml",
        dataset=POKEMON + ", 64x64",
        parameters={"generator": 12_675_715, "discriminator": 11_038_081},
        parameters_from_book=False,
        parameter_sizes={"input_shape": (3, 64, 64), "width": 128},
        results=classifier_fid_results("dcgan64_pokemon", "{epochs_trained} epochs", folder=True),
        deviations=("4x4 kernels as PyTorch's DCGAN example (the article gives no kernel size)",),
    ),
    Card(
        name="dcgan128_pokemon",
        family="gan",
        source="article 10's plant DCGAN at 128x128 (dense + 4 transposed convs; 4 convs + dense; 2 G steps per D)",
        config="configs/gan/dcgan128_pokemon.yaml",
        dataset=POKEMON + ", 128x128 (the article's ImageNet plants are not public as such)",
        parameters={"generator": 17_640_067, "discriminator": 11_087_233},
        parameters_from_book=False,
        parameter_sizes={"input_shape": (3, 128, 128), "width": 128},
        results=classifier_fid_results(
            "dcgan128_pokemon", "{epochs_trained} of the article's 250 epochs, {precision}", folder=True
        ),
        deviations=(
            "the article gives no widths or kernel sizes: article 11's widths and 4x4 kernels",
            "the article gives Adam's learning rate (2e-4) only: beta1 0.5, batch 64 and a 100-d latent are the zoo's "
            "(the DCGAN paper's and its common implementations')",
        ),
    ),
)
