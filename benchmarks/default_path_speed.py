"""What the default user path costs: `python cli.py fit` of the MLP as a user runs it (W&B logging offline,
checkpointing, the progress bar) against the same command with logger, progress bar and checkpointing off, and with
each of the three off alone, to see which one costs. Whole epochs (training, validation, checkpoint, logging),
epochs 2.. of each run; each run a process of its own (W&B's service process ends with it), variants interleaved
over rounds in a new order each round; wall and CPU seconds (CPU: the run's threads and child processes).
Target: default at most 1.10x the run with all three off.

Run it in a terminal (or under `script -qc "..." /dev/null`): a progress bar renders differently without one.

    python benchmarks/default_path_speed.py --data-dir ../shared/data --rounds 3 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytorch_lightning.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, add_data_dir, machine, write_result  # noqa: E402

OFF = {
    "logger": ["--trainer.logger", "false"],
    "progress_bar": ["--trainer.enable_progress_bar", "false"],
    "checkpointing": ["--trainer.enable_checkpointing", "false"],
}
VARIANTS = {
    "default": [],
    "all_off": [arg for args in OFF.values() for arg in args],
    **{f"without_{name}": args for name, args in OFF.items()},
}


def cpu_seconds() -> float:
    """CPU time of this process (all its threads) and of the processes it started (W&B's service), so far: unlike
    wall time, it does not grow when the virtual machine's neighbours take the CPU."""
    total = time.process_time()
    pending = [os.getpid()]
    while pending:
        pid = pending.pop()
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            for child in children.read_text().split():
                try:
                    fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:  # ended meanwhile
                    continue
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
                pending.append(int(child))
    return total


class WholeEpochTimer(Callback):
    """Writes to ``path`` the wall and CPU seconds from each training epoch's start to the next one's (validation,
    checkpoint and logging included)."""

    def __init__(self, path: str) -> None:
        self.path, self.marks = Path(path), []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.marks.append((time.perf_counter(), cpu_seconds()))

    def on_fit_end(self, trainer, pl_module) -> None:
        self.marks.append((time.perf_counter(), cpu_seconds()))
        pairs = list(zip(self.marks, self.marks[1:], strict=False))
        self.path.write_text(
            json.dumps({"wall": [b[0] - a[0] for a, b in pairs], "cpu": [b[1] - a[1] for a, b in pairs]})
        )


def run(variant: str, data_dir: str, epochs: int, threads: int, workdir: Path) -> dict[str, list[float]]:
    times = workdir / f"{variant}.json"
    command = [
        sys.executable, str(ROOT / "cli.py"), "fit", "--config", str(ROOT / "configs/classification/mlp_mnist.yaml"),
        "--data.data_dir", data_dir, "--trainer.max_epochs", str(epochs),
        "--trainer.default_root_dir", str(workdir / variant), *VARIANTS[variant],
        "--trainer.callbacks+=benchmarks.default_path_speed.WholeEpochTimer", "--trainer.callbacks.path", str(times),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    subprocess.run(command, env=env, cwd=ROOT, check=True)  # output to this terminal, as a user sees it
    return {kind: values[1:] for kind, values in json.loads(times.read_text()).items()}  # epoch 1 warms up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default="default_path_speed")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    os.environ.pop("WANDB_API_KEY", None)  # W&B offline, as for a user without credentials
    os.environ.pop("WANDB_MODE", None)
    variants = {name: VARIANTS[name] for name in args.variants}
    seconds = {kind: {name: [] for name in variants} for kind in ("wall", "cpu")}
    with tempfile.TemporaryDirectory() as workdir:
        for round_ in range(args.rounds):
            # A new order each round: on a shared VM, epoch times drift by tens of percent over minutes.
            for name in random.Random(round_).sample(list(variants), len(variants)):
                for kind, values in run(name, args.data_dir, args.epochs, args.threads, Path(workdir)).items():
                    seconds[kind][name] += values
    median = {kind: {n: statistics.median(v) for n, v in by_name.items()} for kind, by_name in seconds.items()}
    costs = {
        f"{kind}_cost_of_{name}": round(median[kind]["default"] / median[kind][f"without_{name}"], 3)
        for kind in median
        for name in OFF
        if f"without_{name}" in variants
    }
    write_result(
        args.name,
        {
            "what": "seconds per whole MLP epoch (train + validation + checkpoint + logging) through `cli.py fit`, "
            "medians over rounds and epochs 2..; default = W&B offline, checkpointing, progress bar",
            "stdout_is_a_terminal": sys.stdout.isatty(),
            "seconds_per_epoch": {k: {n: round(v, 3) for n, v in by_name.items()} for k, by_name in median.items()},
            "seconds_each_epoch": {
                k: {n: [round(v, 3) for v in vs] for n, vs in by_name.items()} for k, by_name in seconds.items()
            },
            "ratio_default_over_all_off": {k: round(m["default"] / m["all_off"], 3) for k, m in median.items()},
            "cost_of_each_feature": costs,
            **machine(),
            "cpu_threads": args.threads,
        },
    )


if __name__ == "__main__":
    main()
