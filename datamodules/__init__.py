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
from datamodules.vision import FashionMNISTDataModule, MNISTDataModule

__all__ = [
    "DataError",
    "DatasetUnavailableError",
    "EpochBatchSampler",
    "FashionMNISTDataModule",
    "InMemoryDataModule",
    "MNISTDataModule",
    "PerSampleBatches",
    "TensorBatchDataset",
    "ZooDataModule",
]
