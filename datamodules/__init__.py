"""LightningDataModules of the zoo, grouped by kind of data. They never import models."""

from datamodules.base import (
    DataError,
    DatasetUnavailableError,
    EpochBatchSampler,
    InMemoryDataModule,
    PerSampleBatches,
    TensorBatchDataset,
    ZooDataModule,
)
from datamodules.text import AdditionDataModule, CharCorpusDataModule, IMDBDataModule, WordCorpusDataModule
from datamodules.timeseries import WeatherDataModule, WindowSeriesDataModule
from datamodules.vision import (
    CatsAndDogsSmallDataModule,
    CIFAR10DataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
    ORLFacesDataModule,
    RotationFolderDataModule,
    VGG16FeaturesDataModule,
)

__all__ = [
    "AdditionDataModule",
    "CharCorpusDataModule",
    "WordCorpusDataModule",
    "CIFAR10DataModule",
    "CatsAndDogsSmallDataModule",
    "DataError",
    "DatasetUnavailableError",
    "EpochBatchSampler",
    "FashionMNISTDataModule",
    "IMDBDataModule",
    "ImageFolderDataModule",
    "RotationFolderDataModule",
    "InMemoryDataModule",
    "MNISTDataModule",
    "ORLFacesDataModule",
    "PerSampleBatches",
    "TensorBatchDataset",
    "VGG16FeaturesDataModule",
    "WeatherDataModule",
    "WindowSeriesDataModule",
    "ZooDataModule",
]
