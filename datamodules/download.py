"""Checksummed downloads that either complete or leave nothing behind."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from datamodules.base import DatasetUnavailableError

CHUNK = 1 << 20


def download_file(url: str, dest: Path, md5: str | None, timeout: float = 30.0) -> None:
    """Downloads ``url`` to ``dest`` through a temporary file that is renamed only once its MD5 matches (or, for a
    file without a published checksum, once it is complete)."""
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        digest = hashlib.md5()
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
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
) -> None:
    """Makes sure every file of ``resources`` (name -> md5, None where none is published) is in ``folder``,
    downloading the missing ones.

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
    if not download:
        raise DatasetUnavailableError(
            _how_to_place(
                dataset,
                folder,
                resources,
                missing,
                mirrors,
                "downloading is off (download=False, or setup() before prepare_data())",
            )
        )

    created = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for name in missing:
            errors = []
            for mirror in mirrors:
                try:
                    download_file(mirror + name, folder / name, resources[name])
                    break
                except OSError as err:  # URLError, timeouts and checksum mismatches are all OSErrors
                    errors.append(f"{mirror}{name}: {err}")
            else:
                raise DatasetUnavailableError(_how_to_place(dataset, folder, resources, missing, mirrors, *errors))
    except BaseException:
        for path in created:  # deepest first; only if still empty
            try:
                path.rmdir()
            except OSError:
                break
        raise


def _how_to_place(
    dataset: str,
    folder: Path,
    resources: Mapping[str, str | None],
    missing: Sequence[str],
    mirrors: Sequence[str],
    *reasons: str,
) -> str:
    files = "\n".join(
        f"  {folder.resolve() / name}" + (f"  (md5 {resources[name]})" if resources[name] else "") for name in missing
    )
    why = "\n".join(f"  {reason}" for reason in reasons)
    return (
        f"{dataset} is not in {folder.resolve()} and could not be downloaded:\n{why}\n"
        f"Place these files there by hand (from {mirrors[0]} or a copy of it):\n{files}\n"
        f"or point --data.data_dir (or the LIGHTNING_ZOO_DATA environment variable) at a folder that holds "
        f"{folder.parent.name}/{folder.name}/."
    )
