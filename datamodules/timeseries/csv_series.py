"""Time series from CSV files: reading with clear errors and counted missing values, chronological splits, and the
stock chapter's windows scaled by their last value."""

from __future__ import annotations

import csv
import gzip
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor

from datamodules.base import (
    DataError,
    DatasetUnavailableError,
    InMemoryDataModule,
    TensorBatchDataset,
    data_path,
    data_root,
)

Missing = Literal["drop", "ffill"]


OFFSET = re.compile(r"[T ]\d\d:\d\d(:\d\d(\.\d+)?)?[+-]\d\d:\d\d$")  # a time's offset from UTC


def parse_time(text: str) -> np.datetime64:
    """ISO dates and times (``2001-01-02``, ``2013-01-01T06:00:00Z``; one with an offset, ``...T09:30:00-05:00``,
    as its moment in UTC) and Jena's ``01.01.2009 00:10:00``."""
    text = text.strip()
    if OFFSET.search(text):
        return np.datetime64(datetime.fromisoformat(text).astimezone(timezone.utc).replace(tzinfo=None), "s")
    text = text.removesuffix("Z")
    try:
        return np.datetime64(text, "s")
    except ValueError:
        return np.datetime64(datetime.strptime(text, "%d.%m.%Y %H:%M:%S"), "s")


def zoned(text: str) -> bool:
    """Whether a time says its zone: UTC's ``Z`` or an offset (such times are kept, and written, in UTC)."""
    return text.strip().endswith("Z") or OFFSET.search(text.strip()) is not None


def _row_time(path: Path, line: int, text: str | None) -> np.datetime64:
    try:
        time = parse_time(text or "")
    except ValueError:
        time = np.datetime64("NaT")
    if np.isnat(time):
        raise DataError(
            f"{path}, line {line}: cannot read the time {text!r} (ISO 2001-01-02 or 2013-01-01T06:00:00, or Jena's "
            "01.01.2009 00:10:00)"
        )
    return time


@dataclass(frozen=True)
class MissingValues:
    """The rows of a series that miss a value: rows with a blank (or cut-off) value, rows with a value that is not a
    number (``N/A``, ``1,234``, ``nan``, a typo), and the first few of the latter as (line, column, text)."""

    blank_rows: int = 0
    not_number_rows: int = 0
    not_numbers: tuple[tuple[int, str, str], ...] = ()

    examples: ClassVar[int] = 3  # values quoted in the message

    @property
    def rows(self) -> int:
        return self.blank_rows + self.not_number_rows

    def describe(self, action: str, name_columns: bool = True) -> str:
        """``"2 rows with a value that is not a number (line 17: 'N/A', line 40: '1,234'), dropped"``; the column
        is named beside the line when ``name_columns``."""
        rows = lambda n: f"{n} row{'' if n == 1 else 's'}"  # noqa: E731
        parts = [f"{rows(self.blank_rows)} with a blank value"] if self.blank_rows else []
        if self.not_number_rows:
            quoted = [
                f"line {line}{f', {column}' if name_columns else ''}: {text!r}"
                for line, column, text in self.not_numbers
            ]
            more = ", ..." if self.not_number_rows > len(self.not_numbers) else ""
            parts.append(f"{rows(self.not_number_rows)} with a value that is not a number ({', '.join(quoted)}{more})")
        return f"{' and '.join(parts)}, {action}"


def parse_value(text: str | None) -> float | None:
    """A CSV field as a finite number; nan for a blank (or a field a short row lacks); None for text that is not a
    number (Python's ``float`` would take ``nan``, ``inf`` and ``1_000``, which no series writes as a value)."""
    if text is None or not text.strip():
        return float("nan")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and "_" not in text else None


