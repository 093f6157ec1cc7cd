"""What every DataModule of the zoo shares: a sampler whose order depends only on (seed, epoch) and a loader whose
position travels in checkpoints, so that a resumed run sees exactly the batches an uninterrupted one would, on one
process or many, whatever the dataset; and tensors indexed a whole batch at a time for data that fits in memory."""

from __future__ import annotations

import io
import json
import math
import os
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from pytorch_lightning.utilities.model_helpers import is_overridden
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

from lightning_zoo.core import stream_seed
from lightning_zoo.lightning_private import batches_trained_this_epoch


class DataError(RuntimeError):
    """A problem with the data, or with what was asked of it, that the user can fix; the message says how."""


class DatasetUnavailableError(DataError):
    """A dataset is neither on disk nor downloadable (or a file is corrupt); the message says what to place where."""


class TensorBatchDataset(Dataset):
    """Tensors that share their first dimension, indexed with a whole batch of indices at once.

    One fancy-indexing call per batch instead of one ``__getitem__`` per sample and a collate: for MNIST-sized
    data this is what keeps the loader out of the profile.
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("TensorBatchDataset needs tensors of equal length")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, indices: Tensor | int) -> tuple[Tensor, ...]:
        if isinstance(indices, Tensor):  # one copy of the index to a GPU-resident dataset, not one per tensor
            indices = indices.to(self.tensors[0].device, non_blocking=True)
        return tuple(t[indices] for t in self.tensors)

    def to(self, device: torch.device) -> TensorBatchDataset:
        return TensorBatchDataset(*(t.to(device) for t in self.tensors))

    def subset(self, part: slice) -> TensorBatchDataset:
        """The samples of ``part`` (a view, no copy)."""
        return TensorBatchDataset(*(t[part] for t in self.tensors))


class EpochBatchSampler(DistributedSampler):
    """Yields batches of indices for one rank; the permutation is a function of ``(seed, epoch)`` only.

    Lightning calls ``set_epoch`` before every epoch, so a run resumed at epoch k draws exactly the order the
    uninterrupted run drew, without touching the global RNG. It shards across ranks itself, rank r taking every
    ``num_replicas``-th index of the order from the r-th, which is also why it subclasses ``DistributedSampler``:
    Lightning then leaves it in place instead of wrapping it. With ``pad`` (training) the order is padded with its
    first indices, like ``DistributedSampler``'s, so that every rank gets the same number of batches, which DDP's
    gradient all-reduce needs; without it (evaluation) every index goes to exactly one rank, so that metrics summed
    over ranks are the one-process metrics, and ranks may differ by one sample (and batch). A split smaller than
    the number of ranks is padded even then, to one index each: a rank without a batch would stop Lightning. With
    ``tag_epoch`` it yields ``(epoch, indices)``, for datasets whose samples are random functions of the epoch
    (augmentation).
    """

    def __init__(
        self,
        dataset_size: int,
        batch_size: int,
        shuffle: bool,
        drop_last: bool = False,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        tag_epoch: bool = False,
        pad: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        # No call to DistributedSampler.__init__: it wants a dataset and may query torch.distributed.
        self.tag_epoch = tag_epoch
        self.dataset_size, self.batch_size = dataset_size, batch_size
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.num_replicas, self.rank, self.epoch = num_replicas, rank, 0
        self.pad = pad or 0 < dataset_size < num_replicas
        if self.pad:
            self.samples_per_rank = math.ceil(dataset_size / num_replicas)
        else:
            self.samples_per_rank = len(range(rank, dataset_size, num_replicas))
        self.num_samples = self.samples_per_rank
        self._resume_at: tuple[int, int] | None = None  # (epoch, batches already trained) of a mid-epoch resume

    def resume_at(self, epoch: int, batches_done: int) -> None:
        """Makes the next iteration over ``epoch`` skip the batches a checkpointed run had already trained on."""
        self._resume_at = (epoch, batches_done)

    def __len__(self) -> int:
        if self.drop_last:
            return self.samples_per_rank // self.batch_size
        return math.ceil(self.samples_per_rank / self.batch_size)

    def __iter__(self) -> Iterator[Tensor]:
        if self.shuffle:  # a stream per (seed, epoch): seed + epoch gave seed 1 the order of seed 0's next epoch
            generator = torch.Generator().manual_seed(stream_seed(self.seed, self.epoch))
            order = torch.randperm(self.dataset_size, generator=generator)
        else:
            order = torch.arange(self.dataset_size)
        padding = self.samples_per_rank * self.num_replicas - self.dataset_size if self.pad else 0
        if padding:
            order = torch.cat([order, order[:padding]])
        mine = order[self.rank :: self.num_replicas]
        skip = self._resume_at[1] if self._resume_at and self._resume_at[0] == self.epoch else 0
        self._resume_at = None
        for start in range(skip * self.batch_size, len(self) * self.batch_size, self.batch_size):
            batch = mine[start : start + self.batch_size]
            yield (self.epoch, batch) if self.tag_epoch else batch


class ResumableDataLoader(DataLoader):
    """A DataLoader over an ``EpochBatchSampler`` whose position Lightning stores in checkpoints, so that a run
    resumed from a mid-epoch checkpoint trains on the rest of that epoch instead of replaying its start.

    The position is the training loop's count of processed batches (``batches_done``), not the loader's own count,
    which runs ahead by the batches Lightning prefetches.
    """

    def __init__(self, *args: Any, batches_done: Callable[[], int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches_done = batches_done

    def __iter__(self) -> Iterator[Any]:
        # A resumed run creates its iterator before Lightning sets the epoch (in FitLoop.setup_data), and an
        # iterator with workers draws its first indices at once: they would come from the wrong epoch. Start it
        # at the first batch instead, as an in-process iterator does.
        return self._started_at_first_batch()

    def _started_at_first_batch(self) -> Iterator[Any]:
        yield from super().__iter__()

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "batches_done": self.batches_done()}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.resume_at(state["epoch"], state["batches_done"])


class PerSampleBatches(Dataset):
    """A map-style dataset of single samples (an image decoded from its file and augmented, a window over a
    series), indexed a whole batch at a time: each DataLoader worker builds one batch from the ``(epoch, indices)``
    it gets.

    Each sample is made with the torch (CPU), numpy and python RNGs seeded from ``(seed, epoch, index)``: random
    augmentation then depends on nothing else, not on the number of workers, their order, the DDP rank or where a
    run was resumed. Those RNG states are restored afterwards; a GPU's RNG is never touched.
    """

    def __init__(self, dataset: Dataset, collate_fn: Callable[[list[Any]], Any] | None = None, seed: int = 0) -> None:
        self.dataset, self.collate_fn, self.seed = dataset, collate_fn or default_collate, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, Tensor]) -> Any:
        epoch, indices = key
        samples = []
        with preserved_rng():
            for index in indices.tolist():
                seed_everything_quietly(stream_seed(self.seed, epoch, index))
                samples.append(self.dataset[index])
        return self.collate_fn(samples)


@contextmanager
def preserved_rng() -> Iterator[None]:
    """The torch (CPU), numpy and python RNG states as they were before the block (the states a sample is seeded
    with; the GPU's are never changed here, unlike by core.capture_rng_state's wider set)."""
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


def seed_everything_quietly(seed: int) -> None:
    """Seeds the CPU RNGs only (``torch.manual_seed`` would also reseed every GPU, the training's noise with them)."""
    torch.default_generator.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


class ZooDataModule(pl.LightningDataModule):
    """Base of every DataModule of the zoo: exact resume and DDP sharding for any map-style dataset.

    :meth:`loader` serves a dataset in an order that depends only on ``(seed, epoch)`` (the seed is
    ``PL_GLOBAL_SEED``, set by ``seed_everything`` and the same on every rank), sharded across DDP ranks by the
    sampler itself (the training loader padded to equal batch counts, evaluation loaders not, unless a limit of
    their batches is a fraction: each sample is evaluated once, so metrics under DDP are the one-process metrics);
    the training loader's position goes into checkpoints. Datasets that index a whole batch at once
    (``TensorBatchDataset``) are used as they are; others are read sample by sample, in workers if ``num_workers``
    > 0, and collated.

    A subclass lists in ``data_sizes`` the sizes only the data knows (``num_classes``, ``input_shape``,
    ``vocab_size``, ...), as attributes or properties; the CLI links each into any model whose constructor takes an
    argument of that name. It returns from :meth:`sample_options` the options that decide what a sample is: they
    travel in checkpoints, and a checkpoint made under others is refused by name.
    """

    data_sizes: ClassVar[tuple[str, ...]] = ()
    dataset_name: ClassVar[str | None] = None  # names the zoo's feature network for it (classifier-FID), if any
    sample_options_key: ClassVar[str] = "sample_options"  # their key in the checkpoint's state
    sample_options_made: ClassVar[str] = "samples were made"  # what a refusal says they decided

    def __init__(self, batch_size: int, num_workers: int = 0, pin_memory: bool = False) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory

    def loader(self, dataset: Dataset, train: bool = False, collate_fn: Callable | None = None) -> DataLoader:
        """The DataLoader of a split: shuffled by ``(seed, epoch)`` and resumable when ``train``, in order otherwise."""
        if self.trainer is not None and self.trainer.overfit_batches:
            # Lightning swaps the sampler of an overfitting run for a SequentialSampler; give it a loader it can
            # rebuild (TensorBatchDataset also indexes one sample at a time).
            return DataLoader(dataset, batch_size=self.batch_size, num_workers=self.num_workers, collate_fn=collate_fn)
        world_size, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
        seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
        whole_batches = isinstance(dataset, TensorBatchDataset)
        # Only training pads its shards to equal lengths: an evaluation counts every sample once, on one rank. But a
        # fractional limit of the running evaluation's batches could round a shard one batch shorter to no batch at
        # all, which Lightning refuses on that rank alone while the others wait: its shards are padded then too.
        fn = self.trainer_fn  # (an enum of str values, compared as such)
        limit_name = "limit_test_batches" if fn == "test" else "limit_predict_batches" if fn == "predict" else None
        limit = getattr(self.trainer, limit_name or "limit_val_batches", 1.0)
        pad = train or (isinstance(limit, float) and 0 < limit < 1)
        sampler = EpochBatchSampler(
            len(dataset), self.batch_size, train, False, seed, world_size, rank, tag_epoch=not whole_batches, pad=pad
        )
        loader_class, extra = (
            (ResumableDataLoader, {"batches_done": self._batches_trained}) if train else (DataLoader, {})
        )
        return loader_class(
            dataset if whole_batches else PerSampleBatches(dataset, collate_fn, seed),
            sampler=sampler,
            batch_size=None,  # the sampler yields whole batches
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            # Its own generator: iter() would otherwise draw a worker seed from the global RNG, and after a resume
            # that draw happens at a different point than in an uninterrupted run.
            generator=torch.Generator().manual_seed(seed),
            **extra,
        )

    @property
    def trainer_fn(self) -> str | None:
        """What the attached trainer runs (``fit``, ``validate``, ``test``, ``predict``); None without one (the CLI's
        look at a checkpoint's state, before the trainer is built)."""
        return getattr(getattr(self.trainer, "state", None), "fn", None)

    def say_predict_inputs_unused(self, stage: str) -> None:
        """Inputs read by ``predict`` alone (``predict_text``, ``predict_file``, ``predict_folder``), given to a fit,
        validate or test: said, since there they change nothing."""
        given = [name for name in ("predict_text", "predict_file", "predict_folder") if getattr(self, name, None)]
        if given and stage != "predict":
            rank_zero_warn(f"--data.{given[0]} is read by predict alone: this {getattr(stage, 'value', stage)} does "
                           "not use it")  # fmt: skip

    def say_validation_is_the_test_set(self, name: str) -> None:
        """The books validate on the test set (``val_size`` 0): said when a validation will run on it (not in a test
        or predict, nor a fit without validation, such as a GAN's)."""
        trainer, fn = self.trainer, self.trainer_fn
        model = getattr(trainer, "lightning_module", None)
        validates = model is None or is_overridden("validation_step", model)  # a GAN has none (fast_dev_run or not)
        if trainer is None or (fn in ("fit", "validate") and trainer.limit_val_batches != 0 and validates):
            rank_zero_info(f"{name}: val_size=0, so validation runs on the test set (as the books do)")

    @property
    def has_validation(self) -> bool:
        """Whether a fit has validation samples: a non-empty ``val`` among the ``splits`` that ``setup("fit")`` made
        (True before, and for a DataModule without ``splits``, which cannot tell)."""
        splits = getattr(self, "splits", None)
        return not splits or len(splits.get("val", ())) > 0

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """The classes' names in label order (a classifier's ``predictions.csv`` names its prediction so), from a
        ``classes`` attribute; None for data without named classes."""
        classes = getattr(self, "classes", None)
        return tuple(classes) if classes else None

    def eval_loader(self, split: str) -> DataLoader:
        """A split's samples in order and without augmentation: to evaluate a model on its training data."""
        raise NotImplementedError(f"{type(self).__name__} does not serve its splits for evaluation")

    def _batches_trained(self) -> int:
        return batches_trained_this_epoch(self.trainer)

    def sample_options(self) -> dict[str, Any]:
        """The options that decide what a sample is (its values, shape, encoding), as ``--data`` names them: a model
        that learnt pixels in [0, 1] would be tested on [-1, 1] without a word. None here."""
        return {}

    def saved_sample_options(self, state: dict[str, Any]) -> dict[str, Any]:
        """The sample options a checkpoint's state holds (a subclass reads older layouts, or checks fewer, here)."""
        return state.get(self.sample_options_key, {})

    def state_dict(self) -> dict[str, Any]:
        options = self.sample_options()
        return {self.sample_options_key: options} if options else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """A checkpoint whose samples were made under other options is refused, in one line naming each option and
        the checkpoint's value. Refused rather than adopted: the CLI hands a DataModule a value typed on the command
        line, one from a config file and the default alike, so adopting the checkpoint's would silently override an
        explicit one. Checkpoints from before the options travelled load unchecked."""
        check_same_options(self.saved_sample_options(state), self.sample_options(), self.sample_options_made)


class InMemoryDataModule(ZooDataModule):
    """Base for DataModules whose splits fit in memory as tensors.

    Subclasses fill ``self.splits`` (``"train"``, ``"val"``, ``"test"``, ``"predict"`` -> ``TensorBatchDataset``) in
    ``setup``. With ``data_on_device`` the splits move once to the training device (each DDP rank's GPU) and batches
    are indexed there: no host-to-device copy per batch.
    """

    def __init__(
        self, batch_size: int, num_workers: int = 0, pin_memory: bool = False, data_on_device: bool = False
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory)
        if data_on_device and (num_workers or pin_memory):
            raise ValueError("data_on_device serves batches from the GPU itself: set num_workers=0, pin_memory=false")
        self.data_on_device = data_on_device
        self.splits: dict[str, TensorBatchDataset] = {}

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        if split not in self.splits:
            raise RuntimeError(f"{type(self).__name__}.setup() did not create the {split!r} split")
        return self.loader(self._on_training_device(split) if self.data_on_device else self.splits[split], shuffle)

    def _on_training_device(self, split: str) -> TensorBatchDataset:
        """The split, moved to the trainer's device once; splits that are one object (val = test) stay one."""
        dataset = self.splits[split]
        device = self.trainer.strategy.root_device if self.trainer is not None else dataset.tensors[0].device
        if dataset.tensors[0].device != device:
            moved = dataset.to(device)
            self.splits = {name: moved if other is dataset else other for name, other in self.splits.items()}
            dataset = moved
        return dataset

    def eval_loader(self, split: str) -> DataLoader:
        return self._loader(split)  # tensors in memory are never augmented (augmenting subclasses wrap them)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict")


def data_root(data_dir: str | Path | None) -> Path:
    """Where a dataset lives: ``data_dir``, else ``$LIGHTNING_ZOO_DATA``, else ``./data``; an empty value counts as
    unset (an empty ``LIGHTNING_ZOO_DATA=`` means ``./data``, not the current folder)."""
    return Path(data_dir or os.environ.get("LIGHTNING_ZOO_DATA") or "data")


def data_path(given: str | Path, data_dir: str | Path | None) -> Path:
    """Where a dataset's file or folder ``given`` is: itself when absolute; a relative one under the data root
    (:func:`data_root`), unless it is not there but is below the current folder (configs and checkpoints from before
    the data root named ``data/pokemon/images``): then that one."""
    path = Path(given)
    if path.is_absolute():
        return path
    under_root = data_root(data_dir) / path
    return path if not under_root.exists() and path.exists() else under_root


def check_same_options(saved: dict[str, Any], here: dict[str, Any], made: str) -> None:
    """Refuses, in one line naming each option and the checkpoint's value, a checkpoint whose data were ``made``
    under other options than ``here`` (a DataModule's ``load_state_dict``)."""
    differing = [k for k, v in saved.items() if here.get(k) != v]
    if differing:
        options = ", ".join(f"--data.{k} {json.dumps(saved[k])} (here {json.dumps(here.get(k))})" for k in differing)
        raise DataError(f"the checkpoint's {made} with {options}: pass the same options")


def numbered_predict_lines(path: str | Path, what: str) -> list[tuple[int, str]]:
    """The non-blank lines of a ``--data.predict_file`` (one ``what`` per line) with their 1-based line numbers. Lines
    end at ``\\n``, ``\\r\\n`` or ``\\r`` only, as an editor counts them: ``str.splitlines`` would also end one at
    the U+0085 that IMDB reviews hold (Keras' index has "most\\x85and"), splitting a text in two. The file is UTF-8
    (a byte-order mark is not part of the first line). A missing, empty or undecodable file ends with one line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--data.predict_file {path}: no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"--data.predict_file {path} is not UTF-8 text (line {line}: byte {raw[err.start]:#x} {err.reason}); "
            "save it as UTF-8"
        ) from err
    # universal newlines: \r\n and \r are read as \n, nothing else is
    lines = [(n, line.rstrip("\n")) for n, line in enumerate(io.StringIO(text, newline=None), start=1) if line.strip()]
    if not lines:
        raise DataError(f"--data.predict_file {path} holds no {what} (one per line)")
    return lines


def as_text_list(value: Sequence[str] | str | None) -> list[str] | None:
    """``--data.predict_text`` as a list: one text may be given as it is (``--data.predict_text 'A fine film'``),
    not only as a JSON list (and a Python caller's string is one text, not a sequence of characters)."""
    return None if value is None else [value] if isinstance(value, str) else list(value)


def nonempty_texts(predict_text: Sequence[str], what: str, example: str, alternative: str) -> list[str]:
    """``--data.predict_text`` as a list; an empty one ends with one line (Lightning would predict an empty loader
    and leave an earlier run's files looking current)."""
    if not predict_text:
        raise DataError(
            f"--data.predict_text is empty: give at least one {what}, e.g. --data.predict_text "
            f"'[{json.dumps(example)}]', or {alternative}"
        )
    return list(predict_text)


def predict_file_lines(path: str | Path, what: str) -> list[str]:
    """The non-blank lines of a ``--data.predict_file``, as :func:`numbered_predict_lines` reads them."""
    return [line for _, line in numbered_predict_lines(path, what)]


def split_sizes(total: int, val_size: int | float) -> tuple[int, int]:
    """(train, val) sizes for a count or a fraction of ``total``."""
    if isinstance(val_size, float):
        if not 0 <= val_size < 1:
            raise DataError(f"a fractional val_size must be in [0, 1), got {val_size}")
        n_val = round(total * val_size)
    else:
        n_val = val_size
    if not 0 <= n_val < total:
        raise DataError(f"val_size={val_size} leaves no training data out of {total} samples")
    return total - n_val, n_val


def seeded_split(n: int, n_val: int, seed: int) -> tuple[Tensor, Tensor]:
    """Indices of a seeded random (train, val) split of ``range(n)``."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_val:], order[:n_val]
