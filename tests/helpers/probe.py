"""A callback that records, on every DDP rank, what that rank saw and drew, without disturbing the run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import Callback


class RankProbe(Callback):
    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)
        self.samples: list[list[str]] = []
        self.dropout: list[list[float]] = []
        self.latent: list[list[float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        # Each sample by a digest of its values (a weighted sum collides for small integers, such as token indices),
        # over every tensor of the batch: a pair of faces is one sample, and two pairs may share their first face.
        parts = [t for t in batch if isinstance(t, torch.Tensor) and len(t) == len(batch[0])]
        rows = torch.cat([t.detach().cpu().double().reshape(len(t), -1) for t in parts], 1).contiguous()
        self.samples.append([hashlib.sha256(row.numpy().tobytes()).hexdigest()[:16] for row in rows])
        with torch.random.fork_rng(devices=[]):  # draw as the model would, then put the RNG back
            self.dropout.append(F.dropout(torch.ones(32), 0.5).tolist())
            if hasattr(pl_module, "sample_latent"):
                self.latent.append(pl_module.sample_latent(2)["z"].flatten().tolist())

    def on_train_end(self, trainer, pl_module) -> None:
        digest = hashlib.sha256()
        # Parameters only: BatchNorm running statistics stay per rank without sync_batchnorm (GPU only), and
        # DDP broadcasts rank 0's at every step.
        for value in pl_module.parameters():
            digest.update(value.detach().cpu().numpy().tobytes())
        epoch_metrics = {
            k: float(v)
            for k, v in trainer.callback_metrics.items()
            if not k.endswith("_step") and k.startswith(("train/", "val/"))
        }
        report = dict(
            samples=self.samples,
            dropout=self.dropout,
            latent=self.latent,
            metrics=epoch_metrics,
            parameters=digest.hexdigest(),
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(report))


class GradientProbe(Callback):
    """Records, on every rank, a digest of every gradient left after each training batch (each network's from its
    last step), for comparing ranks batch by batch."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir, self.digests = Path(out_dir), []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        digest = hashlib.sha256()
        for name, parameter in sorted(pl_module.named_parameters()):
            if parameter.grad is not None:
                digest.update(name.encode() + parameter.grad.detach().cpu().numpy().tobytes())
        self.digests.append(digest.hexdigest())

    def on_train_end(self, trainer, pl_module) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"grads{trainer.global_rank}.json").write_text(json.dumps(self.digests))