def read_series(
    path: Path,
    time_column: str,
    value_columns: Sequence[str],
    missing: Missing = "drop",
    where: Mapping[str, str] | None = None,
    interleaved_hint: str = "",
    check_order: bool = True,
) -> tuple[np.ndarray, np.ndarray, MissingValues, bool]:
    """A CSV (optionally gzipped) as (times as datetime64[s], values float64 (rows, columns), the rows that miss a
    value, whether every time is marked UTC: ``2013-01-01T06:00:00Z``).

    Rows are kept in file order (which must be chronological: the message of a time out of order ends with
    ``interleaved_hint``; without ``check_order`` such times are counted and said, the rows read as they come) and,
    with ``where``, only rows whose columns have those values. A blank or non-numeric value drops its row
    (``"drop"``) or repeats the previous row's value (``"ffill"``; blanks before the first value drop their rows);
    those rows are counted, blank ones apart from ones with a value that is not a number, whose first values are kept
    with their lines for the message.
    """
    if missing not in ("drop", "ffill"):
        raise ValueError(f"missing must be 'drop' or 'ffill', got {missing!r}")
    rows, lines = _read_rows(path, [time_column, *value_columns, *(where or {})], where)
    values, counted = _parse_values(rows, lines, value_columns)
    times = np.array([_row_time(path, line, row[time_column]) for line, row in zip(lines, rows, strict=True)])
    utc = all(zoned(row[time_column] or "") for row in rows)
    keep = _fill_or_drop(values, missing)
    _check_time_order(path, time_column, times[keep], np.asarray(lines)[keep], interleaved_hint, check_order)
    return times[keep], values[keep], counted, utc


