"""Keras' clipped binary cross-entropy against the zoo's, on a binary classifier config (one logit): trains with
Keras 2's loss (:func:`lightning_zoo.keras.keras_binary_crossentropy`, the books' loss, which gives no gradient past
a logit of about +-16) and counts, each epoch, the training samples whose logit lay past that clip. Where none does,
the zoo's ``binary_cross_entropy_with_logits`` trains the same model: the same seed gives the same curve.

Writes benchmarks/results/<name>.json, every epoch's validation and test as ``epoch_curves.py`` plus
``training_samples_past_clip``.

    python benchmarks/keras_bce_clip.py --config configs/sequence/bilstm_imdb.yaml --data-dir ../shared/data \\
        --data.val_size 0 --model.recurrent_dropout 0 --trainer.max_epochs 10 --name bilstm_imdb_keras_bce_clip
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import seeded_run_options, write_result  # noqa: E402
from benchmarks.epoch_curves import TestEveryEpoch, run, summarise  # noqa: E402
from lightning_zoo.keras import keras_binary_crossentropy, keras_logit_clip  # noqa: E402


class KerasLossPastClip(TestEveryEpoch):
    """Swaps the model's loss for Keras' (in training, validation and this test alike, as Keras reports its
    ``val_loss``) and counts the training samples past the clip since the last validation."""

    def __init__(self) -> None:
        super().__init__()
        self.past_clip = 0

    def on_fit_start(self, trainer, pl_module) -> None:
        low, high = keras_logit_clip()
        zoo_loss = pl_module.loss_and_predictions

        def keras_loss(logits, y):
            if logits.shape[-1] != 1:
                raise ValueError(f"keras_bce_clip needs a binary classifier (one logit), got {logits.shape[-1]}")
            logit = logits.squeeze(-1)
            if pl_module.training and torch.is_grad_enabled():
                self.past_clip += int(((logit < low) | (logit > high)).sum())
            return keras_binary_crossentropy(logit, y), zoo_loss(logits, y)[1]

        pl_module.loss_and_predictions = keras_loss

    def validated(self, trainer, pl_module) -> dict:
        values = {**super().validated(trainer, pl_module), "training_samples_past_clip": self.past_clip}
        self.past_clip = 0
        return values


def main() -> None:
    args, cli_args = seeded_run_options(__doc__)
    runs = []
    for seed in args.seeds:
        runs.append(run(args.config, args.data_dir, seed, args.workdir, cli_args, curves=KerasLossPastClip()))
        summary = summarise(args.config, runs)
        past = sum(e["training_samples_past_clip"] for r in runs for e in r["epochs"])
        write_result(args.name, {**summary, "training_samples_past_clip": past})


if __name__ == "__main__":
    main()
