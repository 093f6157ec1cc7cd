"""Time series: CSV reading (clear errors, counted blanks, order), the stock chapter's windows scaled by their last
close and its 70 % split, the weather chapter's lagged samples normalised by the training rows only, the naive
baseline's MAE, forecasts written in the data's units, and the forecasters' shapes and parameter counts."""

from __future__ import annotations

import csv
import gzip
import logging
import warnings
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules import DataError, DatasetUnavailableError
from datamodules.timeseries import WeatherDataModule, WindowSeriesDataModule, read_series
from datamodules.timeseries.csv_series import chronological_sizes, parse_time, windows
from datamodules.timeseries.weather import JENA_COLUMNS
from lightning_zoo.callbacks import PredictionWriter
from lightning_zoo.forecasting import ConvRecurrentForecaster, NaiveForecaster, RecurrentForecaster
from tests.helpers.series import write_closes
from tests.helpers.train import trainer
from tests.helpers.weather import jena_values, write_jena

T = JENA_COLUMNS.index("T (degC)")  # 1, the book's target column
WEATHER = {"lookback": 60, "step": 6, "delay": 12, "train_end": 300, "val_end": 450}


def weekdays(n: int) -> list[date]:
    """The dates write_closes gives its rows: weekdays from 2001-01-02."""
    day, days = date(2001, 1, 2), []
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def epoch_seconds(moment: datetime) -> int:
    return int(moment.replace(tzinfo=timezone.utc).timestamp())


def stock_dm(csv_file: Path, **kwargs) -> WindowSeriesDataModule:
    dm = WindowSeriesDataModule(csv_file=str(csv_file), **kwargs)
    dm.setup("fit")
    return dm


def weather_dm(csv_file: Path, **kwargs) -> WeatherDataModule:
    dm = WeatherDataModule(csv_file=str(csv_file), download=False, **{**WEATHER, **kwargs})
    dm.prepare_data()
    dm.setup("fit")
    return dm


def everything(split) -> tuple[torch.Tensor, ...]:
    return split[torch.arange(len(split))]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def rewrite_jena(source: Path, target: Path, values: np.ndarray) -> Path:
    """``source``'s Jena file (its header and time stamps) with other values."""
    lines = source.read_text().splitlines()
    stamps = [line.split(",", 1)[0] for line in lines[1:]]
    rows = [stamp + "," + ",".join(f"{v:.2f}" for v in row) for stamp, row in zip(stamps, values, strict=True)]
    target.write_text("\n".join([lines[0], *rows]) + "\n")
    return target


# Reading CSV files


def test_parse_time_reads_iso_dates_iso_times_with_z_and_jenas_format():
    """The three time formats of the zoo's series, to the second."""
    assert parse_time("2001-01-02") == np.datetime64("2001-01-02T00:00:00")
    assert parse_time("2013-01-01T06:00:00Z") == np.datetime64("2013-01-01T06:00:00")
    assert parse_time(" 01.01.2009 00:10:00") == np.datetime64("2009-01-01T00:10:00")
    assert parse_time("31.12.2016 23:50:00").dtype == np.dtype("datetime64[s]")
    assert parse_time("2001-01-17T09:30:00-05:00") == np.datetime64("2001-01-17T14:30:00")  # its moment in UTC
    assert parse_time("2001-01-17 23:30:00+01:00") == np.datetime64("2001-01-17T22:30:00")


def test_a_csv_without_the_named_column_names_the_expected_and_found_columns(tmp_path):
    """A DataError that says which column is missing, what was expected and what the file holds."""
    path = write_csv(tmp_path / "prices.csv", "Date,Open\n2001-01-02,1.0\n")
    with pytest.raises(DataError) as error:
        read_series(path, "Date", ["Close"])
    message = str(error.value)
    assert "no column 'Close'" in message and "expected ['Date', 'Close']" in message
    assert "found ['Date', 'Open']" in message
    with pytest.raises(DataError, match="no column 'origin'"):
        read_series(path, "Date", ["Open"], where={"origin": "EWR"})


def test_a_missing_file_raises_dataset_unavailable(tmp_path):
    """Both the reader and the DataModule's setup say the file is absent."""
    with pytest.raises(DatasetUnavailableError, match="no such CSV file"):
        read_series(tmp_path / "absent.csv", "Date", ["Close"])
    with pytest.raises(DatasetUnavailableError, match="absent.csv"):
        stock_dm(tmp_path / "absent.csv")
    # a relative file is read under the data folder, which the message names with the ways to point elsewhere
    hint = rf"stocks/absent.csv is read under the data folder {tmp_path}, or below the current one\): point --data"
    with pytest.raises(DatasetUnavailableError, match=hint):
        WindowSeriesDataModule(csv_file="stocks/absent.csv", data_dir=str(tmp_path)).setup("fit")


def test_a_relative_csv_file_not_under_the_data_folder_is_read_below_the_current_one(tmp_path, monkeypatch):
    write_closes(tmp_path / "mine" / "closes.csv")
    monkeypatch.chdir(tmp_path)
    here = WindowSeriesDataModule(csv_file="mine/closes.csv", data_dir=str(tmp_path / "data"), batch_size=8)
    assert here.csv_path == Path("mine/closes.csv")
    here.setup("fit")
    write_closes(tmp_path / "data" / "mine" / "closes.csv", days=60)  # one under the data folder comes first
    assert here.csv_path == tmp_path / "data" / "mine" / "closes.csv"


BLANKS = "Date,A,B\n2001-01-01,,10\n2001-01-02,1,20\n2001-01-03,,30\n2001-01-04,3,\n2001-01-05,n/a,50\n"


def test_blank_values_drop_their_rows_and_are_counted(tmp_path):
    """With "drop", every row with a blank or non-number in any value column goes; all four are counted."""
    times, values, missing, _ = read_series(write_csv(tmp_path / "s.csv", BLANKS), "Date", ["A", "B"], "drop")
    assert missing.rows == 4 and missing.blank_rows == 3 and missing.not_numbers == ((6, "A", "n/a"),)
    assert times.tolist() == [np.datetime64("2001-01-02T00:00:00").item()]
    assert values.tolist() == [[1.0, 20.0]]


