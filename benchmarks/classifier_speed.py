"""Lightning's overhead on a classifier's or language model's epoch: the config's model trained through Lightning
(its real DataModule, loop, metrics and logging) against a minimal plain-PyTorch loop over the same architecture,
tensors, optimizer and batch size, in one process, epochs interleaved. Needs an in-memory DataModule without
augmentation (MNIST, Fashion-MNIST, CIFAR-10 with --data.augment false, IMDB, a text corpus). Early stopping and
text samples are left out: each round must run, and generating text is not part of an epoch.

    python benchmarks/classifier_speed.py --data-dir ../shared/data --rounds 8 [--threads 1]     # the MLP
    python benchmarks/classifier_speed.py --config configs/classification/intro_convnet_mnist.yaml --rounds 4
    python benchmarks/classifier_speed.py --data-dir ../shared/data --accelerator gpu    # data resident on the GPU
    python benchmarks/classifier_speed.py --config configs/sequence/bilstm_imdb.yaml --rounds 3 --data.val_size 20000
    python benchmarks/classifier_speed.py --config configs/language/char_lstm_sherlock.yaml --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytorch_lightning.callbacks import Callback, EarlyStopping  # noqa: E402

from benchmarks.common import ROOT, add_data_dir, machine, write_result  # noqa: E402
from lightning_zoo.callbacks import EpochTimer, synchronize  # noqa: E402
from lightning_zoo.classification import Classifier  # noqa: E402
from lightning_zoo.cli import ZooCLI  # noqa: E402
from lightning_zoo.core import EpochMeans  # noqa: E402
from lightning_zoo.language import LanguageModelBase, TextSamples  # noqa: E402


def plain_epoch(
    model: Classifier | LanguageModelBase,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    batch_size: int,
    seed: int,
    metrics: bool,
) -> float:
    """The loop a careful PyTorch user writes: shuffle, slice, forward, loss, backward, step; with ``metrics``,
    also the epoch loss and accuracy the zoo's module keeps (the same torchmetrics object and updates)."""
    means = EpochMeans("loss", "acc").to(x.device)
    synchronize(x.device)
    start = time.perf_counter()
    model.train()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(x.device)
    for i in range(0, len(x), batch_size):
        idx = order[i : i + batch_size]
        loss, predicted = model.loss_and_predictions(model(x[idx]), y[idx])  # plain torch: the model's loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if metrics:
            means.update(len(idx), loss=loss.detach() * len(idx), acc=(predicted == y[idx]).sum())
    if metrics:
        means.compute()
    synchronize(x.device)
    return time.perf_counter() - start


class PlainEpochAfterEach(Callback):
    """Runs plain-PyTorch epochs (minimal, then with metrics) after every Lightning epoch, so that all three see
    the same machine conditions."""

    def __init__(self, model: Classifier | LanguageModelBase, x: Tensor, y: Tensor, batch_size: int) -> None:
        self.x, self.y, self.batch_size, self.minimal, self.with_metrics = x, y, batch_size, [], []
        self.model = model.to(x.device)
        optimizers = self.model.configure_optimizers()
        self.optimizer = optimizers["optimizer"] if isinstance(optimizers, dict) else optimizers

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for metrics, times in ((False, self.minimal), (True, self.with_metrics)):
            seed = trainer.current_epoch
            times.append(plain_epoch(self.model, self.optimizer, self.x, self.y, self.batch_size, seed, metrics))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "configs/classification/mlp_mnist.yaml")
    add_data_dir(parser)
    parser.add_argument("--rounds", type=int, default=8, help="epochs of each, interleaved")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu", help="gpu: data resident on it")
    parser.add_argument("--samples", type=int, help="time epochs of the first N training samples only (big models)")
    parser.add_argument("--name", help="results file name (default: <model>_speed[_N_thread][_gpu])")
    args, cli_args = parser.parse_known_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    on_gpu = args.accelerator == "gpu"
    cli = ZooCLI(
        args=[
            "--config",
            str(args.config),
            "--data.data_dir",
            args.data_dir,
            "--seed_everything",
            "0",
            "--trainer.max_epochs",
            str(args.rounds + 1),  # the first epoch of each is a warm-up
            "--trainer.accelerator",
            args.accelerator,
            "--trainer.devices",
            "1",
            "--trainer.logger",
            "false",
            "--trainer.enable_checkpointing",
            "false",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.enable_model_summary",
            "false",
            "--trainer.limit_val_batches",
            "0",
            *(["--data.data_on_device", "true"] if on_gpu else []),
            *cli_args,
        ],  # fmt: skip
        run=False,
    )
    datamodule = cli.datamodule
    # Without validation, a config's early stopping has nothing to watch (and each round must run anyway).
    cli.trainer.callbacks = [c for c in cli.trainer.callbacks if not isinstance(c, (EarlyStopping, TextSamples))]
    if getattr(datamodule, "augment", False):
        sys.exit(f"error: {args.config.name} augments its training data; compare with --data.augment false")
    datamodule.prepare_data()
    datamodule.setup("fit")
    datamodule.train_dataloader()  # DataModules that encode lazily (IMDB) make their splits here
    device = torch.device("cuda" if on_gpu else "cpu")
    x, y = (t.to(device) for t in datamodule.splits["train"].tensors)  # the DataModule's tensors (a GPU copy on gpu)
    if args.samples:  # as many steps as Lightning's limit_train_batches gives it
        steps = -(-args.samples // datamodule.batch_size)
        cli.trainer.limit_train_batches = steps  # read when the fit loop sets up its data
        x, y = x[: steps * datamodule.batch_size], y[: steps * datamodule.batch_size]
    plain_model = type(cli.model)(**cli.model.hparams)
    timer, plain_loop = EpochTimer(), PlainEpochAfterEach(plain_model, x, y, datamodule.batch_size)
    cli.trainer.callbacks += [timer, plain_loop]
    cli.trainer.fit(cli.model, datamodule)
    lightning, plain, plain_metrics = timer.durations[1:], plain_loop.minimal[1:], plain_loop.with_metrics[1:]
    ratio = statistics.median(lightning) / statistics.median(plain)
    model_name = "mlp" if args.config.stem == "mlp_mnist" else args.config.stem
    name = f"{model_name}_speed" + (f"_{args.threads}_thread" if args.threads else "") + ("_gpu" if on_gpu else "")
    steps = -(-len(x) // datamodule.batch_size)
    write_result(
        args.name or name,
        {
            "what": f"seconds per epoch of {args.config.name} ({len(x):,} samples, batch {datamodule.batch_size}, "
            f"{steps} steps); each Lightning epoch (the zoo's model, DataModule and logging; no progress bar, logger "
            "or checkpointing) is followed by one plain epoch, minimal and with the module's per-step metric "
            "updates, in the same process; ratio of the medians",
            "lightning_s": [round(t, 3) for t in lightning],
            "plain_pytorch_s": [round(t, 3) for t in plain],
            "plain_pytorch_with_same_metrics_s": [round(t, 3) for t in plain_metrics],
            "ratio_lightning_over_plain": round(ratio, 3),
            "ratio_lightning_over_plain_with_same_metrics": round(
                statistics.median(lightning) / statistics.median(plain_metrics), 3
            ),
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
