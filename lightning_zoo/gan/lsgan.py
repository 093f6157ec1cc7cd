"""LSGAN (Mao et al. 2017): least-squares losses in place of cross-entropy, mixed into the DCGAN layers (32x32) or
the RGB DCGAN layers (a folder of images)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from lightning_zoo.cards import Card, classifier_fid_results
from lightning_zoo.gan.base import Latent, RealBatch
from lightning_zoo.gan.dcgan import DCGAN
from lightning_zoo.gan.image_dcgan import POKEMON, ImageDCGAN


class LeastSquaresLosses:
    """LSGAN's training for any GAN architecture it is mixed into (``class LSGAN(LeastSquaresLosses, DCGAN)``): the
    discriminator minimises 1/2 mean((D(x) - b)^2) + 1/2 mean((D(G(z)) - a)^2), the generator
    1/2 mean((D(G(z)) - c)^2); with a = 0 and b = c = 1 (the paper's 0-1 coding). One generator step per batch.

    Args:
        a: Target of generated images for the discriminator.
        b: Target of real images for the discriminator.
        c: The value the generator wants the discriminator to give its images.
        g_steps: Generator steps per batch.
        **kwargs: Any argument of the architecture and of :class:`~lightning_zoo.gan.base.GANBase`.
    """

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0, g_steps: int = 1, **kwargs: Any) -> None:
        super().__init__(g_steps=g_steps, **kwargs)

    def d_loss(self, batch: RealBatch, latent: Latent) -> Tensor:
        real = self.discriminate(batch.images, latent)
        fake = self.discriminate(self.generate(latent).detach(), latent)
        return 0.5 * (real - self.hparams.b).pow(2).mean() + 0.5 * (fake - self.hparams.a).pow(2).mean()

    def g_loss(self, batch: RealBatch, latent: Latent) -> Tensor:
        return 0.5 * (self.discriminate(self.generate(latent), latent) - self.hparams.c).pow(2).mean()


class LSGAN(LeastSquaresLosses, DCGAN):
    """LSGAN on the 32x32 DCGAN layers (:class:`LeastSquaresLosses`; every :class:`~lightning_zoo.gan.dcgan.DCGAN`
    argument too)."""


class ImageLSGAN(LeastSquaresLosses, ImageDCGAN):
    """LSGAN on the RGB DCGAN layers for a folder of images (:class:`LeastSquaresLosses`)."""


CARDS = (
    Card(
        name="lsgan_mnist",
        family="gan",
        source="LSGAN (a = 0, b = c = 1) on the DCGAN layers, issue 8 (no book model)",
        config="configs/gan/lsgan_mnist.yaml",
        dataset="MNIST train+test (70,000), padded to 32x32",
        parameters={"generator": 1_439_873, "discriminator": 1_030_913},
        parameters_from_book=False,
        results=classifier_fid_results("lsgan_mnist", "{epochs_trained} epochs"),
    ),
    Card(
        name="lsgan64_pokemon",
        family="gan",
        source="LSGAN (a = 0, b = c = 1) on article 11's 64x64 RGB DCGAN layers, issue 8 (no book model)",
        config="configs/gan/lsgan64_pokemon.yaml",
        dataset=POKEMON + ", 64x64",
        parameters={"generator": 12_675_715, "discriminator": 11_038_081},
        parameters_from_book=False,
        parameter_sizes={"input_shape": (3, 64, 64), "width": 128},
        results=classifier_fid_results("lsgan64_pokemon", "{epochs_trained} epochs", folder=True),
    ),
)
