"""Audio-AdapterFusion (Ngai et al., 2023): single-task adapters, then a fusion
that needs no task id.

Every layer l has one bottleneck adapter per task, a_k = W_up,k GELU(W_down,k x_l),
on the layer output.
  mode single    (knowledge extraction, and task-id routing):  x_l <- x_l + a_{k(utt)}
  mode avg       f = (1/K) sum_k a_k
  mode wavg      f = sum_k softmax(w_l)_k a_k
  mode attention q = x_l W_q, k_k = a_k W_k, v_k = a_k W_v,
                 s = softmax_k(q . k_k / sqrt(d_f)),  f = sum_k s_k v_k
and, for the composition modes, x_l <- x_l + LN(f) (``layernorm: false`` drops LN).

``value_regularization: lambda`` adds lambda * sum_l ||I - W_v,l||_F^2 to the training loss,
AdapterFusion's regulariser (Pfeiffer et al., 2021; lambda = 0.01 there): W_v starts at the
identity and is a full d x d map trained on the seen tasks only, so without it the value
projection is free to fit them.  The A-AF paper does not say whether it kept it; off by default.

``fusion_lr_scale: r`` trains the fusion layers (W_q, W_k, W_v, w, LN) at r times the
optimizer's learning rate, as AdapterFusion trains its fusion at half its adapters' rate
(5e-5 against 1e-4); everything else keeps the configured rate.  1 by default.

``own_adapter_dropout: p`` (ours, not the paper's; off by default) hides, in composition
training, each utterance's own task adapter from the fusion with probability p (the
softmax or the mean runs over the other K-1): an unseen task has no adapter of its own,
and a fusion that only ever saw its own adapter present learns to pick that one.

The attention never materialises k_k or v_k: both are linear in the adapter's
bottleneck activation g_k = GELU(W_down,k x_l), so q . k_k = (q A_k^T) . g_k + q . e_k
with A_k = W_up,k^T W_k, and sum_k s_k v_k = [s_k g_k]_k @ [W_up,k^T W_v]_k + ...
This keeps fusion over K adapters at O(K d b) per frame instead of O(K d^2);
a test checks it against the equation written out directly.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import List, Optional

import torch
from torch import nn
import torch.nn.functional as F

from adapters.methods.base import (
    AdapterMethod,
    check_choice,
    check_positive,
    routed_bottleneck,
)
from adapters.methods.blocks import Bottleneck
from adapters.registry import register

MODES = ("single", "avg", "wavg", "attention")


@dataclass
class FusionConfig:
    mode: str = "single"  # single (extraction / task routing) | avg | wavg | attention
    bottleneck: int = 64
    layernorm: bool = True  # LN(f) before the residual, composition modes only
    train_adapters: bool = False  # composition: update the single-task adapters too
    attention_dim: Optional[int] = None  # d_f (default: the model width)
    adapter_paths: List[str] = field(default_factory=list)  # stage-1 checkpoints, one per task
    # composition training only: the probability of hiding an utterance's own task adapter
    # from the fusion, so that it learns to combine the others as it must on an unseen task
    # (needs task ids in training; decoding never reads them)
    own_adapter_dropout: float = 0.0
    # attention only: lambda * sum over layers of ||I - W_value||_F^2 added to the training loss
    value_regularization: float = 0.0
    # composition: the fusion layers learn at lr x this (see the module docstring)
    fusion_lr_scale: float = 1.0

    def __post_init__(self):
        check_choice("mode", self.mode, MODES)
        check_positive("bottleneck", self.bottleneck)
        if self.attention_dim is not None:
            check_positive("attention_dim", self.attention_dim)
        if not 0.0 <= self.own_adapter_dropout <= 1.0:
            raise ValueError(f"own_adapter_dropout must be in [0, 1], got {self.own_adapter_dropout}")
        if self.value_regularization < 0:
            raise ValueError(f"value_regularization must be >= 0, got {self.value_regularization}")
        if self.value_regularization > 0 and self.mode != "attention":
            raise ValueError(f"value_regularization needs mode attention (mode {self.mode!r} has no value projection)")
        if not self.fusion_lr_scale > 0:
            raise ValueError(f"fusion_lr_scale must be > 0, got {self.fusion_lr_scale}")
        if self.fusion_lr_scale != 1.0 and self.mode == "single":
            raise ValueError("fusion_lr_scale needs a composition mode (mode 'single' has no fusion)")
        self.adapter_paths = [str(p) for p in self.adapter_paths]


class LayerFusion(nn.Module):
    """The fusion parameters of one layer."""

    def __init__(self, mode: str, dim: int, num_adapters: int, att_dim: int, layernorm: bool):
        super().__init__()
        if mode == "wavg":
            self.w = nn.Parameter(torch.zeros(num_adapters))
        if mode == "attention":
            self.query = nn.Linear(dim, att_dim)
            self.key = nn.Linear(dim, att_dim)
            self.value = nn.Linear(dim, dim)
            # value near identity, as in AdapterFusion, so f starts as the mean
            with torch.no_grad():
                self.value.weight.copy_(torch.eye(dim) + 1e-3 * torch.randn(dim, dim))
                self.value.bias.zero_()
        self.norm = nn.LayerNorm(dim) if layernorm else nn.Identity()


@register("fusion")
class AudioAdapterFusion(AdapterMethod):
    Config = FusionConfig
    description = ("Audio-AdapterFusion: one bottleneck adapter per task and layer (mode single: task-id "
                   "routing), or a fusion of the single-task adapters that needs no task id")
    table_label = "A-AF"
    recipe_conf = {"bottleneck": 64}
    training_only_options = ("train_adapters", "adapter_paths", "own_adapter_dropout", "value_regularization",
                             "fusion_lr_scale")
    lr_scale_options = {"fusion": "fusion_lr_scale"}
    task_modules = "adapters"
    # this forward's own_adapter_dropout draw too
    per_forward_state = AdapterMethod.per_forward_state + ("_hidden",)

    @classmethod
    def capabilities_for(cls, config):
        # mode single routes by task id; the compositions fuse the adapters of several tasks,
        # read from their stage-1 files (not the frozen model at the start)
        single = config.mode == "single"
        return dataclasses.replace(super().capabilities_for(config), routes_tasks=single,
                                   needs_several_tasks=not single, identity_at_init=single)

    def __init__(self, backbone, config, tasks):
        if config.adapter_paths:
            tasks = self._tasks_from_checkpoints(backbone, config, tasks)
        super().__init__(backbone, config, tasks)
        L, d, K = backbone.num_layers, backbone.dim, len(self.tasks)
        self.adapters = nn.ModuleDict({t: self.new_task_module() for t in self.tasks})
        if config.adapter_paths:
            self._load_adapters(config.adapter_paths)
        if config.mode != "single":
            att = config.attention_dim or d
            self.fusion = nn.ModuleList(
                LayerFusion(config.mode, d, K, att, config.layernorm) for _ in range(L)
            )
        self.last_scores: List[Optional[torch.Tensor]] = [None] * L
        self._hidden: Optional[torch.Tensor] = None  # this forward's own_adapter_dropout draw

    def new_task_module(self):
        bb = self.backbone
        return nn.ModuleList(Bottleneck(bb.dim, self.config.bottleneck) for _ in range(bb.num_layers))

    def add_task(self, name: str) -> None:
        if self.config.mode != "single":
            raise ValueError(f"fusion mode {self.config.mode!r} fuses a fixed set of adapters; add task "
                             f"{name!r} in mode single (extraction), then compose again")
        super().add_task(name)

    # -- stage-1 checkpoints ---------------------------------------------
    @staticmethod
    def _tasks_from_checkpoints(backbone, config, tasks):
        from adapters.adapter_file import read_manifest
        from adapters.tasks import TaskSet

        names = []
        for p in config.adapter_paths:
            man = read_manifest(p)
            if man["method"] != "fusion" or man["config"].get("mode") != "single":
                raise ValueError(
                    f"{p}: not a single-task adapter from the extraction stage "
                    f"(method {man['method']!r}, mode {man['config'].get('mode')!r})"
                )
            if man["config"]["bottleneck"] != config.bottleneck:
                raise ValueError(
                    f"{p}: bottleneck {man['config']['bottleneck']} differs from the fusion's "
                    f"bottleneck {config.bottleneck}"
                )
            names.extend(man["tasks"])
        return TaskSet(names)

    def _load_adapters(self, paths):
        from adapters.adapter_file import lazy_backbone_sha256, read_checkpoint

        # each file's shape, and its backbone weights hash (a BackboneWeightsWarning naming it)
        weights = lazy_backbone_sha256(self.backbone.upstream, self)
        for p in paths:
            man, state = read_checkpoint(p, expect_shape=self.backbone.shape, backbone_sha256=weights)
            for t in man["tasks"]:
                prefix = f"adapters.{t}."
                sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
                if not sub:
                    raise ValueError(f"{p}: holds no adapter weights for task {t!r}")
                self.adapters[t].load_state_dict(sub)

    def configure_trainable(self):
        super().configure_trainable()
        if self.config.mode != "single" and not self.config.train_adapters:
            for p in self.adapters.parameters():
                p.requires_grad_(False)

    def lr_components(self):
        return {"fusion": list(self.fusion.parameters())} if self.config.mode != "single" else {}

    def regularization_loss(self) -> Optional[torch.Tensor]:
        lam = self.config.value_regularization
        if lam == 0.0:
            return None
        terms = []
        for fz in self.fusion:
            w = fz.value.weight
            if w.requires_grad:
                eye = torch.eye(w.size(0), device=w.device, dtype=w.dtype)
                terms.append((eye - w).pow(2).sum())
        return lam * torch.stack(terms).sum() if terms else None

    # -- the equations ----------------------------------------------------
    def _stacked(self, layer: int):
        """Adapter weights of one layer stacked over tasks (in task order)."""
        ads = [self.adapters[t][layer] for t in self.tasks]
        Wd = torch.cat([a.down.weight for a in ads])  # (K*b, d)
        bd = torch.cat([a.down.bias for a in ads])  # (K*b,)
        Wu = torch.stack([a.up.weight for a in ads])  # (K, d, b)
        bu = torch.stack([a.up.bias for a in ads])  # (K, d)
        return Wd, bd, Wu, bu

    def adapter_outputs(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """All a_k (..., K, d), written out; used by the tests as the reference."""
        return torch.stack([self.adapters[t][layer](x) for t in self.tasks], dim=-2)

    def begin(self, task_ids):
        super().begin(task_ids)
        self._hidden = None

    def hidden_own_adapters(self, batch_size: int, device) -> Optional[torch.Tensor]:
        """(B, K) True where an utterance's own adapter is hidden from the fusion in this
        forward (the same in every layer), or None: composition training only."""
        p = self.config.own_adapter_dropout
        if not self.training or p == 0.0 or self.config.mode == "single" or len(self.tasks) < 2:
            return None
        if self._task_ids is None:  # silently fusing everything would be a different method
            raise ValueError(
                "fusion: own_adapter_dropout needs each training utterance's task id "
                "(a utt2task_id data file); set it to 0 to train without task ids"
            )
        if self._hidden is None or self._hidden.size(0) != batch_size:
            ids = self.task_ids(batch_size, "cpu")
            drop = torch.rand(batch_size) < p
            hidden = torch.zeros(batch_size, len(self.tasks), dtype=torch.bool)
            hidden[torch.arange(batch_size), ids] = drop
            self._hidden = hidden
        return self._hidden.to(device)

    def fuse(self, x: torch.Tensor, layer: int, hidden: Optional[torch.Tensor] = None) -> torch.Tensor:
        """f for frames x (..., d); ``hidden`` (broadcast to (..., K)) leaves adapters out."""
        mode, K = self.config.mode, len(self.tasks)
        Wd, bd, Wu, bu = self._stacked(layer)
        b = Wu.size(-1)
        g = F.gelu(F.linear(x, Wd, bd)).unflatten(-1, (K, b))  # (..., K, b)
        fz = self.fusion[layer]
        if mode in ("avg", "wavg"):
            w = (torch.full((K,), 1.0 / K, device=x.device, dtype=x.dtype)
                 if mode == "avg" else torch.softmax(fz.w, dim=0))
            if hidden is not None:  # per utterance (B, K), renormalised over the adapters left in
                w = w.masked_fill(hidden, 0.0)
                w = w / w.sum(-1, keepdim=True)
            # sum_k w_k (g_k Wu_k^T + bu_k) as one matmul over the stacked bottlenecks
            return (g * w[..., None]).flatten(-2) @ Wu.permute(0, 2, 1).reshape(K * b, -1) + w @ bu
        # attention, via the bottleneck (see the module docstring)
        # q scaled by 1/sqrt(d_f) before the products (not the scores after them): under fp16
        # autocast the sums over d_f stay far from fp16's range (65504) on a Large upstream
        q = fz.query(x) / math.sqrt(fz.query.out_features)  # (..., d_f)
        A = torch.einsum("kdb,df->kbf", Wu, fz.key.weight.t())  # (K, b, d_f)
        e = bu @ fz.key.weight.t() + fz.key.bias  # (K, d_f)
        scores = torch.einsum("...f,kbf->...kb", q, A)
        scores = (scores * g).sum(-1) + q @ e.t()  # (..., K)
        if hidden is not None:
            scores = scores.masked_fill(hidden, float("-inf"))
        # the softmax in float32 at least (autocast leaves it in bf16 on the CPU), the weights
        # back in the adapters' precision for the sum
        s = torch.softmax(scores.to(torch.promote_types(scores.dtype, torch.float32)), dim=-1)
        self.last_scores[layer] = s.detach()
        s = s.to(g.dtype)
        B = torch.einsum("kdb,de->kbe", Wu, fz.value.weight.t())  # (K, b, d)
        c = bu @ fz.value.weight.t()  # (K, d)
        f = (g * s.unsqueeze(-1)).flatten(-2) @ B.reshape(K * b, -1)
        return f + s @ c + fz.value.bias

    def fuse_reference(self, x: torch.Tensor, layer: int, keep: Optional[List[int]] = None) -> torch.Tensor:
        """The fusion equation computed literally (slow) over the adapters ``keep`` (all
        by default), for every frame alike; for tests."""
        keep = list(range(len(self.tasks))) if keep is None else keep
        a = self.adapter_outputs(x, layer)[..., keep, :]  # (..., K', d)
        mode = self.config.mode
        fz = self.fusion[layer]
        if mode == "avg":
            return a.mean(-2)
        if mode == "wavg":
            w = torch.softmax(fz.w, 0)[keep]
            return ((w / w.sum())[:, None] * a).sum(-2)
        q = fz.query(x).unsqueeze(-2)
        k, v = fz.key(a), fz.value(a)
        s = torch.softmax((q * k).sum(-1) / math.sqrt(k.size(-1)), dim=-1)
        return (s.unsqueeze(-1) * v).sum(-2)

    def adapt(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """The new layer output for time-major x (T, B, d)."""
        if self.config.mode == "single":
            uniq, inverse = self.routing(x.size(1), x.device)
            ads = [self.adapters[self.tasks.names[k]][layer] for k in uniq]
            return x + routed_bottleneck(x, ads, inverse)
        hidden = self.hidden_own_adapters(x.size(1), x.device)
        return x + self.fusion[layer].norm(self.fuse(x, layer, hidden))

    def install(self):
        bb = self.backbone
        for i in range(bb.num_layers):

            def after_layer(mod, inp, out, _i=i):
                x = bb.layer_output(out)
                return bb.with_layer_output(out, self.adapt(x, _i))

            self.hook(bb.layers[i], after_layer)
