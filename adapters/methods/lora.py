"""LoRA (Hu et al., 2022): W <- W + (alpha / r) B A on the attention projections.

s3prl's attention passes ``q_proj.weight`` etc. straight to
``F.multi_head_attention_forward``, so wrapping the ``Linear`` modules (what
ESPnet's LoRA does) has no effect there.  A weight parametrization changes what
``q_proj.weight`` *is*, so every code path sees the low-rank update.  For
inference, ``parametrize.cached()`` computes each merged weight once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List

import torch
from torch import nn
from torch.nn.utils import parametrize

from adapters.methods.base import AdapterMethod, check_positive
from adapters.registry import register

_TARGETS = ("q", "k", "v", "out")


@dataclass
class LoRAConfig:
    rank: int = 8
    alpha: float = 16.0  # scaling alpha / rank, as in the LoRA paper
    targets: List[str] = field(default_factory=lambda: ["q", "v"])

    def __post_init__(self):
        check_positive("rank", self.rank)
        self.targets = list(self.targets)
        bad = [t for t in self.targets if t not in _TARGETS]
        if bad or not self.targets or len(set(self.targets)) != len(self.targets):
            raise ValueError(f"targets must be distinct entries of {list(_TARGETS)}, got {self.targets}")


class LowRankDelta(nn.Module):
    """The parametrization W -> W + scale * B @ A (B zero at init: identity)."""

    def __init__(self, out_features: int, in_features: int, rank: int, scale: float):
        super().__init__()
        self.A = nn.Parameter(torch.empty(rank, in_features))
        self.B = nn.Parameter(torch.zeros(out_features, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.scale = scale

    def forward(self, W: torch.Tensor) -> torch.Tensor:
        # the merged weight in the frozen weight's precision, autocast or not (autocast would run
        # B @ A in bf16 / fp16 and round the update before the sum); the attention's own matmul
        # then casts the merged weight as it casts W alone, so LoRA adds one rounding, not two
        with torch.autocast(W.device.type, enabled=False):
            return W + self.scale * (self.B.to(W.dtype) @ self.A.to(W.dtype))


@register("lora")
class LoRA(AdapterMethod):
    Config = LoRAConfig
    description = "LoRA on the query and value projections"
    table_label = "LoRA"
    recipe_conf = {"rank": 8, "alpha": 16, "targets": ["q", "v"]}

    def __init__(self, backbone, config, tasks):
        super().__init__(backbone, config, tasks)
        self.deltas = nn.ModuleDict()
        for i in range(backbone.num_layers):
            attn = backbone.attention(i)
            for t in config.targets:
                lin = getattr(attn, f"{t}_proj")
                self.deltas[f"{i}_{t}"] = LowRankDelta(
                    lin.out_features, lin.in_features, config.rank, config.alpha / config.rank
                )

    def install(self):
        for key, delta in self.deltas.items():
            i, t = key.split("_")
            lin = getattr(self.backbone.attention(int(i)), f"{t}_proj")
            parametrize.register_parametrization(lin, "weight", delta)

    def uninstall(self):
        for key in self.deltas:
            i, t = key.split("_")
            lin = getattr(self.backbone.attention(int(i)), f"{t}_proj")
            if parametrize.is_parametrized(lin, "weight"):
                parametrize.remove_parametrizations(lin, "weight", leave_parametrized=False)

    def inference_context(self):
        return parametrize.cached()
