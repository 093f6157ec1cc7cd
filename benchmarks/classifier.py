"""Any classifier config on real data through the CLI: train, then the test accuracy of the final weights (as the
books evaluate), one run per seed. Writes benchmarks/results/<config name>.json, with every epoch's validation
accuracy, loss and seconds (``curve``).

A schedule too long for one sitting runs in chunks: ``--max-epochs N`` stops at epoch N (the results say so:
``epochs_run`` of ``epochs_scheduled``), and ``--resume`` continues from the newest ``last.ckpt`` in the work folder
(``--resume CKPT``: from that checkpoint). It continues exactly: the checkpoints carry every RNG state, and the
workers' augmentation is seeded by (seed, epoch, index).

    python benchmarks/classifier.py --config configs/classification/intro_convnet_mnist.yaml \\
        --data-dir ../shared/data --seeds 0 1 2      # other options go to the CLI as they are
    python benchmarks/classifier.py --config configs/classification/small_convnet_augmented_cats_and_dogs.yaml \\
        --data-dir ../shared/data --max-epochs 80 [--resume [CKPT]]
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    RESULTS,
    machine,
    resume_point,
    scheduled_epochs,
    seeded_run_options,
    write_result,
)
from lightning_zoo.callbacks import EpochTimer  # noqa: E402
from lightning_zoo.cli import ZooCLI  # noqa: E402


class EpochCurve(EpochTimer):
    """Every training epoch's seconds and, where it was validated, validation accuracy and loss (``epochs``; the
    sanity check and later ``validate`` calls aside). Validation at an epoch's end runs before the epoch's
    ``on_train_epoch_end``, so its time is in the epoch's seconds, as in Keras' epoch times."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[dict] = []
        self._validated: dict = {}

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        metrics = trainer.callback_metrics
        self._validated = {
            "val_acc_pct": round(100 * float(metrics["val/acc"]), 2),
            "val_loss": round(float(metrics["val/loss"]), 4),
        }

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        seconds = round(self.durations[-1], 1)
        self.epochs.append({"epoch": trainer.current_epoch + 1, **self._validated, "seconds": seconds})
        self._validated = {}
        print(self.epochs[-1], flush=True)


def run(
    config: Path,
    data_dir: str,
    seed: int,
    workdir: Path,
    cli_args: list[str],
    resume_from: Path | None = None,
    earlier_epochs: Sequence[dict] = (),
) -> tuple[dict, ZooCLI]:
    """One seed's run: fit, then test the final weights, and evaluate them on the training images in eval mode. The
    final weights are saved as ``<workdir>/seed_<seed>.ckpt``. The data comes from ``data_dir`` through
    ``LIGHTNING_ZOO_DATA``, the default of every DataModule, however deep the config nests it. ``resume_from``: a
    checkpoint to continue from, ``earlier_epochs`` the curve recorded before it (see ``resume_point``)."""
    os.environ["LIGHTNING_ZOO_DATA"] = data_dir
    args = ["--config", str(config), *cli_args, "--seed_everything", str(seed), "--trainer.logger", "CSVLogger"]
    args += ["--trainer.logger.save_dir", str(workdir), "--trainer.enable_progress_bar", "false"]
    cli = ZooCLI(args=args, run=False)
    curve = EpochCurve()
    cli.trainer.callbacks += [curve]
    cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=resume_from)
    epochs = [*earlier_epochs, *curve.epochs]
    validated = [e["val_acc_pct"] for e in epochs if "val_acc_pct" in e]
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
        "seconds_per_epoch": round(statistics.median(e["seconds"] for e in epochs), 2) if epochs else None,
        "best_val_acc_pct": max(validated) if validated else None,
        "curve": epochs,
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
    args, cli_args = seeded_run_options(__doc__, chunks=True)
    name, workdir = args.name, args.workdir
    # How far the config's schedule goes: a chunk's results (below it) read "unfinished" on the cards.
    scheduled = {"epochs_scheduled": scheduled_epochs(args.config)}
    if (args.max_epochs or args.resume) and len(args.seeds) != 1:
        # the seeds of one call share the work folder: which seed's last.ckpt a later chunk took would be a guess
        raise SystemExit("a run in chunks (--max-epochs, --resume) is one seed's: give one --seeds")
    if args.max_epochs:
        cli_args += ["--trainer.max_epochs", str(args.max_epochs)]
    if args.resume:
        results = RESULTS / f"{name}.json"
        where = workdir if args.resume is True else Path(args.resume)
        checkpoint, recorded, earlier = resume_point(
            where, results, lambda r: r["runs"][0].get("curve", []), config=args.config
        )
        seeds = [r["seed"] for r in recorded["runs"]]
        if seeds != args.seeds:
            raise SystemExit(f"{results} holds the runs of seeds {seeds}, not seed {args.seeds[0]}'s alone")
        run_result = run(args.config, args.data_dir, args.seeds[0], workdir, cli_args, checkpoint, earlier)[0]
        earlier_commands = {"earlier_commands": [*recorded.get("earlier_commands", []), recorded["command"]]}
        runs = [run_result]
    else:
        runs = [run(args.config, args.data_dir, seed, workdir, cli_args)[0] for seed in args.seeds]
        earlier_commands = {}
    result = {"config": str(args.config), **summary(runs), **scheduled, "note": NOTE, "runs": runs, **machine()}
    write_result(name, {**result, **earlier_commands})


if __name__ == "__main__":
    main()
