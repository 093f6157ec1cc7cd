"""Folders of image files (your own photos, the DLwP cats-vs-dogs subset, GAN image sets), decoded one sample at a
time in the loader's workers rather than held in memory, with seeded augmentation that exact resume reproduces."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from datamodules.base import (
    DataError,
    DatasetUnavailableError,
    ZooDataModule,
    data_path,
    data_root,
    seeded_split,
    split_sizes,
)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm"})
SPLIT_FOLDERS = {"train": ("train",), "val": ("validation", "val"), "test": ("test",)}


def hidden(name: str) -> bool:
    """A file or folder no one means as data: dot-files (``.DS_Store``, ``.ipynb_checkpoints/``) and the
    ``__MACOSX/`` folder (its ``._photo.jpg`` files are not images) that macOS puts in zip archives."""
    return name.startswith(".") or name == "__MACOSX"


def opens_as_image(path: Path) -> bool:
    """Whether PIL recognises the file's header (cheap: the pixels are not decoded)."""
    try:
        with Image.open(path):
            return True
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def integer_bits(image: Image.Image) -> int:
    """The bits per pixel of a grey image PIL reads as integers: 16 for its 16-bit modes and for PNG and PGM/PPM (whose
    16-bit images it opens as "I"), a TIFF's BitsPerSample if 8 or 16; else (32-bit integers) 8 or 16 by the
    values."""
    if image.mode.startswith("I;16") or image.format in ("PNG", "PPM"):
        return 16
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, 8)  # BitsPerSample
        bits = int(bits[0] if isinstance(bits, tuple) else bits)
        if bits in (8, 16):
            return bits
    return 16 if np.asarray(image).max(initial=0) > 255 else 8


def load_rgb(path: Path) -> Image.Image:
    """An image file as 8-bit RGB: greyscale and palette images are converted, transparent pixels (RGBA, LA, palette
    transparency) are laid on white, as the artwork of image-folder GANs is drawn on white."""
    with Image.open(path) as image:
        image.load()
    if image.mode.startswith("I;16") or image.mode == "I":  # 16-bit grey (PNG, PGM, TIFF): PIL's convert would clip
        pixels = np.asarray(image, dtype=np.float64) / (2 ** integer_bits(image) - 1) * 255
        image = Image.fromarray(pixels.round().clip(0, 255).astype(np.uint8))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


@dataclass
class ImageFiles:
    """The image files of one folder (flat, or one sub-folder per class) and their labels."""

    paths: list[Path]
    labels: list[int]
    classes: list[str]
    not_images: list[Path] = field(default_factory=list)

    @classmethod
    def scan(
        cls,
        folder: Path,
        labelled: bool,
        classes: Sequence[str] | None = None,
        some_classes: bool = False,
        check_headers: bool = False,
    ) -> ImageFiles:
        """Labelled: every sub-folder is a class (sorted by name, as Keras' ``flow_from_directory``), or the given
        ``classes`` in that order (with ``some_classes``, a held-out split may lack some of them). Unlabelled:
        every image below ``folder``, label 0. Files whose suffix is not an image's, hidden files and folders
        (:func:`hidden`), files beside the class folders and, with ``check_headers``, files PIL does not recognise
        are set aside in ``not_images``."""
        if folder.is_file():
            raise DataError(f"{folder} is a file, not a folder of images: give the folder that holds the images")
        if not folder.is_dir():
            raise DatasetUnavailableError(f"{folder}: no such folder of images")
        if labelled:
            classes = (
                list(classes)
                if classes is not None
                else sorted(p.name for p in folder.iterdir() if p.is_dir() and not hidden(p.name))
            )
            missing = [c for c in classes if not (folder / c).is_dir()]
            if not classes or (missing and not some_classes) or len(missing) == len(classes):
                loose = any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir())
                raise DatasetUnavailableError(
                    f"{folder}: expected one sub-folder of images per class"
                    + (f"; missing {', '.join(missing)}" if missing else ", found none")
                    + ("; images without classes (a GAN's) need --data.labelled false" * (loose and not classes))
                )
            groups = [(label, folder / name) for label, name in enumerate(classes) if name not in missing]
        else:
            classes, groups = ["images"], [(0, folder)]
        files = cls([], [], list(classes))
        if labelled:  # files beside the class folders belong to no class
            files.not_images += sorted(p for p in folder.iterdir() if p.is_file())
        for label, group in groups:
            for path in sorted(p for p in group.rglob("*") if p.is_file()):
                is_data = not any(hidden(part) for part in path.relative_to(group).parts)
                if is_data and path.suffix.lower() in IMAGE_SUFFIXES and (not check_headers or opens_as_image(path)):
                    files.paths.append(path)
                    files.labels.append(label)
                else:
                    files.not_images.append(path)
        if not files.paths:
            raise DatasetUnavailableError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        found = set(files.labels)
        empty = [name for label, name in enumerate(files.classes) if label not in found]
        if labelled and empty and not some_classes:  # an output the model would have and never learn
            raise DataError(
                f"{folder}: the class folder(s) {', '.join(empty)} hold no images; add some, remove the folder(s), or "
                "name the classes to use with --data.classes"
            )
        return files


