"""The loop every pair model shares: same-or-different on pairs of images (binary cross-entropy on a logit), and N-way
one-shot tests of the learnt similarity against a pixel nearest-neighbour baseline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor

from lightning_zoo.core import SharedStepModule
from lightning_zoo.keras import keras_binary_crossentropy
from lightning_zoo.media import log_table, results_path, write_csv, writes_files

BOOK_WAYS = (4, 9, 16, 25, 36, 40)
# The N-way table's columns after N: distinct distractor subjects, then the book's draw with replacement.
TABLE_KEYS = ("acc", "pixel_nn_acc", "acc_book_draw", "pixel_nn_acc_book_draw")


def n_way_one_shot(
    similarity: Tensor,
    subjects: Tensor,
    ways: int,
    trials: int,
    generator: torch.Generator,
    distinct_subjects: bool = True,
) -> float:
    """The accuracy of N-way one-shot identification by ``similarity`` (M x M, higher is more alike) over a gallery
    of M images of ``subjects`` (M,): each trial takes a query image, another image of the query's subject (the true
    match) and ``ways - 1`` distractors, an image of each of other subjects; it is right when the candidate most
    similar to the query is the true match. The true match sits at a random place among the candidates (the book puts
    it first, which an argmax that breaks ties towards the first entry favours).

    ``distinct_subjects`` draws the distractors' subjects without replacement among the other subjects. False draws
    all ``ways`` subjects with replacement, as the book's ``np.random.choice(range(1, 41), n_way)``: a distractor may
    then be the query's own subject (at 40 ways in 63 % of trials), even the query image itself, and such a trial
    is lost by any good similarity.
    """
    names, counts = subjects.unique(return_counts=True)
    if ways > len(names):
        raise ValueError(f"{ways}-way tests need {ways} subjects, the gallery has {len(names)}")
    if counts.min() < 2:
        raise ValueError("every subject of the gallery needs at least 2 images (a query and its match)")
    # Images of subject i: by_subject[i, :counts[i]] (padded rows are never drawn).
    by_subject = torch.full((len(names), int(counts.max())), -1, dtype=torch.long)
    for i, name in enumerate(names):
        own = (subjects == name).nonzero().flatten()
        by_subject[i, : len(own)] = own
    if distinct_subjects:
        chosen = torch.rand(trials, len(names), generator=generator).argsort(1)[:, :ways]
    else:
        chosen = torch.randint(len(names), (trials, ways), generator=generator)
    n_images = counts[chosen]  # (trials, ways)
    picks = (torch.rand(trials, ways, generator=generator) * n_images).long()
    candidates = by_subject[chosen, picks]  # one image of each subject; column 0 is the query's subject
    # The query: another image of the first subject than its candidate.
    other = (picks[:, 0] + 1 + (torch.rand(trials, generator=generator) * (n_images[:, 0] - 1)).long()) % n_images[:, 0]
    query = by_subject[chosen[:, 0], other]
    shuffle = torch.rand(trials, ways, generator=generator).argsort(1)
    candidates = candidates.gather(1, shuffle)
    truth = (shuffle == 0).long().argmax(1)
    scores = similarity[query[:, None], candidates]
    return float((scores.argmax(1) == truth).float().mean())


class PairModelBase(SharedStepModule):
    """Base of the pair models: a subclass defines ``embed(images) -> features`` and ``pair_logit(f1, f2) -> logits``
    (same subject where positive). Trains and validates on ``(first, second, label)`` batches with binary
    cross-entropy, logging ``{train,val}/loss`` and ``/acc``.

    Testing runs N-way one-shot trials over the test split's gallery ``(image, subject, image number)``: for each of
    ``ways`` (those the gallery has subjects for), ``trials`` trials scored by the model and by the pixel
    nearest neighbour (L2), logged as ``test/{N}_way_acc`` and ``test/{N}_way_pixel_nn_acc``, then the same with the
    book's draw of subjects (``..._book_draw``, see :func:`n_way_one_shot`); as a table, and written to
    ``test/n_way-<checkpoint>.csv`` in the run folder (:func:`~lightning_zoo.media.results_path`). ``predict`` writes
    each gallery image's features.

    Args:
        ways: The N of the N-way tests (the book's 4, 9, 16, 25, 36, 40).
        trials: Trials per N (the book: 1,000).
        test_seed: Seed of the trials, so two models are tested on the same ones.
    """

    is_family_base = True
    family = "pair"
    monitor = "val/loss"
    monitor_mode = "min"
    prediction_files = ("embeddings.csv",)

    def __init__(self, ways: Sequence[int] = BOOK_WAYS, trials: int = 1000, test_seed: int = 0) -> None:
        super().__init__()
        if not ways or min(ways) < 2:
            raise ValueError(f"ways must be numbers of candidates of at least 2, got {list(ways)}")
        if trials < 1:
            raise ValueError(f"trials must be at least 1, got {trials}")
        self.track_epoch_means("loss", "acc", stages=("train", "val"))  # the test is N-way trials, not pairs
        self._gallery: list[tuple[Tensor, ...]] = []

    def embed(self, images: Tensor) -> Tensor:
        raise NotImplementedError

    def pair_logit(self, first: Tensor, second: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, first: Tensor, second: Tensor) -> Tensor:
        """The logit that the two images show the same subject."""
        return self.pair_logit(self.embed(first), self.embed(second))

    def shared_step(self, batch: tuple[Tensor, Tensor, Tensor], stage: str) -> Tensor:
        first, second, same = batch
        logit = self(first, second)
        loss = keras_binary_crossentropy(logit, same)  # the book's Keras 2 loss: no gradient past a logit of ~16
        self.epoch_means[stage].update(len(same), loss=loss * len(same), acc=((logit > 0) == (same > 0.5)).sum())
        return loss

    # ------------------------------------------------------------------------------------------- one-shot tests

    def on_test_epoch_start(self) -> None:
        self._gallery = []

    def test_step(self, batch: tuple[Tensor, Tensor, Tensor], batch_idx: int) -> None:
        images, subjects, numbers = batch
        self._gallery.append((images.flatten(1), self.embed(images), subjects, numbers))

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        pixels, features, subjects, numbers = (torch.cat(parts) for parts in zip(*self._gallery, strict=True))
        self._gallery = []
        if self._distributed:  # every rank scores the whole gallery, of which each holds a shard (of unequal length)
            pixels, features, subjects, numbers = (gather_rows(t) for t in (pixels, features, subjects, numbers))
        key = subjects * (int(numbers.max()) + 1) + numbers  # in (subject, image) order, however it was sharded
        _, first = unique_first(key)
        pixels, features, subjects = pixels[first], features[first], subjects[first]
        table = self.one_shot_table(pixels, features, subjects)
        self.log_dict(
            {f"test/{n}_way_{key}": v for n, *values in table for key, v in zip(TABLE_KEYS, values, strict=True)}
        )
        path = results_path(self.trainer, "n_way.csv")
        if self.trainer.is_global_zero and writes_files(self.trainer):
            columns, rows = ["ways", *TABLE_KEYS], [[n, *(round(v, 4) for v in values)] for n, *values in table]
            # (the results file is the table's file: a copy in this run's folder kept a test's folder that is
            # otherwise removed, its results being beside the checkpoint's run)
            log_table(self.trainer, "test/n_way", columns, rows, file_if_not_shown=False)
            path = write_csv(path, columns, rows)
            rank_zero_info(f"N-way one-shot accuracies written to {path}")

    @torch.no_grad()
    def one_shot_table(self, pixels: Tensor, features: Tensor, subjects: Tensor) -> list[list]:
        """For each N of ``ways`` that the gallery has subjects for: N, then the model's and the pixel 1-NN's accuracy
        with distinct distractor subjects, then both with the book's draw (subjects with replacement), each pair over
        the same trials."""
        scores = self._pair_scores(features).cpu(), -torch.cdist(pixels.double(), pixels.double()).cpu()
        table = []
        for ways in self.hparams.ways:
            if ways > len(subjects.unique()):
                rank_zero_info(f"{ways}-way tests skipped: the test gallery has {len(subjects.unique())} subjects")
                continue
            row = [ways]
            for distinct in (True, False):
                trials = self.hparams.trials
                row += [
                    n_way_one_shot(s, subjects.cpu(), ways, trials, self._trial_generator(ways, distinct), distinct)
                    for s in scores
                ]
            table.append(row)
        return table

    def _pair_scores(self, features: Tensor) -> Tensor:
        """The pair head's logit for every ordered pair of the gallery, one row at a time."""
        n = len(features)
        scores = torch.empty(n, n, device=features.device)
        for i in range(n):
            scores[i] = self.pair_logit(features[i].expand_as(features), features)
        return scores

    def _trial_generator(self, ways: int, distinct: bool) -> torch.Generator:
        # The same trials for the model and the baseline, and for every model tested with this seed.
        return torch.Generator().manual_seed(self.hparams.test_seed * 10_000 + ways * 2 + distinct)

    # ---------------------------------------------------------------------------------------------------- predict

    def predict_step(self, batch: tuple[Tensor, Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        images, subjects, numbers = batch
        return {"features": self.embed(images), "subject": subjects, "image": numbers}

    def write_predictions(self, outputs: list[dict[str, Any]], directory: Path) -> list[Path]:
        """``embeddings.csv``: each gallery image's subject (its place among the subject folders, from 1: s1, s2, ...
        for ORL), image number (its place among the subject's files, from 1) and features."""
        features = torch.cat([o["features"] for o in outputs]).float().cpu()
        subjects = torch.cat([o["subject"] for o in outputs]).cpu()
        images = torch.cat([o["image"] for o in outputs]).cpu()
        columns = ["subject", "image", *(f"f{i}" for i in range(features.shape[1]))]
        rows = [
            [int(s) + 1, int(i) + 1, *(f"{v:.6f}" for v in f)]
            for s, i, f in zip(subjects, images, features.tolist(), strict=True)
        ]
        return [write_csv(directory / "embeddings.csv", columns, rows)]


def gather_rows(tensor: Tensor) -> Tensor:
    """The rows of ``tensor`` on every DDP rank, rank 0's first, on every rank (a collective): ranks may hold
    different numbers of rows (an evaluation's shards differ by one sample), which ``all_gather`` alone refuses."""
    world_size = dist.get_world_size()
    count = torch.tensor(len(tensor), device=tensor.device)
    counts = [torch.empty_like(count) for _ in range(world_size)]
    dist.all_gather(counts, count)
    lengths = [int(c) for c in counts]
    padded = torch.cat([tensor, tensor.new_zeros((max(lengths) - len(tensor), *tensor.shape[1:]))]).contiguous()
    parts = [torch.empty_like(padded) for _ in range(world_size)]
    dist.all_gather(parts, padded)
    return torch.cat([part[:length] for part, length in zip(parts, lengths, strict=True)])


def unique_first(key: Tensor) -> tuple[Tensor, Tensor]:
    """The distinct values of ``key`` and the index of each one's first occurrence."""
    values, inverse = key.unique(return_inverse=True)
    first = torch.full((len(values),), len(key), dtype=torch.long, device=key.device)
    first.scatter_reduce_(0, inverse, torch.arange(len(key), device=key.device), reduce="amin")
    return values, first
