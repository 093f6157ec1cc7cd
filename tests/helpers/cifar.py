"""A tiny CIFAR-10 archive in the real format (a tar.gz of pickled batches), written by the tests."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np


def cifar_batch(rng: np.random.Generator, n: int) -> dict[bytes, object]:
    """A batch as the archive pickles it: uint8 rows of 3,072 (R, G, B planes of 32x32) and a list of labels; class c
    lights up row band c of the red plane, so that the images are learnable."""
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 80, (n, 3, 32, 32), dtype=np.uint8)
    for i, c in enumerate(labels):
        images[i, 0, 3 * c : 3 * c + 2] = 255
    return {b"batch_label": b"fixture", b"labels": labels.tolist(), b"data": images.reshape(n, -1)}


def write_cifar10(root: Path, per_batch: int = 20, seed: int = 0, unpack: bool = False) -> Path:
    """``root/cifar-10-python.tar.gz`` (5 training batches and a test batch of ``per_batch`` images); with ``unpack``
    also the ``cifar-10-batches-py/`` folder torchvision leaves beside it."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    batches = {f"data_batch_{i}": cifar_batch(rng, per_batch) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(rng, per_batch)
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as archive:
        for name, batch in batches.items():
            blob = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            archive.addfile(info, io.BytesIO(blob))
            if unpack:
                (root / "cifar-10-batches-py").mkdir(exist_ok=True)
                (root / "cifar-10-batches-py" / name).write_bytes(blob)
    return root
