"""A forecaster config on real data through the CLI: fit (with the config's early stopping), the best epoch's
validation loss, then the best-validation checkpoint on the test split (errors scaled and in the data's units) and
its forecasts over the whole series (CSV and PNG, copied to benchmarks/results/<name>_forecast.png).

    python benchmarks/forecaster.py --config configs/forecasting/gru_djia.yaml --data-dir ../shared/data
    python benchmarks/forecaster.py --config configs/forecasting/gru_djia.yaml --data-dir ../shared/data \\
        --name gru_djia_honest --data.test_fraction 0.15
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch
from pytorch_lightning.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, ROOT, add_data_dir, machine, write_result  # noqa: E402
from lightning_zoo.callbacks import PredictionWriter  # noqa: E402
from lightning_zoo.cli import ZooCLI  # noqa: E402


class ValidationHistory(Callback):
    def __init__(self) -> None:
        self.val: list[dict] = []

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            m = trainer.callback_metrics
            self.val.append({k: float(m[f"val/{k}"]) for k in ("loss", "mse", "mae", "mse_units", "mae_units")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    add_data_dir(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", help="results file name (default: the config's)")
    args, cli_args = parser.parse_known_args()
    name = args.name or args.config.stem
    workdir = ROOT / "logs" / f"bench_{name}"
    os.environ["LIGHTNING_ZOO_DATA"] = args.data_dir
    cli_args = ["--config", str(args.config), *cli_args, "--seed_everything", str(args.seed)]
    cli_args += ["--trainer.logger", "CSVLogger", "--trainer.logger.save_dir", str(workdir)]
    cli_args += ["--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(workdir)]
    cli = ZooCLI(args=cli_args, run=False)
    history = ValidationHistory()
    cli.trainer.callbacks.append(history)
    started = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    seconds = time.perf_counter() - started
    best_epoch = min(range(len(history.val)), key=lambda i: history.val[i]["loss"])
    # A baseline without parameters takes no steps, so no checkpoint is written: its weights are the same anyway.
    best = "best" if cli.model.learns else None
    [test] = cli.trainer.test(cli.model, cli.datamodule, ckpt_path=best, verbose=False)
    writer = PredictionWriter(output_dir=str(workdir / "predictions"))
    cli.trainer.callbacks.append(writer)
    cli.trainer.predict(cli.model, cli.datamodule, ckpt_path=best, return_predictions=False)
    shutil.copy(workdir / "predictions" / "forecast.png", RESULTS / f"{name}_forecast.png")
    best_scores = history.val[best_epoch]
    write_result(
        name,
        {
            "config": str(args.config),
            "seed": args.seed,
            "epochs_trained": len(history.val),
            "best_epoch": best_epoch + 1,
            "best_val_loss": best_scores["loss"],
            "best_val_mse": best_scores["mse"],
            "best_val_mae": best_scores["mae"],
            "best_val_rmse_units": math.sqrt(best_scores["mse_units"]),
            "test_mse": round(test["test/mse"], 8),
            "test_mae": round(test["test/mae"], 6),
            "test_rmse_units": round(math.sqrt(test["test/mse_units"]), 3),
            "test_mae_units": round(test["test/mae_units"], 3),
            "seconds": round(seconds, 1),
            "seconds_per_epoch": round(seconds / len(history.val), 2),
            "val_loss_by_epoch": [round(v["loss"], 8) for v in history.val],
            "threads": torch.get_num_threads(),
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
