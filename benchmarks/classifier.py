"""Any classifier config on real data through the CLI: train, then the test accuracy of the final weights (as the
books evaluate), one run per seed. Writes benchmarks/results/<config name>.json.

    python benchmarks/classifier.py --config configs/classification/intro_convnet_mnist.yaml \
        --data-dir ../shared/data --seeds 0 1 2      # other options go to the CLI as they are
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, seeded_run_options, write_result  # noqa: E402
from lightning_zoo.callbacks import EpochTimer  # noqa: E402
from lightning_zoo.cli import ZooCLI  # noqa: E402


def run(config: Path, data_dir: str, seed: int, workdir: Path, cli_args: list[str]) -> tuple[dict, ZooCLI]:
    """One seed's run: fit, then test the final weights, and evaluate them on the training images in eval mode. The
    final weights are saved as ``<workdir>/seed_<seed>.ckpt``. The data comes from ``data_dir`` through
    ``LIGHTNING_ZOO_DATA``, the default of every DataModule, however deep the config nests it."""
    os.environ["LIGHTNING_ZOO_DATA"] = data_dir
    args = ["--config", str(config), *cli_args, "--seed_everything", str(seed), "--trainer.logger", "CSVLogger"]
    args += ["--trainer.logger.save_dir", str(workdir), "--trainer.enable_progress_bar", "false"]
    cli = ZooCLI(args=args, run=False)
    timer = EpochTimer()
    cli.trainer.callbacks.append(timer)
    cli.trainer.fit(cli.model, cli.datamodule)
    train_metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("train/")}
    cli.trainer.save_checkpoint(workdir / f"seed_{seed}.ckpt")
    [val] = cli.trainer.validate(cli.model, cli.datamodule, verbose=False)
    [test] = cli.trainer.test(cli.model, cli.datamodule, verbose=False)  # the final weights, as the books evaluate
    train_loader = cli.datamodule.eval_loader("train")  # in order, without augmentation
    [train_eval] = cli.trainer.test(cli.model, dataloaders=train_loader, verbose=False)
    result = {
        "seed": seed,
        "val_acc_pct": round(100 * val["val/acc"], 2),
        "test_acc_pct": round(100 * test["test/acc"], 2),
        "test_loss": round(test["test/loss"], 4),
        "final_train_acc_pct": round(100 * train_metrics["train/acc"], 2),
        "train_eval_acc_pct": round(100 * train_eval["test/acc"], 2),
        "epochs": cli.trainer.current_epoch,
        "seconds_per_epoch": round(statistics.median(timer.durations), 2),
    }
    return result, cli


def summary(runs: list[dict]) -> dict:
    return {
        "seeds_run": len(runs),
        "epochs_run": runs[0]["epochs"],
        "val_acc_pct_mean": round(statistics.mean(r["val_acc_pct"] for r in runs), 2),
        "test_acc_pct_mean": round(statistics.mean(r["test_acc_pct"] for r in runs), 2),
        "test_acc_pct_range": [min(r["test_acc_pct"] for r in runs), max(r["test_acc_pct"] for r in runs)],
        "train_eval_acc_pct_mean": round(statistics.mean(r["train_eval_acc_pct"] for r in runs), 2),
    }


NOTE = (
    "test (and validation) accuracy of the final weights, as the books evaluate; train_eval_acc_pct is the final "
    "weights on the training images in eval mode (dropout off); final_train_acc_pct the training-epoch accuracy with "
    "dropout active (Keras' progress-bar number)"
)


def main() -> None:
    args, cli_args = seeded_run_options(__doc__)
    name, workdir = args.name, args.workdir
    runs = [run(args.config, args.data_dir, seed, workdir, cli_args)[0] for seed in args.seeds]
    write_result(name, {"config": str(args.config), **summary(runs), "note": NOTE, "runs": runs, **machine()})


if __name__ == "__main__":
    main()
