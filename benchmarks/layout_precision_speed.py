"""What bf16 mixed precision (``--trainer.precision bf16-mixed``) and the channels-last layout
(``lightning_zoo.callbacks.ChannelsLast``) do to a convolutional model's training epoch on this machine: the config's
run in float32, float32 channels-last, bf16 and bf16 channels-last, in one process, alternating over rounds; epochs
2.. of each run (the first warms oneDNN's kernel caches), median, as ratios against float32. On a CPU bf16 pays only
where the cores multiply bf16 in hardware (AMX or AVX512-BF16; ``lscpu | grep bf16``); the result names the CPU.

    python benchmarks/layout_precision_speed.py --config configs/gan/acgan_mnist.yaml --trainer.limit_train_batches 10
    python benchmarks/layout_precision_speed.py --config configs/gan/dcgan_mnist.yaml --trainer.limit_train_batches 40
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DEFAULT_DATA, epoch_seconds, machine, write_result  # noqa: E402
from lightning_zoo.callbacks import ChannelsLast  # noqa: E402

VARIANTS = {  # name: (precision, channels-last)
    "float32": ("32-true", False),
    "float32_channels_last": ("32-true", True),
    "bf16": ("bf16-mixed", False),
    "bf16_channels_last": ("bf16-mixed", True),
}


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), which says more about bf16 speed than the thread count."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--name", help="results file name (default: layout_precision_speed_<config>)")
    args, cli_args = parser.parse_known_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch of each run is a warm-up and does not count")
    later: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for _ in range(args.rounds):
        for variant, (precision, channels_last) in VARIANTS.items():
            callbacks = [ChannelsLast()] if channels_last else []
            options = [*cli_args, "--trainer.precision", precision]
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
            "cpu": cpu_name(),
            **machine(),
            "torch_threads": torch.get_num_threads(),
        },
    )


if __name__ == "__main__":
    main()
