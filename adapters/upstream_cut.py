"""An s3prl upstream run in two parts: the frozen part below a cut point, one
utterance at a time, and the rest from the cut point on, batched.

Cut points, from the waveform up:

* ``cnn``: the CNN feature encoder's output (frames x C);
* ``encoder``: what enters the transformer encoder (after the feature LayerNorm
  and projection; frames x d);
* ``hidden_states``: every hidden state s3prl reports (frames x (L+1)·d).

Each adapter method names the highest cut below everything it trains
(``AdapterMethod.cache_cut``), so the part below it can be computed once and
stored (``adapters.feature_cache``).

Why one utterance at a time: s3prl's batched forward is not batch-invariant.
The CNN's first GroupNorm normalises over time including the zero padding, and
frames that straddle the end of an utterance enter the transformer as valid
keys, so a short utterance's hidden states change with the longest one in its
batch (by up to 4.8 in absolute value on the default upstream).  Below the cut
each utterance is computed alone; above it the batch is padded and masked
exactly, so an utterance's features do not depend on its batch, and the
frames reported are the ones the CNN produced from real samples (s3prl pads
one or two copies of the last frame to reach ceil(samples / 320)).
"""
from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from adapters.backbones import Backbone

CUTS = ("cnn", "encoder", "hidden_states")


def check_cut(cut: str) -> str:
    if cut not in CUTS:
        raise ValueError(f"cut must be one of {CUTS}, got {cut!r}")
    return cut


def cut_dim(backbone: Backbone, cut: str) -> int:
    """Feature dimension stored per frame at ``cut``."""
    check_cut(cut)
    if cut == "cnn":
        return int(backbone.model.feature_extractor.conv_layers[-1][0].out_channels)
    if cut == "encoder":
        return backbone.dim
    return (backbone.num_layers + 1) * backbone.dim


def check_lengths(lens, batch: int, padded: int, name: str = "wavs_len", unit: str = "samples",
                  least: int = 1) -> torch.Tensor:
    """``lens`` (one length per row of a padded batch of ``batch`` rows of ``padded`` items) as an
    int64 tensor on the host, or a ValueError saying which length is wrong and why."""
    if not isinstance(lens, torch.Tensor):
        try:
            lens = torch.as_tensor(lens)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{name} must be a tensor of {batch} lengths, got {type(lens).__name__}") from None
    if lens.is_floating_point() or lens.is_complex() or lens.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer lengths in {unit}, got dtype {lens.dtype}")
    if lens.dim() != 1 or lens.numel() != batch:
        raise ValueError(f"{name} must be one length per utterance, shape ({batch},); got shape {tuple(lens.shape)}")
    lens = lens.detach().to("cpu", torch.long)
    for i, n in enumerate(lens.tolist()):
        if n > padded:
            raise ValueError(f"{name}[{i}] = {n} {unit} is longer than the batch, padded to {padded} {unit}: "
                             f"a length must not exceed the padded length (are the lengths in {unit}?)")
        if n < least:
            raise ValueError(
                f"{name}[{i}] = {n} {unit}: " + (f"fewer than the upstream's receptive field ({least} samples): "
                                                 "it gives no frame" if least > 1 else "an empty utterance"))
    return lens


def check_batch(backbone: Backbone, wavs, wavs_len) -> torch.Tensor:
    """A padded batch of waveforms (batch, samples) and its lengths, checked: the lengths
    as an int64 tensor on the host."""
    if not isinstance(wavs, torch.Tensor):
        raise TypeError(f"wavs must be a tensor (batch, samples), got {type(wavs).__name__}")
    if wavs.dim() != 2:
        raise ValueError(f"wavs must be a padded batch (batch, samples), got shape {tuple(wavs.shape)}")
    if not wavs.is_floating_point():
        raise ValueError(f"wavs must be floating-point samples, got dtype {wavs.dtype}")
    return check_lengths(wavs_len, wavs.size(0), wavs.size(1), least=min_samples(backbone))


def _normalizes_waveform(expert) -> bool:
    for owner, attr in ((expert, "wav_normalize"), (getattr(expert, "task_cfg", None), "normalize"),
                        (getattr(expert, "cfg", None), "normalize")):
        if owner is not None and getattr(owner, attr, None) is not None:
            return bool(getattr(owner, attr))
    return False


def cnn_frames(backbone: Backbone, num_samples: int) -> int:
    """Frames the CNN produces from ``num_samples`` samples (its conv formula)."""
    n = int(num_samples)
    for block in backbone.model.feature_extractor.conv_layers:
        conv = block[0]
        n = (n - conv.kernel_size[0]) // conv.stride[0] + 1
    return max(n, 0)


