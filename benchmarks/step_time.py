"""Seconds per training batch of any config on this machine (a few batches after a warm-up one, no logger, progress
bar or checkpointing), and the epoch and full-schedule time they imply: to decide what a CPU can run and what needs a
GPU. Writes benchmarks/results/step_time_<config>.json.

    python benchmarks/step_time.py --config configs/gan/acgan_mnist.yaml --data-dir ../shared/data --batches 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml
from pytorch_lightning.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import add_data_dir, machine, quiet_fit, write_result  # noqa: E402


class BatchTimer(Callback):
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    add_data_dir(parser)
    parser.add_argument("--batches", type=int, default=3, help="timed batches, after one warm-up batch")
    args, cli_args = parser.parse_known_args()
    timer = BatchTimer()
    limits = ["--trainer.limit_train_batches", str(args.batches + 1), "--trainer.limit_val_batches", "0"]
    cli = quiet_fit(args.config, args.data_dir, 1, [timer], [*limits, *cli_args])
    per_batch = statistics.median(timer.seconds[1:])
    batches = len(cli.datamodule.train_dataloader())
    epochs = yaml.safe_load(args.config.read_text())["trainer"]["max_epochs"]
    write_result(
        f"step_time_{args.config.stem}",
        {
            "config": str(args.config),
            "options": cli_args,
            "seconds_per_batch": round(per_batch, 3),
            "batches_per_epoch": batches,
            "hours_per_epoch": round(per_batch * batches / 3600, 2),
            "configured_epochs": epochs,
            "hours_for_the_configured_epochs": round(per_batch * batches * epochs / 3600, 1),
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
