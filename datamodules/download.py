"""Checksummed downloads that either complete or leave nothing behind."""

from __future__ import annotations

import functools
import hashlib
import os
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from datamodules.base import DataError, DatasetUnavailableError

CHUNK = 1 << 20


def download_file(url: str, dest: Path, md5: str | None, timeout: float = 30.0) -> None:
    """Downloads ``url`` to ``dest`` through a temporary file that is renamed only once its MD5 matches (or, for a
    file without a published checksum, once it is complete)."""
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        digest, received = hashlib.md5(), 0
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            promised = response.headers.get("Content-Length")
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
        # A connection closed early ends the reads without an error (http.client does not raise IncompleteRead)
        if promised is not None and promised.isdigit() and received != int(promised):
            raise OSError(f"incomplete download: {received:,} of {int(promised):,} bytes")
        if md5 is not None and digest.hexdigest() != md5:
            raise OSError(f"checksum mismatch: md5 {digest.hexdigest()}, expected {md5}")
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)


def ensure_files(
    folder: Path,
    resources: Mapping[str, str | None],
    mirrors: Sequence[str],
    dataset: str,
    download: bool = True,
    uncompressed_ok: bool = True,
    data_dir: Path | None = None,
) -> None:
    """Makes sure every file of ``resources`` (name -> md5, None where none is published) is in ``folder``,
    downloading the missing ones.

    ``data_dir`` is the data root ``folder`` lies in: the message of a missing dataset tells the user to point
    ``--data.data_dir`` at a folder that holds ``folder``'s path below it (``MNIST/raw/``); without it, ``folder`` is
    taken to lie directly in the root (``imdb/``). A path that runs through a file, or a folder that cannot be made,
    ends with a :class:`DataError` naming it.

    A file also counts as present in its uncompressed form (``x.gz`` as ``x``), the layout torchvision leaves after
    extraction. Files already present are trusted, as torchvision trusts them: the checksums are those of the
    archives as published, which an uncompressed or re-compressed copy does not have, and the readers validate the
    structure (an IDX file's magic number and sizes, a JSON review's fields) with an error naming the file. On
    failure, folders this call created are removed again.
    """

    def present(name: str) -> bool:
        return (folder / name).is_file() or (uncompressed_ok and (folder / name.removesuffix(".gz")).is_file())

    missing = [name for name in resources if not present(name)]
    if not missing:
        return
    _check_no_file_in_the_way(folder)
    place = functools.partial(_how_to_place, dataset, folder, resources, missing, mirrors, data_dir)
    if not download:
        raise DatasetUnavailableError(place("downloading is off (download=False, or setup() before prepare_data())"))

    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # no permission, a read-only copy
            raise DatasetUnavailableError(place(f"cannot create {folder} ({err.strerror or err})")) from err
        for name in missing:
            errors = []
            for mirror in mirrors:
                try:
                    download_file(mirror + name, folder / name, resources[name])
                    break
                except OSError as err:  # URLError, timeouts and checksum mismatches are all OSErrors
                    errors.append(f"{mirror}{name}: {err}")
            else:
                raise DatasetUnavailableError(place(*errors))
    except BaseException:
        for path in created:  # deepest first; only if still empty
            try:
                path.rmdir()
            except OSError:
                break
        raise


def _check_no_file_in_the_way(folder: Path) -> None:
    """A :class:`DataError` when a part of ``folder``'s path is a file (``--data.data_dir`` pointed at a file)."""
    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                raise DataError(
                    f"{path} is a file, not a folder: point --data.data_dir (or the LIGHTNING_ZOO_DATA environment "
                    "variable) at the folder that holds the datasets"
                )
            return


def below_root(folder: Path, data_dir: Path | None) -> Path | None:
    """``folder``'s path below the data root ``data_dir`` (``MNIST/raw``; ``.`` for the root itself); its own name
    when the root is not known; None when it does not lie below the root."""
    if data_dir is None:
        return Path(folder.name)
    try:
        return Path(os.path.abspath(folder)).relative_to(os.path.abspath(data_dir))
    except ValueError:
        return None


def _how_to_place(
    dataset: str,
    folder: Path,
    resources: Mapping[str, str | None],
    missing: Sequence[str],
    mirrors: Sequence[str],
    data_dir: Path | None,
    *reasons: str,
) -> str:
    files = "\n".join(
        f"  {folder.resolve() / name}" + (f"  (md5 {resources[name]})" if resources[name] else "") for name in missing
    )
    why = "\n".join(f"  {reason}" for reason in reasons)
    text = (
        f"{dataset} is not in {folder.resolve()} and could not be downloaded:\n{why}\n"
        f"Place these files there by hand (from {mirrors[0]} or a copy of it):\n{files}"
    )
    relative = below_root(folder, data_dir)
    if relative is None:  # a file named outside the data root: the root does not matter
        return text
    holds = ", ".join(missing) if relative == Path(".") else f"{relative.as_posix()}/"
    return (
        f"{text}\nor point --data.data_dir (or the LIGHTNING_ZOO_DATA environment variable) at a folder that holds "
        f"{holds}."
    )
