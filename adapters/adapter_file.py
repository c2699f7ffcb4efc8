"""The adapter checkpoint file: its layout, and reading it with every field checked.

File layout (``torch.save``; loads with ``weights_only=True``)::

    {"manifest": {"format": 1, "method": ..., "config": {...},
                  "backbone": {"family", "num_layers", "dim", "ffn_dim", "num_heads"},
                  "backbone_sha256": "...", "tasks": [...], "num_params": N},
     "state": {"method.<name>": tensor, ..., "upstream.<name>": tensor, ...}}

This module sits below the methods (``methods/fusion.py`` reads its stage-1 files
with it); writing a checkpoint and loading one into an upstream, which need the
methods, are ``adapters.checkpoint``'s.  The backbone weights check is here, so that
every file read onto an upstream gets it: a file recording ``backbone_sha256`` read
onto a backbone of its shape with other frozen weights is a ``BackboneWeightsWarning``
naming the file (``check_weights``; ``read_checkpoint``'s ``backbone_sha256``).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import warnings
from pathlib import Path
from typing import Callable, Optional, Tuple, Union

import torch

from adapters.backbones import BackboneShape

FORMAT = 1


class CheckpointError(ValueError):
    pass


class BackboneWeightsWarning(UserWarning):
    """An adapter loaded onto a backbone of its shape whose weights differ from its training's."""


def read_adapter_file(path) -> Tuple[dict, dict]:
    """(manifest, state) of an adapter checkpoint, every field checked (``CheckpointError``)."""
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
    if not isinstance(man, dict):
        raise CheckpointError(f"{path}: the manifest is {type(man).__name__}, not a mapping")
    missing = [k for k in ("format", "method", "config", "backbone", "tasks") if k not in man]
    if missing:
        raise CheckpointError(f"{path}: manifest lacks {missing}")
    if man["format"] != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {man['format']} is not supported (expected {FORMAT})")
    problems = _manifest_problems(man, obj["state"])
    if problems:
        raise CheckpointError(f"{path}: " + "; ".join(problems))
    return man, obj["state"]


def _manifest_problems(man: dict, state) -> list:
    """What is empty or mistyped in a manifest (and its state), each naming the field."""
    out = []
    if not isinstance(man["method"], str) or not man["method"]:
        out.append(f"manifest field 'method' is {man['method']!r}, not a method name")
    if not isinstance(man["config"], dict):
        out.append(f"manifest field 'config' is {man['config']!r}, not a mapping of options")
    bb = man["backbone"]
    fields = [f.name for f in dataclasses.fields(BackboneShape)]
    if not isinstance(bb, dict):
        out.append(f"manifest field 'backbone' is {bb!r}, not a mapping of {fields}")
    else:
        lack = [f for f in fields if bb.get(f) in (None, "")]
        extra = sorted(set(bb) - set(fields))
        if lack or extra:
            out.append("manifest field 'backbone' "
                       + "; ".join(([f"lacks or has empty {lack}"] if lack else [])
                                   + ([f"has unknown keys {extra}"] if extra else [])))
    tasks = man["tasks"]
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) and t for t in tasks):
        out.append(f"manifest field 'tasks' is {tasks!r}, not a non-empty list of task names")
    sha = man.get("backbone_sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        out.append(f"manifest field 'backbone_sha256' is {sha!r}, not a SHA-256 hex digest")
    n = man.get("num_params")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        out.append(f"manifest field 'num_params' is {n!r}, not a count")
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        out.append("the state is not a mapping of tensor names to tensors")
    return out


def read_manifest(path) -> dict:
    return read_adapter_file(path)[0]


def check_backbone(path, manifest: dict, shape: BackboneShape) -> None:
    theirs = BackboneShape(**manifest["backbone"])
    diffs = shape.differences(theirs)
    if diffs:
        raise CheckpointError(
            f"{path}: adapter was trained on another backbone ({'; '.join(diffs)})"
        )


_PARAMETRIZED = re.compile(r"\.parametrizations\.([^.]+)\.original\d*$")


def frozen_backbone_sha256(upstream, method) -> str:
    """SHA-256 of ``upstream``'s weights that ``method`` leaves frozen (names, dtypes, shapes and
    bytes; the method's own modules and the backbone tensors it trains excluded)."""
    own = {id(t) for t in list(method.parameters()) + list(method.buffers())}
    trained = set(method.upstream_trainable_names())
    items = []
    for name, t in upstream.state_dict(keep_vars=True).items():
        if id(t) in own or name in trained or not isinstance(t, torch.Tensor):
            continue
        items.append((_PARAMETRIZED.sub(r".\1", name), t))
    h = hashlib.sha256()
    for name, t in sorted(items, key=lambda x: x[0]):
        t = t.detach().cpu().contiguous()
        h.update(f"{name} {t.dtype} {tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def lazy_backbone_sha256(upstream, method) -> Callable[[], str]:
    """``frozen_backbone_sha256(upstream, method)`` computed on the first call, then kept: for
    reading several files onto one backbone (hashing it only when a file records a hash)."""
    return functools.lru_cache(maxsize=None)(lambda: frozen_backbone_sha256(upstream, method))


BackboneSha = Union[str, Callable[[], str]]


def check_weights(path, manifest: dict, backbone_sha256: BackboneSha, stacklevel: int = 3) -> None:
    """Warn (``BackboneWeightsWarning``, naming ``path``) when the file's manifest records another
    hash of the backbone's frozen weights than ``backbone_sha256`` (a hex digest, or a function
    giving it: called only when the manifest records one).  Files written before the hash was
    recorded are not checked."""
    want = manifest.get("backbone_sha256")
    if not want:
        return
    have = backbone_sha256() if callable(backbone_sha256) else backbone_sha256
    if have != want:
        warnings.warn(
            f"{path}: the adapter was trained on a backbone of this shape but with other weights "
            f"(backbone sha256 {want[:12]} in the checkpoint, {have[:12]} here): its outputs are not "
            "what it was trained to give; load it onto the upstream it was trained with",
            BackboneWeightsWarning, stacklevel=stacklevel + 1,
        )


def read_checkpoint(path, expect_shape: Optional[BackboneShape] = None,
                    backbone_sha256: Optional[BackboneSha] = None) -> Tuple[dict, dict]:
    """(manifest, method state without the 'method.' prefix); with ``expect_shape``, an error when
    the file was trained on a backbone of another shape, with ``backbone_sha256`` (see
    ``check_weights``), a warning when on one of this shape with other weights."""
    man, state = read_adapter_file(path)
    if expect_shape is not None:
        check_backbone(path, man, expect_shape)
    if backbone_sha256 is not None:
        check_weights(path, man, backbone_sha256, stacklevel=3)
    return man, {k[len("method."):]: v for k, v in state.items() if k.startswith("method.")}