def _read_rows(path: Path, wanted: list[str], where: Mapping[str, str] | None) -> tuple[list[dict], list[int]]:
    """The rows of the CSV (those matching ``where``) and their lines in the file, for messages; a file without a
    ``wanted`` column is refused naming the columns expected and found."""
    if not path.is_file():
        raise DatasetUnavailableError(f"{path}: no such CSV file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            found = reader.fieldnames or []
            absent = [c for c in wanted if c not in found]
            if absent:
                raise DataError(
                    f"{path} has no column {', '.join(map(repr, absent))}: expected {wanted}, found {found}"
                )
            rows, lines = [], []
            for row in reader:
                if all(row[k] == v for k, v in (where or {}).items()):
                    rows.append(row)
                    lines.append(reader.line_num)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as err:
        raise DatasetUnavailableError(f"{path} is not a readable CSV file ({err})") from err
    if not rows:
        raise DataError(f"{path} holds no rows" + (f" where {dict(where)}" if where else ""))
    return rows, lines


def _parse_values(rows: list[dict], lines: list[int], columns: Sequence[str]) -> tuple[np.ndarray, MissingValues]:
    """The ``columns`` of every row as numbers (NaN where blank or not a number), and those rows counted."""
    values = np.full((len(rows), len(columns)), np.nan)
    not_numbers: list[tuple[int, str, str]] = []
    not_number_rows = 0
    for i, (line, row) in enumerate(zip(lines, rows, strict=True)):
        row_has_text = False
        for j, column in enumerate(columns):
            value = parse_value(row[column])  # a short row's missing fields are None: blank
            if value is None:
                row_has_text = True
                if len(not_numbers) < MissingValues.examples:
                    not_numbers.append((line, column, row[column]))
            else:
                values[i, j] = value
        not_number_rows += row_has_text
    blank_rows = int(np.isnan(values).any(axis=1).sum()) - not_number_rows
    return values, MissingValues(blank_rows, not_number_rows, tuple(not_numbers))


def _fill_or_drop(values: np.ndarray, missing: Missing) -> np.ndarray:
    """The rows to keep: ``"ffill"`` repeats each column's previous value into its gaps (in place), dropping only
    rows with nothing before them to repeat; ``"drop"`` keeps the rows without a gap."""
    if missing == "ffill":
        for j in range(values.shape[1]):
            column = values[:, j]
            last = np.where(~np.isnan(column), np.arange(len(column)), 0)
            np.maximum.accumulate(last, out=last)
            values[:, j] = column[last]
    return ~np.isnan(values).any(axis=1)


def _check_time_order(
    path: Path, time_column: str, times: np.ndarray, lines: np.ndarray, interleaved_hint: str, refuse: bool
) -> None:
    """Refuses (``refuse``) or warns of the first kept row whose time repeats or goes back, naming its line and the
    line before it."""
    steps = np.diff(times).astype(np.int64)
    if not np.any(steps <= 0):
        return
    later = int(np.argmax(steps <= 0)) + 1  # the first kept row no later than the one before it
    first = f"{path}, line {lines[later]}: {time_column} {times[later]} " + (
        f"repeats line {lines[later - 1]}'s" if steps[later - 1] == 0 else f"is earlier than line {lines[later - 1]}'s"
    )
    if refuse:
        raise DataError(
            f"{first} (the series must be in order, one row a time; several series in one file?{interleaved_hint})"
        )
    rank_zero_warn(f"{first}, and {int((steps <= 0).sum()) - 1} more rows' times do not follow the row before: "
                   "the rows are read in file order, their times only shown")  # fmt: skip


def chronological_sizes(n: int, train_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """(train, val, test) counts of ``n`` consecutive samples: the first ``int(n * train_fraction)`` train (the
    book's ``int(len(Y) * 0.7)``), the last ``int(n * test_fraction)`` test, the rest validate."""
    if not 0 < train_fraction < 1 or not 0 <= test_fraction < 1 - train_fraction:
        raise DataError(
            f"train_fraction ({train_fraction}) and test_fraction ({test_fraction}) must leave data to validate on"
        )
    n_train, n_test = int(n * train_fraction), int(n * test_fraction)
    return n_train, n - n_train - n_test, n_test


class SeriesDataModule(InMemoryDataModule):
    """Base of the time-series DataModules: samples are (inputs (time, features), target, scale, offset, time
    stamp); ``target * scale + offset`` is the target in the data's units, and the time stamp (seconds since 1970)
    says when the target happens. Splits are chronological, never shuffled across their boundaries; the training
    split is shuffled within itself."""

    data_sizes = ("input_size", "target_index")
    interleaved_hint = ""  # what a time out of order suggests (the weather data can keep one series)
    time_order: Literal["check", "rows"] = "check"  # "rows": the rows in file order whatever their times (weather)

    def __init__(
        self,
        csv_file: str,
        time_column: str,
        value_columns: Sequence[str],
        target_column: str | None,
        missing: Missing,
        data_dir: str | None,
        batch_size: int,
        num_workers: int,
        pin_memory: bool,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory)
        if not value_columns:
            raise ValueError("value_columns must name at least one column")
        target_column = target_column or value_columns[0]
        if target_column not in value_columns:
            raise ValueError(f"target_column {target_column!r} must be one of value_columns {list(value_columns)}")
        if missing not in ("drop", "ffill"):
            raise ValueError(f"missing must be 'drop' or 'ffill', got {missing!r}")
        self.data_dir = data_root(data_dir)
        self.csv_file, self.time_column, self.value_columns = csv_file, time_column, list(value_columns)
        self.target_index = self.value_columns.index(target_column)
        self.missing, self.missing_values, self.utc = missing, MissingValues(), False

    @property
    def input_size(self) -> int:
        return len(self.value_columns)

    @property
    def csv_path(self) -> Path:
        """``csv_file``; a relative one under ``data_dir``, unless it is not there but is below the current folder
        (as an image folder is found)."""
        return data_path(self.csv_file, self.data_dir)

    def read(self, where: Mapping[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        if not self.csv_path.is_file() and not Path(self.csv_file).is_absolute():
            raise DatasetUnavailableError(
                f"{self.csv_path}: no such CSV file (--data.csv_file {self.csv_file} is read under the data folder "
                f"{self.data_dir}, or below the current one): point --data.data_dir (or the LIGHTNING_ZOO_DATA "
                "environment variable) at the folder that holds it, or give its absolute path"
            )
        times, values, self.missing_values, self.utc = read_series(
            self.csv_path,
            self.time_column,
            self.value_columns,
            self.missing,
            where,
            self.interleaved_hint,
            self.time_order == "check",
        )
        if self.missing_values.rows:
            action = "dropped" if self.missing == "drop" else "filled with the previous value"
            text = f"{self.csv_path.name}: {self.missing_values.describe(action, len(self.value_columns) > 1)}"
            # A value that is not a number may be a typo: a warning; blanks (routine in some files) only an info line.
            (rank_zero_warn if self.missing_values.not_number_rows else rank_zero_info)(text)
        return times, values

    @property
    def missing_rows(self) -> int:
        """Rows of the last read with a blank value or one that is not a number (dropped or filled)."""
        return self.missing_values.rows

    def sample_options(self) -> dict[str, Any]:
        """A sample's columns and target (subclasses add its length): a model trained on windows of 10 would forecast
        from windows of 20 without a word. Where the data come from (``csv_file``, ``where``, the split) may
        differ."""
        return {"value_columns": self.value_columns, "target_column": self.value_columns[self.target_index]}

    def set_splits(self, whole: TensorBatchDataset, n_train: int, n_val: int, future: int = 0) -> None:
        """The samples (in time order) split chronologically: the first ``n_train`` train, the next ``n_val``
        validate, the rest test (none: the validation samples test too, as the books), but the last ``future``,
        whose targets lie past the file's last row (NaN); ``predict`` gets them all, the future ones too."""
        n = len(whole) - future
        if min(n_train, n_val) < 1:
            raise DataError(f"{n} samples leave {n_train} to train and {n_val} to validate: both need at least one")
        ends = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, n)}
        self.splits = {name: whole.subset(slice(*bounds)) for name, bounds in ends.items()}
        if n_train + n_val == n:
            rank_zero_info(f"{self.csv_path.name}: no test part, so the validation samples are the test samples")
            self.splits["test"] = self.splits["val"]
        self.splits["predict"] = whole

    def future_times(self, times: np.ndarray, rows: int) -> np.ndarray:
        """The times of ``rows`` rows after the last, a step apart at the series' most common step forward (the file
        cannot say more: after a Friday's close, a daily trading series' next day is dated Saturday). Rows read in
        file order whatever their times (``time_order: rows``) may hold none: the last time is repeated then."""
        forward = np.diff(times)
        steps, counts = np.unique(forward[forward > np.timedelta64(0, "s")], return_counts=True)
        step = steps[np.argmax(counts)] if len(steps) else np.timedelta64(0, "s")
        return times[-1] + step * np.arange(1, rows + 1)

    def time_texts(self, times: np.ndarray) -> list[str]:
        """``times`` (datetime64) as the CSV wrote them, for ``forecasts.csv``: a daily series as dates
        (``2001-01-02``), others to the second, marked ``Z`` when the file's were."""
        daily = not self.utc and bool((times.astype("datetime64[D]") == times).all())
        texts = np.datetime_as_string(times, unit="D" if daily else "s")
        return [f"{t}Z" if self.utc else str(t) for t in texts]

    def prediction_inputs(self) -> dict[str, list]:
        """Each predicted sample's part of the series (``train``, ``val``, ``test``, and ``future`` for those whose
        target is past the file's end) for ``forecasts.csv``: predict serves every sample, the parts in time order."""
        parts = ["train", "val"] + (["test"] if self.splits["test"] is not self.splits["val"] else [])
        split = [name for name in parts for _ in range(len(self.splits[name]))]
        return {"split": split + ["future"] * (len(self.splits["predict"]) - len(split))}


class WindowSeriesDataModule(SeriesDataModule):
    """Sliding windows over a CSV series, stride 1: the ``window`` values before a day predict that day's target,
    as the GRU stock example of "Hands-On Deep Learning Architectures with Python" (ch. 6) does with the DJIA
    closes. With ``scale_by_last``, each window and its target are divided by the window's last value (per column),
    the book's "absolute to relative" scaling, which needs no statistics of any split. ``predict`` also serves the
    window of the last rows, which forecasts the row after the file's last (its target unknown: NaN).

    Args:
        csv_file: The CSV; a relative path is under ``data_dir`` (or, not there, below the current folder). Gzipped
            files (``.gz``) are read as they are.
        time_column: Column of dates or times (ISO format).
        value_columns: Columns that are inputs; the first is the target unless ``target_column`` says otherwise.
        target_column: The column to forecast.
        window: Values per window.
        scale_by_last: Divide windows and targets by the window's last value.
        missing: Rows with a blank value or one that is not a number: ``"drop"`` or ``"ffill"`` (the previous row's
            value); counted either way, the values that are not numbers quoted with their lines.
        train_fraction: The first ``int(windows * train_fraction)`` windows train (the book's 0.7).
        test_fraction: The last windows that test; 0 (the book) validates on everything after training and tests on
            the same windows.
        data_dir: Root folder; default ``$LIGHTNING_ZOO_DATA`` or ``./data``.
        batch_size: Windows per batch.
        num_workers: DataLoader workers.
        pin_memory: Pin batches for faster host-to-GPU copies.
    """

    def __init__(
        self,
        csv_file: str = "stocks/djia_2001_2017.csv",
        time_column: str = "Date",
        value_columns: Sequence[str] = ("Close",),
        target_column: str | None = None,
        window: int = 10,
        scale_by_last: bool = True,
        missing: Missing = "drop",
        train_fraction: float = 0.7,
        test_fraction: float = 0.0,
        data_dir: str | None = None,
        batch_size: int = 100,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(
            csv_file, time_column, value_columns, target_column, missing, data_dir, batch_size, num_workers, pin_memory
        )
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        chronological_sizes(100, train_fraction, test_fraction)  # checks the fractions now, not after reading
        self.save_hyperparameters()
        self.window, self.scale_by_last = window, scale_by_last
        self.train_fraction, self.test_fraction = train_fraction, test_fraction

    def setup(self, stage: str) -> None:
        if self.splits:
            return
        times, values = self.read()
        # One window more, of the last rows, forecasts the row after the file's last (its target unknown: NaN);
        # not where scale_by_last would divide it by a 0 in the last row, which no known target needs.
        future = int(not (self.scale_by_last and (values[-1] == 0).any()))
        if not future:
            rank_zero_info(f"{self.csv_path.name}: the last row holds a 0, so no forecast past it (scale_by_last)")
        ends = values[self.window - 1 : len(values) - 1 + future]  # the windows' last rows, which scaling divides by
        if self.scale_by_last and len(ends) and (ends == 0).any():
            row = self.window - 1 + int(np.argmax((ends == 0).any(1)))
            raise DataError(
                f"{self.csv_path}: the row of {times[row]} holds a 0, and a window ends there, so it cannot be scaled "
                "by its last value (the book's scaling): drop or fix that row, or train without the scaling "
                "(--data.scale_by_last false; a checkpoint trained with it cannot read unscaled windows)"
            )
        known = max(len(values) - self.window, 0)  # windows whose target is in the file
        if known < 2:
            raise DataError(f"{self.csv_path}: {len(values)} rows make {known} windows of {self.window}")
        beyond = np.full((future, values.shape[1]), np.nan)
        x, y, scale = windows(np.concatenate([values, beyond]), self.window, self.target_index, self.scale_by_last)
        time = np.concatenate([times[self.window :], self.future_times(times, future)])
        n_train, n_val, _ = chronological_sizes(known, self.train_fraction, self.test_fraction)
        whole = TensorBatchDataset(x, y, scale, torch.zeros_like(scale), torch.from_numpy(time.astype(np.int64)))
        self.set_splits(whole, n_train, n_val, future)

    def sample_options(self) -> dict[str, Any]:
        return {**super().sample_options(), "window": self.window, "scale_by_last": self.scale_by_last}


def windows(values: np.ndarray, window: int, target: int, scale_by_last: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Every window of ``window`` rows and the next row's ``target`` column: (n, window, columns), (n,), and the
    scale that restores units (the window's last target value, or 1)."""
    n = len(values) - window
    if n < 1:
        return torch.empty(0, window, values.shape[1]), torch.empty(0), torch.empty(0)
    x = np.lib.stride_tricks.sliding_window_view(values[:-1], window, axis=0).transpose(0, 2, 1)  # (n, window, col)
    y = values[window:, target]
    if scale_by_last:
        last = x[:, -1, :]
        if np.any(last == 0):
            raise DataError("a window ends in 0, so it cannot be scaled by its last value: use scale_by_last=false")
        x, y, scale = x / last[:, None, :], y / last[:, target], last[:, target]
    else:
        scale = np.ones(n)
    return tuple(torch.from_numpy(np.array(a, dtype=np.float32)) for a in (x, y, scale))
