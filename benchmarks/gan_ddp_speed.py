"""Seconds per training batch of a GAN under DDP with 2 CPU processes (gloo, one thread each): the zoo's ddp_gan
strategy (each network in its own DistributedDataParallel) against Lightning's ddp_find_unused_parameters_true (one
wrapper, a graph scan after every forward), runs interleaved. Writes benchmarks/results/gan_ddp_speed_<config>.json.

    python benchmarks/gan_ddp_speed.py --config configs/gan/dcgan_mnist.yaml --data-dir ../shared/data --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, add_data_dir, machine, write_result  # noqa: E402
from benchmarks.step_time import BatchTimer  # noqa: E402

STRATEGIES = ("ddp_gan", "ddp_find_unused_parameters_true")


class RankZeroBatchTimes(BatchTimer):
    """Batch times of rank 0, written to ``path`` when training ends."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.global_rank == 0:
            Path(self.path).write_text(json.dumps(self.seconds))


def run(config: Path, data_dir: str, strategy: str, batches: int, batch_size: int, out: Path) -> list[float]:
    command = [
        sys.executable, str(ROOT / "cli.py"), "fit", "--config", str(config), "--data.data_dir", data_dir,
        "--data.batch_size", str(batch_size), "--trainer.strategy", strategy, "--trainer.devices", "2",
        "--trainer.accelerator", "cpu", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", str(batches),
        "--trainer.limit_val_batches", "0", "--trainer.logger", "false", "--trainer.enable_checkpointing", "false",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--trainer.callbacks+=benchmarks.gan_ddp_speed.RankZeroBatchTimes", "--trainer.callbacks.path", str(out),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=out.parent)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "configs/gan/dcgan_mnist.yaml")
    add_data_dir(parser)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each strategy, interleaved")
    parser.add_argument("--batches", type=int, default=20, help="batches a run; the first 3 are warm-up")
    parser.add_argument("--batch-size", type=int, default=64, help="per process")
    args = parser.parse_args()
    times: dict[str, list[float]] = {s: [] for s in STRATEGIES}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for strategy in STRATEGIES:
                out = Path(folder) / f"{strategy}_{round_}.json"
                times[strategy] += run(args.config, args.data_dir, strategy, args.batches, args.batch_size, out)[3:]
    medians = {s: statistics.median(t) for s, t in times.items()}
    write_result(
        f"gan_ddp_speed_{args.config.stem}",
        {
            "what": f"seconds per training batch of {args.config.name} on rank 0 of 2 CPU processes (gloo, 1 thread "
            f"each, batch {args.batch_size} per process), {args.rounds} interleaved runs of {args.batches} batches per "
            "strategy, the first 3 of each run dropped; medians",
            "median_s": {s: round(m, 4) for s, m in medians.items()},
            "ratio_ddp_gan_over_find_unused": round(medians["ddp_gan"] / medians["ddp_find_unused_parameters_true"], 3),
            "batch_s": {s: [round(x, 4) for x in t] for s, t in times.items()},
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
