"""The Bayesian softmax regression of "Hands-On Deep Learning Architectures with Python" (ch. 8, Bayesian neural
networks), written there with Edward, here with the reparameterisation trick."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from lightning_zoo.bayesian.base import VariationalClassifierBase, VariationalLinear
from lightning_zoo.cards import HANDS_ON, Card, Result


class BayesianSoftmaxRegression(VariationalClassifierBase):
    """Hands-On E9: ``y ~ Categorical(logits = x W + b)`` with N(0, 1) priors on W (784 x 10) and b, and a mean-field
    Normal posterior (softplus scales), fitted by ELBO on MNIST in [0, 1] with the likelihood scaled to the 60,000
    training images; 100 passes in batches of 100. (The book's text calls it a network with one hidden layer; its
    code has none.)

    The optimizer is the one Edward's ``inference.initialize`` builds when given none, as the book's code does:
    Adam at 0.1 (TensorFlow's epsilon, 1e-8), multiplied by 0.9 every 100 steps (a staircase). After pass 10 the rate
    is 0.9^60 = 1.8e-3 of its start, under 1e-4 during pass 15, so the later passes barely move the posterior.

    Args:
        input_shape: Shape of one input, flattened by the model (MNIST: (1, 28, 28) or (784,)); linked from the
            DataModule.
        prior_scale: Standard deviation of the Normal priors.
        lr: Adam's initial learning rate.
        lr_decay: Factor applied every ``lr_decay_steps`` optimizer steps.
        lr_decay_steps: Steps between decays.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (784,),
        prior_scale: float = 1.0,
        lr: float = 0.1,
        lr_decay: float = 0.9,
        lr_decay_steps: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if lr_decay_steps < 1 or not 0 < lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1] and lr_decay_steps >= 1, got {lr_decay}, {lr_decay_steps}")
        features = math.prod(input_shape)
        self.net = nn.Sequential(nn.Flatten(), VariationalLinear(features, self.hparams.num_classes, prior_scale))
        self.example_input_array = torch.zeros(2, *input_shape)

    def configure_optimizers(self) -> dict:
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr, eps=1e-8)
        decay, every = self.hparams.lr_decay, self.hparams.lr_decay_steps
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: decay ** (step // every))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


CARDS = (
    Card(
        name="bayesian_softmax_mnist",
        family="bayesian",
        source=f"{HANDS_ON}, ch. 8, Bayesian neural networks (spec E9)",
        config="configs/bayesian/bayesian_softmax_mnist.yaml",
        dataset="MNIST",
        parameters={"": 2 * (784 * 10 + 10)},  # a mean and a scale for each of W's and b's 7,850 weights
        parameters_from_book=False,
        results=(
            Result(
                "test accuracy, mean of 30 posterior samples",
                90.99,
                "30 weight samples of the final posterior, 10,000 test images (the book lists all 30)",
                ours="bayesian_softmax_mnist.json:acc_mean_pct",
                tolerance=1.0,
                note="{seeds} of the 30 samples' mean",
            ),
            Result(
                "lowest of the 30 samples' test accuracies",
                89.36,
                "as above",
                ours="bayesian_softmax_mnist.json:acc_min_pct",
                tolerance=1.0,
                note="{seeds}",
            ),
            Result(
                "highest of the 30 samples' test accuracies",
                91.84,
                "as above",
                ours="bayesian_softmax_mnist.json:acc_max_pct",
                tolerance=1.0,
                note="{seeds}",
            ),
            Result(
                "AUROC of telling MNIST test from Fashion-MNIST test by predictive entropy",
                None,
                "the book shows one notMNIST letter's 30 predictions; we score whole sets",
                ours="bayesian_softmax_mnist.json:ood_auroc_entropy",
                unit="",
                note="{seeds}; by the 30 samples' agreement: {ood_auroc_agreement}",
            ),
        ),
        deviations=(
            "one weight sample per step for the whole batch and the closed-form KL, as Edward's KLqp; the loss is "
            "divided through by the 60,000 training images (Adam is indifferent to the scale)",
            "600 batches a pass, not the book's 599 (its batch generator drops the last one)",
            "notMNIST is not available offline: Fashion-MNIST and a rendered letter stand in for it",
        ),
    ),
)