class ImageFileDataset(Dataset):
    """One decoded, transformed image and its label per index. A file that cannot be decoded gives ``None`` (the
    collate function drops it) and a warning naming it, once per file and process, with the count so far."""

    def __init__(self, paths: Sequence[Path], labels: Sequence[int], transform: Callable[[Any], Tensor]) -> None:
        self.paths, self.labels, self.transform = list(paths), torch.tensor(list(labels)), transform
        self.unreadable: set[Path] = set()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor] | None:
        path = self.paths[index]
        try:
            image = load_rgb(path)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:  # PIL's ways of saying "bad"
            if path not in self.unreadable:
                self.unreadable.add(path)
                warnings.warn(
                    f"skipped {path}: not a readable image ({type(err).__name__}: {str(err)[:80]}); "
                    f"{len(self.unreadable)} unreadable so far in {'this worker' if _in_worker() else 'this run'}",
                    stacklevel=1,
                )
            return None
        return self.transform(image), self.labels[index]


def _in_worker() -> bool:
    return torch.utils.data.get_worker_info() is not None


def collate_readable(samples: list[tuple[Tensor, ...] | None]) -> tuple[Tensor, ...]:
    """Stacks the samples that could be read; a batch of nothing but unreadable files is an error."""
    readable = [s for s in samples if s is not None]
    if not readable:
        raise DataError(f"a whole batch of {len(samples)} image files could not be read: see the warnings above")
    return tuple(torch.stack(parts) for parts in zip(*readable, strict=True))


