"""Tiny folders of real image files (JPEG, PNG), written by the tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def learnable_image(rng: np.random.Generator, label: int, size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A noisy RGB image whose class shows: class c has a bright vertical bar at a position that depends on c."""
    width, height = size
    pixels = rng.integers(0, 90, (height, width, 3), dtype=np.uint8)
    left = (5 + 9 * label) % (width - 6)
    pixels[:, left : left + 6] = 255
    return Image.fromarray(pixels, "RGB")


def write_image_folder(
    folder: Path, counts: dict[str, int], classes: Sequence[str] = ("cats", "dogs"), seed: int = 0
) -> Path:
    """``folder/<split>/<class>/<prefix>.<i>.jpg`` with ``counts[split]`` images per class (a split named "" writes
    the class folders directly under ``folder``)."""
    rng = np.random.default_rng(seed)
    for split, count in counts.items():
        for label, name in enumerate(classes):
            target = folder / split / name
            target.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                learnable_image(rng, label).save(target / f"{name.rstrip('s')}.{i}.jpg", quality=95)
    return folder
