"""DCGAN on real MNIST through the CLI, in chunks that resume exactly: the book trains 50 epochs (no number, only
sample grids). Writes benchmarks/results/dcgan_mnist.json and the latest sample grid beside it.

    python benchmarks/dcgan_mnist.py --data-dir ../shared/data --epochs 3    # run (or continue) to epoch 3
    python benchmarks/dcgan_mnist.py --name dcgan_mnist_gpu --trainer.accelerator gpu    # other options: the CLI's

With ``--trainer.callbacks+=lightning_zoo.metrics.ClassifierFID --trainer.callbacks.classifier_ckpt CKPT`` the
report also holds each epoch's classifier-FID.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DEFAULT_DATA, RESULTS, ROOT, machine  # noqa: E402
from lightning_zoo.callbacks import EpochTimer  # noqa: E402
from lightning_zoo.cli import ZooCLI  # noqa: E402


def logged_per_epoch(csv_dir: Path, key: str) -> dict[int, float]:
    """{epoch (from 1): value} of an epoch-level metric in the CSV logs of every chunk."""
    values = {}
    for path in csv_dir.glob("version_*/metrics.csv"):
        with path.open() as file:
            values |= {int(row["epoch"]) + 1: round(float(row[key]), 3) for row in csv.DictReader(file) if row.get(key)}
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--workdir", default=str(ROOT / "logs" / "bench_dcgan"))
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--name", default="dcgan_mnist", help="results file name")
    args, extra_cli_args = parser.parse_known_args()

    workdir, results = Path(args.workdir), Path(args.results)
    last = workdir / "checkpoints" / "last.ckpt"
    cli_args = [
        "--config", str(ROOT / "configs/gan/dcgan_mnist.yaml"),
        "--data.data_dir", args.data_dir,
        "--trainer.max_epochs", str(args.epochs),
        "--trainer.logger", "CSVLogger",
        "--trainer.logger.save_dir", str(workdir),
        "--trainer.logger.name", "csv",
        "--trainer.callbacks+=lightning_zoo.callbacks.ZooModelCheckpoint",
        "--trainer.callbacks.dirpath", str(workdir / "checkpoints"),
        "--trainer.enable_progress_bar", "false",
        *extra_cli_args,
    ]  # fmt: skip
    timer = EpochTimer()
    start = time.time()
    cli = ZooCLI(args=cli_args, run=False)
    cli.trainer.callbacks.append(timer)
    cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=str(last) if last.exists() else None)

    results.mkdir(parents=True, exist_ok=True)
    report_path = results / f"{args.name}.json"
    report = json.loads(report_path.read_text()) if report_path.exists() and last.exists() else {"epochs": []}
    metrics = cli.trainer.callback_metrics
    first_epoch = cli.trainer.current_epoch - len(timer.durations)
    fids = logged_per_epoch(workdir / "csv", "val/classifier_fid")
    for i, seconds in enumerate(timer.durations):
        epoch = first_epoch + i + 1
        report["epochs"].append({"epoch": epoch, "seconds": round(seconds, 1)})
        if epoch in fids:
            report["epochs"][-1]["classifier_fid"] = fids[epoch]
    report["epochs"][-1].update(
        d_loss=round(float(metrics["train/d_loss"]), 4), g_loss=round(float(metrics["train/g_loss"]), 4)
    )
    grids = sorted((workdir / "csv").rglob("images/samples/*.png"))
    shutil.copy(grids[-1], results / f"{args.name}_samples.png")
    report.update(
        model="DCGAN (Hands-On DL Architectures, ch. 7)",
        data="MNIST train+test, 70,000 images padded to 32x32, [-1, 1]",
        book_epochs=50,
        epochs_trained=cli.trainer.current_epoch,
        book_result="sample grids at epochs 25 and 50 only; no number",
        samples=f"{args.name}_samples.png (fixed noise, epoch {cli.trainer.current_epoch})",
        **machine(),
        command=" ".join(["python benchmarks/dcgan_mnist.py", *sys.argv[1:]]),
        wall_seconds_this_chunk=round(time.time() - start, 1),
    )
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
