from datamodules.vision.cats_and_dogs import CatsAndDogsSmallDataModule
from datamodules.vision.image_folder import ImageFolderDataModule
from datamodules.vision.mnist import FashionMNISTDataModule, MNISTDataModule

__all__ = ["CatsAndDogsSmallDataModule", "FashionMNISTDataModule", "ImageFolderDataModule", "MNISTDataModule"]
