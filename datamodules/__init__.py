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
from datamodules.vision import (
    CatsAndDogsSmallDataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
)

__all__ = [
    "CatsAndDogsSmallDataModule",
    "DataError",
    "DatasetUnavailableError",
    "EpochBatchSampler",
    "FashionMNISTDataModule",
    "ImageFolderDataModule",
    "InMemoryDataModule",
    "MNISTDataModule",
    "PerSampleBatches",
    "TensorBatchDataset",
    "ZooDataModule",
]
