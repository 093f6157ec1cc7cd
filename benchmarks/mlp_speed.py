"""Lightning's overhead on one MLP epoch: the zoo's MLP trained through Lightning (its real DataModule, loop,
metrics and logging) against a minimal plain-PyTorch loop over the same model, tensors and optimizer, in one process,
epochs interleaved. (The foundation's target, 1.10x, lay below what Lightning itself costs; the targets now are the
zoo's own overhead over a bare LightningModule, benchmarks/lightning_overhead.py, and the default user path,
benchmarks/default_path_speed.py.)

    python benchmarks/mlp_speed.py --data-dir ../shared/data --rounds 8 [--threads 1]
    python benchmarks/mlp_speed.py --data-dir ../shared/data --accelerator gpu    # data resident on the GPU
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

from pytorch_lightning.callbacks import Callback  # noqa: E402

from benchmarks.common import DEFAULT_DATA, machine, write_result  # noqa: E402
from datamodules import MNISTDataModule  # noqa: E402
from lightning_zoo.callbacks import EpochTimer, synchronize  # noqa: E402
from lightning_zoo.classification import MLP  # noqa: E402
from lightning_zoo.core import EpochMeans  # noqa: E402

BATCH_SIZE = 128


def plain_epoch(model: MLP, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor, seed: int, metrics: bool) -> float:
    """The loop a careful PyTorch user writes: shuffle, slice, forward, loss, backward, step; with ``metrics``,
    also the epoch loss and accuracy the zoo's module keeps (the same torchmetrics object and updates)."""
    means = EpochMeans("loss", "acc").to(x.device)
    synchronize(x.device)
    start = time.perf_counter()
    model.train()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(x.device)
    for i in range(0, len(x), BATCH_SIZE):
        idx = order[i : i + BATCH_SIZE]
        logits = model(x[idx])
        loss = F.cross_entropy(logits, y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if metrics:
            means.update(len(idx), loss=loss.detach() * len(idx), acc=(logits.argmax(-1) == y[idx]).sum())
    if metrics:
        means.compute()
    synchronize(x.device)
    return time.perf_counter() - start


class PlainEpochAfterEach(Callback):
    """Runs plain-PyTorch epochs (minimal, then with metrics) after every Lightning epoch, so that all three see
    the same machine conditions."""

    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y, self.minimal, self.with_metrics = x, y, [], []
        self.model = MLP().to(x.device)
        self.optimizer = self.model.configure_optimizers()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        self.minimal.append(plain_epoch(self.model, self.optimizer, self.x, self.y, epoch, metrics=False))
        self.with_metrics.append(plain_epoch(self.model, self.optimizer, self.x, self.y, epoch, metrics=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--rounds", type=int, default=8, help="epochs of each, interleaved")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu", help="gpu: data resident on it")
    parser.add_argument("--name", help="results file name (default: mlp_speed[_N_thread][_gpu])")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    pl.seed_everything(0)
    on_gpu = args.accelerator == "gpu"
    datamodule = MNISTDataModule(data_dir=args.data_dir, flatten=True, data_on_device=on_gpu)
    datamodule.prepare_data()
    datamodule.setup("fit")
    device = torch.device("cuda" if on_gpu else "cpu")
    x, y = (t.to(device) for t in datamodule.splits["train"].tensors)  # the DataModule's tensors (a GPU copy on gpu)
    timer, plain_loop = EpochTimer(), PlainEpochAfterEach(x, y)
    trainer = pl.Trainer(
        max_epochs=args.rounds + 1,  # the first epoch of each is a warm-up
        accelerator=args.accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[timer, plain_loop],
    )
    trainer.fit(MLP(), datamodule)
    lightning, plain, plain_metrics = timer.durations[1:], plain_loop.minimal[1:], plain_loop.with_metrics[1:]
    ratio = statistics.median(lightning) / statistics.median(plain)
    name = "mlp_speed" + (f"_{args.threads}_thread" if args.threads else "") + ("_gpu" if on_gpu else "")
    write_result(
        args.name or name,
        {
            "what": "seconds per MLP epoch on MNIST (60,000 samples, batch 128, 469 steps); each Lightning epoch (the "
            "zoo's MLP, DataModule and logging; no progress bar, logger or checkpointing) is followed by one plain "
            "epoch, minimal and with the module's per-step metric updates, in the same process; ratio of the medians",
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
