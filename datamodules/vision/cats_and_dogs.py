"""The small cats-vs-dogs dataset of "Deep Learning with Python" (5.2): 4,000 photos of Kaggle's "Dogs vs. Cats", and
the command that builds it from Kaggle's training folder.

    python -m datamodules.vision.make_cats_and_dogs --kaggle-train ~/Downloads/train --to data/cats_and_dogs_small
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Literal

from datamodules.base import DataError, DatasetUnavailableError
from datamodules.vision.image_folder import ImageFolderDataModule

FOLDER = "cats_and_dogs_small"
KAGGLE = "https://www.kaggle.com/c/dogs-vs-cats/data"
# The book's file ranges per class: cat.0-999.jpg (and dog.*) train, the next 500 validation, the next 500 test.
BOOK_SPLITS = {"train": range(0, 1000), "validation": range(1000, 1500), "test": range(1500, 2000)}
BOOK_CLASSES = {"cats": "cat", "dogs": "dog"}


def subset_files() -> dict[Path, str]:
    """Every file of the book's subset: its path inside the subset -> its name in Kaggle's training folder."""
    return {
        Path(split) / folder / f"{prefix}.{i}.jpg": f"{prefix}.{i}.jpg"
        for split, numbers in BOOK_SPLITS.items()
        for folder, prefix in BOOK_CLASSES.items()
        for i in numbers
    }


def build_subset(kaggle_train: Path, to: Path) -> int:
    """Copies the book's 4,000 files from Kaggle's ``train/`` folder into ``to`` (train/validation/test, each with
    cats/ and dogs/). Refuses to write into an existing non-empty folder, checks that every file is there before
    copying any, and copies into ``<to>.partial`` first (replacing what an interrupted build left there) so that no
    half subset is ever left at ``to``."""
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise DataError(f"{to} already exists and is not empty: refusing to overwrite it; remove it or choose --to")
    files = subset_files()
    missing = [name for name in files.values() if not (kaggle_train / name).is_file()]
    if missing:
        raise DatasetUnavailableError(
            f"{kaggle_train}: {len(missing)} of the subset's {len(files)} files are missing (e.g. {missing[0]}); "
            f"pass Kaggle's unpacked training folder (train.zip from {KAGGLE})"
        )
    partial = to.with_name(to.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for target, name in files.items():
        (partial / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kaggle_train / name, partial / target)
    if to.exists():
        to.rmdir()
    partial.rename(to)
    return len(files)


class CatsAndDogsSmallDataModule(ImageFolderDataModule):
    """DLwP's 2,000 training, 1,000 validation and 1,000 test photos of cats (label 0) and dogs (label 1), in
    ``<data_dir>/cats_and_dogs_small/{train,validation,test}/{cats,dogs}/``; squashed to 150x150 as Keras'
    ``target_size`` does, pixels in [0, 1] (``rescale=1./255``).

    Kaggle's data needs an account, so nothing is downloaded: build the subset once with
    ``python -m datamodules.vision.make_cats_and_dogs --kaggle-train DIR --to <data_dir>/cats_and_dogs_small``.

    Args:
        data_dir: Root folder; default ``$LIGHTNING_ZOO_DATA`` or ``./data``. A read-only copy works.
        image_size: Side of the square images.
        augment: ``none`` (5.2's first model) or ``keras`` (its augmented model: rotation, shifts, shear, zoom, flip).
        batch_size: 20 in the book's first model, 32 in the augmented one.
        num_workers: Decoding processes.
        pin_memory: Pin batches for faster host-to-GPU copies.
        predict_folder: Photos to classify in ``predict`` (see :class:`ImageFolderDataModule`).
    """

    def __init__(
        self,
        data_dir: str | None = None,
        image_size: int = 150,
        augment: Literal["none", "keras"] = "none",
        batch_size: int = 20,
        num_workers: int = 0,
        pin_memory: bool = False,
        predict_folder: str | None = None,
    ) -> None:
        super().__init__(
            folder=FOLDER, image_size=image_size, resize="squash", classes=list(BOOK_CLASSES), augment=augment,
            batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory, data_dir=data_dir,
            predict_folder=predict_folder,
        )  # fmt: skip

    def prepare_data(self) -> None:
        self._check_present(self.trainer_fn)

    def setup(self, stage: str) -> None:
        self._check_present(stage)
        super().setup(stage)

    def _check_present(self, stage: str | None) -> None:
        if stage == "predict" and self.predict_folder is not None:  # new photos to classify need only the checkpoint
            return
        if not (self.folder / "train").is_dir():
            raise DatasetUnavailableError(
                f"{self.folder}/train not found: build the subset once from Kaggle's training folder ({KAGGLE}) with "
                f"`python -m datamodules.vision.make_cats_and_dogs --kaggle-train DIR --to {self.folder}` (to classify "
                "new photos with a trained model: predict --data.predict_folder DIR)"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kaggle-train", type=Path, required=True, help="Kaggle's unpacked train/ folder")
    parser.add_argument("--to", type=Path, required=True, help="the subset's folder (must not exist or be empty)")
    args = parser.parse_args(argv)
    try:
        copied = build_subset(args.kaggle_train, args.to)
    except DataError as err:
        sys.exit(f"error: {err}")
    except OSError as err:  # a full disk, a permission: nothing was placed at --to
        sys.exit(f"error: copying into {args.to} failed ({err}); {args.to} was left untouched")
    print(f"{args.to}: {copied} files (train 2,000, validation 1,000, test 1,000)")