def test_blank_values_take_the_previous_rows_value_per_column_and_leading_blanks_drop(tmp_path):
    """With "ffill", a blank repeats its own column's previous value; the first row, whose A has nothing before
    it, is dropped; the count is still every row with a blank."""
    times, values, missing, _ = read_series(write_csv(tmp_path / "s.csv", BLANKS), "Date", ["A", "B"], "ffill")
    assert missing.rows == 4
    assert times.astype("datetime64[D]").astype(str).tolist() == ["2001-01-02", "2001-01-03", "2001-01-04",
                                                                 "2001-01-05"]  # fmt: skip
    assert values.tolist() == [[1, 20], [1, 30], [3, 30], [3, 50]]  # by hand


def test_a_row_cut_short_counts_as_blank(tmp_path):
    """A truncated last row (no value field at all) is a blank like an empty one, not a TypeError."""
    times, values, missing, _ = read_series(write_csv(tmp_path / "s.csv", "Date,Close\n2001-01-02,1\n2001-01-03\n"),
                                         "Date", ["Close"])  # fmt: skip
    assert missing.blank_rows == 1 and missing.rows == 1 and values.tolist() == [[1.0]] and len(times) == 1


NOT_NUMBERS = (
    'Date,Close\n2001-01-01,1\n2001-01-02,\n2001-01-03,N/A\n2001-01-04,4\n2001-01-05,"1,234"\n2001-01-06,nan\n'
    "2001-01-07,inf\n2001-01-08,1_000\n2001-01-09,9\n"
)


def test_values_that_are_not_numbers_are_counted_apart_from_blanks_with_their_lines(tmp_path):
    """A blank is one thing, text that is not a number (a typo, a thousands separator, N/A, nan, inf, 1_000) is
    another: both drop their rows, but the latter are counted apart and the first three quoted with their lines."""
    times, values, missing, _ = read_series(write_csv(tmp_path / "s.csv", NOT_NUMBERS), "Date", ["Close"], "drop")
    assert values.ravel().tolist() == [1, 4, 9] and len(times) == 3
    assert (missing.rows, missing.blank_rows, missing.not_number_rows) == (6, 1, 5)
    assert missing.not_numbers == ((4, "Close", "N/A"), (6, "Close", "1,234"), (7, "Close", "nan"))
    assert missing.describe("dropped", name_columns=False) == (
        "1 row with a blank value and 5 rows with a value that is not a number (line 4: 'N/A', line 6: '1,234', "
        "line 7: 'nan', ...), dropped"
    )


def test_the_stock_datamodule_warns_of_a_value_that_is_not_a_number_and_quotes_it(tmp_path, caplog):
    """The DJIA layout with "abc" for one close: a warning that quotes it with its line, not "a blank value"; blanks
    alone stay an info line."""
    path = tmp_path / "nn.csv"
    write_closes(path, days=30)
    lines = path.read_text().splitlines()
    lines[16] = lines[16].split(",")[0] + ",abc"  # line 17 of the file
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(
        UserWarning, match=r"^nn.csv: 1 row with a value that is not a number \(line 17: 'abc'\), dropped$"
    ):
        dm = stock_dm(path, missing="drop")
    assert dm.missing_rows == 1 and len(dm.splits["predict"]) == 19 + 1  # and the window past the last row
    lines[16] = lines[16].split(",")[0] + ","
    path.write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.INFO):
            stock_dm(path, missing="drop")
    assert "nn.csv: 1 row with a blank value, dropped" in caplog.text


def test_the_weather_datamodule_names_the_column_of_a_value_that_is_not_a_number(tmp_path):
    """Jena's 14 columns: the quoted value comes with its column; ffill (the default) fills its row."""
    write_jena(tmp_path / "jena.csv")
    lines = (tmp_path / "jena.csv").read_text().splitlines()
    fields = lines[9].split(",")
    fields[1 + T] = "12..5"  # line 10, T (degC)
    lines[9] = ",".join(fields)
    (tmp_path / "jena.csv").write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"jena.csv: 1 row with a value that is not a number \(line 10, T \(degC\): "
                      r"'12..5'\), filled with the previous value"):  # fmt: skip
        dm = weather_dm(tmp_path / "jena.csv")
    assert dm.missing_rows == 1 and dm.missing_values.not_numbers == ((10, "T (degC)", "12..5"),)


@pytest.mark.parametrize("time", ["2001-13-03", "01/02/2001", ""], ids=["month 13", "US format", "blank"])
def test_an_unreadable_time_names_the_file_line_and_the_formats_read(tmp_path, time):
    path = write_csv(tmp_path / "s.csv", f"Date,Close\n2001-01-01,1\n{time},2\n")
    with pytest.raises(DataError, match=rf"s.csv, line 3: cannot read the time '{time}' \(ISO 2001-01-02"):
        read_series(path, "Date", ["Close"])


def test_the_datamodule_reports_its_dropped_rows(tmp_path):
    """Two blank closes of 30 leave 28 rows, 18 windows of 10 (and one past the last row), and ``missing_rows``
    2."""
    path = tmp_path / "closes.csv"
    write_closes(path, days=30)
    lines = path.read_text().splitlines()
    for row in (5, 17):
        lines[row] = lines[row].split(",")[0] + ","
    path.write_text("\n".join(lines) + "\n")
    dm = stock_dm(path, missing="drop")
    assert dm.missing_rows == 2 and len(dm.splits["predict"]) == 18 + 1


@pytest.mark.parametrize("dates", [("2001-01-02", "2001-01-02"), ("2001-01-03", "2001-01-02")], ids=["repeat", "back"])
def test_a_time_column_that_does_not_increase_is_an_error(tmp_path, dates):
    """A repeated or earlier time means the file is not one series in order."""
    path = write_csv(tmp_path / "s.csv", f"Date,Close\n2001-01-01,1\n{dates[0]},2\n{dates[1]},3\n")
    said = "repeats line 3's" if dates[0] == dates[1] else "is earlier than line 3's"
    with pytest.raises(DataError, match=rf"s.csv, line 4: Date 2001-01-02T00:00:00 {said} \(the series must be in"):
        read_series(path, "Date", ["Close"])


