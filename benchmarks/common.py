"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import torch
import yaml
from pytorch_lightning.callbacks import Callback

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# The scripts hand ZooCLI their own argument lists on purpose.
warnings.filterwarnings("ignore", ".*LightningCLI's args parameter is intended to run from within Python.*")


def machine() -> dict:
    return {
        "cpu_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def add_data_dir(parser: argparse.ArgumentParser, type=str) -> None:
    """The scripts' ``--data-dir``: the datasets' folder as the CLI finds it (``datamodules.base.data_root``):
    ``--data-dir``, else ``$LIGHTNING_ZOO_DATA``, else ``./data``; read when the parser is made. (It was
    ``<repo>/../shared/data`` before: the recorded commands without ``--data-dir`` read that folder.)"""
    from datamodules.base import data_root

    def absolute(value: str):  # scripts run the CLI in other folders (gan_ddp_speed.py: a temporary one)
        return type(os.path.abspath(value))

    text = "the datasets' folder (default: $LIGHTNING_ZOO_DATA, else ./data: now %(default)s)"
    parser.add_argument("--data-dir", type=absolute, default=absolute(str(data_root(None))), help=text)


def scheduled_epochs(config: str | Path) -> int | None:
    """The ``trainer.max_epochs`` a config schedules (the book's), whatever a run overrides."""
    return (yaml.safe_load(Path(config).read_text()).get("trainer") or {}).get("max_epochs")


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    result = {**result, "command": "python " + shlex.join([f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])}
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if os.environ.get("OUT"):  # on a lent GPU machine: what lies in $OUT comes back even if the call is cut short
        (Path(os.environ["OUT"]) / path.name).write_text(path.read_text())
    return path


def resume_point(where: Path, results: Path, epochs_of=lambda recorded: recorded["epochs"], config: Path | None = None):
    """Where a chunked run goes on: the checkpoint ``where`` (or the newest ``last*.ckpt`` under the folder
    ``where``), the results file's contents, and the epochs it records (``epochs_of(contents)``, a list of dicts with
    ``epoch``) up to the checkpoint's. Ends with one line when either file is missing, when the results record
    another ``config`` than the one given, or when they do not record every epoch up to the checkpoint's. Other
    arguments of the earlier chunks are not compared: their commands are kept in the results."""
    if not where.exists():
        raise SystemExit(f"--resume: no such checkpoint or folder: {where}")
    checkpoints = [where] if where.is_file() else sorted(where.rglob("last*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not checkpoints or not results.is_file():
        raise SystemExit(f"--resume needs a last.ckpt under {where} and {results}: run without --resume first")
    done = torch.load(checkpoints[-1], map_location="cpu", weights_only=False)["epoch"] + 1
    recorded = json.loads(results.read_text())
    if config is not None and Path(recorded.get("config", config)) != Path(config):
        raise SystemExit(f"{results} records a run of {recorded['config']}, not of {config}: give its --name")
    epochs = [e for e in epochs_of(recorded) if e["epoch"] <= done]
    if [e["epoch"] for e in epochs] != list(range(1, done + 1)):
        raise SystemExit(f"{checkpoints[-1]} ends epoch {done}, but {results} records epochs "
                         f"{[e['epoch'] for e in epochs]}: they are not one run")  # fmt: skip
    return checkpoints[-1], recorded, epochs


def seeded_run_options(
    description: str, chunks: bool = False, add_options: Callable[[argparse.ArgumentParser], None] | None = None
) -> tuple[argparse.Namespace, list[str]]:
    """The options of the scripts that train one config over several seeds (``--config``, ``--data-dir``,
    ``--seeds``, ``--workdir``, ``--name``; with ``chunks`` also ``--max-epochs`` and ``--resume``; a script's own
    through ``add_options(parser)``, so that ``--help`` lists them), with ``name`` (default: the config's) and
    ``workdir`` (default: ``logs/bench_<name>``) filled in; the other arguments are passed on to the CLI."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    add_data_dir(parser)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--workdir", type=Path, help="default logs/bench_<name>")
    parser.add_argument("--name", help="results file name (default: the config's)")
    if chunks:
        parser.add_argument("--max-epochs", type=int, help="stop this chunk at that epoch (the config's by default)")
        parser.add_argument("--resume", nargs="?", const=True, metavar="CKPT",
                            help="continue from CKPT, or from the newest last.ckpt in --workdir")  # fmt: skip
    if add_options is not None:
        add_options(parser)
    options, cli_args = parser.parse_known_args()
    options.name = options.name or options.config.stem
    options.workdir = options.workdir or ROOT / "logs" / f"bench_{options.name}"
    return options, cli_args


def seeded_cli(config: Path, data_dir: str, seed: int, workdir: Path, cli_args: list[str]):
    """A ``ZooCLI`` (not run) of ``config`` for one seed of a multi-seed script: data from ``data_dir``, a CSV logger
    in ``workdir``, the run's checkpoints in ``workdir/seed_<seed>``."""
    from lightning_zoo.cli import ZooCLI

    os.environ["LIGHTNING_ZOO_DATA"] = data_dir
    args = ["--config", str(config), *cli_args, "--seed_everything", str(seed), "--trainer.logger", "CSVLogger"]
    args += ["--trainer.logger.save_dir", str(workdir), "--trainer.enable_progress_bar", "false"]
    args += ["--trainer.default_root_dir", str(workdir / f"seed_{seed}")]
    return ZooCLI(args=args, run=False)


def quiet_fit(config: Path, data_dir: str, epochs: int, callbacks: list, cli_args: list[str]):
    """Trains the config's run through the CLI with ``callbacks`` added and returns the ``ZooCLI``: no logger,
    progress bar, checkpointing or model summary (the speed benchmarks time the training). What the run still writes
    (a GAN's sample grids) goes to a temporary folder, not the working directory. ``data_dir`` is the DataModules'
    default data folder (``$LIGHTNING_ZOO_DATA`` for the run), so a folder-of-images config, whose DataModule takes
    ``--data.folder`` instead, works too."""
    from lightning_zoo.cli import ZooCLI

    data_folder = mock.patch.dict(os.environ, {"LIGHTNING_ZOO_DATA": data_dir})
    with data_folder, tempfile.TemporaryDirectory(prefix="zoo_speed_") as scratch:
        args = [
            "--config", str(config),
            "--trainer.max_epochs", str(epochs),
            "--trainer.default_root_dir", scratch,
            "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false",
            "--trainer.enable_checkpointing", "false",
            "--trainer.enable_model_summary", "false",
        ]  # fmt: skip
        cli = ZooCLI(args=[*args, *cli_args], run=False)
        cli.trainer.callbacks += callbacks
        cli.trainer.fit(cli.model, cli.datamodule)
    return cli


def epoch_seconds(config: Path, data_dir: str, epochs: int, callbacks: list, cli_args: list[str]) -> list[float]:
    """The wall time of each training epoch of :func:`quiet_fit`'s run."""
    from lightning_zoo.callbacks import EpochTimer

    timer = EpochTimer()
    quiet_fit(config, data_dir, epochs, [timer, *callbacks], cli_args)
    return timer.durations


class EpochLog(Callback):
    """A fit's epochs as the books' training logs show them: after each validation (not the sanity check) the values
    :meth:`validated` returns and the seconds of the epoch's training and validation; the epoch's training loss is
    added when Lightning has logged it (after the callbacks' ``on_train_epoch_end``: read at the next epoch's start,
    and at the end of training for the last epoch)."""

    def __init__(self) -> None:
        self.epochs: list[dict] = []
        self._started = time.perf_counter()

    def validated(self, trainer, pl_module) -> dict:
        """This epoch's values after its validation."""
        metrics = trainer.callback_metrics
        return {"val_loss": round(float(metrics["val/loss"]), 4), "val_acc": round(float(metrics["val/acc"]), 4)}

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._record_train_loss(trainer)
        self._started = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        seconds = round(time.perf_counter() - self._started, 1)  # before validated(), which may evaluate more
        self.epochs.append(
            {"epoch": trainer.current_epoch + 1, **self.validated(trainer, pl_module), "seconds_train_and_val": seconds}
        )
        print(self.epochs[-1], flush=True)

    def on_train_end(self, trainer, pl_module) -> None:
        self._record_train_loss(trainer)

    def _record_train_loss(self, trainer) -> None:
        if self.epochs and "train_loss" not in self.epochs[-1] and "train/loss" in trainer.callback_metrics:
            self.epochs[-1]["train_loss"] = round(float(trainer.callback_metrics["train/loss"]), 4)
