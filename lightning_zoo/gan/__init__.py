from lightning_zoo.gan.base import GANBase, RealBatch
from lightning_zoo.gan.dcgan import DCGAN, DCGANDiscriminator, DCGANGenerator

__all__ = ["DCGAN", "DCGANDiscriminator", "DCGANGenerator", "GANBase", "RealBatch"]