def test_where_keeps_one_airports_rows_of_the_gzipped_nyc_file(data_root):
    """Without ``where`` the two airports' times restart (an order error); with EWR only, its 300 hourly rows from
    06:00, of which the pressure of hours 5, 22, ... (h % 17 == 5: 18 of them) is blank and dropped."""
    path = data_root / "weather" / "nyc_2013_hourly.csv.gz"
    with pytest.raises(DataError, match=r"line 302: time_hour 2013-01-01T06:00:00 is earlier than line 301's .* seve"):
        read_series(path, "time_hour", ["temp"])
    both = WeatherDataModule(csv_file="weather/nyc_2013_hourly.csv.gz", time_column="time_hour",
                             value_columns=["temp"], target_column="temp", data_dir=str(data_root),
                             download=False)  # fmt: skip
    with pytest.raises(DataError, match=r"several series in one file\? keep one with --data.where, e.g. '\{\"origin"):
        both.setup("fit")
    times, values, missing, _ = read_series(path, "time_hour", ["temp"], where={"origin": "EWR"})
    assert len(times) == 300 and missing.rows == 0
    assert times[0] == np.datetime64("2013-01-01T06:00:00") and times[-1] == np.datetime64("2013-01-13T17:00:00")
    assert np.all(np.diff(times) == np.timedelta64(3600, "s"))
    times, values, missing, _ = read_series(path, "time_hour", ["temp", "pressure"], where={"origin": "EWR"})
    assert missing.rows == missing.blank_rows == 18 and len(times) == 282
    kept_hours = ((times - np.datetime64("2013-01-01T06:00:00")) // np.timedelta64(1, "h")).astype(int)
    assert not np.any(kept_hours % 17 == 5)
    with pytest.raises(DataError, match="holds no rows where"):
        read_series(path, "time_hour", ["temp"], where={"origin": "LGA"})


# The stock example's windows


def test_the_book_sized_series_gives_its_window_and_split_counts(tmp_path):
    """4,276 closes -> 4,266 windows of 10; the first int(4266 * 0.7) = 2,986 train, the other 1,280 validate and,
    with no test fraction, are the test split itself; predict gets all windows, and one of the last 10 closes,
    which forecasts the day after the file's last."""
    path = tmp_path / "djia.csv"
    write_closes(path, days=4276)
    dm = stock_dm(path)
    assert [len(dm.splits[s]) for s in ("predict", "train", "val")] == [4266 + 1, 2986, 1280]
    assert dm.splits["test"] is dm.splits["val"]
    assert dm.splits["train"].tensors[0].shape == (2986, 10, 1)
    assert dm.prediction_inputs() == {"split": ["train"] * 2986 + ["val"] * 1280 + ["future"]}  # forecasts.csv's


def test_a_test_fraction_gives_three_disjoint_chronological_parts_covering_all_windows(tmp_path):
    """test_fraction 0.15: 2,986 train, int(4266 * 0.15) = 639 test, the 641 between validate; in time order they
    are the whole series of windows, each once."""
    path = tmp_path / "djia.csv"
    write_closes(path, days=4276)
    dm = stock_dm(path, test_fraction=0.15)
    parts = [dm.splits[s] for s in ("train", "val", "test")]
    assert [len(p) for p in parts] == [2986, 641, 639]
    times = [p.tensors[4] for p in parts]
    assert times[0].max() < times[1].min() and times[1].max() < times[2].min()
    assert torch.equal(torch.cat(times), dm.splits["predict"].tensors[4][:-1])  # and the day after the last
    assert torch.equal(torch.cat([p.tensors[0] for p in parts]), dm.splits["predict"].tensors[0][:-1])
    assert dm.prediction_inputs() == {"split": ["train"] * 2986 + ["val"] * 641 + ["test"] * 639 + ["future"]}


def test_each_window_and_its_target_are_divided_by_the_windows_last_close(tmp_path):
    """Window k: inputs closes[k:k+10] / closes[k+9], target closes[k+10] / closes[k+9], scale closes[k+9], offset
    0, time stamp the date of row k + 10 (midnight UTC, in seconds). Window 15, of the last 10 closes, forecasts
    the row after the last: its target unknown (NaN), its day the last's plus the most common step (one day; after a
    Friday that would be a Saturday: the file does not say which days trade)."""
    path = tmp_path / "closes.csv"
    closes = np.array(write_closes(path, days=25))
    dates = weekdays(25) + [weekdays(25)[-1] + timedelta(days=1)]
    x, y, scale, offset, time = everything(stock_dm(path, train_fraction=0.5).splits["predict"])
    assert x.shape == (15 + 1, 10, 1) and torch.isnan(y[15]) and not torch.isnan(y[:15]).any()
    for k in (0, 7, 14, 15):
        last = closes[k + 9]
        assert torch.equal(x[k, :, 0], torch.tensor(closes[k : k + 10] / last, dtype=torch.float32))
        assert x[k, -1, 0] == 1
        assert k == 15 or y[k] == np.float32(closes[k + 10] / last)
        assert scale[k] == np.float32(last) and offset[k] == 0
        assert time[k] == epoch_seconds(datetime.combine(dates[k + 10], datetime.min.time()))
    torch.testing.assert_close((y * scale)[:15].double(), torch.tensor(closes[10:]), rtol=1e-6, atol=0)


def test_without_scaling_windows_hold_the_raw_closes_and_scale_one(tmp_path):
    """scale_by_last=False: window k is closes[k:k+10], its target closes[k+10], scale 1 (the last window's target,
    past the file, unknown)."""
    path = tmp_path / "closes.csv"
    closes = np.array(write_closes(path, days=25))
    x, y, scale, offset, _ = everything(stock_dm(path, scale_by_last=False).splits["predict"])
    assert torch.equal(x[3, :, 0], torch.tensor(closes[3:13], dtype=torch.float32))
    assert torch.equal(x[15, :, 0], torch.tensor(closes[15:], dtype=torch.float32))
    assert torch.equal(y[:15], torch.tensor(closes[10:], dtype=torch.float32)) and torch.isnan(y[15])
    assert torch.equal(scale, torch.ones(16)) and torch.equal(offset, torch.zeros(16))


def test_windows_of_several_columns_scale_each_by_its_own_last_value():
    """Two columns: each input column by its own last value, the target by the target column's."""
    values = np.array([[1.0, 10.0], [2.0, 40.0], [4.0, 20.0], [8.0, 5.0]])
    x, y, scale = windows(values, 2, target=1, scale_by_last=True)
    assert x.tolist() == [[[0.5, 0.25], [1.0, 1.0]], [[0.5, 2.0], [1.0, 1.0]]]
    assert y.tolist() == [0.5, 0.25] and scale.tolist() == [40.0, 20.0]  # 20 / 40, 5 / 20
    with pytest.raises(DataError, match="ends in 0"):
        windows(np.array([[1.0], [0.0], [2.0]]), 2, 0, True)


def test_chronological_sizes_are_the_books_int_of_the_fractions():
    """int(n * fraction) for train and test, the rest validates; fractions that leave nothing to validate fail."""
    assert chronological_sizes(4266, 0.7, 0.0) == (2986, 1280, 0)
    assert chronological_sizes(100, 0.6, 0.25) == (60, 15, 25)
    for train, test in ((0.0, 0.0), (1.0, 0.0), (0.7, 0.5), (0.5, -0.1)):
        with pytest.raises(DataError, match="must leave data to validate on"):
            chronological_sizes(100, train, test)


def test_stock_arguments_are_checked_before_reading(tmp_path):
    """window < 1, fractions leaving nothing to validate, a target outside the inputs; and at setup, a series too
    short for two windows."""
    with pytest.raises(ValueError, match="window must be at least 1"):
        WindowSeriesDataModule(window=0)
    with pytest.raises(DataError, match="must leave data to validate on"):
        WindowSeriesDataModule(train_fraction=0.8, test_fraction=0.2)
    with pytest.raises(ValueError, match="target_column 'Open' must be one of value_columns"):
        WindowSeriesDataModule(value_columns=["Close"], target_column="Open")
    with pytest.raises(ValueError, match="missing must be"):
        WindowSeriesDataModule(missing="zero")
    path = tmp_path / "closes.csv"
    write_closes(path, days=11)
    with pytest.raises(DataError, match="11 rows make 1 windows of 10"):
        stock_dm(path)
    write_closes(path, days=3)
    with pytest.raises(DataError, match="3 rows make 0 windows of 10"):  # not -1 (the window past the file)
        stock_dm(path)


def test_the_rows_after_the_file_are_dated_by_its_most_common_step_forward():
    """Three series interleaved (read in file order, as ``time_order: rows`` does: steps 0, 0, 1 h) step an hour, not
    0; a series with no step forward repeats its last time."""
    dm = WindowSeriesDataModule()
    hours = np.array(["2013-01-01T00", "2013-01-01T00", "2013-01-01T00", "2013-01-01T01", "2013-01-01T01",
                      "2013-01-01T01", "2013-01-01T02"], dtype="datetime64[s]")  # fmt: skip
    expected = np.array(["2013-01-01T03", "2013-01-01T04"], dtype="datetime64[s]")
    assert np.array_equal(dm.future_times(hours, 2), expected)
    assert np.array_equal(dm.future_times(hours[:3], 2), hours[:2])


# The weather chapter's samples


def test_a_weather_sample_is_the_books_generator_output_normalised_by_the_training_rows(tmp_path):
    """Present row i = 100 (training sample 40): inputs rows 40, 46, ..., 94 normalised by the mean and the
    unbiased (torch's default, N - 1) standard deviation of rows 0-299, target row 112's temperature the same way;
    ``target * scale + offset`` is the file's value and the time stamp row 112's time."""
    path = tmp_path / "jena.csv"
    values = write_jena(path, rows=600)
    assert np.array_equal(values, jena_values(600))
    dm = weather_dm(path)
    mean, std = values[:300].mean(0), values[:300].std(0, ddof=1)
    torch.testing.assert_close(dm.mean, torch.from_numpy(mean))
    torch.testing.assert_close(dm.std, torch.from_numpy(std))
    i = 100
    x, y, scale, offset, time = dm.splits["train"][i - 60]
    assert x.shape == (10, 14)
    torch.testing.assert_close(x, torch.from_numpy((values[40:100:6] - mean) / std).float())
    torch.testing.assert_close(y, torch.tensor((values[112, T] - mean[T]) / std[T], dtype=torch.float32))
    torch.testing.assert_close(float(y * scale + offset), values[112, T], rtol=1e-6, atol=1e-5)
    assert time == epoch_seconds(datetime(2009, 1, 1, 0, 10) + timedelta(minutes=10 * 112))


def test_every_splits_samples_stay_inside_its_own_rows(tmp_path):
    """train: present rows 60-287 (targets up to row 299); val: 360-437, its first inputs from row 300 and its last
    target row 449; test: 510-587 of 600; predict: all three, in order, each sample named by its split, then
    588-599, whose targets (delay 12) lie past the last row: unknown, at the times of the next 12 rows."""
    write_jena(tmp_path / "jena.csv")
    dm = weather_dm(tmp_path / "jena.csv")
    parts = (("train", 60, 287), ("val", 360, 437), ("test", 510, 587))
    for name, first, last in parts:
        present = dm.splits[name].present
        assert present.tolist() == list(range(first, last + 1)), name
    future = list(range(588, 600))
    assert dm.splits["predict"].present.tolist() == [r for _, a, b in parts for r in range(a, b + 1)] + future
    _, y, _, _, time = everything(dm.splits["predict"])
    assert torch.equal(y[-90:-12], everything(dm.splits["test"])[1]) and torch.isnan(y[-12:]).all()
    last = datetime(2009, 1, 1, 0, 10) + timedelta(minutes=10 * 599)
    assert time[-12:].tolist() == [epoch_seconds(last + timedelta(minutes=10 * k)) for k in range(1, 13)]
    assert dm.prediction_inputs() == {"split": ["train"] * 228 + ["val"] * 78 + ["test"] * 78 + ["future"] * 12}
    start = dm.splits["val"].present[0] + dm.splits["val"].lags[0]
    assert start == 300 and dm.splits["val"].present[-1] + dm.delay == 449
    x, *_ = dm.splits["val"][0]
    torch.testing.assert_close(x[0], ((torch.from_numpy(jena_values(600)[300]) - dm.mean) / dm.std).float())


def test_rows_after_train_end_do_not_change_the_statistics_or_the_training_samples(tmp_path):
    """Multiplying every value of rows 300 on by 100 leaves mean, std and all training samples as they were (and
    does change the validation samples)."""
    values = write_jena(tmp_path / "jena.csv")
    changed = values.copy()
    changed[300:] *= 100
    rewrite_jena(tmp_path / "jena.csv", tmp_path / "changed.csv", changed)
    plain, other = weather_dm(tmp_path / "jena.csv"), weather_dm(tmp_path / "changed.csv")
    assert torch.equal(plain.mean, other.mean) and torch.equal(plain.std, other.std)
    for a, b in zip(everything(plain.splits["train"]), everything(other.splits["train"]), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(everything(plain.splits["val"])[1], everything(other.splits["val"])[1])


def test_fractional_row_ends_round_the_row_count(tmp_path):
    """train_end 0.5, val_end 0.75 of 600 rows are rows 300 and 450: the same samples as the integer ends."""
    write_jena(tmp_path / "jena.csv")
    rows, fractions = weather_dm(tmp_path / "jena.csv"), weather_dm(tmp_path / "jena.csv", train_end=0.5, val_end=0.75)
    for split in ("train", "val", "test"):
        assert torch.equal(rows.splits[split].present, fractions.splits[split].present)


def test_weather_arguments_are_checked(tmp_path):
    """Bad lookback/step/delay, train_end not before val_end, mixed or fractional ends out of range."""
    for kwargs in ({"step": 0}, {"lookback": 5, "step": 6}, {"delay": -1}):
        with pytest.raises(ValueError, match="need 1 <= step <= lookback and delay >= 0"):
            WeatherDataModule(**{**WEATHER, **kwargs})
    for train_end, val_end in ((450, 300), (300, 300), (300, 0.75), (0, 300)):
        with pytest.raises(ValueError, match="need 0 < train_end < val_end"):
            WeatherDataModule(**{**WEATHER, "train_end": train_end, "val_end": val_end})
    with pytest.raises(ValueError, match="fractional val_end must be below 1"):
        WeatherDataModule(**{**WEATHER, "train_end": 0.5, "val_end": 1.0})
    with pytest.raises(ValueError, match="target_column 'T' must be one of value_columns"):
        WeatherDataModule(target_column="T")


def test_a_constant_training_column_is_named_in_the_error(tmp_path):
    """wd (deg) at 180 in every training row (varying later) has std 0: a DataError naming it, not NaN inputs."""
    values = write_jena(tmp_path / "jena.csv")
    values[:300, JENA_COLUMNS.index("wd (deg)")] = 180.0
    rewrite_jena(tmp_path / "jena.csv", tmp_path / "constant.csv", values)
    with pytest.raises(DataError, match=r"\['wd \(deg\)'\] never change in the 300 training rows, so they cannot be"):
        weather_dm(tmp_path / "constant.csv")
    # A model's checkpoint brings its training rows' statistics: new rows are scaled by them, constant or not (a
    # short file to forecast was refused for its constant columns)
    trained = weather_dm(tmp_path / "jena.csv")
    checked = WeatherDataModule(csv_file=str(tmp_path / "constant.csv"), download=False, **WEATHER)
    checked.load_state_dict(trained.state_dict())
    checked.setup("predict")
    assert torch.equal(checked.mean, trained.mean) and torch.equal(checked.std, trained.std)


def test_a_zero_a_window_ends_in_is_named_by_its_time(tmp_path, caplog):
    """The book's scaling divides each window by its last value: a 0 there is named by its row's time (it was "a
    window ends in 0", no file, no row)."""
    path = tmp_path / "closes.csv"
    write_closes(path, days=30)
    lines = path.read_text().splitlines()
    lines[15] = lines[15].split(",")[0] + ",0"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"closes.csv: the row of {weekdays(15)[-1]}T00:00:00 holds a 0, and a window"):
        stock_dm(path)
    assert len(stock_dm(path, scale_by_last=False).splits["predict"]) == 20 + 1  # 30 days, windows of 10
    # A 0 in the last row ends no window with a known target: the data train, with no forecast past the file
    write_closes(path, days=30)
    lines = path.read_text().splitlines()
    lines[-1] = lines[-1].split(",")[0] + ",0"
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.INFO):
        last_zero = stock_dm(path)
    assert len(last_zero.splits["predict"]) == 20 and "the last row holds a 0, so no forecast past it" in caplog.text
    assert last_zero.prediction_inputs()["split"][-1] == "val"


