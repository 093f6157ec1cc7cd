"""The ORL (AT&T) Database of Faces as pairs for a Siamese network: 40 subjects x 10 grey 92x112 photos, decoded
once into memory, pairs of indices drawn with a seed and their images gathered a batch at a time.

Layout (the original ``att_faces`` archive's): ``<data_dir>/orl_faces/s1 ... s40/1.pgm ... 10.pgm``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor
from torch.utils.data import Dataset

from datamodules.base import (
    DataError,
    DatasetUnavailableError,
    InMemoryDataModule,
    TensorBatchDataset,
    data_root,
    split_sizes,
)

FOLDER = "orl_faces"
SUBJECT_FOLDER = re.compile(r"s(\d+)")


class PairBatchDataset(TensorBatchDataset):
    """Pairs of images held as indices into one image table: a batch of indices gives ``(first images, second
    images, labels)`` gathered at once, so 8,000 pairs of faces cost 8,000 x 2 integers, not 660 MB of pixels."""

    def __init__(self, images: Tensor, first: Tensor, second: Tensor, labels: Tensor) -> None:
        super().__init__(first, second, labels)
        self.images = images

    def __getitem__(self, indices: Tensor | int) -> tuple[Tensor, ...]:
        first, second, labels = super().__getitem__(indices)
        return self.images[first], self.images[second], labels

    def to(self, device: torch.device) -> PairBatchDataset:
        return PairBatchDataset(self.images.to(device), *(t.to(device) for t in self.tensors))

    def subset(self, part: slice) -> PairBatchDataset:
        return PairBatchDataset(self.images, *(t[part] for t in self.tensors))


class FreshPairs(Dataset):
    """``size`` pairs drawn anew each time a sample is asked for: even indices a positive pair (two different images
    of a random subject), odd ones a negative pair (a random image of each of two different subjects). Its randomness
    is torch's global RNG, which the loader seeds per (seed, epoch, index) (``datamodules.base.PerSampleBatches``), so
    every epoch sees new pairs and a resumed run the same ones as an uninterrupted run. Pairs of ``exclude`` (the
    validation pairs) are never drawn."""

    def __init__(
        self, images: Tensor, subjects: Tensor, size: int, exclude: tuple[Tensor, Tensor] | None = None
    ) -> None:
        self.images, self.subjects, self.size = images, subjects, size  # images: (subjects, per subject, C, H, W)
        per_subject = images.shape[1]
        self.image_count = len(images) * per_subject
        self.excluded = set(pair_key(*exclude, self.image_count).tolist()) if exclude is not None else set()

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor, Tensor]:
        per_subject = self.images.shape[1]
        while True:  # until the pair is none of ``exclude`` (the validation pairs)
            if index % 2 == 0:
                first = second = self.subjects[torch.randint(len(self.subjects), ())]
                a, b = torch.randperm(per_subject)[:2]
            else:
                first, second = self.subjects[torch.randperm(len(self.subjects))[:2]]
                a, b = torch.randint(per_subject, (2,))
            key = pair_key(first * per_subject + a, second * per_subject + b, self.image_count)
            if int(key) not in self.excluded:
                return self.images[first, a], self.images[second, b], torch.tensor(float(index % 2 == 0))


def pair_key(first: Tensor, second: Tensor, images: int) -> Tensor:
    """``a * images + b`` for the unordered pair {a, b} with a <= b: equal for (a, b) and (b, a)."""
    return torch.minimum(first, second) * images + torch.maximum(first, second)


def sample_pairs(
    subjects: Tensor,
    images_per_subject: int,
    positives: int,
    negatives: int,
    generator: torch.Generator,
    exclude: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``positives`` same-subject and ``negatives`` different-subject pairs of image indices, in random order, where
    image ``k`` of subject ``s`` has index ``s * images_per_subject + k`` and ``subjects`` lists those allowed.

    Positive pairs are two different images of one subject. The book draws a subject with replacement for each, so
    some of the 45 pairs per subject repeat while others never appear; here every distinct pair of every subject is
    used once, in random order, before any is used again (4,000 positives use each of the 1,800 twice or three
    times). Negative pairs are a random image of each of two different subjects. No pair of ``exclude`` (first
    images, second images: the validation pairs) is drawn, in either order. Returns (first, second, label).
    """
    if len(subjects) < 2:
        raise DataError(f"pairs need at least 2 subjects, got {len(subjects)}")
    k = images_per_subject
    images = int(subjects.max()) * k + k
    excluded = pair_key(*exclude, images) if exclude is not None else torch.empty(0, dtype=torch.long)
    a, b = torch.triu_indices(k, k, offset=1)  # the k(k-1)/2 pairs of different images of one subject
    every_positive = torch.stack([(subjects[:, None] * k + a).flatten(), (subjects[:, None] * k + b).flatten()], 1)
    every_positive = every_positive[~torch.isin(pair_key(*every_positive.T, images), excluded)]
    if positives and not len(every_positive):
        raise DataError("the validation pairs take every positive pair: lower val_size")
    rounds = max(-(-positives // max(len(every_positive), 1)), 1)  # one at least: torch.cat needs a tensor
    order = torch.cat([torch.randperm(len(every_positive), generator=generator) for _ in range(rounds)])[:positives]
    positive = every_positive[order]
    swap = torch.rand(positives, generator=generator) < 0.5  # which of the two comes first is random too
    positive[swap] = positive[swap].flip(1)

    n = len(subjects)
    negative = torch.empty(negatives, 2, dtype=torch.long)
    redraw = torch.ones(negatives, dtype=torch.bool)
    while redraw.any():  # an excluded negative is drawn again (validation's 400 are 0.3 % of the 156,000)
        m = int(redraw.sum())
        s1 = torch.randint(n, (m,), generator=generator)
        s2 = (s1 + torch.randint(1, n, (m,), generator=generator)) % n  # any subject but s1
        negative[redraw] = torch.stack(
            [
                subjects[s1] * k + torch.randint(k, (m,), generator=generator),
                subjects[s2] * k + torch.randint(k, (m,), generator=generator),
            ],
            1,
        )
        redraw = torch.isin(pair_key(*negative.T, images), excluded)
    pairs = torch.cat([positive, negative])
    labels = torch.cat([torch.ones(positives), torch.zeros(negatives)])
    shuffle = torch.randperm(len(pairs), generator=generator)
    return pairs[shuffle, 0], pairs[shuffle, 1], labels[shuffle]


def read_pgm_folder(folder: Path) -> tuple[Tensor, list[str]]:
    """Every subject's images as uint8 ``(subjects, images, 1, H, W)`` and the subject folders' names, ordered by
    number (s1, s2, ..., s40), images by file number. Every subject must have the same number of images of one size."""
    subject_dirs = sorted(
        (p for p in folder.iterdir() if p.is_dir() and SUBJECT_FOLDER.fullmatch(p.name)),
        key=lambda p: int(p.name[1:]),
    )
    if not subject_dirs:
        raise DatasetUnavailableError(f"{folder} holds no subject folders s1, s2, ...: is it the ORL faces folder?")
    table = []
    for subject in subject_dirs:
        files = sorted(
            (p for p in subject.iterdir() if p.suffix.lower() == ".pgm" and p.stem.isdigit()), key=lambda p: int(p.stem)
        )
        faces = []
        for path in files:
            try:
                with Image.open(path) as image:
                    faces.append(np.array(image.convert("L")))
            except (OSError, UnidentifiedImageError) as err:
                raise DatasetUnavailableError(f"{path} is not a readable image ({err}); replace the file") from err
        table.append(faces)
    counts = {len(faces) for faces in table}
    if len(counts) != 1 or min(counts) < 2:
        found = ", ".join(
            f"{d.name}: {len(f)}" for d, f in zip(subject_dirs, table, strict=True) if len(f) != max(counts)
        )
        raise DatasetUnavailableError(
            f"{folder}: every subject needs the same number (at least 2) of numbered .pgm images; {found or 'too few'}"
        )
    shapes = {face.shape for faces in table for face in faces}
    if len(shapes) != 1:
        raise DatasetUnavailableError(f"{folder}: the images are not all one size (found {sorted(shapes)})")
    # (H, W) as PIL gives it: the book's reshape to (92, 112) scrambles the rows; this keeps the face upright.
    images = torch.from_numpy(np.stack([np.stack(faces) for faces in table]))[:, :, None]
    return images, [d.name for d in subject_dirs]


class ORLFacesDataModule(InMemoryDataModule):
    """Pairs of ORL faces labelled same person (1) or not (0), for the Siamese network of Hands-On E10; its test
    split is the evaluation subjects' single images, for N-way one-shot tests.

    The 400 images are decoded once into [0, 1] tensors (1 x 112 x 92, upright). ``pairs`` pairs (the book: 8,000)
    are drawn once with ``pair_seed``, half positive and half negative, and ``val_size`` of them validate, again
    half and half, none of them a training pair (in either order). (The book's ``validation_split`` takes the last
    10 % of its positives-first list: only negative pairs, some of which it also trains on.)

    The book's protocol trains and tests on all 40 subjects. ``test_subjects=10`` is the honest one: the last 10
    subjects (s31-s40) never appear in a training or validation pair, and the N-way tests use only them.

    Args:
        data_dir: Root folder holding ``orl_faces/``; default ``$LIGHTNING_ZOO_DATA`` or ``./data``.
        batch_size: Pairs per batch (the book: 64).
        pairs: Pairs drawn for training and validation together (the book: 8,000).
        val_size: Validation pairs, a count or a fraction of ``pairs`` (the book: 0.1).
        test_subjects: Subjects held out of every pair for the one-shot tests (the last ones by number); 0 tests
            on the training subjects, as the book does.
        fresh_pairs: Draw new training pairs every epoch (seeded by the run's seed, the epoch and the pair's index,
            half positive) instead of the book's one set; validation keeps its fixed pairs.
        pair_seed: Seed of the pairs (the book's ``np.random.seed(42)``).
        download: Fetch the AT&T archive when the folder is missing.
        num_workers, pin_memory, data_on_device: As every in-memory DataModule.
    """

    data_sizes = ("input_shape",)
    url = "https://www.cl.cam.ac.uk/research/dtg/attarchive/pub/data/att_faces.zip"
    # SHA-256 of the 400 .pgm files' bytes, concatenated in s1/1.pgm ... s40/10.pgm order: the archive itself has no
    # published checksum, its images do (the copy in ../shared/data/README.md).
    images_sha256 = "3ece859febb5dcb346af09c9a1cecc3b63793b7a3062d123f779eb443747e8e7"

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 64,
        pairs: int = 8000,
        val_size: int | float = 0.1,
        test_subjects: int = 0,
        fresh_pairs: bool = False,
        pair_seed: int = 42,
        download: bool = True,
        num_workers: int = 0,
        pin_memory: bool = False,
        data_on_device: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, data_on_device)
        if pairs < 4:
            raise ValueError(f"pairs must be at least 4, got {pairs}")
        if test_subjects < 0:
            raise ValueError(f"test_subjects must be >= 0, got {test_subjects}")
        if fresh_pairs and data_on_device:
            raise ValueError("fresh_pairs are drawn one by one on the CPU: set data_on_device=false")
        self.save_hyperparameters()
        self.data_dir = data_root(data_dir)
        self.pairs, self.val_size, self.test_subjects, self.fresh_pairs = pairs, val_size, test_subjects, fresh_pairs
        self.pair_seed, self.download = pair_seed, download
        self.images: Tensor | None = None  # (subjects, images, 1, H, W) in [0, 1] after setup
        self.subject_names: list[str] = []

    sample_options_made = "training subjects were chosen"

    def sample_options(self) -> dict[str, Any]:
        """The subjects held out: tested under the book's protocol, a model of the honest one would meet its 30
        training subjects among the test subjects without a word."""
        return {"test_subjects": self.test_subjects}

    # The option is the whole state, as it was first saved (not under a key).
    def state_dict(self) -> dict[str, Any]:
        return self.sample_options()

    def saved_sample_options(self, state: dict[str, Any]) -> dict[str, Any]:
        return state

    @property
    def folder(self) -> Path:
        return self.data_dir / FOLDER

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(1, height, width) of the faces on disk; the archive's (1, 112, 92) before it is downloaded."""
        if self.images is None and self.folder.is_dir():
            self._read()
        return (1, 112, 92) if self.images is None else tuple(self.images.shape[2:])

    def prepare_data(self) -> None:
        if self.folder.is_dir():
            return
        if not self.download:
            raise DatasetUnavailableError(self._how_to_place("downloading is off (download=False)"))
        try:
            fetch_archive(self.url, self.folder, self.images_sha256)
        except OSError as err:
            raise DatasetUnavailableError(self._how_to_place(f"{self.url}: {err}")) from err

    def _how_to_place(self, why: str) -> str:
        return (
            f"the ORL faces are not in {self.folder.resolve()} and could not be downloaded:\n  {why}\n"
            f"Unpack att_faces.zip ({self.url}) there, so that it holds s1/1.pgm ... s40/10.pgm, or point "
            "--data.data_dir (or LIGHTNING_ZOO_DATA) at a folder that holds orl_faces/."
        )

    def _read(self) -> None:
        if not self.folder.is_dir():
            raise DatasetUnavailableError(self._how_to_place("the folder is missing and setup() does not download"))
        images, self.subject_names = read_pgm_folder(self.folder)
        self.images = images.float().div_(255)

    def setup(self, stage: str) -> None:
        """The one-shot tests' gallery, and for a fit or validation the pairs (a test of a small folder of faces needs
        none: its subjects may be too few for them)."""
        if self.images is None:
            self._read()
        n_subjects, per_subject = self.images.shape[:2]
        if self.test_subjects > n_subjects:
            raise DataError(f"test_subjects={self.test_subjects}, but the folder holds {n_subjects} subjects")
        training = torch.arange(n_subjects - self.test_subjects)
        testing = torch.arange(n_subjects - self.test_subjects, n_subjects) if self.test_subjects else training
        if "test" not in self.splits:
            # Each image with its subject (a row of the table) and its image number.
            subject = testing.repeat_interleave(per_subject)
            image = torch.arange(per_subject).repeat(len(testing))
            self.splits["test"] = self.splits["predict"] = TensorBatchDataset(
                self.images[testing].flatten(0, 1), subject, image
            )
        if stage in ("fit", "validate") and "train" not in self.splits:
            self._make_pairs(training, testing)

    def _make_pairs(self, training: Tensor, testing: Tensor) -> None:
        n_subjects, per_subject = self.images.shape[:2]
        if len(training) < 2:
            raise DataError(
                f"test_subjects={self.test_subjects} leaves {len(training)} of the {n_subjects} subjects for "
                "training pairs; at least 2 are needed"
            )
        _, n_val = split_sizes(self.pairs, self.val_size)
        flat = self.images.flatten(0, 1)
        generator = torch.Generator().manual_seed(self.pair_seed)
        n_train = self.pairs - n_val
        # Validation first, then training pairs without any of them: a validation pair is one the model never saw.
        val = sample_pairs(training, per_subject, n_val // 2, n_val - n_val // 2, generator)
        train = sample_pairs(training, per_subject, n_train // 2, n_train - n_train // 2, generator, exclude=val[:2])
        self.splits["train"] = (
            FreshPairs(self.images, training, n_train, exclude=val[:2])
            if self.fresh_pairs
            else PairBatchDataset(flat, *train)
        )
        self.splits["val"] = PairBatchDataset(flat, *val)
        held_out = f", s{testing[0] + 1}-s{testing[-1] + 1} held out for the tests" if self.test_subjects else ""
        rank_zero_info(
            f"ORL faces: {n_subjects} subjects x {per_subject} images{held_out}; {n_train} training and {n_val} "
            "validation pairs, half of each positive"
        )


def fetch_archive(url: str, folder: Path, images_sha256: str) -> None:
    """Downloads the AT&T zip, checks its images against ``images_sha256`` and unpacks it as ``folder``; nothing is
    left at ``folder`` unless all of that succeeded."""
    partial = folder.with_name(f".{folder.name}.{os.getpid()}.part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        archive = partial / "archive.zip"
        with urllib.request.urlopen(url, timeout=30) as response, open(archive, "wb") as out:
            shutil.copyfileobj(response, out)
        try:
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(partial / "unpacked")
        except zipfile.BadZipFile as err:
            raise OSError(f"not a zip archive ({err})") from err
        # The archive may hold the subject folders at its top or inside one folder (att_faces/).
        roots = {p.parent.parent for p in (partial / "unpacked").rglob("s1/1.pgm")}
        if len(roots) != 1:
            raise OSError(f"the archive holds {len(roots)} folders with s1/1.pgm, expected one")
        [root] = roots
        digest = hashlib.sha256()
        for subject in range(1, 41):
            for image in range(1, 11):
                digest.update((root / f"s{subject}" / f"{image}.pgm").read_bytes())
        if digest.hexdigest() != images_sha256:
            raise OSError(f"its images' SHA-256 is {digest.hexdigest()}, expected {images_sha256}")
        root.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
