"""CIFAR-10 from its canonical python archive, decoded once into memory."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from datamodules.base import (
    DatasetUnavailableError,
    InMemoryDataModule,
    TensorBatchDataset,
    data_root,
    seeded_split,
    split_sizes,
)
from datamodules.download import ensure_files
from datamodules.vision.image_folder import KerasAugmentation

ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"  # what the archive (and torchvision) unpacks to
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


def read_batches(data_dir: Path, names: tuple[str, ...]) -> tuple[Tensor, Tensor]:
    """Images (N, 3, 32, 32) uint8 and labels of the named pickled batches, from the unpacked folder if it is there,
    otherwise straight from the archive. A batch of the wrong structure is reported with its file."""
    unpacked = data_dir / FOLDER
    blobs: dict[str, bytes] = {}
    if all((unpacked / name).is_file() for name in names):
        blobs = {name: (unpacked / name).read_bytes() for name in names}
    else:
        try:
            with tarfile.open(data_dir / ARCHIVE, "r:gz") as archive:
                for name in names:
                    member = archive.extractfile(f"{FOLDER}/{name}")
                    if member is None:
                        raise KeyError(name)
                    blobs[name] = member.read()
        except (OSError, EOFError, KeyError, tarfile.TarError) as err:
            raise DatasetUnavailableError(
                f"{data_dir / ARCHIVE} is not a complete CIFAR-10 archive ({type(err).__name__}: {err}); delete it "
                "and run again"
            ) from err
    images, labels = [], []
    for name, blob in blobs.items():
        try:
            batch = pickle.loads(blob, encoding="bytes")  # the dataset's own format: a pickled dict per batch
            data, batch_labels = batch[b"data"], batch[b"labels"]
            images.append(torch.as_tensor(data, dtype=torch.uint8).reshape(-1, 3, 32, 32))
            labels.append(torch.as_tensor(batch_labels, dtype=torch.long))
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, RuntimeError) as err:
            raise DatasetUnavailableError(
                f"CIFAR-10 batch {name} is corrupt ({type(err).__name__}); replace it"
            ) from err
        if len(images[-1]) != len(labels[-1]):
            raise DatasetUnavailableError(
                f"CIFAR-10 batch {name} holds {len(images[-1])} images, {len(labels[-1])} labels"
            )
    return torch.cat(images), torch.cat(labels)


class AugmentedImages(Dataset):
    """Tensors in memory, one sample at a time through a random transform (seeded per sample by the zoo's loader)."""

    def __init__(self, images: Tensor, labels: Tensor, transform: torch.nn.Module) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.transform(self.images[index]), self.labels[index]


class CIFAR10DataModule(InMemoryDataModule):
    """CIFAR-10: 50,000 training and 10,000 test colour images, 32x32, 10 classes, pixels in [0, 1].

    ``prepare_data`` downloads ``cifar-10-python.tar.gz`` (163 MB, MD5-checked) into ``data_dir``; the batches are read
    from it (or from the ``cifar-10-batches-py/`` folder torchvision unpacks) and kept in memory as uint8.

    Args:
        data_dir: Root folder; default ``$LIGHTNING_ZOO_DATA`` or ``./data``.
        batch_size: Images per batch (32 in the Keras example).
        augment: Random shifts of up to 10 % of width and height (new pixels from the nearest edge) and horizontal
            flips of training images, as the example's ``ImageDataGenerator``; seeded per (seed, epoch, index).
        val_size: Validation images from the training set (count or fraction); 0 validates on the test set, as the
            example does.
        split_seed: Seed of that split.
        download: Download the archive when missing.
        num_workers: Loader workers (used when augmenting).
        pin_memory: Pin batches for faster host-to-GPU copies.
    """

    data_sizes = ("num_classes", "input_shape")
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    mirrors = ("https://www.cs.toronto.edu/~kriz/",)
    num_classes = 10
    input_shape = (3, 32, 32)

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 32,
        augment: bool = True,
        val_size: int | float = 0,
        split_seed: int = 0,
        download: bool = True,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory)
        self.save_hyperparameters()
        self.data_dir = data_root(data_dir)
        self.augment, self.val_size, self.split_seed, self.download = augment, val_size, split_seed, download

    def _ensure(self, download: bool) -> None:
        if not all((self.data_dir / FOLDER / name).is_file() for name in (*TRAIN_BATCHES, "test_batch")):
            ensure_files(
                self.data_dir,
                {ARCHIVE: ARCHIVE_MD5},
                self.mirrors,
                "CIFAR-10",
                download,
                uncompressed_ok=False,
                data_dir=self.data_dir,
            )

    def prepare_data(self) -> None:
        self._ensure(self.download)

    def setup(self, stage: str) -> None:
        if self.splits:
            return
        self._ensure(download=False)
        train_x, train_y = read_batches(self.data_dir, TRAIN_BATCHES)
        test_x, test_y = read_batches(self.data_dir, ("test_batch",))
        scale = lambda x: x.float().div_(255)  # noqa: E731
        _, n_val = split_sizes(len(train_x), self.val_size)
        test = TensorBatchDataset(scale(test_x), test_y)
        if n_val:
            train_idx, val_idx = seeded_split(len(train_x), n_val, self.split_seed)
            self.splits["val"] = TensorBatchDataset(scale(train_x[val_idx]), train_y[val_idx])
            train_x, train_y = train_x[train_idx], train_y[train_idx]
        else:
            self.say_validation_is_the_test_set("CIFAR-10")
            self.splits["val"] = test
        self.splits["train"] = TensorBatchDataset(scale(train_x), train_y)
        self.splits["test"] = self.splits["predict"] = test

    def train_dataloader(self):
        if not self.augment:
            return super().train_dataloader()
        x, y = self.splits["train"].tensors
        shifts = KerasAugmentation(rotation=0.0, shift=0.1, shear=0.0, zoom=0.0, horizontal_flip=True).transforms(32)
        return self.loader(AugmentedImages(x, y, torch.nn.Sequential(*shifts)), train=True)