def min_samples(backbone: Backbone) -> int:
    """The fewest samples that give one frame (the CNN's receptive field)."""
    rf = 1
    for block in reversed(backbone.model.feature_extractor.conv_layers):
        conv = block[0]
        rf = (rf - 1) * conv.stride[0] + conv.kernel_size[0]
    return rf


def _encoder_input(model, cnn: torch.Tensor) -> torch.Tensor:
    x = model.layer_norm(cnn)
    if getattr(model, "post_extract_proj", None) is not None:
        x = model.post_extract_proj(x)
    return model.dropout_input(x)


def _run_encoder(backbone: Backbone, x: torch.Tensor, lens: torch.Tensor) -> List[torch.Tensor]:
    """The transformer on a padded batch (B, T, d), hidden states collected by s3prl's own
    hooks and post-processing (so methods that rewrite them, ELP's P-adapter, still do)."""
    expert = backbone.expert
    pad = torch.arange(x.size(1), device=x.device)[None, :] >= lens.to(x.device)[:, None]
    expert._hook_hiddens.clear()
    try:
        backbone.encoder(x, padding_mask=pad)
        hooked = expert._hook_hiddens.copy()
    finally:
        expert._hook_hiddens.clear()
    if callable(expert.hook_postprocess):
        hooked = expert.hook_postprocess(hooked)
    hs = [h for _, h in hooked]
    if getattr(backbone.upstream, "normalize", False):
        hs = [F.layer_norm(h, h.shape[-1:]) for h in hs]
    return hs


@torch.no_grad()
def frozen_part(backbone: Backbone, wav: torch.Tensor, cut: str, utt: str = "") -> torch.Tensor:
    """The upstream below ``cut`` for one utterance (1-D waveform): (frames, cut_dim)."""
    check_cut(cut)
    if wav.dim() != 1:
        raise ValueError(f"utterance {utt}: expected a 1-D waveform, got shape {tuple(wav.shape)}")
    if wav.numel() < min_samples(backbone):
        raise ValueError(
            f"utterance {utt or '?'}: {wav.numel()} samples, fewer than the upstream's receptive "
            f"field ({min_samples(backbone)} samples): it gives no frame"
        )
    model = backbone.model
    if _normalizes_waveform(backbone.expert):
        wav = F.layer_norm(wav, wav.shape)
    cnn = model.feature_extractor(wav[None]).transpose(1, 2)  # (1, T, C)
    if cut == "cnn":
        return cnn[0]
    x = _encoder_input(model, cnn)
    if cut == "encoder":
        return x[0]
    hs = _run_encoder(backbone, x, torch.tensor([x.size(1)]))
    return torch.cat(hs, dim=-1)[0]


def frozen_part_batch(backbone: Backbone, wavs: torch.Tensor, wavs_len: torch.Tensor, cut: str
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``frozen_part`` of each utterance of a padded batch, padded again: (B, T, D), lengths."""
    wavs_len = check_batch(backbone, wavs, wavs_len)
    parts = [frozen_part(backbone, w[: int(n)], cut) for w, n in zip(wavs, wavs_len)]
    lens = torch.tensor([p.size(0) for p in parts], dtype=torch.long)
    return pad_sequence(parts, batch_first=True), lens


def forward_from(backbone: Backbone, cut: str, feats: torch.Tensor, lens: torch.Tensor
                 ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
    """The upstream from ``cut`` on, for a padded batch (B, T, cut_dim) with its frame
    lengths: every hidden state (B, T, d) and its lengths, as ``S3PRLUpstream`` returns."""
    check_cut(cut)
    if not isinstance(feats, torch.Tensor) or feats.dim() != 3 or feats.size(-1) != cut_dim(backbone, cut):
        raise ValueError(
            f"features cut at {cut!r} must be (batch, frames, {cut_dim(backbone, cut)}), got "
            f"{tuple(getattr(feats, 'shape', ()))}: a cache written for another cut or upstream? rebuild it"
        )
    lens = check_lengths(lens, feats.size(0), feats.size(1), "lengths", "frames")
    if cut == "hidden_states":
        hs = list(feats.chunk(backbone.num_layers + 1, dim=-1))
    else:
        x = feats if cut == "encoder" else _encoder_input(backbone.model, feats)
        hs = _run_encoder(backbone, x, lens)
    T = int(lens.max())
    hs = [h[:, :T] for h in hs]
    return hs, [lens.to(hs[0].device)] * len(hs)