class NumberedSamples(Dataset):
    """``dataset``'s samples with their index last, ``(image, label, index)``: predict's rows then say which file each
    is, even after an unreadable one was skipped."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Tensor, ...] | None:
        sample = self.dataset[index]
        return None if sample is None else (*sample, torch.tensor(index))


@dataclass(frozen=True)
class KerasAugmentation:
    """The random transformations of Keras' ``ImageDataGenerator`` as "Deep Learning with Python" sets them (5.2):
    rotation up to 40 degrees, shifts and zoom of 0.2, shear 0.2 (radians in the Keras 2 of the book), horizontal flip,
    new pixels filled from the nearest edge. Keras' zoom z in [0.8, 1.2] divides coordinates (the image is scaled by
    1/z, 0.83-1.25) and is drawn for x and y independently; here one factor, drawn uniformly in [1/1.2, 1/0.8]."""

    rotation: float = 40.0
    shift: float = 0.2
    shear: float = 0.2
    zoom: float = 0.2
    horizontal_flip: bool = True

    def transforms(self, size: int) -> list[Any]:
        # torchvision fills with a constant; padding by edge replication first, then cropping back, fills from the
        # nearest edge as Keras does. A pad of one side each way covers the farthest point the output samples (its
        # corner zoomed out, rotated, sheared and shifted); shifts are fractions of the padded (3x) image.
        pad = size
        affine = v2.RandomAffine(
            degrees=self.rotation,
            translate=(self.shift * size / (size + 2 * pad),) * 2,
            scale=(1 / (1 + self.zoom), 1 / (1 - self.zoom)),
            shear=self.shear * 180 / torch.pi,
        )
        flip = [v2.RandomHorizontalFlip()] if self.horizontal_flip else []
        return [v2.Pad(pad, padding_mode="edge"), affine, v2.CenterCrop(size), *flip]


class ImageFolderDataModule(ZooDataModule):
    """Images from a folder of files, for classifiers (labels from sub-folders) and GANs (a flat folder).

    Layouts under ``folder``:

    - split folders, as the DLwP cats-vs-dogs subset: ``train/<class>/``, ``validation/<class>/`` (or ``val/``),
      ``test/<class>/``; validation and test are optional (without a validation folder, ``val_size`` takes one
      from ``train/``); a held-out class folder that ``train/`` lacks is an error unless ``classes`` are named;
    - one folder, ``<class>/*`` (``labelled``) or any images below it (not ``labelled``, label 0): the validation
      split is a seeded ``val_size`` of it.

    Every image is decoded when its batch is made (in ``num_workers`` processes): converted to RGB, resized, scaled
    to ``value_range``; training images are augmented with torch RNG seeded by (seed, epoch, index), so a resumed run
    sees exactly the uninterrupted run's images, on any number of workers or ranks. Files that are not images are
    skipped with one warning that counts them; an unreadable image met during training is skipped (its batch is one
    smaller) with a warning naming it.

    Args:
        folder: The folder of images (or of split folders); a relative one is under ``data_dir``
            (``pokemon/images``). One that is not there but is below the current folder is read from there, as
            configs and checkpoints before ``data_dir`` name it (``data/pokemon/images``).
        image_size: Side of the square images the model takes.
        resize: ``crop``: shorter side to ``image_size``, then the centre square (keeps proportions); ``squash``:
            straight to ``image_size`` x ``image_size``, as Keras' ``target_size`` does.
        labelled: Labels from sub-folders; False reads every image below the folder as one class.
        classes: Class sub-folders in label order; default all of them, sorted by name.
        value_range: Pixel values are scaled linearly from [0, 255] to this range.
        augment: ``none``; ``flip`` (random horizontal flip, for GANs); ``keras`` (:class:`KerasAugmentation`).
        val_size: Without a validation folder: validation images taken from the training ones, as a count or a
            fraction (0: none); a test folder stays the test set. Ignored when a validation folder exists.
        split_seed: Seed of that split.
        batch_size: Images per batch.
        num_workers: Decoding processes (0 decodes in the training process).
        pin_memory: Pin batches for faster host-to-GPU copies.
        dataset_name: Names the zoo's feature network for these images (``lightning_zoo/feature_networks``), which
            classifier-FID then uses: ``pokemon`` for the Pokemon artwork of the folder GANs' configs.
        data_dir: Root folder of a relative ``folder``; default ``$LIGHTNING_ZOO_DATA`` or ``./data``.
        predict_folder: Images to classify in ``predict`` (every image below it, in sub-folders or not; relative to
            the current folder) instead of the held-out split: a classifier's checkpoint names its classes, so the
            training folder need not be there.
    """

    data_sizes = ("num_classes", "input_shape")
    sample_options_key = "image_options"
    sample_options_made = "images were made"

    def __init__(
        self,
        folder: str,
        image_size: int = 64,
        resize: Literal["crop", "squash"] = "crop",
        labelled: bool = True,
        classes: Sequence[str] | None = None,
        value_range: tuple[float, float] = (0.0, 1.0),
        augment: Literal["none", "flip", "keras"] = "none",
        val_size: int | float = 0,
        split_seed: int = 0,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        dataset_name: str | None = None,
        data_dir: str | None = None,
        predict_folder: str | None = None,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory)
        if image_size < 1:
            raise ValueError(f"image_size must be at least 1, got {image_size}")
        self.save_hyperparameters()
        self.folder_given = Path(folder)
        self.folder = data_path(folder, data_dir)
        if self.folder == Path(folder) and not self.folder.is_absolute():
            rank_zero_info(
                f"{folder}: not under the data root {data_root(data_dir)}; reading ./{folder} below the current folder"
            )
        self.image_size, self.resize, self.labelled = image_size, resize, labelled
        self.value_range, self.augment = value_range, augment
        self.val_size, self.split_seed = val_size, split_seed
        self.classes: list[str] = list(classes) if classes is not None else []
        self.classes_chosen = classes is not None  # chosen classes leave the other class folders out on purpose
        self.checkpoint_classes: list[str] = []  # a checkpoint's classes, for images it did not learn from
        self.predict_folder = Path(predict_folder) if predict_folder is not None else None
        self._new_images_split: ImageFileDataset | None = None  # the predict folder's images, once scanned
        self.splits: dict[str, ImageFileDataset] = {}
        self.dataset_name = dataset_name

    def sample_options(self) -> dict[str, Any]:
        """What an image is: a model that learnt pixels in [0, 1], or squashed images, would be fed [-1, 1], or
        cropped ones, without a word."""
        return {"image_size": self.image_size, "resize": self.resize,
                "value_range": [float(v) for v in self.value_range]}  # fmt: skip

    # A labelled folder's classes travel in checkpoints too, in label order: a folder or --data.classes that orders
    # them otherwise would name every prediction wrongly; new images (a predict_folder, or a folder read with
    # labelled false) are classified into the checkpoint's classes, named as they were.
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.labelled and self.classes:
            state["classes"] = list(self.classes)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        saved = state.get("classes")
        if saved is None:
            return
        self.checkpoint_classes = list(saved)
        fn = self.trainer_fn  # None: the CLI's look before setup
        reads_class_folders = self.labelled and not (self.predict_folder is not None and fn in (None, "predict"))
        if reads_class_folders and not self.classes and self.folder.is_dir():
            self.classes = self._scan_splits()["train"].classes  # (the CLI's look before setup)
        if reads_class_folders and self.classes and self.classes != saved:
            raise DataError(
                f"the checkpoint's model learnt the classes {json.dumps(saved)} in that label order (here "
                f"{json.dumps(self.classes)}): name them so with --data.classes"
                + ("" if fn == "fit" else ", or classify the images as new ones (predict --data.predict_folder)")
            )

    @property
    def _new_images(self) -> bool:
        """Whether the images are not of the classes' folders: a predict folder, or a folder read unlabelled."""
        return self.predict_folder is not None or not self.labelled

    @property
    def num_classes(self) -> int:
        if self.checkpoint_classes and self._new_images:
            return len(self.checkpoint_classes)
        if not self.labelled:  # one class, whatever the folder holds: a GAN samples without its training images
            return 1
        if not self.classes and self.predict_folder is not None and not self.folder.is_dir():
            raise DataError(
                f"{self.folder}: no such folder, and the checkpoint names no classes (it predates their travelling "
                "with it): classifying new images needs the training images' class folders (--data.folder)"
            )
        if not self.classes:
            self.classes = self._scan_splits()["train"].classes
        return len(self.classes)

    @property
    def class_names(self) -> tuple[str, ...] | None:
        if self.checkpoint_classes and self._new_images:
            return tuple(self.checkpoint_classes)
        return super().class_names

    @property
    def has_targets(self) -> bool:
        """Whether the labels are classes to score (class folders; a rotation folder's turns), not an unlabelled
        folder's 0."""
        return self.labelled

    @property
    def predict_has_targets(self) -> bool:
        """Whether predicted images have targets (not new images: predictions.csv then has no target column)."""
        return self.has_targets and self.predict_folder is None

    @property
    def predict_root(self) -> Path:
        """The folder the predicted images lie under."""
        return self.predict_folder if self.predict_folder is not None else self.folder

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.image_size, self.image_size)

    def transform(self, train: bool) -> v2.Compose:
        size = self.image_size
        resize = [v2.Resize(size), v2.CenterCrop(size)] if self.resize == "crop" else [v2.Resize((size, size))]
        augment: list[Any] = []
        if train and self.augment == "flip":
            augment = [v2.RandomHorizontalFlip()]
        elif train and self.augment == "keras":
            augment = KerasAugmentation().transforms(size)
        low, high = self.value_range  # [0, 1] -> [low, high] as a Normalize, which pickles into spawned workers
        to_range = v2.Normalize([-low / (high - low)] * 3, [1 / (high - low)] * 3)
        return v2.Compose([v2.PILToTensor(), *resize, *augment, v2.ToDtype(torch.float32, scale=True), to_range])

    def _scan_splits(self) -> dict[str, ImageFiles]:
        if self.folder.is_file():
            raise DataError(f"{self.folder} is a file, not a folder of images: give --data.folder the folder")
        if not self.folder.is_dir():
            given = self.folder_given
            raise DatasetUnavailableError(
                f"{self.folder.absolute()}: no such folder of images; "
                + (
                    "pass --data.folder the folder of images"
                    if given.is_absolute()
                    else f"point --data.data_dir (or the LIGHTNING_ZOO_DATA environment variable) at a folder that "
                    f"holds {given.as_posix()}/, or pass --data.folder the folder of images"
                )
            )
        present = {
            split: next((self.folder / name for name in names if (self.folder / name).is_dir()), None)
            for split, names in SPLIT_FOLDERS.items()
        }
        train = ImageFiles.scan(present["train"] or self.folder, self.labelled, self.classes or None)
        if present["train"] is None:
            return {"train": train}
        # Validation and test take the training set's classes: a label means the same class in every split.
        held_out = {
            split: ImageFiles.scan(path, self.labelled, train.classes, some_classes=True)
            for split, path in present.items()
            if split != "train" and path is not None
        }
        if self.labelled and not self.classes_chosen:
            for path in filter(None, present.values()):
                unknown = sorted(
                    p.name for p in path.iterdir() if p.is_dir() and not hidden(p.name) and p.name not in train.classes
                )
                if unknown:
                    raise DataError(
                        f"{path} has class folder(s) that {present['train'].name}/ lacks: {', '.join(unknown)}; "
                        "remove them, or name the classes to use with --data.classes"
                    )
        return {"train": train, **held_out}

    def setup(self, stage: str) -> None:
        self.say_predict_inputs_unused(stage)
        if stage in ("validate", "test") and not self.has_targets:
            scoring = "validate" if stage == "validate" else "test"  # (Lightning passes an enum)
            raise DataError(
                f"images read with --data.labelled false have no classes to {scoring} against: {scoring} needs class "
                "folders; predict classifies new images (--data.predict_folder)"
            )
        if stage == "predict" and self.predict_folder is not None:
            # Set at every predict (another stage's setup in the same process puts the held-out images there)
            if self._new_images_split is None:
                files = ImageFiles.scan(self.predict_folder, labelled=False, check_headers=True)
                self._new_images_split = ImageFileDataset(files.paths, files.labels, self.transform(train=False))
                if files.not_images:
                    rank_zero_warn(
                        f"{self.predict_folder}: skipped {len(files.not_images)} files that are not images "
                        f"(e.g. {files.not_images[0].relative_to(self.predict_folder)})"
                    )
                rank_zero_info(f"{self.predict_folder}: {len(files.paths)} images to classify")
            self.splits["predict"] = self._new_images_split
            return
        if "train" in self.splits:
            return
        scanned = self._scan_splits()
        self.classes = scanned["train"].classes
        not_images = [p for files in scanned.values() for p in files.not_images]
        if not_images:
            rank_zero_warn(
                f"{self.folder}: skipped {len(not_images)} files that are not images"
                f"{' in a class folder' if self.labelled else ''} "
                f"(e.g. {not_images[0].relative_to(self.folder)})"
            )
        train = scanned["train"]
        if "val" not in scanned and self.val_size:
            _, n_val = split_sizes(len(train.paths), self.val_size)
            train_idx, val_idx = seeded_split(len(train.paths), n_val, self.split_seed)
            pick = lambda idx: ([train.paths[i] for i in idx], [train.labels[i] for i in idx])  # noqa: E731
            self.splits["train"] = ImageFileDataset(*pick(train_idx.tolist()), self.transform(train=True))
            self.splits["val"] = ImageFileDataset(*pick(val_idx.tolist()), self.transform(train=False))
        else:
            self.splits["train"] = ImageFileDataset(train.paths, train.labels, self.transform(train=True))
        for split in ("val", "test"):
            if split in scanned and split not in self.splits:
                # Read folder by folder, one class follows another: a partial evaluation (limit_val_batches,
                # fast_dev_run) would see one class. A fixed shuffle, as Keras' flow_from_directory serves them.
                files = scanned[split]
                order = torch.randperm(len(files.paths), generator=torch.Generator().manual_seed(0)).tolist()
                paths, labels = [files.paths[i] for i in order], [files.labels[i] for i in order]
                self.splits[split] = ImageFileDataset(paths, labels, self.transform(train=False))
        held_out = self.splits.get("test", self.splits.get("val"))
        self.splits["predict"] = held_out if held_out is not None else self.unaugmented("train")
        sizes = ", ".join(f"{split} {len(data)}" for split, data in self.splits.items() if split != "predict")
        rank_zero_info(f"{self.folder}: {sizes} images of {len(self.classes)} class(es) {self.classes[:10]}")

    def unaugmented(self, split: str) -> ImageFileDataset:
        """A split's images as validation sees them: no augmentation."""
        data = self.splits[split]
        return ImageFileDataset(data.paths, data.labels.tolist(), self.transform(train=False))

    def eval_loader(self, split: str) -> DataLoader:
        return self.loader(self.unaugmented(split), collate_fn=collate_readable)

    def _split(self, split: str) -> DataLoader:
        if split not in self.splits:
            split_layout = (self.folder / "train").is_dir()  # (one folder of classes splits off val_size only)
            folder = SPLIT_FOLDERS[split][0]
            add = f"add a {folder}/ folder" if split_layout else ""
            if split == "test" and not split_layout:  # a validation/ in a folder of classes would be a class
                add = f"lay the images out as train/<class>/ and {folder}/<class>/ folders"
            raise DataError(
                f"{self.folder} has no {split} images: "
                + " or ".join(filter(None, [add, "set --data.val_size" if split == "val" else ""]))
            )
        return self.loader(self.splits[split], train=split == "train", collate_fn=collate_readable)

    def train_dataloader(self) -> DataLoader:
        return self._split("train")

    def val_dataloader(self) -> DataLoader | list:
        validating = self.trainer_fn == "validate"  # (a fit may have none)
        return self._split("val") if "val" in self.splits or validating else []

    def test_dataloader(self) -> DataLoader:
        return self._split("test")

    def predict_dataloader(self) -> DataLoader:
        self._split("predict")  # the same refusal when there is none
        return self.loader(NumberedSamples(self.splits["predict"]), collate_fn=collate_readable)

    def prediction_inputs(self) -> dict[str, list]:
        """Each predicted image's ``file`` (under its folder), by the sample index predict's batches carry."""
        return {"file": [str(path.relative_to(self.predict_root)) for path in self.splits["predict"].paths]}


class RotatedImages(Dataset):
    """Each image of ``images`` four times, turned counter-clockwise by 0, 90, 180 and 270 degrees, labelled with its
    number of quarter turns (0-3). An unreadable image stays ``None``."""

    def __init__(self, images: ImageFileDataset) -> None:
        self.images = images

    def __len__(self) -> int:
        return 4 * len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor] | None:
        sample = self.images[index // 4]
        if sample is None:
            return None
        turns = index % 4
        return torch.rot90(sample[0], turns, dims=(1, 2)), torch.tensor(turns)


class RotationFolderDataModule(ImageFolderDataModule):
    """The images of a folder without labels, each served turned by 0, 90, 180 and 270 degrees and labelled with the
    turn: RotNet's pretext task (Gidaris et al., 2018), on which a classifier learns features of the folder's own
    images with no labels. The zoo's feature network for an RGB folder (classifier-FID of the folder GANs) is such
    a classifier: ``configs/classification/feature_cnn_pokemon.yaml``.

    Takes :class:`ImageFolderDataModule`'s arguments and reads every image below ``folder`` (``labelled`` False);
    hold some out with ``val_size`` to measure how well the turns are told apart. Augmentation comes before the
    turn, so a flip (``augment: flip``) leaves the label true.
    """

    turns = ("0 degrees", "90 degrees", "180 degrees", "270 degrees")

    def __init__(self, folder: str, **kwargs: Any) -> None:
        if "labelled" in kwargs:
            raise TypeError(f"{type(self).__name__} labels every image by its turn: drop labelled")
        super().__init__(folder, labelled=False, **kwargs)

    @property
    def num_classes(self) -> int:
        return len(self.turns)

    has_targets = predict_has_targets = True  # the turns, whatever the images

    def setup(self, stage: str) -> None:
        super().setup(stage)
        self.splits = {split: as_rotated(images) for split, images in self.splits.items()}
        self.classes = list(self.turns)

    def prediction_inputs(self) -> dict[str, list]:
        """Each predicted sample's ``file`` and ``turn`` (four per image, as served)."""
        files = [str(path.relative_to(self.predict_root)) for path in self.splits["predict"].images.paths]
        return {"file": [f for f in files for _ in self.turns], "turn": list(self.turns) * len(files)}

    def unaugmented(self, split: str) -> RotatedImages:
        images = self.splits[split]
        images = images.images if isinstance(images, RotatedImages) else images
        return RotatedImages(ImageFileDataset(images.paths, images.labels.tolist(), self.transform(train=False)))


def as_rotated(images: ImageFileDataset | RotatedImages) -> RotatedImages:
    """``images`` turned four ways, once: the parent's ``setup`` builds the predict split with the overridden
    ``unaugmented``, which is rotated already."""
    return images if isinstance(images, RotatedImages) else RotatedImages(images)
