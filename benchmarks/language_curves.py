"""A language-model or seq2seq config trained on real data, every epoch's metrics and time recorded; then the epoch
its checkpoint callback chose (the model's ``monitor``) evaluated on the test set where the data has one, and text
generated at each temperature of the model's ``temperatures``. ``--resume`` continues the run from its last checkpoint
(exactly: the zoo's checkpoints carry every RNG state) and keeps the epochs already recorded, so the books' long
schedules can run in chunks.

Writes benchmarks/results/<config name>.json: ``epoch_train_loss`` (one per epoch, as the books print them),
``best_train_loss``, every metric of the chosen epoch as ``<stage>_<name>`` (accuracies as ``..._pct``),
``epochs_run`` of ``epochs_scheduled`` (the config's epochs, or those run where early stopping ended the run: a run
cut short by ``--max-epochs`` or a time limit is "unfinished" on its card; ``stopped_by`` says which ended it), the
test metrics of its weights as ``test_...``, ``seconds_per_epoch`` and ``samples``. The file is written as soon as
training ends and again with the test metrics and samples, so a run whose generation outlasts its machine keeps its
curve.

    python benchmarks/language_curves.py --config configs/language/addition_seq2seq.yaml
    python benchmarks/language_curves.py --config configs/language/char_rnn_warpeace.yaml --max-epochs 3
    python benchmarks/language_curves.py --config configs/language/char_rnn_warpeace.yaml --max-epochs 11 --resume
    python benchmarks/language_curves.py --config configs/language/char_lstm_warpeace.yaml \\
        --name char_lstm_warpeace_gpu --trainer.accelerator gpu --trainer.devices 1 --data.data_on_device true \\
        --trainer.callbacks+=pytorch_lightning.callbacks.Timer --trainer.callbacks.duration 00:00:08:00 \\
        --trainer.callbacks.interval epoch      # stops at the first epoch's end after 8 minutes
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from pytorch_lightning.callbacks import Callback, Timer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    RESULTS,
    ROOT,
    add_data_dir,
    machine,
    resume_point,
    scheduled_epochs,
    write_result,
)
from lightning_zoo.cli import ZooCLI  # noqa: E402
from lightning_zoo.core import load_zoo_module  # noqa: E402


class EpochRecord(Callback):
    """Every epoch's logged epoch metrics (read at the next epoch's start: the module logs them after the callbacks'
    ``on_train_epoch_end``) and its wall time."""

    def __init__(self) -> None:
        self.epochs: list[dict] = []
        self._started = 0.0

    def _close_epoch(self, trainer) -> None:
        if self.epochs and "train/loss" not in self.epochs[-1]:
            self.epochs[-1].update(
                {k: round(float(v), 5) for k, v in trainer.callback_metrics.items() if not k.endswith("_step")}
            )
            print(self.epochs[-1], flush=True)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._close_epoch(trainer)
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.epochs.append({"epoch": trainer.current_epoch + 1, "seconds": round(time.perf_counter() - self._started)})

    def on_train_end(self, trainer, pl_module) -> None:
        self._close_epoch(trainer)


def flat(metrics: dict, prefix: str = "") -> dict:
    """``{"val/answer_acc": 0.98}`` as ``{"val_answer_acc_pct": 98.0}``."""
    out = {}
    for key, value in metrics.items():
        if "/" not in key or key.startswith(("time/", "lr-")):
            continue
        name = prefix + key.replace("/", "_")
        out[name + "_pct" if key.endswith("acc") else name] = round(100 * value if key.endswith("acc") else value, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    add_data_dir(parser)
    parser.add_argument("--max-epochs", type=int, default=None, help="fewer epochs than the config's")
    parser.add_argument("--note", default="", help="how the run was made (epochs, machine), for the card")
    parser.add_argument("--name", default=None, help="results file name (default: the config's)")
    parser.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    options, extra = parser.parse_known_args()  # the rest are CLI options (--trainer.accelerator gpu ...)
    os.environ.setdefault("WANDB_MODE", "disabled")
    name = options.name or Path(options.config).stem
    root = ROOT / "logs" / f"bench_{name}"
    args = [
        "--config", options.config, "--data.init_args.data_dir", options.data_dir,
        "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
        "--trainer.default_root_dir", str(root), "--trainer.callbacks+=benchmarks.language_curves.EpochRecord",
        *(["--trainer.max_epochs", str(options.max_epochs)] if options.max_epochs else []), *extra,
    ]  # fmt: skip
    if "AdditionDataModule" in Path(options.config).read_text():
        args.remove("--data.init_args.data_dir")
        args.remove(options.data_dir)
    checkpoint, recorded, earlier = resume_point(root, RESULTS / f"{name}.json") if options.resume else (None, {}, [])
    started = time.perf_counter()
    cli = ZooCLI(args=args, run=False)
    # The CLI imported this file as benchmarks.language_curves, a module other than __main__: match by name.
    record = next(c for c in cli.trainer.callbacks if type(c).__name__ == "EpochRecord")
    cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=checkpoint)
    chosen = cli.trainer.checkpoint_callback
    best_path = chosen.best_model_path or chosen.last_model_path
    epochs = earlier + record.epochs
    monitor, mode = chosen.monitor, chosen.mode
    missing = float("inf") if mode == "min" else float("-inf")
    best = (min if mode == "min" else max)(epochs, key=lambda e: e.get(monitor, missing))
    scheduled = scheduled_epochs(options.config)
    if any(isinstance(c, Timer) and c.time_remaining() <= 0 for c in cli.trainer.callbacks):
        stopped_by = "a time limit"
    elif len(epochs) >= cli.trainer.max_epochs:
        stopped_by = f"max_epochs {cli.trainer.max_epochs}"
    else:  # the only other way a fit ends early: its schedule ends there
        stopped_by, scheduled = "early stopping", len(epochs)
    result = {
        "config": options.config,
        "epochs_trained": len(epochs),
        "epochs_run": len(epochs),
        "epochs_scheduled": scheduled,
        "stopped_by": stopped_by,
        "epoch_train_loss": [e["train/loss"] for e in epochs],
        "best_train_loss": min(e["train/loss"] for e in epochs),
        "chosen_by": f"{monitor} ({mode})",
        "chosen_epoch": best["epoch"],
        **flat(best),
        "first_epoch_reaching": {
            f"{key} >= {threshold}": next((e["epoch"] for e in epochs if e.get(key, 0) >= threshold), None)
            for key in epochs[-1]
            if key.startswith("val/") and key.endswith("acc")
            for threshold in (0.98, 0.99)
            if any(e.get(key, 0) >= threshold for e in epochs)  # only thresholds the run reached
        },
        "seconds_per_epoch": round(sum(e["seconds"] for e in epochs) / len(epochs), 1),
        "wall_minutes": round((time.perf_counter() - started) / 60 + recorded.get("wall_minutes", 0), 1),
        "precision": str(cli.trainer.precision),
        "machine": machine(),
        "epochs": epochs,
    }
    note = options.note.format(**result) if options.note else ""
    if checkpoint:  # how the earlier chunks were run
        result["earlier_commands"] = [*recorded.get("earlier_commands", []), recorded["command"]]
    result = {"note": note, **result}
    write_result(name, result)  # the curve is kept even if what follows outlasts the machine
    model = load_zoo_module(best_path)
    datamodule = cli.datamodule
    if getattr(datamodule, "has_validation", True):  # a corpus without validation has no held-out text to test
        tested = cli.trainer.test(model, datamodule=datamodule, verbose=False)[0]
        result.update(flat(tested))
    if hasattr(model, "generate"):
        model.to(cli.trainer.strategy.root_device)  # generate where training ran: on the CPU after a GPU run, minutes
        torch.manual_seed(0)
        prompt = datamodule.prompts()[0]
        length, special = model.hparams.generate_length, datamodule.special_tokens
        result["samples"] = {  # the prompt, a bar, the continuation
            str(t): datamodule.decode(prompt)
            + "|"
            + datamodule.decode(model.generate(prompt, length, t, exclude=special))
            for t in model.hparams.temperatures
        }
    write_result(name, result)


if __name__ == "__main__":
    main()
