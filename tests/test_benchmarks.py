"""The benchmark scripts' own logic that decides what a reported number is: where a chunked run goes on."""

from __future__ import annotations

import json
import os

import pytest
import torch

from benchmarks.common import resume_point


def checkpoint_after(path, epochs: int, mtime: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": epochs - 1}, path)  # Lightning's "epoch" is the index of the epoch just ended
    os.utime(path, (mtime, mtime))
    return path


def test_resume_point_takes_the_newest_last_checkpoint_or_the_one_named_and_cuts_the_record_to_it(tmp_path):
    workdir, results = tmp_path / "bench_run", tmp_path / "run.json"
    older = checkpoint_after(workdir / "lightning_logs/version_9/checkpoints/last.ckpt", 2, mtime=1_000)
    newest = checkpoint_after(workdir / "lightning_logs/version_10/checkpoints/last.ckpt", 3, mtime=2_000)
    checkpoint_after(workdir / "lightning_logs/version_10/checkpoints/epoch=0.ckpt", 1, mtime=3_000)  # not a last
    # version_10 sorts before version_9 by name: the newest is the one written last. The record goes on to an
    # epoch 4 that no checkpoint holds (a chunk stopped after writing it): it is not part of the run resumed.
    curve = [{"epoch": e, "val_acc_pct": 50 + e} for e in (1, 2, 3, 4)]
    results.write_text(json.dumps({"runs": [{"seed": 0, "curve": curve}], "command": "python first chunk"}))

    checkpoint, recorded, epochs = resume_point(workdir, results, lambda r: r["runs"][0]["curve"])

    assert checkpoint == newest
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert recorded["command"] == "python first chunk"
    # a checkpoint named (``--resume CKPT``, e.g. one carried from another machine) is taken as it is
    checkpoint, _, epochs = resume_point(older, results, lambda r: r["runs"][0]["curve"])
    assert checkpoint == older and [e["epoch"] for e in epochs] == [1, 2]


def test_resume_point_refuses_a_record_of_another_run_and_a_missing_one(tmp_path):
    workdir, results = tmp_path / "bench_run", tmp_path / "run.json"
    checkpoint_after(workdir / "checkpoints/last.ckpt", 3, mtime=1_000)
    results.write_text(json.dumps({"epochs": [{"epoch": 1}, {"epoch": 2}]}))  # stops short of the checkpoint's 3
    with pytest.raises(SystemExit, match=r"ends epoch 3, but .* records epochs \[1, 2\]: they are not one run"):
        resume_point(workdir, results)
    with pytest.raises(SystemExit, match="run without --resume first"):
        resume_point(tmp_path / "never_run", results)
    with pytest.raises(SystemExit, match="run without --resume first"):
        resume_point(workdir, tmp_path / "no_results.json")
