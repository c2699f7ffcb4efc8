"""Adapter-only checkpoints: the trainable state of one method (and, where the
method has per-task parts, of chosen tasks) plus a manifest saying what it fits.

File layout (``torch.save``; loads with ``weights_only=True``)::

    {"manifest": {"format": 1, "method": ..., "config": {...},
                  "backbone": {"family", "num_layers", "dim", "ffn_dim", "num_heads"},
                  "tasks": [...], "num_params": N},
     "state": {"method.<name>": tensor, ..., "upstream.<name>": tensor, ...}}
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional, Tuple

import torch

from adapters.backbones import Backbone, BackboneShape

FORMAT = 1


class CheckpointError(ValueError):
    pass


def adapter_state(adapted, tasks: Optional[Iterable[str]] = None) -> dict:
    """What an adapter-only file of ``adapted`` holds: the method's state (of ``tasks``
    where it has per-task parts) and the backbone tensors the method trains."""
    method = adapted.method
    tasks = list(tasks) if tasks is not None else None
    for t in tasks or []:
        method.tasks.index(t)  # unknown task: a clear error
    state = {f"method.{k}": v.detach().cpu() for k, v in method.state_for_tasks(tasks).items()}
    up_params = dict(adapted.upstream.named_parameters())
    for n in method.upstream_trainable_names():
        state[f"upstream.{n}"] = up_params[n].detach().cpu()
    return state


def stored_params(adapted, tasks: Optional[Iterable[str]] = None) -> int:
    """Parameters stored to serve ``tasks`` (default: all) besides the shared frozen backbone."""
    return int(sum(v.numel() for v in adapter_state(adapted, tasks).values()))


def save_adapter(adapted, path, tasks: Optional[Iterable[str]] = None) -> Path:
    """Write the adapter of ``adapted`` (an ``AdaptedUpstream``) to ``path``."""
    method = adapted.method
    tasks = list(tasks) if tasks is not None else None
    state = adapter_state(adapted, tasks)
    manifest = {
        "format": FORMAT,
        "method": method.method_name,
        "config": method.config_dict(),
        "backbone": method.backbone.shape.to_dict(),
        "tasks": tasks if tasks is not None else list(method.tasks.names),
        "num_params": int(sum(v.numel() for v in state.values())),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"manifest": manifest, "state": state}, tmp)
    tmp.replace(path)  # a crash mid-write leaves the previous file intact
    return path


def _read(path):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"adapter checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated or not a torch file at all
        raise CheckpointError(f"{path}: not a readable adapter checkpoint ({e.__class__.__name__}: {e})") from None
    if not isinstance(obj, dict) or "manifest" not in obj or "state" not in obj:
        raise CheckpointError(f"{path}: not an adapter checkpoint (no manifest); was it written by save_adapter?")
    man = obj["manifest"]
    missing = [k for k in ("format", "method", "config", "backbone", "tasks") if k not in man]
    if missing:
        raise CheckpointError(f"{path}: manifest lacks {missing}")
    if man["format"] != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {man['format']} is not supported (expected {FORMAT})")
    return man, obj["state"]


def read_manifest(path) -> dict:
    return _read(path)[0]


def check_backbone(path, manifest: dict, shape: BackboneShape) -> None:
    theirs = BackboneShape(**manifest["backbone"])
    diffs = shape.differences(theirs)
    if diffs:
        raise CheckpointError(
            f"{path}: adapter was trained on another backbone ({'; '.join(diffs)})"
        )


def read_checkpoint(path, expect_shape: Optional[BackboneShape] = None) -> Tuple[dict, dict]:
    """(manifest, method state without the 'method.' prefix)."""
    man, state = _read(path)
    if expect_shape is not None:
        check_backbone(path, man, expect_shape)
    return man, {k[len("method."):]: v for k, v in state.items() if k.startswith("method.")}


def load_adapter(upstream, path, **overrides):
    """Attach the checkpoint's method to a fresh ``S3PRLUpstream`` and load its state.

    ``overrides`` replace config entries (for example ``mode`` for a fusion).
    """
    from adapters.inject import attach

    man, state = _read(path)
    check_backbone(path, man, Backbone(upstream).shape)
    conf = dict(man["config"])
    conf.update(overrides)
    adapted = attach(upstream, man["method"], tasks=man["tasks"], **conf)
    load_state_into(adapted, path, man=man, state=state)
    return adapted


def load_state_into(adapted, path, man=None, state=None) -> None:
    """Load a checkpoint's tensors into an already adapted upstream of the same method."""
    if man is None:
        man, state = _read(path)
    method = adapted.method
    if man["method"] != method.method_name:
        raise CheckpointError(
            f"{path}: holds a {man['method']!r} adapter, the upstream carries {method.method_name!r}"
        )
    check_backbone(path, man, method.backbone.shape)
    own = {k[len("method."):]: v for k, v in state.items() if k.startswith("method.")}
    current = method.state_dict()
    unknown = sorted(set(own) - set(current))
    if unknown:
        raise CheckpointError(f"{path}: tensors {unknown[:5]} do not exist in this {method.method_name} adapter")
    for k, v in own.items():
        if current[k].shape != v.shape:
            raise CheckpointError(
                f"{path}: {k} has shape {tuple(v.shape)}, the adapter expects {tuple(current[k].shape)}"
            )
    missing = method.load_state_dict(own, strict=False).missing_keys
    if man["tasks"] == list(method.tasks.names) and missing:
        raise CheckpointError(f"{path}: lacks {missing[:5]}")
    up = dict(adapted.upstream.named_parameters())
    with torch.no_grad():
        for k, v in state.items():
            if k.startswith("upstream."):
                name = k[len("upstream."):]
                if name not in up or up[name].shape != v.shape:
                    raise CheckpointError(f"{path}: upstream tensor {name} does not fit this upstream")
                up[name].copy_(v)
