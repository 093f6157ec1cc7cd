"""Reads the records of an offline W&B run (wandb 0.31 keeps history and config only in ``run-<id>.wandb``)."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

from google.protobuf.message import DecodeError
from wandb.proto import wandb_internal_pb2

BLOCK, HEADER = 32768, 7  # LevelDB log format: 32 KiB blocks of records with a 7-byte header (crc, length, type)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: Path, timeout: float = 20.0) -> list[wandb_internal_pb2.Record]:
    """The records of a finished run's file. ``wandb.finish()`` can return while W&B's service still writes the file
    (a CI run once read it ending inside a record), so it is read again until it holds the run's exit record (or
    ``timeout`` seconds pass)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            records = parse_records(path.read_bytes(), path)
            if any(record.WhichOneof("record_type") == "exit" for record in records):
                return records
            error: Exception = EOFError(f"{path} holds no exit record: the run is still being written")
        except (DecodeError, EOFError) as err:
            error = err
        if time.monotonic() > deadline:
            raise error
        time.sleep(0.2)


def parse_records(data: bytes, path: Path) -> list[wandb_internal_pb2.Record]:
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    position, pending, payloads = 7, b"", []
    while position + HEADER <= len(data):
        if BLOCK - position % BLOCK < HEADER:  # block trailer too short for a header: skip to the next block
            position += BLOCK - position % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + HEADER])
        chunk = data[position + HEADER : position + HEADER + length]
        if len(chunk) < length:
            raise EOFError(f"{path} ends inside a record (still being written)")
        position += HEADER + length
        if kind == FULL:
            payloads.append(chunk)
        elif kind in (FIRST, MIDDLE):
            pending += chunk
        elif kind == LAST:
            payloads.append(pending + chunk)
            pending = b""
    records = []
    for payload in payloads:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        records.append(record)
    return records


def history_and_config(run_dir: Path) -> tuple[list[dict], dict]:
    """Every logged history row and the final config of an offline run folder."""
    [run_file] = run_dir.glob("run-*.wandb")
    history, config = [], {}
    for record in read_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append(
                {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            )
        elif kind in ("run", "config"):
            items = record.run.config.update if kind == "run" else record.config.update
            config.update({item.key: json.loads(item.value_json) for item in items})
    return history, config
