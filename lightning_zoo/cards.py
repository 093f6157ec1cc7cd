"""Experiment cards: what each experiment of the zoo reproduces, from which book, and how close we came.

An experiment is one config. Its card lives beside its model class (a module-level ``CARDS`` tuple in the model's
file) and states everything the rest of the project derives: ``python cli.py list``, the README's model table, the
contract tests parametrised over every card, and the parameter counts they check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# The books, as the cards' sources name them (then the chapter or section, and the spec's entry)
DLWP = '"Deep Learning with Python" (1st ed.)'
HANDS_ON = '"Hands-On Deep Learning Architectures with Python"'


def _seeds_phrase(recorded: dict[str, Any]) -> str | None:
    runs = recorded.get("runs")
    if not isinstance(runs, list) or not runs or not all(isinstance(run, dict) and "seed" in run for run in runs):
        return None
    return f"seed {runs[0]['seed']}" if len(runs) == 1 else f"mean of {len(runs)} seeds"


@dataclass(frozen=True)
class Result:
    """One number of an experiment: the book's value, how it is evaluated, and where ours is recorded.

    Args:
        metric: What is measured, e.g. ``"test accuracy"``.
        book: The book's value; None where the book reports no number (then ours is the first one).
        evaluated: How the book evaluates it (which split, which weights, after how many epochs), which is how
            ours is evaluated too; a second ``Result`` reports an honest protocol where the book's is not.
        ours: ``"<file>.json:<key>"`` in ``benchmarks/results``; dots in the key descend into the JSON (an integer
            indexes a list, ``-1`` is the last entry). None: not measured yet.
        unit: Unit of both values, e.g. ``"%"``.
        tolerance: How far ours may fall short of the book's value (below it, or above it when
            ``lower_is_better``) and still count as reproduced. Doing better always counts.
        lower_is_better: For losses and distances.
        note: One line on how ours was obtained (seeds, epochs run, machine); ``{key}`` fields are filled from the
            top level of the same results file (e.g. ``{epochs_trained}``), and ``{seeds}`` from its ``runs``:
            "seed 0" for one run, "mean of 3 seeds" for several.

    A results file of a run made in chunks that has not reached its schedule (``epochs_run`` below
    ``epochs_scheduled``) gives the status "unfinished": its number is shown, but not judged against the book's. A
    number at a given epoch of a list named ``epoch...`` (``epoch_train_loss.10``) is judged as soon as that epoch is
    recorded.
    """

    metric: str
    book: float | None
    evaluated: str
    ours: str | None
    unit: str = "%"
    tolerance: float | None = None
    lower_is_better: bool = False
    note: str = ""

    def mistake(self) -> str | None:
        """What is wrong with the result as written, if anything (its card refuses it, naming both)."""
        if self.book is not None and self.tolerance is None:
            return "a book number needs a tolerance to judge ours by"
        file, colon, key = (self.ours or "").partition(":")
        if self.ours is not None and (not colon or not key or not file.endswith(".json") or "/" in file):
            return f"ours is {self.ours!r}: write '<file>.json:<key>', the file in benchmarks/results (no folder)"
        return None

    def _results_file(self, results: Path) -> dict[str, Any] | None:
        if self.ours is None:
            return None
        path = results / self.ours.partition(":")[0]
        return json.loads(path.read_text()) if path.is_file() else None

    def note_text(self, results: Path = RESULTS) -> str:
        """The note, its ``{key}`` fields filled from the results file (left as they are while it is missing)."""
        recorded = self._results_file(results)
        try:
            if not recorded:
                return self.note
            seeds = _seeds_phrase(recorded)
            return self.note.format(**{**recorded, **({"seeds": seeds} if seeds else {})})
        except (KeyError, IndexError, ValueError):
            return self.note

    def our_value(self, results: Path = RESULTS) -> float | None:
        """Our value from its results file, or None when that run has not been made (no file, no key)."""
        value: Any = self._results_file(results)
        if value is None:
            return None
        for part in self.ours.partition(":")[2].split("."):
            try:
                value = value[int(part)] if isinstance(value, list) else value[part]
            except (KeyError, IndexError, ValueError, TypeError):
                return None
        return float(value) if isinstance(value, (int, float)) else None

    def status(self, results: Path = RESULTS) -> Literal["yes", "no", "not run", "no book number", "unfinished"]:
        """Whether ours reproduces the book's number within the tolerance."""
        ours = self.our_value(results)
        if ours is None:
            return "not run"
        if self.book is None or self.tolerance is None:
            return "no book number"
        recorded = self._results_file(results)
        keys = self.ours.partition(":")[2].split(".")
        at_an_epoch = any(key.isdigit() and the_list.startswith("epoch") for the_list, key in pairwise(keys))
        if not at_an_epoch and (recorded.get("epochs_run") or 0) < (recorded.get("epochs_scheduled") or 0):
            return "unfinished"
        shortfall = (ours - self.book) if self.lower_is_better else (self.book - ours)
        return "yes" if shortfall <= self.tolerance + 1e-9 else "no"


