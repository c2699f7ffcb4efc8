"""RNN-T loss for ESPnet's transducer decoder, computed by torchaudio.

ESPnet's ``ESPnetASRModel`` imports ``warprnnt_pytorch.RNNTLoss`` when its
decoder is a transducer; that package is not on the registry.  This module
provides the same class (same constructor and call) on top of
``torchaudio.functional.rnnt_loss`` and registers it under that name only when
the real package is missing.
"""
from __future__ import annotations

import sys
import types

import torch
import torchaudio.functional as AF


class RNNTLoss(torch.nn.Module):
    """warp-transducer's ``RNNTLoss(blank, reduction, fastemit_lambda)``:
    ``forward(acts, labels, act_lens, label_lens)`` with ``acts`` the joint
    network's logits (B, T, U+1, V); log-softmax is applied inside, as warp does."""

    def __init__(self, blank: int = 0, reduction: str = "mean", fastemit_lambda: float = 0.0):
        super().__init__()
        if fastemit_lambda:
            raise ValueError("fastemit_lambda is not supported by torchaudio's rnnt_loss")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")
        self.blank = blank
        self.reduction = reduction

    def forward(self, acts, labels, act_lens, label_lens):
        return AF.rnnt_loss(
            acts.float(),
            labels.int(),
            act_lens.int(),
            label_lens.int(),
            blank=self.blank,
            reduction=self.reduction,
        )


def install():
    """Make ``import warprnnt_pytorch`` give this module's RNNTLoss, unless the real one exists."""
    if "warprnnt_pytorch" in sys.modules:
        return
    try:
        import warprnnt_pytorch  # noqa: F401
    except ImportError:
        shim = types.ModuleType("warprnnt_pytorch")
        shim.RNNTLoss = RNNTLoss
        shim.__doc__ = "torchaudio-backed stand-in installed by adapters.espnet.rnnt_loss"
        sys.modules["warprnnt_pytorch"] = shim
