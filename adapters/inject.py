"""attach(upstream, method, **conf) -> the adapted upstream."""
from __future__ import annotations

import functools
from typing import Iterable, Optional

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from adapters import upstream_cut
from adapters.backbones import Backbone
from adapters.methods.base import parse_config
from adapters.registry import get_method
from adapters.tasks import TaskSet, TaskSpec


class AdaptedUpstream(nn.Module):
    """An ``S3PRLUpstream`` with one adapter method attached.

    ``forward(wavs, wavs_len, task=None)`` returns what ``S3PRLUpstream`` returns
    (all hidden states and their lengths), computed through the adapters;
    ``task`` is a task name, or one name or index per utterance.
    """

    def __init__(self, upstream: nn.Module, method):
        super().__init__()
        self.upstream = upstream
        self.method = method

    # the S3PRLUpstream interface
    @property
    def num_layers(self):
        return self.upstream.num_layers

    @property
    def hidden_sizes(self):
        return self.upstream.hidden_sizes

    @property
    def downsample_rates(self):
        return self.upstream.downsample_rates

    @property
    def backbone(self) -> Backbone:
        return self.method.backbone

    @property
    def tasks(self) -> TaskSet:
        return self.method.tasks

    def forward(self, wavs: torch.Tensor, wavs_len: torch.Tensor, task: TaskSpec = None):
        lens = upstream_cut.check_batch(self.backbone, wavs, wavs_len)
        if not isinstance(wavs_len, torch.Tensor):
            wavs_len = lens.to(wavs.device)
        ids = self.method.tasks.resolve(task, wavs.size(0))  # kept on the host
        self.method.begin(ids)
        try:
            return self.upstream(wavs, wavs_len)
        finally:
            self.method.end()

    @property
    def cache_cut(self) -> str:
        """Where the frozen part ends for this method (``adapters.upstream_cut.CUTS``)."""
        return self.method.cache_cut

    def frozen_part(self, wavs: torch.Tensor, wavs_len: torch.Tensor):
        """The part below ``cache_cut``, each utterance alone: padded (B, T, D) and lengths."""
        return upstream_cut.frozen_part_batch(self.backbone, wavs, wavs_len, self.cache_cut)

    def forward_from(self, feats: torch.Tensor, lens: torch.Tensor, task: TaskSpec = None):
        """The rest of the upstream, through the adapters, from ``frozen_part``'s output
        (computed now or read from a cache): hidden states and their lengths."""
        ids = self.method.tasks.resolve(task, feats.size(0))
        self.method.begin(ids)
        try:
            return upstream_cut.forward_from(self.backbone, self.cache_cut, feats, lens)
        finally:
            self.method.end()

    def layer_summary(self, hidden_states, lengths):
        """ELP's L-adapter weighted sum, or None when the method has no own summary."""
        return self.method.layer_summary(hidden_states, lengths)

    def inference(self):
        """Context for inference: merged LoRA weights and the like."""
        return self.method.inference_context()

    def trainable_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    def num_trainable(self) -> int:
        return sum(p.numel() for p in self.trainable_parameters())

    def num_backbone(self) -> int:
        """Parameters of the original upstream (adapter parameters hooked into it excluded)."""
        own = {id(p) for p in self.method.parameters()}
        return sum(p.numel() for p in self.upstream.parameters() if id(p) not in own)

    # -- memory ------------------------------------------------------------
    @property
    def gradient_checkpointing(self) -> bool:
        return bool(getattr(self, "_checkpointed", None))

    @property
    def checkpointed_layers(self) -> list:
        """The indices of the layers recomputed in the backward pass."""
        return [i for i, _, _ in getattr(self, "_checkpointed", None) or []]

    @property
    def checkpoint_every(self) -> int:
        """The ``every`` the layers were last checkpointed with (1 when they are not)."""
        return getattr(self, "_checkpoint_every", 1)

    def set_gradient_checkpointing(self, on: bool = True, every: int = 1) -> "AdaptedUpstream":
        """Recompute transformer layers in the backward pass instead of keeping what their
        backward needs (``torch.utils.checkpoint``, non-reentrant): training keeps one layer's
        activations at a time, for one more forward through the layers.  Only where gradients
        are on; the numbers are the same either way.  ``every`` = k recomputes every k-th layer
        (0, k, 2k, ...) and keeps the others': between the memory of k = 1 and none, for a
        fraction 1/k of the extra forward.

        What runs inside a layer is recomputed with it (LoRA's merged weights, Houlsby's and
        ELP's adapters, prefix tuning's attention) under the forward's task ids and routing
        (``AdapterMethod.per_forward_state``), and the random state of its dropout; what hooks
        onto a layer's output (HRA, fusion, s3prl's hidden-state hooks) runs once, outside."""
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"gradient checkpointing: every must be a positive integer (1: every layer), got {every!r}")
        if self.gradient_checkpointing:  # undo first: on again may name other layers
            for _, layer, own in self._checkpointed:
                if own is None:
                    del layer.forward
                else:
                    layer.forward = own
            self._checkpointed = []
        if on:
            self._checkpointed = []
            self._checkpoint_every = every
            for i, layer in enumerate(self.backbone.layers):
                if i % every:
                    continue
                own = layer.__dict__.get("forward")  # an instance forward already there, if any
                layer.forward = functools.partial(_checkpointed_layer, layer, own, self.method)
                self._checkpointed.append((i, layer, own))
        return self

    def detach_method(self) -> nn.Module:
        """Remove the adapter's hooks and give the plain upstream back."""
        self.set_gradient_checkpointing(False)
        self.method.uninstall()
        return self.upstream


