"""Layers of the books that are not in ``torch.nn``, usable in any network."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def checked_image_shape(
    model: str,
    shape: Sequence[int],
    side: int | None = None,
    min_side: int = 0,
    channels: int | None = None,
    fix: str = "",
) -> tuple[int, int, int]:
    """``(channels, height, width)`` of a convolutional model's images, refused in one line that names the model
    where the data give a vector (flattened), other ``channels``, another size than the ``side`` x ``side`` its
    layer table makes, or a side under ``min_side``; ``fix`` follows, saying what to change."""
    if len(shape) != 3:
        raise ValueError(f"{model} takes (channels, height, width) images, the data gives {tuple(shape)}: drop "
                         "--data.flatten")  # fmt: skip
    c, height, width = shape
    if channels is not None and c != channels:
        raise ValueError(f"{model} takes images of {channels} channels, the data has {c}{fix}")
    if side is not None and (height, width) != (side, side):
        raise ValueError(f"{model}'s layer table makes {side}x{side} images, the data has {height}x{width}{fix}")
    if min(height, width) < min_side:
        raise ValueError(f"{model} takes images of at least {min_side}x{min_side}, the data has {height}x{width}{fix}")
    return c, height, width


class Antirectifier(nn.Module):
    """The Keras example's custom layer (``antirectifier.py``): centres each sample's features on their mean,
    L2-normalises them, and returns the positive and the negative part side by side, so (N, n) becomes (N, 2n).

    Unlike ReLU it discards nothing: ``relu(x) - relu(-x) = x``. Keras' ``l2_normalize`` divides by
    ``sqrt(max(sum(x^2), 1e-12))``, as ``F.normalize`` does with ``eps=1e-6`` on the norm.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2:
            raise ValueError(f"Antirectifier takes (samples, features), got shape {tuple(x.shape)}")
        x = F.normalize(x - x.mean(dim=1, keepdim=True), dim=1, eps=1e-6)
        return torch.cat([F.relu(x), F.relu(-x)], dim=1)
