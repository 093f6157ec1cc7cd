"""A tiny ORL-format face database (subject folders s1, s2, ... of numbered binary PGM files), written by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_orl(
    folder: Path, subjects: int = 14, images: int = 10, size: tuple[int, int] = (32, 28), seed: int = 0
) -> Path:
    """``folder/s<i>/<j>.pgm``: each subject a random grey pattern of its own (height x width ``size``), each of its
    images that pattern (blocks of 4x4 pixels) shifted by up to two pixels and with fresh noise, so that subjects
    can be told apart."""
    rng = np.random.default_rng(seed)
    height, width = size
    for subject in range(1, subjects + 1):
        blocks = rng.integers(40, 216, (height // 4 + 2, width // 4 + 2))
        face = np.kron(blocks, np.ones((4, 4), dtype=np.int64))  # coarse features survive a shift of a pixel or two
        (folder / f"s{subject}").mkdir(parents=True, exist_ok=True)
        for image in range(1, images + 1):
            dy, dx = rng.integers(0, 3, 2)
            pixels = face[dy : dy + height, dx : dx + width] + rng.integers(-30, 30, (height, width))
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "L").save(folder / f"s{subject}" / f"{image}.pgm")
    return folder
