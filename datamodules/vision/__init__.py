from datamodules.vision.mnist import FashionMNISTDataModule, MNISTDataModule

__all__ = ["FashionMNISTDataModule", "MNISTDataModule"]