def test_too_few_rows_for_lookback_and_delay_is_an_error(tmp_path):
    """val rows 300-350 (50) or 300-372 (72) cannot hold lookback 60 + delay 12 and a sample; val_end at the last
    row leaves nothing to test."""
    write_jena(tmp_path / "jena.csv")
    with pytest.raises(DataError, match="the val rows 300-350 are too few for lookback 60 and delay 12"):
        weather_dm(tmp_path / "jena.csv", val_end=350)
    with pytest.raises(DataError, match="the val rows 300-372 are too few"):  # 72 rows: no sample at all
        weather_dm(tmp_path / "jena.csv", val_end=372)
    with pytest.raises(DataError, match="600 rows, but val_end is row 600"):
        weather_dm(tmp_path / "jena.csv", val_end=600)


def test_the_nyc_file_serves_one_airport_with_its_blanks_filled(data_root):
    """EWR's 300 rows with their 18 blank pressures filled (ffill, the default), three chosen columns; each split
    loses lookback 24 + delay 6 of its rows: 150 - 30 train, 75 - 30 validate, 75 - 30 test."""
    dm = WeatherDataModule(
        csv_file="weather/nyc_2013_hourly.csv.gz", time_column="time_hour", value_columns=["temp", "dewp", "pressure"],
        target_column="temp", where={"origin": "EWR"}, lookback=24, step=1, delay=6, train_end=150, val_end=225,
        data_dir=str(data_root), download=False,
    )  # fmt: skip
    dm.setup("fit")
    assert dm.missing_rows == 18 and dm.input_size == 3 and dm.target_index == 0
    assert [len(dm.splits[s]) for s in ("train", "val", "test")] == [150 - 30, 75 - 30, 75 - 30]
    assert dm.time_gaps["gaps"] == 0


