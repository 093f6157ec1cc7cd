from lightning_zoo.gan.acgan import ACGAN
from lightning_zoo.gan.base import ClassConditionedGAN, GANBase, RealBatch
from lightning_zoo.gan.cgan import ConditionalGAN
from lightning_zoo.gan.dcgan import DCGAN, DCGANDiscriminator, DCGANGenerator
from lightning_zoo.gan.fashion_gan import FashionGAN
from lightning_zoo.gan.image_dcgan import ImageDCGAN, ImageDCGANDiscriminator, ImageDCGANGenerator
from lightning_zoo.gan.infogan import InfoGAN
from lightning_zoo.gan.lsgan import LSGAN, ImageLSGAN, LeastSquaresLosses
from lightning_zoo.gan.vanilla import VanillaGAN
from lightning_zoo.gan.wgan import WGAN, WGANGP, GradientPenaltyLosses, ImageWGAN, ImageWGANGP, WassersteinLosses

__all__ = [
    "ACGAN",
    "DCGAN",
    "ClassConditionedGAN",
    "ConditionalGAN",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "FashionGAN",
    "GANBase",
    "GradientPenaltyLosses",
    "ImageDCGAN",
    "ImageDCGANDiscriminator",
    "ImageDCGANGenerator",
    "ImageLSGAN",
    "ImageWGAN",
    "ImageWGANGP",
    "InfoGAN",
    "LSGAN",
    "LeastSquaresLosses",
    "RealBatch",
    "VanillaGAN",
    "WGAN",
    "WGANGP",
    "WassersteinLosses",
]
