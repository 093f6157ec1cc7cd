"""DDP with 2 CPU processes (gloo), launched through the CLI as users launch it (DDP re-runs the script)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from tests.conftest import CLI, PYTHON, ROOT, subprocess_env

pytestmark = pytest.mark.ddp

CASES = {
    "mlp": (ROOT / "configs/classification/mlp_mnist.yaml", "ddp", ["--data.batch_size", "64"]),
    "dcgan": (
        ROOT / "configs/gan/dcgan_mnist.yaml",
        "ddp_find_unused_parameters_true",
        ["--data.batch_size", "16", "--data.train_split", "train", "--trainer.limit_train_batches", "2"],
    ),
}


def ddp_fit(name: str, data_root: Path, root: Path, max_epochs: int, *extra: str) -> None:
    config, strategy, options = CASES[name]
    command = [
        PYTHON, CLI, "fit", "--config", str(config), "--data.data_dir", str(data_root),
        "--trainer.strategy", strategy, "--trainer.devices", "2", "--trainer.accelerator", "cpu",
        "--trainer.max_epochs", str(max_epochs), "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
        "--trainer.default_root_dir", str(root), *options, *extra,
    ]  # fmt: skip
    done = subprocess.run(command, env=subprocess_env(), cwd=root.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.parametrize("name", CASES)
def test_ddp_trains_with_per_rank_data_and_randomness_and_resumes_exactly(
    name, data_root, tmp_path, feature_checkpoint
):
    probe = [
        "--trainer.callbacks+=tests.helpers.probe.RankProbe",
        "--trainer.callbacks.out_dir",
        str(tmp_path / "probe"),
    ]
    if name == "dcgan":  # classifier-FID from both ranks' shares; the resumed runs below, without it, must agree
        probe += [
            "--trainer.callbacks+=lightning_zoo.metrics.ClassifierFID", "--trainer.callbacks.num_samples", "32",
            "--trainer.callbacks.classifier_ckpt", str(feature_checkpoint),
        ]  # fmt: skip
    ddp_fit(name, data_root, tmp_path / "full", 2, *probe)
    ranks = [json.loads((tmp_path / "probe" / f"rank{r}.json").read_text()) for r in (0, 1)]

    # Each rank sees its own half of every epoch's data...
    for batch0, batch1 in zip(ranks[0]["samples"], ranks[1]["samples"], strict=True):
        assert not set(batch0) & set(batch1)
    # ...and draws its own dropout masks and noise...
    assert ranks[0]["dropout"] != ranks[1]["dropout"]
    if name == "dcgan":
        assert ranks[0]["noise"] != ranks[1]["noise"]
    # ...while the parameters and the logged epoch metrics are the same on every rank.
    assert ranks[0]["parameters"] == ranks[1]["parameters"]
    assert ranks[0]["metrics"] == ranks[1]["metrics"] and ranks[0]["metrics"]
    if name == "dcgan":
        assert ranks[0]["metrics"]["val/classifier_fid"] > 0

    # Stopped after epoch 1 of 2 and resumed: bitwise the uninterrupted run.
    ddp_fit(name, data_root, tmp_path / "part", 1)
    ddp_fit(name, data_root, tmp_path / "resumed", 2, "--ckpt_path", str(tmp_path / "part/checkpoints/last.ckpt"))
    full, resumed = (
        weights(tmp_path / "full/checkpoints/last.ckpt"),
        weights(tmp_path / "resumed/checkpoints/last.ckpt"),
    )
    assert full.keys() == resumed.keys()
    assert all(torch.equal(full[k], resumed[k]) for k in full)

    if name == "mlp":  # 2 batches per rank and epoch: stopped after the first batch of epoch 2, resumed mid-epoch
        every_step = [
            "--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.every_n_train_steps", "1",
            "--trainer.callbacks.save_top_k", "-1", "--trainer.callbacks.dirpath", str(tmp_path / "mid"),
        ]  # fmt: skip
        ddp_fit(name, data_root, tmp_path / "mid", 2, "--trainer.max_steps", "3", *every_step)
        mid_checkpoint = tmp_path / "mid/epoch=1-step=3.ckpt"
        ddp_fit(name, data_root, tmp_path / "mid_resumed", 2, "--ckpt_path", str(mid_checkpoint))
        resumed = weights(tmp_path / "mid_resumed/checkpoints/last.ckpt")
        assert all(torch.equal(full[k], resumed[k]) for k in full)