def test_forecast_times_are_written_as_the_csv_wrote_them(data_root, tmp_path):
    """forecasts.csv's times: the NYC file's UTC hours keep their Z (midnight too), the DJIA's days stay dates, and
    Jena's local times (01.01.2009 00:10:00) become ISO, to the second."""
    hours = np.array(["2013-01-01T06:00:00", "2013-01-02T00:00:00"], dtype="datetime64[s]")
    nyc = WeatherDataModule(
        csv_file="weather/nyc_2013_hourly.csv.gz", time_column="time_hour", value_columns=["temp"],
        target_column="temp", where={"origin": "EWR"}, lookback=24, step=1, delay=6, train_end=150, val_end=225,
        data_dir=str(data_root), download=False,
    )  # fmt: skip
    nyc.setup("predict")
    assert nyc.time_texts(hours) == ["2013-01-01T06:00:00Z", "2013-01-02T00:00:00Z"]
    djia = WindowSeriesDataModule(data_dir=str(data_root))
    djia.setup("predict")
    days = ["2001-01-02", "2001-01-03"]
    assert djia.time_texts(np.array(days, dtype="datetime64[s]")) == days
    write_jena(tmp_path / "jena.csv")
    assert weather_dm(tmp_path / "jena.csv").time_texts(hours) == ["2013-01-01T06:00:00", "2013-01-02T00:00:00"]
    # Times with an offset from UTC are read as their moments in UTC and so written with Z (they lost it, and read as
    # local times five hours off)
    offsets = "".join(f"2001-01-{d:02d}T09:30:00-05:00,{d}\n" for d in range(1, 31))
    zoned = stock_dm(write_csv(tmp_path / "zoned.csv", "Date,Close\n" + offsets))
    assert zoned.time_texts(np.array(["2001-01-17T14:30:00"], dtype="datetime64[s]")) == ["2001-01-17T14:30:00Z"]