@dataclass(frozen=True)
class Card:
    """One experiment of the zoo.

    Args:
        name: Short unique name, e.g. ``"mlp_mnist"`` (the config's file name).
        family: The family base the model belongs to (``"classifier"``, ``"gan"``, ...).
        source: Book (or script), chapter, listing.
        config: Path of the config, relative to the repository root.
        dataset: What it trains on.
        results: The numbers the book reports, each with ours.
        parameters: Parameter counts by submodule (``""`` is the whole model), as the book states them (or, where
            it states none, as we count them, marked by ``parameters_from_book=False``).
        parameters_from_book: Whether ``parameters`` are the book's numbers.
        parameter_sizes: Constructor arguments the counts assume (e.g. the book's vocabulary size, a GAN's width)
            where the test fixtures give other sizes.
        deviations: Where the experiment knowingly differs from the book, and why.
        ddp: Also run the 2-process DDP contract test for this card (the first card of each family always is).
        starts_from: The card whose trained checkpoint this experiment starts from, passed as the model's
            ``init_from`` argument (a transfer phase 2, a fine-tuning stage).
        learns_within: Steps within which the contract test expects the loss on one batch to halve; more than the
            default only for a model that learns slowly by design (a learning rate of 1e-5).
    """

    name: str
    family: str
    source: str
    config: str
    dataset: str
    results: tuple[Result, ...]
    parameters: Mapping[str, int] = field(default_factory=dict)
    parameters_from_book: bool = True
    parameter_sizes: Mapping[str, Any] = field(default_factory=dict)
    deviations: tuple[str, ...] = ()
    ddp: bool = False
    starts_from: str | None = None
    learns_within: int = 100

    def __post_init__(self) -> None:
        for result in self.results:
            if (mistake := result.mistake()) is not None:
                raise ValueError(f"card {self.name!r}, result {result.metric!r}: {mistake}")

    @property
    def config_path(self) -> Path:
        return ROOT / self.config


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if value != 0 and abs(value) < 0.01:  # an MSE of scaled prices, a KID
        text = f"{value:.3g}"
    elif abs(value) < 1 and unit != "%":  # a normalised MAE: 0.2644, not 0.26
        text = f"{value:.4g}"
    else:
        text = f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    return f"{text} %" if unit == "%" else f"{text} {unit}".rstrip()


def table_rows(cards: list[Card], results: Path = RESULTS, evaluated: bool = True) -> list[list[str]]:
    """One row per reported number: name, config, dataset, source, metric (and how it is evaluated), the book's,
    ours, reproduced."""
    rows = []
    for card in cards:
        for result in card.results:
            book = format_value(result.book, result.unit)
            if result.book is not None and result.tolerance is not None:
                book += f" (within {format_value(result.tolerance, '')})"
            ours = result.our_value(results)
            if ours is not None and result.note:
                ours_text = f"{format_value(ours, result.unit)} ({result.note_text(results)})"
            else:
                ours_text = format_value(ours, result.unit)
            rows.append(
                [
                    card.name,
                    f"`{card.config}`",
                    card.dataset,
                    card.source,
                    f"{result.metric}: {result.evaluated}" if evaluated else result.metric,
                    book,
                    ours_text,
                    result.status(results),
                ]
            )
    return rows


HEADER = ["name", "config", "dataset", "source", "metric", "book", "ours", "reproduced"]
README_TABLE = (
    "<!-- model table: generated by `python cli.py list --readme README.md` -->",
    "<!-- end of model table -->",
)


def readme_with_table(readme: str, table: str) -> str:
    """``readme`` with ``table`` between its :data:`README_TABLE` markers (whatever was there before)."""
    start, end = (readme.find(marker) for marker in README_TABLE)
    if start < 0 or end < start:
        raise ValueError(f"the README has no model table between the lines {README_TABLE[0]} and {README_TABLE[1]}")
    return readme[: start + len(README_TABLE[0])] + "\n" + table + readme[end:]


def markdown_table(cards: list[Card], results: Path = RESULTS) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in table_rows(cards, results)]
    return "\n".join(lines) + "\n"


def plain_table(cards: list[Card], results: Path = RESULTS) -> str:
    """The zoo as a terminal table: name, the metric's name (what tells a card's rows apart), dataset, the book's
    number, ours, reproduced. (The config is ``configs/<kind>/<name>.yaml``.)"""
    columns = [0, 4, 2, 5, 6, 7]
    rows = [[HEADER[c] for c in columns]] + [[row[c] for c in columns] for row in table_rows(cards, results, False)]
    widths = [min(max(len(row[c]) for row in rows), 48) for c in range(len(columns))]

    def fit(text: str, width: int) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    return (
        "\n".join(
            "  ".join(fit(cell, w).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
        )
        + "\n"
    )


FID_EVALUATED = "10,000 training images vs 10,000 samples (the books show sample grids, no number)"
FOLDER_FID_EVALUATED = (
    "all 819 images vs 819 samples, in the features of feature_cnn_pokemon (a CNN trained on the folder to tell "
    "image rotations apart; no Inception weights offline); the books show sample grids, no number"
)


def classifier_fid_results(name: str, note: str, folder: bool = False) -> tuple[Result, ...]:
    """The numbers every GAN card gets, ours alone (the books report none), from ``benchmarks/results/<name>.json``
    (written by ``benchmarks/gan.py``): classifier-FID and -KID against the training images and, for a ten-class
    dataset (not an image ``folder``), the rarest class's share of 10,000 samples (mode collapse leaves some classes
    rare; issue 8's target is every one of ten between 5 % and 15 %)."""
    evaluated = FOLDER_FID_EVALUATED if folder else FID_EVALUATED
    distances = tuple(
        Result(metric, None, evaluated, ours=f"{name}.json:{key}", unit="", lower_is_better=True, note=note)
        for metric, key in (("classifier-FID", "classifier_fid"), ("classifier-KID", "classifier_kid"))
    )
    if folder:
        return distances
    rarest = Result(
        "rarest class's share of the samples", None, "10,000 samples classified by the feature network",
        ours=f"{name}.json:rarest_class_pct",
        note=f"{note}; the commonest {{commonest_class_pct}} %; target 5-15 % each",
    )  # fmt: skip
    return (*distances, rarest)
