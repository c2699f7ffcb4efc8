"""ELP-adapters (Inoue et al., 2024): E-, L- and P-adapters, each switchable.

E-adapter, inside layers 0..L-2 by default, on the FFN output:
    h = r + E(FFN(r)),   E(y) = y + LN(W_up GELU(W_down y))
L-adapter on every layer output, read by the downstream head as a weighted sum:
    A_l = LN(GELU(W_l x_l)),   features = sum_l softmax(w)_l A_l
P-adapter: K_p pseudo frames joined to the CNN features before the transformer,
    prefix or suffix, P = W E (linear) or P = W_2 tanh(W_1 E) (nonlinear);
    the pseudo frames are removed from every hidden state, so lengths are
    unchanged downstream.

The E-adapter's LayerNorm gain starts at ``e_ln_init`` (0 by default): the block
is then exactly the frozen one at step 0 while keeping the paper's function
class; set it to 1.0 for the paper's plain LayerNorm initialisation.

``train_layernorms: true`` trains the backbone's own LayerNorms beside the adapters
(every ``nn.LayerNorm`` from the feature LayerNorm on: the one over the CNN features,
the encoder's and the two of each layer; the CNN's GroupNorm stays frozen), as the
ELP authors' predecessor code does; they are stored with the adapter, like BitFit's
biases.  Learning rates per component: ``adapter_lr_scale`` (the E-, L- and
P-adapters and the layer weights) and ``layernorm_lr_scale`` (the backbone's
LayerNorms) multiply the optimizer's rate, each a parameter group of its own
(``lr_scale_options``; 1 by default: one group, as without them).

The catalogue's ``elp_wavlm_paper`` is that predecessor configuration: E-adapters of
bottleneck 256 in layers 0..L-2, L-adapters of width 512, no P-adapter, the
LayerNorms trained; on WavLM Base (L = 12, d = 768) it trains
    E   11 x (768*256 + 256 + 256*768 + 768 + 2*768)  = 4,353,536
    L   12 x (768*512 + 512 + 2*512) + 12 weights      = 4,737,036
    LN  2*768 per LayerNorm x (2 x 12 + 1) + 2*512      =    39,424
    total                                               = 9,129,996  (9.13 M)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, List

import torch
from torch import nn
import torch.nn.functional as F

from adapters.methods.base import AdapterMethod, check_choice, check_lr_scale, check_positive
from adapters.registry import register


@dataclass
class ELPConfig:
    e_adapter: bool = True
    e_bottleneck: int = 64
    e_layers: Optional[List[int]] = None  # default: 0 .. L-2
    e_ln_init: float = 0.0
    l_adapter: bool = True
    l_dim: Optional[int] = None  # d_L (default: the model width)
    p_adapter: bool = True
    p_length: int = 8  # K_p pseudo frames
    p_position: str = "prefix"  # prefix | suffix
    p_reparam: str = "linear"  # linear | nonlinear
    p_embed_dim: Optional[int] = None  # width of E (default: the model width)
    p_hidden: Optional[int] = None  # nonlinear reparametrisation width (default: model width)
    train_layernorms: bool = False  # the backbone's LayerNorms train too (the predecessor code's)
    adapter_lr_scale: float = 1.0  # the adapters learn at the optimizer's rate times this
    layernorm_lr_scale: float = 1.0  # the backbone's LayerNorms (train_layernorms) at rate times this

    def __post_init__(self):
        check_positive("e_bottleneck", self.e_bottleneck)
        check_lr_scale("adapter_lr_scale", self.adapter_lr_scale)
        check_lr_scale("layernorm_lr_scale", self.layernorm_lr_scale)
        if self.layernorm_lr_scale != 1.0 and not self.train_layernorms:
            raise ValueError("layernorm_lr_scale needs train_layernorms: true (the backbone's LayerNorms are frozen)")
        check_positive("p_length", self.p_length)
        check_choice("p_position", self.p_position, ("prefix", "suffix"))
        check_choice("p_reparam", self.p_reparam, ("linear", "nonlinear"))
        for n in ("l_dim", "p_embed_dim", "p_hidden"):
            if getattr(self, n) is not None:
                check_positive(n, getattr(self, n))
        if not (self.e_adapter or self.l_adapter or self.p_adapter):
            raise ValueError("ELP with e_adapter, l_adapter and p_adapter all off adapts nothing")


class EAdapter(nn.Module):
    def __init__(self, dim: int, bottleneck: int, ln_init: float):
        super().__init__()
        self.down = nn.Linear(dim, bottleneck)
        self.up = nn.Linear(bottleneck, dim)
        self.norm = nn.LayerNorm(dim)
        nn.init.constant_(self.norm.weight, ln_init)

    def forward(self, y):
        return y + self.norm(self.up(F.gelu(self.down(y))))


class LAdapter(nn.Module):
    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.proj = nn.Linear(dim, out_dim)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x):
        return self.norm(F.gelu(self.proj(x)))


class PAdapter(nn.Module):
    def __init__(self, dim: int, length: int, reparam: str, embed_dim: int, hidden: int):
        super().__init__()
        self.E = nn.Parameter(torch.randn(length, embed_dim) * 0.02)
        if reparam == "linear":
            self.net = nn.Linear(embed_dim, dim)
        else:
            self.net = nn.Sequential(nn.Linear(embed_dim, hidden), nn.Tanh(), nn.Linear(hidden, dim))

    def forward(self):
        return self.net(self.E)  # (K_p, d)


@register("elp")
class ELP(AdapterMethod):
    Config = ELPConfig
    description = "ELP: E-adapters (layers 0..L-2), L-adapters summed as the features, P-adapter prefix"
    table_label = "ELP"
    recipe_conf = {"e_bottleneck": 64, "l_adapter": True, "p_length": 8, "p_position": "prefix",
                   "p_reparam": "linear"}
    training_only_options = ("e_ln_init", "adapter_lr_scale", "layernorm_lr_scale")
    lr_scale_options = {"adapters": "adapter_lr_scale", "layernorms": "layernorm_lr_scale"}

    @classmethod
    def capabilities_for(cls, config):
        c = config
        if c.p_adapter or c.train_layernorms:
            # the pseudo frames reach every hidden state through the positional convolution;
            # the feature and encoder LayerNorms act before the first layer
            lowest = 0
        elif c.e_adapter and (c.e_layers is None or c.e_layers):  # the default starts at layer 0
            lowest = min(c.e_layers or [0]) + 1
        else:
            lowest = None
        return dataclasses.replace(
            super().capabilities_for(config),
            has_layer_summary=c.l_adapter,
            lowest_adapted=lowest,
            # L-adapters only read the layer outputs: with neither E- nor P-adapters on,
            # nothing inside the upstream needs a gradient
            # the feature LayerNorm (train_layernorms) reads the CNN's output
            cache_cut=("cnn" if c.train_layernorms else
                       "encoder" if (c.e_adapter or c.p_adapter) else "hidden_states"),
            # the E-adapter's LayerNorm gain starts at e_ln_init; the P-adapter's frames are random
            identity_at_init=not c.p_adapter and (not c.e_adapter or c.e_ln_init == 0.0),
        )

    def __init__(self, backbone, config, tasks):
        super().__init__(backbone, config, tasks)
        L, d = backbone.num_layers, backbone.dim
        c = config
        self.e_layers = sorted(set(c.e_layers)) if c.e_layers is not None else list(range(L - 1))
        bad = [i for i in self.e_layers if not 0 <= i < L]
        if bad:
            raise ValueError(f"e_layers {bad} out of range for a {L}-layer upstream")
        if c.e_adapter:
            self.e_adapters = nn.ModuleDict(
                {str(i): EAdapter(d, c.e_bottleneck, c.e_ln_init) for i in self.e_layers}
            )
        if c.l_adapter:
            self.l_dim = self.summary_dim = c.l_dim or d
            self.l_adapters = nn.ModuleList(LAdapter(d, self.l_dim) for _ in range(L))
            self.l_weights = nn.Parameter(torch.zeros(L))
        if c.p_adapter:
            self.p_adapter = PAdapter(d, c.p_length, c.p_reparam, c.p_embed_dim or d, c.p_hidden or d)
        self._valid_len: Optional[int] = None

    # -- what trains --------------------------------------------------------
    def _layernorms(self):
        """(name in the upstream, parameter) of the backbone's LayerNorms, from the feature
        LayerNorm on (``train_layernorms``); none otherwise."""
        if not self.config.train_layernorms:
            return []
        bb = self.backbone
        ids = {id(p) for top in bb.transformer_modules() for m in top.modules()
               if isinstance(m, nn.LayerNorm) for p in m.parameters(recurse=False)}
        return [(n, p) for n, p in bb.upstream.named_parameters() if id(p) in ids]

    def configure_trainable(self) -> None:
        super().configure_trainable()
        for _, p in self._layernorms():
            p.requires_grad_(True)

    def upstream_trainable_names(self) -> List[str]:
        return [n for n, _ in self._layernorms()]

    def lr_components(self):
        comps = {"adapters": list(self.parameters())}
        if self.config.train_layernorms:
            comps["layernorms"] = [p for _, p in self._layernorms()]
        return comps

    # -- P-adapter ----------------------------------------------------------
    def _join_pseudo(self, module, args, kwargs):
        x = args[0] if args else kwargs.pop("x")
        rest = args[1:]
        B, T, _ = x.shape
        pad = kwargs.get("padding_mask")
        if pad is None:
            pad = torch.zeros(B, T, dtype=torch.bool, device=x.device)
        pseudo = self.p_adapter().to(x.dtype).unsqueeze(0).expand(B, -1, -1)
        valid = torch.zeros(B, pseudo.size(1), dtype=torch.bool, device=x.device)
        if self.config.p_position == "prefix":
            x, pad = torch.cat([pseudo, x], 1), torch.cat([valid, pad], 1)
        else:
            x, pad = torch.cat([x, pseudo], 1), torch.cat([pad, valid], 1)
        kwargs["padding_mask"] = pad
        self._valid_len = T
        return (x,) + tuple(rest), kwargs

    def strip(self, h: torch.Tensor, time_dim: int = 1) -> torch.Tensor:
        """Drop the pseudo frames (and any padding the encoder added behind them)."""
        T = self._valid_len
        start = self.config.p_length if self.config.p_position == "prefix" else 0
        return h.narrow(time_dim, start, T)

    def _strip_encoder_output(self, module, args, kwargs, out):
        x = self.strip(out[0], 1)
        return (x,) + tuple(out[1:])

    def _strip_hidden_states(self, original):
        def postprocess(xs):
            if self._valid_len is not None:
                xs = [(name, self.strip(h, 1)) for name, h in xs]
                self._valid_len = None
            return original(xs) if callable(original) else xs

        return postprocess

    # -- hooks ------------------------------------------------------------
    def install(self):
        bb = self.backbone
        if self.config.e_adapter:
            for i in self.e_layers:
                ad = self.e_adapters[str(i)]
                self.hook(bb.ffn_out(i), lambda mod, inp, out, a=ad: a(out))
        if self.config.p_adapter:
            self.pre_hook(bb.encoder, self._join_pseudo, with_kwargs=True)
            self._handles.append(
                bb.encoder.register_forward_hook(self._strip_encoder_output, with_kwargs=True)
            )
            self._original_postprocess = bb.expert.hook_postprocess
            bb.expert.hook_postprocess = self._strip_hidden_states(self._original_postprocess)

    def uninstall(self):
        super().uninstall()
        if self.config.p_adapter and hasattr(self, "_original_postprocess"):
            self.backbone.expert.hook_postprocess = self._original_postprocess

    # -- L-adapter --------------------------------------------------------
    def layer_summary(self, hidden_states, lengths):
        """sum_l softmax(w)_l LAdapter_l(x_l) over the L layer outputs."""
        if not self.config.l_adapter:
            return None
        outs = hidden_states[1:]
        if len(outs) != len(self.l_adapters):
            raise ValueError(f"expected {len(self.l_adapters) + 1} hidden states, got {len(hidden_states)}")
        w = torch.softmax(self.l_weights, 0)
        feats = sum(w[i] * ad(h) for i, (ad, h) in enumerate(zip(self.l_adapters, outs)))
        return feats, lengths[-1]