def test_rows_missing_from_a_regular_series_are_counted_and_warned_of(data_root, tmp_path):
    """Two gaps cut from the fixture's hourly rows (one hour, then three): samples still count rows, and setup says
    where that stops meaning hours."""
    lines = gzip.decompress((data_root / "weather" / "nyc_2013_hourly.csv.gz").read_bytes()).decode().splitlines()
    kept = [line for i, line in enumerate(lines) if i not in {40, 100, 101, 102}]  # EWR's hours 39 and 99-101
    (tmp_path / "gaps.csv").write_text("\n".join(kept) + "\n")
    dm = WeatherDataModule(
        csv_file=str(tmp_path / "gaps.csv"), time_column="time_hour", value_columns=["temp"], target_column="temp",
        where={"origin": "EWR"},
        lookback=24, step=1, delay=6, train_end=150, val_end=225, download=False,
    )  # fmt: skip
    with pytest.warns(UserWarning, match=r"2 gaps in the time_hour column \(4 rows of 1:00:00 missing, the longest "
                      r"step 4:00:00\)"):  # fmt: skip
        dm.setup("fit")
    assert dm.time_gaps["rows_missing"] == 4


# Forecasters


def test_the_naive_baselines_mae_is_the_mean_gap_between_last_input_and_target(data_root, tmp_path):
    """validate() over the 78 validation samples in batches of 32, 32, 14 gives val/mae = mean |x[:, -1, T] - y|
    (computed here over all samples at once) and val/mae_units = that times std[T]."""
    dm = WeatherDataModule(data_dir=str(data_root), download=False, batch_size=32, **WEATHER)
    t = trainer(tmp_path)
    t.validate(NaiveForecaster(input_size=14, target_index=T), datamodule=dm)
    x, y, *_ = everything(dm.splits["val"])
    assert len(y) == 78
    mae = (x[:, -1, T].double() - y.double()).abs().mean()
    assert float(t.callback_metrics["val/mae"]) == pytest.approx(float(mae), rel=1e-6)
    assert float(t.callback_metrics["val/mae_units"]) == pytest.approx(float(mae * dm.std[T]), rel=1e-5)
    mse = (x[:, -1, T].double() - y.double()).pow(2).mean()
    assert float(t.callback_metrics["val/mse"]) == pytest.approx(float(mse), rel=1e-6)
    assert float(t.callback_metrics["val/loss"]) == pytest.approx(float(mse), rel=1e-6)  # the default loss is MSE


