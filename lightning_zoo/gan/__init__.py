from lightning_zoo.gan.base import GAN
from lightning_zoo.gan.dcgan import DCGAN

__all__ = ["DCGAN", "GAN"]
