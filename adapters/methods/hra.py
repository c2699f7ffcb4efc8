"""Hierarchical Recurrent Adapters (Munkhdalai et al., 2024).

One controller, shared by all layers and all tasks, runs recurrently over depth
on every frame:  h_l = ReLU(W_c x_l + u * h_{l-1} + b),  h_0 = 0   (IndRNN)
and each task k has a head shared by its layers:
    linear:  o_l = V_k h_l          ffn:  o_l = V2_k ReLU(V1_k h_l)
added to the layer output: x_l <- x_l + o_l (after every layer, the last
included).  The head's last projection starts at zero, so the adapted model is
the frozen one at step 0.  Per-task cost is the head alone (C*d for linear).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
from torch import nn
import torch.nn.functional as F

from adapters.methods.base import (
    AdapterMethod,
    check_choice,
    check_positive,
    per_utterance_matmul,
)
from adapters.registry import register


@dataclass
class HRAConfig:
    controller: str = "indrnn"  # indrnn | rnn | lightgru (the paper's ablation)
    controller_dim: int = 256  # C
    head: str = "linear"  # linear | ffn
    head_hidden: int = 256  # FFN head width
    layers: Optional[List[int]] = None  # layers whose outputs are adapted (default: all)

    def __post_init__(self):
        check_choice("controller", self.controller, ("indrnn", "rnn", "lightgru"))
        check_choice("head", self.head, ("linear", "ffn"))
        check_positive("controller_dim", self.controller_dim)
        check_positive("head_hidden", self.head_hidden)


class IndRNNCell(nn.Module):
    """h = ReLU(W x + u * h_prev + b): element-wise (independent) recurrence."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.W = nn.Linear(dim, hidden, bias=False)
        self.u = nn.Parameter(torch.empty(hidden).uniform_(0.0, 1.0))
        self.b = nn.Parameter(torch.zeros(hidden))

    def forward(self, x, h):
        pre = self.W(x) + self.b
        if h is not None:
            pre = pre + self.u * h
        return F.relu(pre)


class RNNCell(nn.Module):
    """h = tanh(W x + U h_prev + b)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.W = nn.Linear(dim, hidden)
        self.U = nn.Linear(hidden, hidden, bias=False)

    def forward(self, x, h):
        pre = self.W(x)
        if h is not None:
            pre = pre + self.U(h)
        return torch.tanh(pre)


class LightGRUCell(nn.Module):
    """Light GRU (Ravanelli et al., 2018) without batch norm:
    z = sigmoid(W_z x + U_z h + b_z); h~ = ReLU(W_h x + U_h h + b_h); h = z h + (1 - z) h~."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.W = nn.Linear(dim, 2 * hidden)
        self.U = nn.Linear(hidden, 2 * hidden, bias=False)

    def forward(self, x, h):
        pre = self.W(x)
        if h is not None:
            pre = pre + self.U(h)
        z_pre, c_pre = pre.chunk(2, dim=-1)
        z, cand = torch.sigmoid(z_pre), F.relu(c_pre)
        if h is None:
            return (1 - z) * cand
        return z * h + (1 - z) * cand


_CELLS = {"indrnn": IndRNNCell, "rnn": RNNCell, "lightgru": LightGRUCell}


class LinearHead(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.V = nn.Parameter(torch.zeros(dim, hidden))  # zero: identity at init


class FFNHead(nn.Module):
    def __init__(self, dim: int, hidden: int, ffn: int):
        super().__init__()
        self.V1 = nn.Parameter(torch.empty(ffn, hidden))
        nn.init.kaiming_uniform_(self.V1, a=5 ** 0.5)
        self.V2 = nn.Parameter(torch.zeros(dim, ffn))  # zero: identity at init


@register("hra")
class HRA(AdapterMethod):
    Config = HRAConfig
    description = "HRA: shared IndRNN controller + a head per task (linear unless the base overrides it)"
    table_label = "HRA"
    recipe_conf = {"controller": "indrnn", "controller_dim": 256, "head": "linear"}
    routes_tasks = True
    task_modules = "heads"

    @classmethod
    def capabilities_for(cls, config):
        caps = super().capabilities_for(config)
        if config.layers is None:
            return caps
        return dataclasses.replace(caps, lowest_adapted=min(config.layers) + 1 if config.layers else None)

    def __init__(self, backbone, config, tasks):
        super().__init__(backbone, config, tasks)
        self.controller = _CELLS[config.controller](backbone.dim, config.controller_dim)
        self.heads = nn.ModuleDict({t: self.new_task_module() for t in tasks})
        L = backbone.num_layers
        self.layer_ids = sorted(set(config.layers)) if config.layers is not None else list(range(L))
        bad = [i for i in self.layer_ids if not 0 <= i < L]
        if bad:
            raise ValueError(f"layers {bad} out of range for a {L}-layer upstream")
        self._state: Dict[str, torch.Tensor] = {}

    def new_task_module(self):
        c = self.config
        if c.head == "linear":
            return LinearHead(self.backbone.dim, c.controller_dim)
        return FFNHead(self.backbone.dim, c.controller_dim, c.head_hidden)

    # -- the equations ----------------------------------------------------
    def head_output(self, h: torch.Tensor) -> torch.Tensor:
        """o = V_k h for each utterance's task k; h is time-major (T, B, C)."""
        uniq, inverse = self.routing(h.size(1), h.device)
        heads = [self.heads[self.tasks.names[k]] for k in uniq]
        if self.config.head == "linear":
            return per_utterance_matmul(h, [hd.V for hd in heads], inverse)
        mid = F.relu(per_utterance_matmul(h, [hd.V1 for hd in heads], inverse))
        return per_utterance_matmul(mid, [hd.V2 for hd in heads], inverse)

    def step(self, x: torch.Tensor, h_prev: Optional[torch.Tensor]):
        """One layer: returns (x + o_l, h_l)."""
        # the recurrence over depth carries its state in the residual stream's precision:
        # under autocast the cells' matmuls give bf16 / fp16, and a state rounded to it layer
        # after layer (IndRNN's ReLU is unbounded) would drift and could overflow fp16
        h = self.controller(x, h_prev).to(x.dtype)
        return x + self.head_output(h), h

    # -- hooks ------------------------------------------------------------
    def install(self):
        bb = self.backbone
        # the controller state starts at h_0 = 0 on every pass through the encoder
        self.pre_hook(bb.encoder, lambda mod, args: self._state.clear())
        for i in self.layer_ids:

            def after_layer(mod, inp, out):
                x = bb.layer_output(out)
                x, self._state["h"] = self.step(x, self._state.get("h"))
                return bb.with_layer_output(out, x)

            self.hook(bb.layers[i], after_layer)