def test_forecasts_are_written_in_the_datas_units(data_root, tmp_path):
    """A GRU(4) fitted two steps on the 120 closes predicts all 110 windows: forecasts.csv has one row per window,
    its date, the raw close as target (8 significant digits: float32's), the model's forecast times the window's
    last close, error = forecast - target, and the window's split; then the forecast of the day after the last
    close, its target and error blank; forecast.png is a PNG."""
    closes = np.array(write_closes(tmp_path / "same.csv"))  # the fixture's closes (same seed and length)
    assert np.array_equal(np.loadtxt(data_root / "stocks" / "djia_2001_2017.csv", delimiter=",", skiprows=1,
                                     usecols=1), closes)  # fmt: skip
    dm = WindowSeriesDataModule(data_dir=str(data_root), batch_size=32)
    torch.manual_seed(0)
    model = RecurrentForecaster(hidden_size=4)
    out = tmp_path / "predictions"
    t = trainer(tmp_path, max_steps=2, limit_val_batches=0, enable_checkpointing=False,
                callbacks=[PredictionWriter(output_dir=str(out))])  # fmt: skip
    t.fit(model, datamodule=dm)
    t.predict(model, datamodule=dm)
    rows = list(csv.DictReader(open(out / "forecasts.csv")))
    assert len(rows) == 110 + 1 and list(rows[0]) == ["time", "target", "forecast", "error", "split"]
    assert [r["split"] for r in rows] == ["train"] * 77 + ["val"] * 33 + ["future"]  # int(110 * 0.7); val tests
    dates = weekdays(120)
    future = rows.pop()
    assert future["time"] == (dates[-1] + timedelta(days=1)).isoformat() and future["target"] == future["error"] == ""
    x, _, scale, _, _ = everything(dm.splits["predict"])
    model.eval()
    with torch.no_grad():
        expected = (model(x) * scale).double().numpy()
    assert float(future["forecast"]) == pytest.approx(expected[-1], rel=1e-6)  # from the last 10 closes
    for k, row in enumerate(rows):
        assert row["time"] == dates[k + 10].isoformat()  # a daily series: dates, as in the CSV
        assert float(row["target"]) == pytest.approx(closes[k + 10], rel=2e-7)
        assert float(row["forecast"]) == pytest.approx(expected[k], rel=1e-6)
        assert float(row["error"]) == pytest.approx(float(row["forecast"]) - float(row["target"]), abs=0.11)
    assert any(abs(float(r["error"])) > 1 for r in rows)  # the model is untrained: its errors are no rounding
    png = (out / "forecast.png").read_bytes()
    assert len(png) > 1000 and png.startswith(b"\x89PNG\r\n\x1a\n")


def test_with_wandb_predict_also_logs_a_line_chart_of_truth_and_forecast(data_root, tmp_path, monkeypatch):
    """With a WandbLogger (disabled mode), predict still writes its files and logs predict/forecast, a line chart."""
    import wandb
    from pytorch_lightning.loggers import WandbLogger

    logged = []
    monkeypatch.setattr(wandb.plot, "line_series", lambda **kwargs: logged.append(kwargs) or "chart")
    dm = WindowSeriesDataModule(data_dir=str(data_root))
    t = trainer(tmp_path, logger=WandbLogger(save_dir=str(tmp_path)), callbacks=[PredictionWriter(str(tmp_path))])
    t.predict(RecurrentForecaster(hidden_size=4), datamodule=dm)
    assert (tmp_path / "forecasts.csv").is_file()
    (chart,) = logged
    assert chart["keys"] == ["truth", "forecast"] and len(chart["xs"]) == 110 + 1 and chart["xs"][:2] == [0.0, 1.0]
    assert chart["ys"][0][-1] is None and chart["ys"][1][-1] is not None  # the day after the file: no truth yet
    assert chart["xs"][5] == 7.0  # 2001-01-16 (Tue) -> 2001-01-23: a weekend between
    assert chart["ys"][0][0] == pytest.approx(write_closes(tmp_path / "same.csv")[10], rel=1e-6)


def test_the_stock_grus_parameters_differ_from_the_books_keras_count_by_bias_hh():
    """GRU(256) on 1 input: PyTorch 3 * 256 * (1 + 256) + 2 * 768 + Dense 257 = 199,169; the book's Keras 2 GRU
    (reset_after=False) has one bias vector fewer, 3 * (256 + 65,536 + 256) + 257 = 198,401."""
    model = RecurrentForecaster(input_size=1, hidden_size=256)
    total = sum(p.numel() for p in model.parameters())
    bias_hh = model.net.recurrent.layers[0].bias_hh_l0
    assert total == 199_169 and bias_hh.numel() == 3 * 256
    assert total - bias_hh.numel() == 3 * (1 * 256 + 256 * 256 + 256) + 257 == 198_401


def test_keras2_gives_the_books_gru_its_trainable_count_and_the_optimizer_the_books_epsilon():
    """--model.keras2 true trains Keras 2's 198,401 parameters (bias_hh frozen), runs the loop (hard_sigmoid gates,
    reset gate before the product) in evaluation too; eps reaches RMSprop, and an optimizer without one refuses it."""
    from lightning_zoo.keras import keras_optimizer

    model = RecurrentForecaster(input_size=1, hidden_size=256, keras2=True, eps=1e-8).eval()
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 198_401
    recurrent = model.net.recurrent
    assert recurrent.runs_the_loop() and not recurrent.reset_after and recurrent.recurrent_activation == "hard_sigmoid"
    assert model.configure_optimizers().defaults["eps"] == 1e-8
    assert RecurrentForecaster(input_size=1, hidden_size=4).configure_optimizers().defaults["eps"] == 1e-7
    with pytest.raises(ValueError, match="sgd has no epsilon"):
        keras_optimizer("sgd", model.parameters(), eps=1e-8)
    conv = ConvRecurrentForecaster(input_size=14, keras2=True)
    assert not conv.net.recurrent.reset_after and conv.net.recurrent.mask_per_gate


def test_the_convolutions_shorten_240_steps_to_74_before_the_gru():
    """Conv1D(5): 240 -> 236, MaxPool(3): 78, Conv1D(5): 74 steps of 32 filters reach the GRU; one value out."""
    model = ConvRecurrentForecaster(input_size=14).eval()
    seen = []
    model.net.recurrent.register_forward_hook(lambda module, args, output: seen.append(args[0].shape))
    with torch.no_grad():
        forecast = model(torch.randn(3, 240, 14))
    assert seen == [torch.Size([3, 74, 32])] and forecast.shape == (3,)
    assert sum(p.numel() for p in model.parameters()) == 13_793  # its card's count


