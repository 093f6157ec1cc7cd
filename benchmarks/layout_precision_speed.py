"""What bf16 mixed precision (``--trainer.precision bf16-mixed``) and the channels-last layout
(``lightning_zoo.callbacks.ChannelsLast``) do to a convolutional model's training epoch on this machine: the config's
run in float32, float32 channels-last, bf16 and bf16 channels-last, in one process, each round in its own shuffled
order (a run right after another is slower on a small VM); epochs 2.. of each run (the first warms oneDNN's kernel
caches), median, as ratios against float32. On a CPU bf16 pays only where the cores multiply bf16 in hardware (AMX or
AVX512-BF16): the result records the CPU's bf16 flags.

    python benchmarks/layout_precision_speed.py --config configs/gan/acgan_mnist.yaml --trainer.limit_train_batches 10
    python benchmarks/layout_precision_speed.py --config configs/gan/dcgan_mnist.yaml --trainer.limit_train_batches 40
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import add_data_dir, epoch_seconds, machine, write_result  # noqa: E402
from lightning_zoo.callbacks import ChannelsLast  # noqa: E402

VARIANTS = {  # name: (precision, channels-last)
    "float32": ("32-true", False),
    "float32_channels_last": ("32-true", True),
    "bf16": ("bf16-mixed", False),
    "bf16_channels_last": ("bf16-mixed", True),
}


def cpu_bf16_flags() -> list[str] | None:
    """The CPU's bf16 instructions as Linux lists them (``amx_bf16``, ``avx512_bf16``): what decides whether bf16 pays
    on a CPU. None where ``/proc/cpuinfo`` does not exist."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return None
    flags = next(
        (line.split(":", 1)[1].split() for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), []
    )
    return sorted(flag for flag in flags if "bf16" in flag)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    add_data_dir(parser)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--name", help="results file name (default: layout_precision_speed_<config>)")
    args, cli_args = parser.parse_known_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch of each run is a warm-up and does not count")
    later: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for round_ in range(args.rounds):
        for variant in random.Random(round_).sample(list(VARIANTS), len(VARIANTS)):
            precision, channels_last = VARIANTS[variant]
            callbacks = [ChannelsLast()] if channels_last else []
            options = ["--trainer.limit_val_batches", "0", *cli_args, "--trainer.precision", precision]
            later[variant] += epoch_seconds(args.config, args.data_dir, args.epochs, callbacks, options)[1:]
    median = {variant: statistics.median(values) for variant, values in later.items()}
    write_result(
        args.name or f"layout_precision_speed_{args.config.stem}",
        {
            "what": "seconds per training epoch (no validation) in float32 and bf16 mixed precision, each with and "
            "without ChannelsLast, epochs 2.. of each run, median; speedup: float32's seconds over the variant's",
            "config": str(args.config),
            "options": cli_args,
            "seconds_per_epoch": {variant: round(value, 3) for variant, value in median.items()},
            "speedup_over_float32": {variant: round(median["float32"] / value, 3) for variant, value in median.items()},
            "seconds_each_later_epoch": {variant: [round(v, 3) for v in values] for variant, values in later.items()},
            "cpu_bf16_flags": cpu_bf16_flags(),
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
