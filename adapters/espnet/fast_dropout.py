"""Dropout whose mask costs half as much on the CPU.

``torch.nn.Dropout`` draws its CPU mask with ``bernoulli_``: a fifth of a cached frozen-upstream
training epoch on 2 cores (``egs/bench_cache/RESULTS.md``).  :class:`FastDropout` draws the same
Bernoulli(1 - p) mask from ``uniform_`` (vectorised) and a comparison, and scales by 1 / (1 - p)
as dropout does: the same distribution from another random stream.  Only float32/float64 CPU
tensors take this path: a float16 uniform draw is too coarse for an exact rate, and CUDA's own
dropout is fused already.  Evaluation is the identity, as with ``nn.Dropout``.
"""
from __future__ import annotations

import torch


class FastDropout(torch.nn.Dropout):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or self.p == 1.0:
            return super().forward(x)
        keep = torch.empty_like(x, memory_format=torch.contiguous_format).uniform_().ge_(self.p)
        keep.mul_(1.0 / (1.0 - self.p))
        if self.inplace:
            return x.mul_(keep)
        return x * keep


def use_fast_dropout(model: torch.nn.Module) -> int:
    """Replace every plain ``nn.Dropout`` in ``model`` by :class:`FastDropout` (same rate and
    ``inplace``); returns how many.  Subclasses of ``nn.Dropout`` are left alone: they may draw
    differently on purpose."""
    swapped = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.Dropout:
                setattr(parent, name, FastDropout(child.p, child.inplace))
                swapped += 1
    return swapped


class FastDropoutModels:
    """Mixin for an ESPnet task class: the models it builds use :class:`FastDropout`."""

    @classmethod
    def build_model(cls, args):
        model = super().build_model(args)
        use_fast_dropout(model)
        return model
