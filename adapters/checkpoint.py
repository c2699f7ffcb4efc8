"""Adapter-only checkpoints: the trainable state of one method (and, where the
method has per-task parts, of chosen tasks) plus a manifest saying what it fits.

The file's layout and its reader (``read_manifest``, ``read_checkpoint``, re-exported
here) are ``adapters.adapter_file``'s, below the methods, so that a method can read
checkpoints (fusion's stage-1 adapters) without importing this module, which attaches
methods (``adapters.inject``).

Loading checks what the file fits: the method, the backbone's shape (an error naming
the differing dimensions), the method's configuration (an error listing every option
that changes the function, the method's ``training_only_options`` aside: a LoRA saved with alpha 8 does not
load into one configured with alpha 64) and, where the manifest has it (files written
before it was recorded have not), the hash of the backbone's frozen weights: the same
shape with other weights is a ``BackboneWeightsWarning`` naming the file (the check is
``adapters.adapter_file.check_weights``, which every file a fusion composes through its
``adapter_paths`` gets too).  A manifest with a missing,
empty or mistyped field is a ``CheckpointError`` naming the field.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable, Optional

import torch

from adapters.adapter_file import (FORMAT, BackboneWeightsWarning, CheckpointError, check_backbone,  # noqa: F401
                                   check_weights, frozen_backbone_sha256, read_adapter_file, read_checkpoint,
                                   read_manifest)
from adapters.backbones import Backbone
from adapters.fileio import replacing

def training_only_options(method) -> set:
    """Options that only shape training (initialisation, training-loss terms, learning rates,
    where the weights were first read from), as the method declares them
    (``AdapterMethod.training_only_options``): a checkpoint loads under other values of them."""
    return set(getattr(method, "training_only_options", ()))


def _config_defaults(method) -> dict:
    if not dataclasses.is_dataclass(method.Config):
        return {}
    out = {}
    for f in dataclasses.fields(method.Config):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def config_differences(method, saved: dict, allow: Iterable[str] = ()) -> list:
    """The options (beyond ``allow`` and the training-only ones) whose value in ``saved`` (a
    manifest's config; options it predates take their defaults) differs from ``method``'s."""
    ours = method.config_dict()
    theirs = {**_config_defaults(method), **saved}
    skip = training_only_options(method) | set(allow)
    missing = object()
    out = []
    for k in sorted(set(ours) | set(theirs)):
        a, b = theirs.get(k, missing), ours.get(k, missing)
        if k in skip or a == b:
            continue
        out.append(f"{k}: checkpoint has {'(no such option)' if a is missing else repr(a)}, "
                   f"configured {'(no such option)' if b is missing else repr(b)}")
    return out


def check_config(path, manifest: dict, method, allow: Iterable[str] = ()) -> None:
    diffs = config_differences(method, manifest["config"], allow)
    if diffs:
        raise CheckpointError(
            f"{path}: this {method.method_name} adapter was saved with another configuration "
            f"({'; '.join(diffs)}): its weights compute another function under this one; configure "
            "the method as the checkpoint says (adapters.checkpoint.read_manifest) or train anew"
        )


def backbone_sha256(adapted) -> str:
    """SHA-256 of the upstream's weights that ``adapted``'s method leaves frozen (names, dtypes,
    shapes and bytes; the method's own modules and the backbone tensors it trains excluded)."""
    return frozen_backbone_sha256(adapted.upstream, adapted.method)


def check_backbone_weights(path, manifest: dict, adapted) -> None:
    """``BackboneWeightsWarning`` when ``path`` was trained on other frozen weights than ``adapted``'s
    (``adapters.adapter_file.check_weights``: the same check for every file read onto an upstream)."""
    check_weights(path, manifest, lambda: backbone_sha256(adapted), stacklevel=3)


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


def _check_tasks_arg(tasks) -> Optional[list]:
    if tasks is None:
        return None
    if not isinstance(tasks, str):
        try:
            tasks = list(tasks)
        except TypeError:
            raise ValueError(f"tasks must be a list of task names, got {tasks!r}") from None
    if isinstance(tasks, str) or not all(isinstance(t, str) and t for t in tasks):
        raise ValueError(f"tasks must be a list of task names, got {tasks!r}")
    if not tasks:
        raise ValueError("tasks is empty: name the tasks to save, or leave it None for all")
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks names a task twice: {tasks}")
    return tasks


def save_adapter(adapted, path, tasks: Optional[Iterable[str]] = None) -> Path:
    """Write the adapter of ``adapted`` (an ``AdaptedUpstream``) to ``path``."""
    from adapters.inject import AdaptedUpstream

    if not isinstance(adapted, AdaptedUpstream):
        raise TypeError(f"save_adapter takes an adapted upstream (adapters.attach), got {type(adapted).__name__}")
    method = adapted.method
    tasks = _check_tasks_arg(tasks)
    state = adapter_state(adapted, tasks)
    manifest = {
        "format": FORMAT,
        "method": method.method_name,
        "config": method.config_dict(),
        "backbone": method.backbone.shape.to_dict(),
        "backbone_sha256": backbone_sha256(adapted),
        "tasks": tasks if tasks is not None else list(method.tasks.names),
        "num_params": int(sum(v.numel() for v in state.values())),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:  # a crash mid-write leaves the previous file intact
        torch.save({"manifest": manifest, "state": state}, tmp)
    return path


def load_adapter(upstream, path, **overrides):
    """Attach the checkpoint's method to a fresh ``S3PRLUpstream`` and load its state.

    ``overrides`` replace config entries (for example ``mode`` for a fusion): the only
    configuration differences allowed.
    """
    from adapters.inject import AdaptedUpstream, attach

    if isinstance(upstream, AdaptedUpstream):
        raise ValueError(f"this upstream already carries the {upstream.method.method_name!r} adapter; "
                         "load the checkpoint onto a fresh upstream")
    man, state = read_adapter_file(path)
    check_backbone(path, man, Backbone(upstream).shape)
    conf = dict(man["config"])
    conf.update(overrides)
    adapted = attach(upstream, man["method"], tasks=man["tasks"], **conf)
    load_state_into(adapted, path, man=man, state=state, allow=overrides)
    return adapted


def load_state_into(adapted, path, man=None, state=None, allow: Iterable[str] = ()) -> None:
    """Load a checkpoint's tensors into an already adapted upstream of the same method and
    configuration (options in ``allow`` may differ; see ``config_differences``)."""
    if man is None:
        man, state = read_adapter_file(path)
    method = adapted.method
    if man["method"] != method.method_name:
        raise CheckpointError(
            f"{path}: holds a {man['method']!r} adapter, the upstream carries {method.method_name!r}"
        )
    check_backbone(path, man, method.backbone.shape)
    check_config(path, man, method, allow)
    check_backbone_weights(path, man, adapted)
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
