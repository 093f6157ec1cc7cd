"""Tiny weather CSVs in the Jena climate record's exact format and in the NYC hourly file's, written by the tests."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from datamodules.timeseries.weather import JENA_COLUMNS

NYC_HEADER = "origin,year,month,day,hour,temp,dewp,humid,wind_dir,wind_speed,wind_gust,precip,pressure,visib,time_hour"


def jena_values(rows: int, seed: int = 0) -> np.ndarray:
    """(rows, 14) values: a daily temperature cycle (144 rows a day) with noise, the other columns noisy too."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    values = rng.normal(0, 1, (rows, len(JENA_COLUMNS))) + 10
    values[:, 1] = 5 + 8 * np.sin(2 * np.pi * t / 144) + rng.normal(0, 0.5, rows)  # T (degC)
    return values.round(2)


def write_jena(path: Path, rows: int = 600, seed: int = 0) -> np.ndarray:
    """``jena_climate_2009_2016.csv`` as Keras ships it: quoted header, ``01.01.2009 00:10:00`` times every 10
    minutes, 14 columns of values; returns the values."""
    values = jena_values(rows, seed)
    start = datetime(2009, 1, 1, 0, 10)
    lines = [",".join(f'"{c}"' for c in ("Date Time", *JENA_COLUMNS))]
    for i, row in enumerate(values):
        stamp = (start + timedelta(minutes=10 * i)).strftime("%d.%m.%Y %H:%M:%S")
        lines.append(stamp + "," + ",".join(f"{v:.2f}" for v in row))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return values


def write_nyc(path: Path, hours: int = 300, seed: int = 0) -> None:
    """``nyc_2013_hourly.csv.gz``'s layout: two airports (EWR, then JFK) of hourly rows, some values blank."""
    rng = np.random.default_rng(seed)
    lines = [NYC_HEADER]
    for origin in ("EWR", "JFK"):
        for h in range(hours):
            stamp = datetime(2013, 1, 1, 6) + timedelta(hours=h)
            temp = 40 + 10 * np.sin(2 * np.pi * h / 24) + rng.normal(0, 1)
            pressure = "" if h % 17 == 5 else f"{1012 + rng.normal(0, 3):.1f}"  # blanks, as the real file has
            lines.append(
                f"{origin},2013,{stamp.month},{stamp.day},{stamp.hour},{temp:.2f},{temp - 10:.2f},"
                f"{rng.uniform(30, 90):.2f},"
                f"{rng.integers(0, 36) * 10}.0,{rng.uniform(0, 20):.5f},,{rng.choice([0, 0, 0.01, 0.05])},{pressure},"
                f"{rng.choice([10.0, 10.0, 6.0, 2.5])},"
                f"{stamp.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
