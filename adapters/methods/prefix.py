"""Prefix tuning (Li & Liang, 2021): P learnable key and value vectors per layer,
prepended to the keys and values of every self-attention (in the projected space,
per head), never to the queries, so output lengths are unchanged.

s3prl's attention modules have no hook point between the projections and the
softmax, so the attention of each layer runs through ``attention_with_prefix``
below, which reuses the module's own projections and, for WavLM, its gated
relative position bias.  With P = 0 it reproduces the original attention
(a test checks this on every family).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn
import torch.nn.functional as F

from adapters.methods.base import AdapterMethod, check_positive
from adapters.registry import register


@dataclass
class PrefixConfig:
    length: int = 16  # P, prefix vectors per layer
    init_std: float = 0.02

    def __post_init__(self):
        check_positive("length", self.length)


def _wavlm_position_bias(attn, query, position_bias, bsz, tgt_len):
    """WavLM's (gated) relative position bias, as its attention computes it."""
    if not getattr(attn, "has_relative_attention_bias", False) and position_bias is None:
        return None, None
    if position_bias is None:
        position_bias = (
            attn.compute_bias(tgt_len, tgt_len)
            .unsqueeze(0)
            .repeat(bsz, 1, 1, 1)
            .view(bsz * attn.num_heads, tgt_len, tgt_len)
        )
    bias = position_bias
    if attn.gru_rel_pos:
        q = query.transpose(0, 1).reshape(bsz, tgt_len, attn.num_heads, -1).permute(0, 2, 1, 3)
        gate_a, gate_b = torch.sigmoid(
            attn.grep_linear(q).view(bsz, attn.num_heads, tgt_len, 2, 4).sum(-1)
        ).chunk(2, dim=-1)
        gate = gate_a * (gate_b * attn.grep_a - 1.0) + 2.0
        bias = gate.view(bsz * attn.num_heads, -1, 1) * position_bias
    return position_bias, bias.view(bsz, attn.num_heads, tgt_len, tgt_len)


def attention_with_prefix(
    attn: nn.Module,
    family: str,
    query: torch.Tensor,
    key_padding_mask: Optional[torch.Tensor],
    prefix_k: Optional[torch.Tensor],
    prefix_v: Optional[torch.Tensor],
    position_bias: Optional[torch.Tensor] = None,
):
    """Self-attention of ``attn`` on time-major ``query`` with optional prefixes (P, C)."""
    tgt_len, bsz, dim = query.shape
    heads = attn.num_heads
    hd = dim // heads
    q = F.linear(query, attn.q_proj.weight, attn.q_proj.bias)
    k = F.linear(query, attn.k_proj.weight, attn.k_proj.bias)
    v = F.linear(query, attn.v_proj.weight, attn.v_proj.bias)
    n_prefix = 0 if prefix_k is None else prefix_k.size(0)
    if n_prefix:
        k = torch.cat([prefix_k.unsqueeze(1).expand(-1, bsz, -1).to(k.dtype), k], dim=0)
        v = torch.cat([prefix_v.unsqueeze(1).expand(-1, bsz, -1).to(v.dtype), v], dim=0)
    src_len = k.size(0)

    def heads_first(t, n):
        return t.reshape(n, bsz, heads, hd).permute(1, 2, 0, 3)

    q, k, v = heads_first(q, tgt_len), heads_first(k, src_len), heads_first(v, src_len)

    mask = None
    if family == "wavlm":
        position_bias, bias = _wavlm_position_bias(attn, query, position_bias, bsz, tgt_len)
        if bias is not None:
            mask = F.pad(bias, (n_prefix, 0)).to(q.dtype)
    if key_padding_mask is not None:
        kpm = F.pad(key_padding_mask.bool(), (n_prefix, 0), value=False)
        pad = torch.zeros(bsz, 1, 1, src_len, dtype=q.dtype, device=q.device)
        pad = pad.masked_fill(kpm[:, None, None, :], float("-inf"))
        mask = pad if mask is None else mask + pad
    p_drop = attn.dropout_module.p if attn.training else 0.0
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p_drop)
    out = out.permute(2, 0, 1, 3).reshape(tgt_len, bsz, dim)
    out = attn.out_proj(out)
    if family == "wavlm":
        return out, None, position_bias
    return out, None


@register("prefix")
class PrefixTuning(AdapterMethod):
    Config = PrefixConfig
    description = "prefix tuning: 16 learnable keys/values per layer"
    table_label = "prefix tuning"
    recipe_conf = {"length": 16}
    training_only_options = ("init_std",)
    identity_at_init = False  # random prefixes change every attention from the start

    def __init__(self, backbone, config, tasks):
        super().__init__(backbone, config, tasks)
        L, d, P = backbone.num_layers, backbone.dim, config.length
        self.keys = nn.Parameter(torch.randn(L, P, d) * config.init_std)
        self.values = nn.Parameter(torch.randn(L, P, d) * config.init_std)

    def install(self):
        bb = self.backbone
        for i in range(bb.num_layers):
            attn = bb.attention(i)

            def forward(query, key=None, value=None, key_padding_mask=None, position_bias=None,
                        attn_mask=None, _attn=attn, _i=i, **unused):
                if attn_mask is not None:  # streaming / causal masks are not used by s3prl's encoders
                    raise NotImplementedError("prefix tuning does not support an attention mask")
                return attention_with_prefix(
                    _attn, bb.family, query, key_padding_mask,
                    self.keys[_i], self.values[_i], position_bias,
                )

            # an instance attribute wins over the class's forward; hooks still run
            attn.forward = forward
            self._patched = getattr(self, "_patched", []) + [attn]

    def uninstall(self):
        super().uninstall()
        for attn in getattr(self, "_patched", []):
            del attn.forward
        self._patched = []
