"""Training throughput on one GPU, through the CLI and the real configs: images per second for the MLP and the
DCGAN in float32 and in bf16 mixed precision, with each batch copied from host memory or with the dataset resident
on the GPU (``--data.data_on_device``). Writes benchmarks/results/gpu_throughput.json.

    python benchmarks/gpu_throughput.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, add_data_dir, machine, quiet_fit, write_result  # noqa: E402
from lightning_zoo.callbacks import EpochTimer  # noqa: E402

MODELS = {  # config, training batches per timed epoch (None: the whole epoch)
    "mlp": ("configs/classification/mlp_mnist.yaml", None),
    "dcgan": ("configs/gan/dcgan_mnist.yaml", 150),
}
PRECISIONS = ("32-true", "bf16-mixed")


def images_per_second(
    config: str, batches: int | None, data_dir: str, precision: str, on_device: bool, accelerator: str = "gpu"
) -> dict:
    """Three epochs; the first warms up (allocator, cuDNN autotuning), the median of the other two counts."""
    options = [
        "--data.data_on_device", str(on_device).lower(),
        "--trainer.accelerator", accelerator,
        "--trainer.devices", "1",
        "--trainer.precision", precision,
        "--trainer.limit_train_batches", str(batches or 1.0),
        "--trainer.limit_val_batches", "0",
    ]  # fmt: skip
    timer = EpochTimer()
    cli = quiet_fit(ROOT / config, data_dir, 3, [timer], options)
    seconds = statistics.median(timer.durations[1:])
    steps = cli.trainer.num_training_batches
    images = steps * cli.datamodule.batch_size
    return {
        "precision": precision,
        "data_on_device": on_device,
        "batches_per_epoch": steps,
        "seconds_per_epoch": round(seconds, 3),
        "ms_per_batch": round(1000 * seconds / steps, 3),
        "images_per_second": round(images / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir(parser)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--accelerator", default="gpu", help="cpu: a smoke run of this script only")
    args = parser.parse_args()
    results = {
        model: [
            images_per_second(*MODELS[model], args.data_dir, precision, on_device, args.accelerator)
            for precision in PRECISIONS
            for on_device in (False, True)
        ]
        for model in args.models
    }
    write_result(
        "gpu_throughput",
        {
            "what": "training images per second on one GPU through the CLI (the configs' batch size 128, no "
            "validation, logger, checkpointing or progress bar; the DCGAN's per batch is 1 D + 2 G steps); median "
            "of epochs 2-3",
            **results,
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
