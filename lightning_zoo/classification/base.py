"""The loop every classifier shares: cross-entropy on logits, epoch loss and accuracy, class probabilities out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_zoo.core import SharedStepModule, batch_labels
from lightning_zoo.keras import KerasOptimizer, keras_optimizer


class Classifier(SharedStepModule):
    """Base of the classifiers: a subclass builds its network as ``self.net`` (logits out); it may add a
    ``regularization_loss`` (Keras adds kernel penalties to the loss it trains on and reports, in validation too; so
    does this loop). It trains with the Keras optimizer ``optimizer`` over the trainable parameters; a model declares
    ``optimizer`` and ``lr`` again only to give its book's values as defaults.

    A network with one output is a binary classifier, as Keras' ``Dense(1, activation="sigmoid")`` with
    ``binary_crossentropy``: binary cross-entropy on the logit, class 1 where it is positive.

    Logs ``{train,val,test}/loss`` and ``/acc`` per epoch (DDP-synced) and ``train/loss_step`` on logging steps;
    ``predict`` writes ``predictions.csv``.

    Args:
        num_classes: Output classes (linked from the DataModule).
        optimizer: The Keras optimizer (``"rmsprop"``, the default of Keras' ``compile``), with Keras' settings.
        lr: Its learning rate; None is Keras' default for it.
    """

    is_family_base = True
    family = "classifier"
    monitor = "val/acc"
    monitor_mode = "max"
    prediction_files = ("predictions.csv",)

    def __init__(self, num_classes: int = 10, optimizer: KerasOptimizer = "rmsprop", lr: float | None = None) -> None:
        super().__init__()
        if num_classes < 2:  # one class would train a classifier on targets that never differ
            raise ValueError(
                f"a classifier needs at least 2 classes, the data has {num_classes} (an image folder read with "
                "--data.labelled false is one class; new images to classify go in --data.predict_folder)"
            )
        self.track_epoch_means("loss", "acc")

    net: nn.Module
    built_networks = ("net",)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def output_units(self, binary: bool) -> int:
        """The network's outputs: one logit for two classes where ``binary`` (Keras' ``Dense(1, 'sigmoid')``), else
        one per class."""
        return 1 if binary and self.hparams.num_classes == 2 else self.hparams.num_classes

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # Frozen parameters (a transfer's features, VGG16's base) stay out of the optimizer.
        trainable = [p for p in self.parameters() if p.requires_grad]
        return keras_optimizer(self.hparams.optimizer, trainable, self.hparams.lr, self.hparams.get("eps"))

    def regularization_loss(self) -> Tensor | float:
        return 0.0

    @staticmethod
    def loss_and_predictions(logits: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-entropy and predicted classes; binary cross-entropy and ``logit > 0`` for a single output."""
        if logits.shape[-1] == 1:
            logit = logits.squeeze(-1)
            return F.binary_cross_entropy_with_logits(logit, y.to(logit.dtype)), (logit > 0).long()
        return F.cross_entropy(logits, y), logits.argmax(-1)

    def shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        x, y = batch
        loss, predicted = self.loss_and_predictions(self(x), y)
        penalty = self.regularization_loss()
        if isinstance(penalty, Tensor):  # Keras' loss in every stage, its evaluation's too
            loss = loss + penalty
        self.epoch_means[stage].update(len(y), loss=loss * len(y), acc=(predicted == y).sum())
        return loss

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict[str, Tensor]:
        x, *rest = batch
        logits = self(x)
        if logits.shape[-1] == 1:
            positive = torch.sigmoid(logits)
            out = {"probs": torch.cat([1 - positive, positive], dim=-1)}
        else:
            out = {"probs": torch.softmax(logits, dim=-1)}
        return {**out, **batch_labels(rest)}

    def write_predictions(self, outputs: list[dict[str, Any]], directory: Path) -> list[Path]:
        """``predictions.csv`` (``ZooModule.write_class_predictions``): per sample its target, predicted class and
        every class probability."""
        return [self.write_class_predictions(outputs, directory)]