def _checkpointed_layer(layer: nn.Module, own, method, *args, **kwargs):
    """``layer``'s forward under ``torch.utils.checkpoint`` (see ``set_gradient_checkpointing``)."""
    forward = own if own is not None else functools.partial(type(layer).forward, layer)
    if not torch.is_grad_enabled():
        return forward(*args, **kwargs)
    saved = {}

    def run(*a, **k):
        if saved:  # the recomputation in the backward pass, after the forward's end
            with method.restored_forward_state(saved["state"]):
                return forward(*a, **k)
        out = forward(*a, **k)
        saved["state"] = method.forward_state()
        return out

    return checkpoint(run, *args, use_reentrant=False, **kwargs)


def attach(
    upstream: nn.Module,
    method: str,
    tasks: Optional[Iterable[str]] = None,
    **conf,
) -> AdaptedUpstream:
    """Attach ``method`` to an ``S3PRLUpstream`` and freeze everything it does not train.

    ``tasks`` names the tasks (default: one task called ``default``); ``conf`` is
    the method's configuration (see ``adapters.methods.<name>.Config``).
    """
    if isinstance(upstream, AdaptedUpstream):
        raise ValueError(
            f"this upstream already carries the {upstream.method.method_name!r} adapter; "
            "attach to a fresh upstream"
        )
    if not isinstance(upstream, nn.Module):
        raise TypeError(f"attach takes an s3prl upstream (S3PRLUpstream), got {type(upstream).__name__}")
    if not isinstance(method, str):
        raise TypeError(f"method must be a method name (adapters.available_methods()), got {method!r}")
    if tasks is not None:
        if isinstance(tasks, str):
            raise ValueError(f"tasks must be a list of task names, got the string {tasks!r} "
                             f"(one task: tasks=[{tasks!r}])")
        tasks = list(tasks)
        if not tasks:
            raise ValueError("tasks is empty: name the tasks, or leave it None for the one task 'default'")
    backbone = Backbone(upstream)
    cls = get_method(method)
    config = parse_config(cls.Config, conf)
    m = cls(backbone, config, TaskSet(tasks))
    for p in upstream.parameters():
        p.requires_grad_(False)
    m.install()
    m.configure_trainable()
    m.apply_lr_scales()
    return AdaptedUpstream(upstream, m)
