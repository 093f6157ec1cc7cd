"""Where the MLP's Lightning-over-plain time goes: milliseconds per training step on CPU for
(1) a minimal plain-PyTorch loop, (2) a bare LightningModule (same network, optimizer and DataModule; its training
step is one cross-entropy, no metrics or logging) and (3) the zoo's MLP with its metrics and logging, each run for a
few epochs in turn, in one process, repeated over rounds. (2) - (1) is Lightning's own per-step cost, (3) - (2) the
zoo's; the target is (3) at most 1.05x (2). Also counts the Python function calls per step of each (cProfile), a
noise-free proxy for that overhead. Writes benchmarks/results/lightning_overhead_<threads>_thread.json.

    python benchmarks/lightning_overhead.py --data-dir ../shared/data --threads 2 --rounds 5 --epochs 2
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import add_data_dir, machine, write_result  # noqa: E402
from datamodules import MNISTDataModule  # noqa: E402
from lightning_zoo.callbacks import EpochTimer  # noqa: E402
from lightning_zoo.classification import MLP  # noqa: E402


class BareModule(pl.LightningModule):
    """The MLP's network and optimizer in the smallest LightningModule: what Lightning's loop alone costs."""

    def __init__(self) -> None:
        super().__init__()
        self.mlp = MLP()

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self.mlp(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.mlp.configure_optimizers()


class Profiled(Callback):
    """cProfile over the last training epoch."""

    def __init__(self) -> None:
        self.profile = cProfile.Profile()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == trainer.max_epochs - 1:
            self.profile.enable()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.profile.disable()


def lightning_epochs(module: pl.LightningModule, datamodule: MNISTDataModule, epochs: int, callback: Callback) -> int:
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[callback],
    )
    trainer.fit(module, datamodule)
    return trainer.num_training_batches


def plain_epoch(model: MLP, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, batch: int) -> None:
    order = torch.randperm(len(x))
    for i in range(0, len(x), batch):
        idx = order[i : i + batch]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir(parser)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3, help="per variant and round; the first warms up")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pl.seed_everything(0)
    datamodule = MNISTDataModule(data_dir=args.data_dir, flatten=True)
    datamodule.prepare_data()
    datamodule.setup("fit")
    x, y = datamodule.splits["train"].tensors
    steps = len(datamodule.train_dataloader())

    def plain() -> list[float]:
        model = MLP()
        optimizer = model.configure_optimizers()
        durations = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            plain_epoch(model, optimizer, x, y, datamodule.batch_size)
            durations.append(time.perf_counter() - start)
        return durations

    def through_lightning(make: Callable[[], pl.LightningModule]) -> Callable[[], list[float]]:
        def run() -> list[float]:
            timer = EpochTimer()
            lightning_epochs(make(), datamodule, args.epochs, timer)
            return timer.durations

        return run

    variants = {"plain": plain, "bare_lightning": through_lightning(BareModule), "zoo_mlp": through_lightning(MLP)}
    ms_per_step: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            ms_per_step[name].append(1000 * statistics.median(run()[1:]) / steps)
    median = {name: statistics.median(values) for name, values in ms_per_step.items()}

    calls = {}
    for name, make in (("bare_lightning", BareModule), ("zoo_mlp", MLP)):
        profiled = Profiled()
        lightning_epochs(make(), datamodule, 2, profiled)
        calls[name] = round(pstats.Stats(profiled.profile).total_calls / steps)
    profile = cProfile.Profile()
    model = MLP()
    profile.runcall(plain_epoch, model, model.configure_optimizers(), x, y, datamodule.batch_size)
    calls["plain"] = round(pstats.Stats(profile).total_calls / steps)

    # What the zoo adds to a training step, timed alone (noise-free next to whole epochs): the epoch metrics' update
    # and the non-finite-loss check, on a real batch.
    zoo = MLP()
    features, labels = next(iter(datamodule.train_dataloader()))
    logits = zoo(features)
    loss = F.cross_entropy(logits, labels)

    def zoo_additions() -> None:
        zoo.check_finite(loss)
        zoo.epoch_means["train"].update(len(labels), loss=loss * len(labels), acc=(logits.argmax(-1) == labels).sum())

    zoo_us = min(timeit.repeat(zoo_additions, number=1000, repeat=5)) / 1000 * 1e6

    write_result(
        f"lightning_overhead_{args.threads}_thread",
        {
            "what": "ms per MLP training step on CPU (MNIST, batch 128): plain loop, bare LightningModule, the zoo's "
            "MLP; medians over rounds of the per-round median epoch; and Python calls per step (cProfile)",
            "ms_per_step": {name: round(value, 3) for name, value in median.items()},
            "ms_per_step_each_round": {name: [round(v, 3) for v in values] for name, values in ms_per_step.items()},
            "lightning_loop_ms_per_step": round(median["bare_lightning"] - median["plain"], 3),
            "zoo_module_ms_per_step": round(median["zoo_mlp"] - median["bare_lightning"], 3),
            "ratio_bare_lightning_over_plain": round(median["bare_lightning"] / median["plain"], 3),
            "ratio_zoo_mlp_over_plain": round(median["zoo_mlp"] / median["plain"], 3),
            # The target: the zoo's module at most 1.05x a bare LightningModule (same network, optimizer and data).
            "ratio_zoo_mlp_over_bare_lightning": round(median["zoo_mlp"] / median["bare_lightning"], 3),
            "ratio_zoo_mlp_over_bare_lightning_each_round": [
                round(z / b, 3) for z, b in zip(ms_per_step["zoo_mlp"], ms_per_step["bare_lightning"], strict=True)
            ],
            "python_calls_per_step": calls,
            "zoo_additions_us_per_step_timed_alone": round(zoo_us, 1),
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