# The options that make a sample travel with the checkpoint


def test_a_checkpoint_of_other_windows_is_refused_naming_the_option_and_the_same_ones_predict(data_root, tmp_path):
    """A GRU fitted on windows of 10 (Lightning restores the DataModule from its checkpoint): predicting with windows
    of 20 would run without a word; it is refused in one line. The same options, or another file, predict."""
    dm = WindowSeriesDataModule(data_dir=str(data_root), batch_size=32)
    t = trainer(tmp_path, max_steps=1, limit_val_batches=0, enable_checkpointing=False)
    t.fit(RecurrentForecaster(hidden_size=4), datamodule=dm)
    checkpoint = tmp_path / "gru.ckpt"
    t.save_checkpoint(checkpoint)
    assert torch.load(checkpoint, weights_only=False)["WindowSeriesDataModule"]["sample_options"] == {
        "value_columns": ["Close"], "target_column": "Close", "window": 10, "scale_by_last": True
    }  # fmt: skip
    other = WindowSeriesDataModule(data_dir=str(data_root), batch_size=32, window=20, scale_by_last=False)
    refusal = (r"^the checkpoint's samples were made with --data.window 10 \(here 20\), "
               r"--data.scale_by_last true \(here false\): pass the same options$")  # fmt: skip
    with pytest.raises(DataError, match=refusal):
        trainer(tmp_path).predict(RecurrentForecaster(hidden_size=4), datamodule=other, ckpt_path=checkpoint)
    write_closes(tmp_path / "copy.csv")
    same = WindowSeriesDataModule(csv_file=str(tmp_path / "copy.csv"), batch_size=32)
    assert len(trainer(tmp_path).predict(RecurrentForecaster(hidden_size=4), datamodule=same, ckpt_path=checkpoint))
    WindowSeriesDataModule().load_state_dict({})  # a checkpoint from before the options travelled: unchecked


def test_a_weather_checkpoint_brings_its_normalisation_and_refuses_another_lookback(tmp_path):
    """Another series (here the training rows shifted by 5) is scaled by the checkpoint's training statistics, not
    its own, whether the checkpoint is restored after setup (as Lightning does) or before; equal statistics leave
    the samples as they are; another lookback is refused by name."""
    values = write_jena(tmp_path / "jena.csv")
    rewrite_jena(tmp_path / "jena.csv", tmp_path / "shifted.csv", values + 5)
    trained = weather_dm(tmp_path / "jena.csv")
    state = trained.state_dict()
    assert state["mean"] == trained.mean.tolist() and state["sample_options"]["lookback"] == 60
    after = weather_dm(tmp_path / "shifted.csv")
    assert not torch.allclose(after.mean, trained.mean)
    after.load_state_dict(state)
    before = WeatherDataModule(csv_file=str(tmp_path / "shifted.csv"), download=False, **WEATHER)
    before.load_state_dict(state)
    before.setup("predict")
    shifted = torch.from_numpy(np.loadtxt(tmp_path / "shifted.csv", delimiter=",", skiprows=1, usecols=range(1, 15)))
    for dm in (after, before):
        assert torch.equal(dm.mean, trained.mean) and torch.equal(dm.std, trained.std)
        x, y, scale, offset, _ = everything(dm.splits["predict"])
        first = dm.splits["predict"].present[0]
        expected = ((shifted[first - 60 : first : 6] - trained.mean) / trained.std).float()
        torch.testing.assert_close(x[0], expected)
        known = dm.splits["predict"].present[:-12]  # the last 12 forecast past the file
        torch.testing.assert_close((y * scale + offset)[:-12], shifted[known + 12, 1].float())
    unchanged = weather_dm(tmp_path / "jena.csv")
    samples = unchanged.splits["predict"]
    unchanged.load_state_dict(state)
    assert unchanged.splits["predict"] is samples
    with pytest.raises(DataError, match=r"--data.lookback 60 \(here 120\)"):
        weather_dm(tmp_path / "jena.csv", lookback=120).load_state_dict(state)


def test_a_clock_put_back_is_refused_by_line_or_read_in_file_order_as_the_book_reads_rows(tmp_path):
    """Jena-format rows whose times go back an hour (a clock put back, as local time does in October): refused by
    default, the message naming the option that reads the rows as the book's generators do, whatever their times;
    with it every row is kept, in file order, and the times out of order are said."""
    path = tmp_path / "jena.csv"
    write_jena(path)
    lines = path.read_text().splitlines()
    lines[101] = lines[95].split(",", 1)[0] + "," + lines[101].split(",", 1)[1]  # row 101 at row 95's time
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"jena.csv, line 102: Date Time 2009-01-01T15:50:00 is earlier than line 101's"
                       r" .*read the rows in file order, as the book does: --data.time_order rows\)$"):  # fmt: skip
        weather_dm(path)
    with pytest.warns(UserWarning, match="is earlier than line 101's, and 0 more rows' times do not follow the row"):
        rows = weather_dm(path, time_order="rows")
    write_jena(tmp_path / "clean.csv")
    clean = weather_dm(tmp_path / "clean.csv")
    assert [len(rows.splits[s]) for s in ("train", "val", "test")] == [
        len(clean.splits[s]) for s in ("train", "val", "test")
    ]
    torch.testing.assert_close(everything(rows.splits["train"])[0], everything(clean.splits["train"])[0])


def test_an_unreadable_jena_archive_says_to_delete_it(tmp_path):
    """A damaged archive counts as present: every later run would fail on it, so the message says what to do."""
    dm = WeatherDataModule(data_dir=str(tmp_path), download=False)
    archive = dm.csv_path.with_name(dm.csv_path.name + ".zip")
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"not a zip")
    with pytest.raises(DatasetUnavailableError, match=r"holds no readable jena_climate_2009_2016.csv .*: delete it "
                                                      r"and put a complete copy there$"):  # fmt: skip
        dm.prepare_data()
