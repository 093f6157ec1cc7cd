"""Layers of the books that are not in ``torch.nn``, usable in any network."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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
