"""Weather forecasting as "Deep Learning with Python" (1st ed., 6.3) frames it: from the last ``lookback`` rows of
every variable, sampled every ``step`` rows, forecast the temperature ``delay`` rows after them."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor

from datamodules.base import DataError, DatasetUnavailableError, TensorBatchDataset
from datamodules.download import ensure_files
from datamodules.timeseries.csv_series import Missing, SeriesDataModule
from lightning_zoo.files import atomic_path

JENA_FILE = "jena_climate_2009_2016.csv"
JENA_COLUMNS = (
    "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)", "VPact (mbar)", "VPdef (mbar)",
    "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)", "wv (m/s)", "max. wv (m/s)", "wd (deg)",
)  # fmt: skip


class LaggedSamples(TensorBatchDataset):
    """The samples of a normalised series, made a batch at a time from its rows (copies of every sample's 120 x 14
    inputs would take 11 GB for Jena): for "present" row ``i`` the inputs are rows ``range(i - lookback, i, step)``
    and the target is row ``i + delay``'s target column, as the book's generator has them."""

    def __init__(
        self, data: Tensor, times: Tensor, present: Tensor, lookback: int, step: int, delay: int, target: int,
        scale: float, offset: float,
    ) -> None:  # fmt: skip
        super().__init__(present)
        self.data, self.times, self.present = data, times, present
        self.lookback, self.step, self.delay, self.target = lookback, step, delay, target
        self.scale, self.offset = scale, offset
        self.lags = torch.arange(-lookback, 0, step)

    def __getitem__(self, indices: Tensor | int) -> tuple[Tensor, ...]:
        rows = self.present[indices]
        single = rows.dim() == 0
        rows = rows.reshape(-1).to(self.data.device)
        x = self.data[rows.unsqueeze(1) + self.lags.to(rows.device)]
        y = self.data[rows + self.delay, self.target]
        scale, offset = torch.full_like(y, self.scale), torch.full_like(y, self.offset)
        sample = (x, y, scale, offset, self.times[rows + self.delay])
        return tuple(t[0] for t in sample) if single else sample

    def subset(self, part: slice) -> LaggedSamples:
        return LaggedSamples(
            self.data, self.times, self.present[part], self.lookback, self.step, self.delay, self.target, self.scale,
            self.offset,
        )  # fmt: skip

    def to(self, device: torch.device) -> LaggedSamples:
        moved = self.subset(slice(None))
        moved.data, moved.times, moved.present = (t.to(device) for t in (self.data, self.times, self.present))
        moved.tensors = (moved.present,)
        return moved


def time_gaps(times: np.ndarray) -> dict[str, object]:
    """Where a regularly sampled series skips rows: its usual interval (the median step), the number of steps
    longer than that, the rows they leave out, and the longest step."""
    steps = np.diff(times).astype(np.int64)  # seconds
    if not len(steps):
        return {"interval": None, "gaps": 0, "rows_missing": 0, "longest": None}
    interval = int(np.median(steps))
    longer = steps > interval
    return {
        "interval": np.timedelta64(interval, "s").astype(object),
        "gaps": int(longer.sum()),
        "rows_missing": int((steps[longer] // interval - 1).sum()),
        "longest": np.timedelta64(int(steps.max()), "s").astype(object),
    }


class WeatherDataModule(SeriesDataModule):
    """A multivariate weather series (the Jena climate record by default) as the book's generators serve it.

    Every variable is normalised by the mean and standard deviation of the training rows only. A sample's inputs
    are ``lookback // step`` rows (every ``step``-th of the ``lookback`` rows before it), its target the target
    column ``delay`` rows later; targets stay inside their own split (the book's generators let training targets
    reach 144 rows into the validation rows). The splits are row ranges: rows before ``train_end`` train, rows
    before ``val_end`` validate, the rest test. Samples count rows, as the book's generators do, not time: where the
    file skips rows (NYC 2013 at Newark: 17 gaps, 27 hours missing), ``delay`` rows can be more than ``delay``
    intervals ahead; setup warns with the count and keeps it in ``time_gaps``. ``predict`` also serves the last
    ``delay`` rows' samples, whose targets lie past the file's end (unknown: NaN), a forecast of the rows to come.

    With the default file missing, the Jena archive (``jena_climate_2009_2016.csv.zip``, Keras' copy) is downloaded
    and unpacked; Keras publishes no checksum for it, so the reader's checks stand in for one.

    Args:
        csv_file: The CSV; a relative path is under ``data_dir`` (or, not there, below the current folder); gzipped
            files are read as they are.
        time_column: Column of times (ISO, or Jena's ``01.01.2009 00:10:00``).
        value_columns: The variables (inputs); the Jena defaults are its 14.
        target_column: The variable to forecast (Jena: ``T (degC)``, the book's column 1).
        where: Keep only rows whose columns have these values, e.g. ``{origin: EWR}`` for one airport.
        lookback: Rows of history per sample (720, five days of 10-minute rows, as DLwP 6.3's text; its code, and the
            Jena GRU configs, use 1440).
        step: Keep every ``step``-th row of the history (6: hourly).
        delay: Rows from the sample's "present" to its target (144: 24 hours).
        train_end: Rows before this one train (an int), or this fraction of the rows (a float).
        val_end: Rows from ``train_end`` to this one validate; the rest test. Int or fraction as ``train_end``.
        missing: Rows with a blank value or one that is not a number: ``"drop"`` or ``"ffill"`` (the previous row's
            value); counted either way, the values that are not numbers quoted with their lines.
        time_order: ``"check"``: a time that repeats or goes back (a file of several series, a clock put back) is
            refused, naming its line; ``"rows"``: the rows are read in file order as the book's generators read
            them, whatever their times say (counted and said; times are then only shown, in forecasts.csv).
        download: Download the Jena archive when the default file is missing.
        data_dir: Root folder; default ``$LIGHTNING_ZOO_DATA`` or ``./data``.
        batch_size: Samples per batch (the book's 128).
        num_workers: DataLoader workers.
        pin_memory: Pin batches for faster host-to-GPU copies.
    """

    @property
    def interleaved_hint(self) -> str:  # type: ignore[override]
        one = "" if self.where else """ keep one with --data.where, e.g. '{"origin": "JFK"}';"""
        return one + " or read the rows in file order, as the book does: --data.time_order rows"

    mirrors = (
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "https://s3.amazonaws.com/keras-datasets/",
    )

    def __init__(
        self,
        csv_file: str = f"jena_climate/{JENA_FILE}",
        time_column: str = "Date Time",
        value_columns: Sequence[str] = JENA_COLUMNS,
        target_column: str | None = "T (degC)",
        where: Mapping[str, str] | None = None,
        lookback: int = 720,
        step: int = 6,
        delay: int = 144,
        train_end: int | float = 200_000,
        val_end: int | float = 300_000,
        missing: Missing = "ffill",
        time_order: Literal["check", "rows"] = "check",
        download: bool = True,
        data_dir: str | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(
            csv_file, time_column, value_columns, target_column, missing, data_dir, batch_size, num_workers, pin_memory
        )
        if step < 1 or lookback < step or delay < 0:
            raise ValueError(f"need 1 <= step <= lookback and delay >= 0, got {step=}, {lookback=}, {delay=}")
        if type(train_end) is not type(val_end) or not 0 < train_end < val_end:
            raise ValueError(f"need 0 < train_end < val_end, both rows or both fractions, got {train_end}, {val_end}")
        if isinstance(val_end, float) and val_end >= 1:
            raise ValueError(f"a fractional val_end must be below 1 (the rest tests), got {val_end}")
        self.save_hyperparameters()
        if time_order not in ("check", "rows"):
            raise ValueError(f"time_order must be 'check' or 'rows', got {time_order!r}")
        self.where = dict(where) if where else None
        self.time_order = time_order
        self.lookback, self.step, self.delay = lookback, step, delay
        self.train_end, self.val_end, self.download = train_end, val_end, download
        self.mean: Tensor | None = None
        self.std: Tensor | None = None
        self.checkpoint_statistics: tuple[Tensor, Tensor] | None = None
        self.time_gaps: dict[str, object] = {}

    def prepare_data(self) -> None:
        path = self.csv_path
        if path.is_file() or path.name != JENA_FILE:
            return
        archive = JENA_FILE + ".zip"
        ensure_files(
            path.parent, {archive: None}, self.mirrors, "Jena climate", self.download, uncompressed_ok=False,
            data_dir=self.data_dir,
        )  # fmt: skip
        try:
            with zipfile.ZipFile(path.parent / archive) as zipped, atomic_path(path) as partial:
                partial.write_bytes(zipped.read(JENA_FILE))
        except (zipfile.BadZipFile, KeyError) as err:
            again = ", and the next run downloads it again" if self.download else " and put a complete copy there"
            raise DatasetUnavailableError(
                f"{path.parent / archive} holds no readable {JENA_FILE} ({err}): delete it{again}"
            ) from err
        except OSError as err:  # reading the archive or writing the CSV beside it
            raise DatasetUnavailableError(f"{path.parent / archive}: {JENA_FILE} not extracted ({err})") from err

    def _make_samples(self, mean: Tensor, std: Tensor) -> None:
        """Every split's samples, the series normalised by ``mean`` and ``std``."""
        times, values, bounds = self._series
        self.mean, self.std = mean, std
        # ``delay`` unknown rows (NaN) after the file's last, the targets of the last rows' forecasts (predict's)
        beyond = torch.full((self.delay, values.shape[1]), float("nan"), dtype=torch.float64)
        normalised = ((torch.cat([torch.from_numpy(values), beyond]) - mean) / std).float()
        stamps = torch.from_numpy(np.concatenate([times, self.future_times(times, self.delay)]).astype(np.int64))
        t = self.target_index
        rows = {}
        for name, (start, end) in bounds.items():
            first, stop = start + self.lookback, end - self.delay  # arange refuses stop < first: check it first
            if stop <= first:
                raise DataError(
                    f"{self.csv_path.name}: the {name} rows {start}-{end} are too few for lookback {self.lookback} "
                    f"and delay {self.delay}"
                )
            rows[name] = torch.arange(first, stop)
        future = torch.arange(len(values) - self.delay, len(values))  # rows whose target is past the last row
        for name, present in [*rows.items(), ("predict", torch.cat([*rows.values(), future]))]:  # predict: all
            self.splits[name] = LaggedSamples(
                normalised, stamps, present, self.lookback, self.step, self.delay, t, float(std[t]), float(mean[t])
            )

    def sample_options(self) -> dict[str, Any]:
        return {**super().sample_options(), "lookback": self.lookback, "step": self.step, "delay": self.delay}

    # The normalisation travels in checkpoints too: a model sees every series as its training rows scaled it.
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.mean is not None:
            state.update(mean=self.mean.tolist(), std=self.std.tolist())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refuses other sample options (see the base class) and keeps the checkpoint's normalisation statistics,
        which setup then uses (Lightning restores a DataModule after its setup: the samples are made again).
        Checkpoints from before the statistics travelled keep these data's."""
        super().load_state_dict(state)
        if "mean" not in state:
            return
        mean, std = (torch.tensor(state[key], dtype=torch.float64) for key in ("mean", "std"))
        self.checkpoint_statistics = mean, std
        if self.mean is not None:
            mean, std = self._statistics(self.mean, self.std)
            if mean is not self.mean:
                self._make_samples(mean, std)

    def _statistics(self, mean: Tensor, std: Tensor) -> tuple[Tensor, Tensor]:
        """These data's training statistics, or the checkpoint's when it brought others (another file, another
        ``where``), with a line saying so: a model sees every series scaled as its own training rows were."""
        if self.checkpoint_statistics is None:
            return mean, std
        saved_mean, saved_std = self.checkpoint_statistics
        if torch.equal(saved_mean, mean) and torch.equal(saved_std, std):
            return mean, std
        rank_zero_info(
            f"{self.csv_path.name}: normalised by the checkpoint's statistics (its training rows' mean and "
            "standard deviation), not these data's"
        )
        return saved_mean, saved_std

    def setup(self, stage: str) -> None:
        if self.splits:
            return
        times, values = self.read(self.where)
        self.time_gaps = time_gaps(times)
        if self.time_gaps["gaps"]:
            rank_zero_warn(
                f"{self.csv_path.name}: {self.time_gaps['gaps']} gaps in the {self.time_column} column "
                f"({self.time_gaps['rows_missing']} rows of {self.time_gaps['interval']} missing, the longest step "
                f"{self.time_gaps['longest']}); samples count rows, so a lookback or delay that spans a gap reaches "
                "further back or ahead in time"
            )
        n = len(values)
        train_end, val_end = ((round(n * f) for f in (self.train_end, self.val_end))
                              if isinstance(self.train_end, float) else (self.train_end, self.val_end))  # fmt: skip
        if val_end >= n:
            raise DataError(f"{self.csv_path.name}: {n} rows, but val_end is row {val_end}: nothing would test")
        data = torch.from_numpy(values[:train_end])
        mean, std = data.mean(0), data.std(0)  # the training rows only
        if bool((std == 0).any()) and self.checkpoint_statistics is None:  # a checkpoint brings its own scale
            constant = [c for c, s in zip(self.value_columns, std.tolist(), strict=True) if s == 0]
            raise DataError(
                f"{self.csv_path.name}: {constant} never change in the {train_end} training rows, so they cannot be "
                "normalised: drop them, or give more rows"
            )
        self._series = (times, values, {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, n)})
        self._make_samples(*self._statistics(mean, std))
        rank_zero_info(
            f"{self.csv_path.name}: {n} rows; samples train {len(self.splits['train'])}, val {len(self.splits['val'])}"
            f", test {len(self.splits['test'])}"
        )
