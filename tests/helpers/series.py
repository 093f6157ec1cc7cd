"""Tiny CSV time series in the real files' formats, written by the tests."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np


def write_closes(path: Path, days: int = 120, seed: int = 0) -> list[float]:
    """``Date,Close`` rows of a seeded random walk around 10,000 on weekdays from 2001-01-02 (the DJIA file's
    layout); returns the closes."""
    rng = np.random.default_rng(seed)
    closes = (10_000 * np.exp(np.cumsum(rng.normal(0, 0.01, days)))).round(6).tolist()
    day, rows = date(2001, 1, 2), []
    for close in closes:
        while day.weekday() >= 5:
            day += timedelta(days=1)
        rows.append(f"{day.isoformat()},{close:.6f}")
        day += timedelta(days=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Date,Close\n" + "\n".join(rows) + "\n")
    return closes
