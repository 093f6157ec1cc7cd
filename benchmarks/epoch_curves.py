"""A classifier config on real data with every epoch's weights evaluated on the validation and the test set, so that
the books' way of choosing an epoch and the honest one come from the same run:

- the book's number where the book validates on held-out training data (``validation_split``): the best
  validation accuracy over the epochs (``best_val_acc_pct``);
- where the book validates on the test set (and so picks its epoch by it): the best test accuracy over the epochs
  (``best_test_acc_pct``);
- the honest number: the test accuracy of the epoch that validation picks (``test_acc_at_best_val_pct``).

Writes benchmarks/results/<config name>.json.

    python benchmarks/epoch_curves.py --config configs/sequence/lstm_imdb.yaml --data-dir ../shared/data --seeds 0 1 2
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import EpochLog, machine, seeded_cli, seeded_run_options, write_result  # noqa: E402
from lightning_zoo.core import evaluating  # noqa: E402


class TestEveryEpoch(EpochLog):
    """After each validation, the weights of that epoch on the test set too. For measurement only: the test set never
    steers training here."""

    def validated(self, trainer, pl_module) -> dict:
        loss_sum = correct = count = 0.0
        with evaluating(pl_module):
            for x, y in trainer.datamodule.test_dataloader():
                x, y = x.to(pl_module.device), y.to(pl_module.device)
                loss, predicted = pl_module.loss_and_predictions(pl_module(x), y)
                loss_sum += float(loss) * len(y)
                correct += int((predicted == y).sum())
                count += len(y)
        metrics = trainer.callback_metrics
        return {
            "val_loss": round(float(metrics["val/loss"]), 4),
            "val_acc_pct": round(100 * float(metrics["val/acc"]), 2),
            "test_loss": round(loss_sum / count, 4),
            "test_acc_pct": round(100 * correct / count, 2),
        }


def run(
    config: Path, data_dir: str, seed: int, workdir: Path, cli_args: list[str], curves: EpochLog | None = None
) -> dict:
    """One seed's run; ``curves`` may be a ``TestEveryEpoch`` that records more (its ``validated`` extended)."""
    cli = seeded_cli(config, data_dir, seed, workdir, cli_args)
    curves = curves or TestEveryEpoch()
    cli.trainer.callbacks.append(curves)
    cli.trainer.fit(cli.model, cli.datamodule)
    epochs = curves.epochs
    best_val = max(epochs, key=lambda e: e["val_acc_pct"])  # the first of equals, as Keras' checkpointing
    return {
        "seed": seed,
        "epochs_trained": len(epochs),
        "best_val_acc_pct": best_val["val_acc_pct"],
        "best_val_epoch": best_val["epoch"],
        "test_acc_at_best_val_pct": best_val["test_acc_pct"],
        "best_test_acc_pct": max(e["test_acc_pct"] for e in epochs),
        "final_test_acc_pct": epochs[-1]["test_acc_pct"],
        "seconds_per_epoch": round(statistics.median(e["seconds_train_and_val"] for e in epochs), 1),
        "epochs": epochs,
    }


def summarise(config: Path, runs: list[dict]) -> dict:
    """The runs' means and, over several seeds, the range and standard deviation of each accuracy."""
    keys = ("best_val_acc_pct", "test_acc_at_best_val_pct", "best_test_acc_pct", "final_test_acc_pct")
    means = {f"{key}_mean": round(statistics.mean(r[key] for r in runs), 2) for key in keys}
    spread = {}
    for key in keys if len(runs) > 1 else ():
        values = [r[key] for r in runs]
        spread[f"{key}_range"] = f"{min(values):.2f}-{max(values):.2f}"
        spread[f"{key}_stdev"] = round(statistics.stdev(values), 2)
    single = {k: v for k, v in runs[0].items() if k not in ("seed", "epochs")} if len(runs) == 1 else {}
    summary = {"seeds_run": len(runs), "epochs_trained": runs[0]["epochs_trained"], **means, **spread, **single}
    return {"config": str(config), **summary, "runs": runs, "threads": torch.get_num_threads(), **machine()}


def main() -> None:
    args, cli_args = seeded_run_options(__doc__)
    runs = []
    for seed in args.seeds:  # written after every seed: a long run cut short keeps the seeds it finished
        runs.append(run(args.config, args.data_dir, seed, args.workdir, cli_args))
        write_result(args.name, summarise(args.config, runs))


if __name__ == "__main__":
    main()
