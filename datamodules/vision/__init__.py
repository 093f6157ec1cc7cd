from datamodules.vision.cats_and_dogs import CatsAndDogsSmallDataModule
from datamodules.vision.cifar10 import CIFAR10DataModule
from datamodules.vision.image_folder import ImageFolderDataModule, RotationFolderDataModule
from datamodules.vision.mnist import FashionMNISTDataModule, MNISTDataModule
from datamodules.vision.orl_faces import ORLFacesDataModule
from datamodules.vision.vgg16_features import VGG16FeaturesDataModule

__all__ = [
    "CIFAR10DataModule",
    "CatsAndDogsSmallDataModule",
    "FashionMNISTDataModule",
    "ImageFolderDataModule",
    "RotationFolderDataModule",
    "MNISTDataModule",
    "ORLFacesDataModule",
    "VGG16FeaturesDataModule",
]
