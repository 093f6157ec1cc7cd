"""Keras (TF 2) defaults that change results when a book's model is ported naively (specs/keras-to-pytorch.md)."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KerasOptimizer = Literal["adam", "sgd", "rmsprop", "adadelta"]

# Keras' defaults where they differ from PyTorch's: Adam's epsilon is 1e-7 (Keras 2.1.3 on; in Keras 2.0-2.1.2,
# DLwP's, every optimizer's was 1e-8: the DJIA GRU's best validation MSE, one seed, is 5.25e-05 at 1e-7 and 5.27e-05
# at 1e-8), RMSprop's rho (PyTorch's alpha) is 0.9, SGD's learning rate 0.01, Adadelta's rho 0.95 and (Keras 2, the
# examples' version) learning rate 1.0 and epsilon 1e-8 (the example's Keras, commit 99ba515: Keras 2.0-2.1.2; 1e-7
# from 2.1.3, 1e-6 in Keras 0.x-1.0): Keras 3's 'adadelta' string means lr 0.001, which trains the transfer example
# to 65 % instead of 99 % (keras-to-pytorch.md). Adadelta's epsilon also sits in its step's numerator, so it sets
# the size of the first steps (1e-7 makes them about 3 times larger).
KERAS_OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], dict]] = {
    "adam": (torch.optim.Adam, {"lr": 1e-3, "eps": 1e-7}),
    "sgd": (torch.optim.SGD, {"lr": 1e-2}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7}),
    "adadelta": (torch.optim.Adadelta, {"lr": 1.0, "rho": 0.95, "eps": 1e-8}),
}


def keras_optimizer(
    name: KerasOptimizer, params: Iterable[Tensor], lr: float | None = None, eps: float | None = None
) -> torch.optim.Optimizer:
    """The optimizer Keras builds for ``optimizer=name``, optionally with another learning rate or epsilon."""
    if name not in KERAS_OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(KERAS_OPTIMIZERS)}")
    optimizer_class, defaults = KERAS_OPTIMIZERS[name]
    if eps is not None and "eps" not in defaults:
        raise ValueError(f"{name} has no epsilon to set")
    overrides = {key: value for key, value in (("lr", lr), ("eps", eps)) if value is not None}
    return optimizer_class(params, **{**defaults, **overrides})


def keras_dense_init_(layer: nn.Linear) -> nn.Linear:
    """Keras' Dense initialisation: glorot_uniform kernel, zero bias (PyTorch: kaiming_uniform and uniform bias)."""
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def keras_decay(optimizer: torch.optim.Optimizer, decay: float) -> dict:
    """Keras 2's ``decay`` argument of its optimizers, lr / (1 + decay * iterations), as a scheduler stepped every
    batch, in the form ``configure_optimizers`` returns."""
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda iterations: 1 / (1 + decay * iterations))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def keras_init_(module: nn.Module) -> nn.Module:
    """Keras' initialisation for every Dense and Conv layer inside ``module``: glorot_uniform kernels (PyTorch's fans
    of a conv kernel, in x k x k and out x k x k, are Keras' too), zero biases."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


def l2_penalty(weights: Iterable[Tensor], factor: float) -> Tensor:
    """Keras' ``kernel_regularizer=l2(factor)``: factor * sum(w^2) over the kernels (not biases), added to the loss.

    It is not ``weight_decay``: Adam and RMSprop scale a decay term by their running moments, Keras does not.
    """
    return factor * sum(w.pow(2).sum() for w in weights)


def keras_categorical_crossentropy(logits: Tensor, targets: Tensor, epsilon: float = 1e-7) -> Tensor:
    """Keras 2's ``categorical_crossentropy`` on a softmax output, from logits: the target's probability is clipped
    to [epsilon, 1 - epsilon] before the log, so the loss of a sample is at most -log(epsilon) (16.1) and a sample
    the model gets that wrong (or that right) gives no gradient. ``F.cross_entropy`` has neither bound nor cut-off,
    which lets a diverging step grow without limit where Keras' run recovers (the ReLU SimpleRNN of E1).

    ``logits``: (..., classes); ``targets``: class indices (...). Returns the mean over the targets."""
    log_p = F.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -log_p.clamp(math.log(epsilon), math.log1p(-epsilon)).mean()


@functools.cache  # two float32 logs, not worth redoing at every step
def keras_logit_clip(epsilon: float = 1e-7) -> tuple[float, float]:
    """The logits where Keras 2's binary cross-entropy stops: it clips the sigmoid's output to [epsilon, 1 - epsilon]
    in float32 (1 - 1e-7 rounds to 1 - 2^-23), about -16.1 and +15.9."""
    p = torch.tensor([epsilon, 1 - epsilon], dtype=torch.float32)
    low, high = torch.log(p / (1 - p)).tolist()
    return low, high


def keras_binary_crossentropy(logit: Tensor, target: Tensor, epsilon: float = 1e-7) -> Tensor:
    """Keras 2's ``binary_crossentropy`` on a sigmoid output, from logits: a logit past :func:`keras_logit_clip`
    gives no gradient, right or wrong (``F.binary_cross_entropy_with_logits`` has no such cut-off). Returns the mean
    over the samples."""
    low, high = keras_logit_clip(epsilon)
    return F.binary_cross_entropy_with_logits(logit.float().clamp(low, high), target.float())
