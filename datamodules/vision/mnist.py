"""MNIST and Fashion-MNIST: one implementation, two datasets, in torchvision's on-disk layout."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from datamodules.base import (
    DataError,
    DatasetUnavailableError,
    InMemoryDataModule,
    TensorBatchDataset,
    data_root,
    seeded_split,
    split_sizes,
)
from datamodules.download import ensure_files

IDX_UBYTE = 0x08


def read_idx(path: Path, ndim: int) -> Tensor:
    """Reads an idx file of unsigned bytes (optionally gzipped) into a uint8 tensor, checking its structure."""
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError; a truncated .gz raises EOFError
        raise DatasetUnavailableError(f"{path} is not a readable idx file ({err}); delete it and run again") from err
    header = 4 + 4 * ndim
    if len(data) < header or data[:2] != b"\0\0" or data[2] != IDX_UBYTE or data[3] != ndim:
        raise DatasetUnavailableError(
            f"{path} is not an idx file of {ndim}-d unsigned bytes (bad header); delete it and run again"
        )
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(torch.tensor(shape).prod())
    if len(data) != expected:
        raise DatasetUnavailableError(
            f"{path} holds {len(data)} bytes, its header promises {expected}: the file is truncated or corrupt; "
            "delete it and run again"
        )
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).reshape(shape)


class MNISTDataModule(InMemoryDataModule):
    """MNIST: 60,000 training and 10,000 test digits, 28x28 grey, 10 classes.

    Files are torchvision's (``<data_dir>/MNIST/raw/*-ubyte[.gz]``), downloaded with MD5 checks when missing and
    decoded once into in-memory tensors.

    Args:
        data_dir: Root folder; default ``$LIGHTNING_ZOO_DATA`` or ``./data``. A read-only copy works.
        batch_size: Samples per batch (128 in the books).
        val_size: Validation samples taken from the training pool, as a count or a fraction, with a seeded split.
            0 (the books' setting) trains on the whole pool and validates on the test set.
        train_split: ``"train"`` (60,000) or ``"train+test"`` (70,000, as the GAN chapters train).
        flatten: Deliver (784,) vectors instead of (1, 28, 28) images.
        padding: Pixels of background added on every side (2 gives the GAN chapters' 32x32).
        value_range: Pixel values are scaled linearly from [0, 255] to this range: (0, 1) for classifiers,
            (-1, 1) for tanh generators.
        split_seed: Seed of the train/validation split (independent of the training seed).
        keep_classes: Only the samples of these classes, relabelled 0, 1, ... in the order given (the Keras transfer
            example trains on digits [0, 1, 2, 3, 4], then on [5, 6, 7, 8, 9] as labels 0-4). None keeps all.
        download: Download missing files; with False, a missing file is an error that says where to put it.
        num_workers: DataLoader workers; 0 is fastest for in-memory tensors.
        pin_memory: Pin batches for faster host-to-GPU copies.
        data_on_device: Keep the decoded tensors on the training GPU (220 MB as float32) and index batches there.
    """

    data_sizes = ("num_classes", "input_shape")
    dataset_name = "mnist"
    folder = "MNIST"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
    resources = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes: tuple[str, ...] = tuple(str(d) for d in range(10))
    image_size = 28

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 128,
        val_size: int | float = 0,
        train_split: Literal["train", "train+test"] = "train",
        flatten: bool = False,
        padding: int = 0,
        value_range: tuple[float, float] = (0.0, 1.0),
        split_seed: int = 0,
        keep_classes: Sequence[int] | None = None,
        download: bool = True,
        num_workers: int = 0,
        pin_memory: bool = False,
        data_on_device: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, data_on_device)
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        if keep_classes is not None:
            every = range(len(self.classes))
            if not keep_classes or len(set(keep_classes)) != len(keep_classes) or not set(keep_classes) <= set(every):
                raise ValueError(
                    f"keep_classes must name distinct classes among 0..{len(self.classes) - 1}, "
                    f"got {list(keep_classes)}"
                )
        self.keep_classes = None if keep_classes is None else list(keep_classes)
        self.save_hyperparameters()
        self.data_dir = data_root(data_dir)
        self.val_size, self.train_split = val_size, train_split
        self.flatten, self.padding, self.value_range = flatten, padding, value_range
        self.split_seed, self.download = split_seed, download

    sample_options_key = "image_options"
    sample_options_made = "images were made"

    def sample_options(self) -> dict[str, Any]:
        """What an image and its label are: a model that learnt pixels in [0, 1] tested on [-1, 1] loses accuracy
        without a word, and other ``keep_classes`` of the same count would name every prediction wrongly."""
        return {"value_range": [float(v) for v in self.value_range], "padding": self.padding,
                "keep_classes": self._kept_classes(self.keep_classes)}  # fmt: skip

    def saved_sample_options(self, state: dict[str, Any]) -> dict[str, Any]:
        saved = super().saved_sample_options(state)
        return (
            {**saved, "keep_classes": self._kept_classes(saved["keep_classes"])} if "keep_classes" in saved else saved
        )

    def _kept_classes(self, keep: list[int] | None) -> list[int] | None:
        """``keep_classes`` naming every class in order is keeping them all (None): the same images and labels."""
        return None if keep == list(range(len(self.classes))) else keep

    @property
    def class_names(self) -> tuple[str, ...]:
        """The names of the classes the data holds, in label order (``keep_classes`` picks and orders them)."""
        return self.classes if self.keep_classes is None else tuple(self.classes[c] for c in self.keep_classes)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        side = self.image_size + 2 * self.padding
        return (side * side,) if self.flatten else (1, side, side)

    @property
    def raw_folder(self) -> Path:
        return self.data_dir / self.folder / "raw"

    def prepare_data(self) -> None:
        ensure_files(self.raw_folder, self.resources, self.mirrors, self.folder, self.download, data_dir=self.data_dir)

    def setup(self, stage: str) -> None:
        if self.splits:  # decoded once, kept for every later stage
            return
        # a check only
        ensure_files(self.raw_folder, self.resources, self.mirrors, self.folder, download=False, data_dir=self.data_dir)
        train_x, train_y = self._read("train")
        test_x, test_y = self._read("t10k")
        if self.train_split == "train+test":
            train_x, train_y = torch.cat([train_x, test_x]), torch.cat([train_y, test_y])
        if self.keep_classes is not None:
            (train_x, train_y), (test_x, test_y) = (self._kept(train_x, train_y), self._kept(test_x, test_y))

        _, n_val = split_sizes(len(train_x), self.val_size)
        test = TensorBatchDataset(test_x, test_y)
        held_out = self.train_split == "train"  # "train+test" trains on the test images too
        if n_val:
            train_idx, val_idx = seeded_split(len(train_x), n_val, self.split_seed)
            self.splits["train"] = TensorBatchDataset(train_x[train_idx], train_y[train_idx])
            self.splits["val"] = TensorBatchDataset(train_x[val_idx], train_y[val_idx])
        else:
            self.splits["train"] = TensorBatchDataset(train_x, train_y)
            if held_out:
                self.say_validation_is_the_test_set(self.folder)
                self.splits["val"] = test
        if held_out:
            self.splits["test"] = test
        self.splits["predict"] = test

    def _nothing_held_out(self, stage: str) -> DataError:
        return DataError(
            f"train_split 'train+test' trains on the test images too: nothing is held out to {stage} on "
            f"(--data.train_split train{', or --data.val_size for a validation part' if stage == 'validate' else ''})"
        )

    def val_dataloader(self) -> DataLoader | list:
        if self.has_validation:
            return super().val_dataloader()
        if self.trainer_fn == "validate":
            raise self._nothing_held_out("validate")
        return []  # a fit without validation (the GAN chapters')

    def test_dataloader(self) -> DataLoader:
        if self.splits and "test" not in self.splits:
            raise self._nothing_held_out("test")
        return super().test_dataloader()

    def _kept(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """The samples of ``keep_classes``, relabelled by their position in it."""
        relabel = torch.full((len(self.classes),), -1, dtype=torch.long)
        relabel[self.keep_classes] = torch.arange(len(self.keep_classes))
        kept = relabel[y] >= 0
        return x[kept], relabel[y[kept]]

    def _read(self, prefix: str) -> tuple[Tensor, Tensor]:
        images = read_idx(self._path(f"{prefix}-images-idx3-ubyte"), ndim=3)
        labels = read_idx(self._path(f"{prefix}-labels-idx1-ubyte"), ndim=1).long()
        if len(images) != len(labels) or images.shape[1:] != (self.image_size, self.image_size):
            raise DatasetUnavailableError(
                f"{self.raw_folder}: {prefix} images {tuple(images.shape)} do not match {len(labels)} labels of "
                f"{self.image_size}x{self.image_size} images; replace the files"
            )
        if self.padding:  # pad with background (0) before scaling; the book pads after, leaving a grey border
            images = torch.nn.functional.pad(images, (self.padding,) * 4)
        low, high = self.value_range
        x = images.unsqueeze(1).float().mul_((high - low) / 255).add_(low)
        return (x.flatten(1) if self.flatten else x), labels

    def _path(self, stem: str) -> Path:
        plain = self.raw_folder / stem
        return plain if plain.is_file() else plain.with_name(stem + ".gz")


class FashionMNISTDataModule(MNISTDataModule):
    """Fashion-MNIST (Zalando): the same format and sizes as MNIST, 10 kinds of clothing.

    Debian ships the files in ``dataset-fashion-mnist``; copy them to ``<data_dir>/FashionMNIST/raw/``.
    """

    dataset_name = "fashion_mnist"
    folder = "FashionMNIST"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    resources = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
