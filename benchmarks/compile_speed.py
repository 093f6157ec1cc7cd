"""What the opt-in `torch.compile` of a model's networks (`lightning_zoo.callbacks.CompileNetworks`) does to its
training epoch: the config's run with and without it, in one process, alternating over rounds; epochs 2.. of each
run (the first pays the compilation, reported apart). No logger, progress bar or checkpointing.

    python benchmarks/compile_speed.py --data-dir ../shared/data --config configs/classification/mlp_mnist.yaml
    python benchmarks/compile_speed.py --data-dir ../shared/data --config configs/gan/dcgan_mnist.yaml \\
        --trainer.limit_train_batches 40
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import add_data_dir, epoch_seconds, machine, write_result  # noqa: E402
from lightning_zoo.callbacks import CompileNetworks  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    add_data_dir(parser)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--name", help="results file name (default: compile_speed_<config>)")
    args, cli_args = parser.parse_known_args()
    first: dict[str, list[float]] = {"eager": [], "compiled": []}
    later: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(args.rounds):
        for variant in ("eager", "compiled"):
            callbacks = [CompileNetworks()] if variant == "compiled" else []
            durations = epoch_seconds(args.config, args.data_dir, args.epochs, callbacks, cli_args)
            first[variant].append(durations[0])
            later[variant] += durations[1:]
    median = {variant: statistics.median(values) for variant, values in later.items()}
    write_result(
        args.name or f"compile_speed_{args.config.stem}",
        {
            "what": "seconds per training epoch (no validation) with and without CompileNetworks (torch.compile of "
            "the networks, inductor), epochs 2.. of each run, median; first epochs (with compilation) apart",
            "config": str(args.config),
            "options": cli_args,
            "seconds_per_epoch": {variant: round(value, 3) for variant, value in median.items()},
            "speedup_compiled": round(median["eager"] / median["compiled"], 3),
            "first_epoch_seconds": {variant: [round(v, 2) for v in values] for variant, values in first.items()},
            "seconds_each_later_epoch": {variant: [round(v, 3) for v in values] for variant, values in later.items()},
            **machine(),
            "torch_threads": torch.get_num_threads(),
        },
    )


if __name__ == "__main__":
    main()
