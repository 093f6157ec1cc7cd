"""The loop every classifier shares: cross-entropy on logits, torchmetrics accuracy, class probabilities out."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from lightning_zoo.core import ZooModule
from lightning_zoo.files import atomic_path


class Classifier(ZooModule):
    """Base of the classifiers: subclasses build the network in ``forward`` (logits out) and may add a
    ``regularization_loss`` (Keras adds kernel penalties to the reported loss; so does this loop)."""

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        # Epoch values, updated every step and logged by log_epoch_metrics. The inputs come from this module, so
        # argument checks are skipped; a NaN loss shows as a NaN epoch loss instead of being dropped with a warning.
        for stage in ("train", "val", "test"):
            setattr(self, f"{stage}_loss", MeanMetric(nan_strategy="disable"))
            setattr(self, f"{stage}_acc", MulticlassAccuracy(num_classes, average="micro", validate_args=False))

    def regularization_loss(self) -> Tensor | float:
        return 0.0

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y) + self.regularization_loss()
        self.train_loss.update(loss.detach(), weight=len(y))
        self.train_acc.update(logits, y)
        self.log_on_logging_steps({"train/loss_step": loss})
        return loss

    def on_train_epoch_end(self) -> None:
        self._log_epoch_metrics("train")

    def _evaluate(self, batch: tuple[Tensor, Tensor], stage: str) -> None:
        x, y = batch
        logits = self(x)
        getattr(self, f"{stage}_loss").update(F.cross_entropy(logits, y), weight=len(y))
        getattr(self, f"{stage}_acc").update(logits, y)

    def _log_epoch_metrics(self, stage: str) -> None:
        self.log_epoch_metrics(
            {f"{stage}/loss": getattr(self, f"{stage}_loss"), f"{stage}/acc": getattr(self, f"{stage}_acc")}
        )

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict[str, Tensor]:
        x, *rest = batch
        out = {"probs": torch.softmax(self(x), dim=-1)}
        if rest:
            out["target"] = rest[0]
        return out

    def write_predictions(self, outputs: list[dict[str, Tensor]], directory: Path) -> list[Path]:
        """``predictions.csv``: one row per sample in dataset order, with its target (when known), the predicted
        class and every class probability."""
        probs = torch.cat([o["probs"] for o in outputs]).float().cpu()
        targets = torch.cat([o["target"] for o in outputs]).cpu() if "target" in outputs[0] else None
        header = ["index", *(["target"] if targets is not None else []), "predicted"]
        header += [f"prob_{c}" for c in range(probs.shape[1])]
        path = directory / "predictions.csv"
        with atomic_path(path) as partial, open(partial, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for i, (p, pred) in enumerate(zip(probs.tolist(), probs.argmax(1).tolist(), strict=True)):
                target = [int(targets[i])] if targets is not None else []
                writer.writerow([i, *target, pred, *(f"{v:.6f}" for v in p)])
        return [path]
