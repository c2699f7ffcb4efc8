"""Small building blocks shared by several methods."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class Bottleneck(nn.Module):
    """a(x) = W_up GELU(W_down x) (with biases).  ``zero_up`` makes a(x) = 0 at init."""

    def __init__(self, dim: int, bottleneck: int, zero_up: bool = True):
        super().__init__()
        self.down = nn.Linear(dim, bottleneck)
        self.up = nn.Linear(bottleneck, dim)
        if zero_up:
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(F.gelu(self.down(x)))


def bottleneck_params(dim: int, bottleneck: int) -> int:
    return 2 * dim * bottleneck + bottleneck + dim
