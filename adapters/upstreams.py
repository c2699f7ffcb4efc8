"""Randomly initialised upstream checkpoints in s3prl's converted format.

Nothing here can download weights, so tests, benchmarks, pretraining and the offline
defaults build their upstreams here (the command line is ``adapters.bin.make_upstream``).
The files load through ``S3PRLUpstream('<family>_local', path_or_url=PATH)`` exactly
like converted fairseq checkpoints (hubert, wav2vec2) or the original WavLM release files.

Sizes (``SIZES``):
  tiny  -- 2 layers, width 96: about a quarter million parameters, for tests
  small -- 4 layers, width 256: ~4 M parameters, the offline recipe default
  base  -- the published base configuration (12 layers, width 768, ~95 M)
  large -- the published Large configuration (24 layers, width 1024, FFN 4096, 16 heads,
           pre-LayerNorm, the CNN's layer_norm mode, normalised waveforms; ~316 M): wav2vec2
           Large (LV-60), HuBERT Large, WavLM Large.  The file is ~1.2 GB; ``num_parameters``
           counts one without building its weights.

A size's table entry may set the architecture's style as well as its widths (``STYLE``:
the CNN's normalisation, LayerNorm first, waveform normalisation); the Large models take
wav2vec2's conv bias (``_CONV_BIAS``), HuBERT and WavLM none, as released.
"""
from __future__ import annotations

from pathlib import Path

import torch

from adapters.fileio import replacing

FAMILIES = ("wav2vec2", "hubert", "wavlm")

_BASE_CNN = "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"
#: the published Base configuration (wav2vec2 Base, HuBERT Base, WavLM Base)
_BASE = dict(
    encoder_layers=12,
    encoder_embed_dim=768,
    encoder_ffn_embed_dim=3072,
    encoder_attention_heads=12,
    conv_feature_layers=_BASE_CNN,
    conv_pos=128,
    conv_pos_groups=16,
    final_dim=256,
    num_buckets=320,
    max_distance=800,
)

SIZES = {
    "tiny": dict(
        encoder_layers=2,
        encoder_embed_dim=96,
        encoder_ffn_embed_dim=192,
        encoder_attention_heads=4,
        conv_feature_layers="[(48,10,5)] + [(48,3,2)] * 4 + [(48,2,2)] * 2",
        conv_pos=16,
        conv_pos_groups=4,
        final_dim=32,
        num_buckets=32,
        max_distance=64,
    ),
    "small": dict(
        encoder_layers=4,
        encoder_embed_dim=256,
        encoder_ffn_embed_dim=768,
        encoder_attention_heads=4,
        conv_feature_layers="[(128,10,5)] + [(128,3,2)] * 4 + [(128,2,2)] * 2",
        conv_pos=32,
        conv_pos_groups=8,
        final_dim=64,
        num_buckets=64,
        max_distance=256,
    ),
    "base": _BASE,
    # wav2vec2 Large (LV-60), HuBERT Large (LL-60k), WavLM Large as released: the Base CNN,
    # positional convolution and relative buckets, wider and deeper, pre-LayerNorm
    "large": dict(
        _BASE,
        encoder_layers=24,
        encoder_embed_dim=1024,
        encoder_ffn_embed_dim=4096,
        encoder_attention_heads=16,
        final_dim=768,
        extractor_mode="layer_norm",
        layer_norm_first=True,
        normalize=True,
    ),
}

#: the architecture's style, where a size's entry does not set it: the Base models'
STYLE = dict(extractor_mode="default", layer_norm_first=False, normalize=False)
#: the CNN's convolutions with biases (family, size): wav2vec2 Large only, as released
_CONV_BIAS = {("wav2vec2", "large"): True}


def _split(family: str, size: str):
    """(the size's widths, its style with ``conv_bias``)."""
    s = dict(SIZES[size])
    style = {k: s.pop(k, v) for k, v in STYLE.items()}
    style["conv_bias"] = _CONV_BIAS.get((family, size), False)
    return s, style


def _fairseq_model_cfg(family: str, size: str) -> dict:
    s, style = _split(family, size)
    # WavLM-only keys are dropped for the fairseq-style families
    s.pop("num_buckets")
    s.pop("max_distance")
    cfg = dict(
        extractor_mode=style["extractor_mode"],
        activation_fn="gelu",
        layer_norm_first=style["layer_norm_first"],
        conv_bias=style["conv_bias"],
        dropout=0.1,
        attention_dropout=0.1,
        activation_dropout=0.0,
        encoder_layerdrop=0.0,
        dropout_input=0.0,
        dropout_features=0.0,
        feature_grad_mult=0.1,
        **s,
    )
    if family == "hubert":
        cfg["label_rate"] = 50.0
    return cfg


def build_hubert(size: str, num_clusters: int = 100, overrides: dict | None = None):
    """(s3prl HubertModel, task_cfg, model_cfg, symbols) of ``size``, randomly initialised."""
    from s3prl.upstream.hubert.hubert_model import HubertConfig, HubertModel, HubertPretrainingConfig
    from s3prl.upstream.utils import merge_with_parent

    model_cfg = {**_fairseq_model_cfg("hubert", size), **(overrides or {})}
    task_cfg = dict(label_rate=50.0, sample_rate=16000, normalize=_split("hubert", size)[1]["normalize"])
    symbols = [[str(i) for i in range(num_clusters)]]
    model = HubertModel(
        merge_with_parent(HubertConfig, model_cfg),
        merge_with_parent(HubertPretrainingConfig, task_cfg),
        symbols,
    )
    return model, task_cfg, model_cfg, symbols


def _build_fairseq_family(family: str, size: str, num_clusters: int):
    """(the model, the checkpoint dict without its weights, the weights' key)."""
    from s3prl.upstream.utils import merge_with_parent

    model_cfg = _fairseq_model_cfg(family, size)
    if family == "hubert":
        model, task_cfg, model_cfg, symbols = build_hubert(size, num_clusters)
        return model, dict(task_cfg=task_cfg, model_cfg=model_cfg, dictionaries_symbols=symbols), "model_weight"
    from s3prl.upstream.wav2vec2.wav2vec2_model import (
        Wav2Vec2Config,
        Wav2Vec2Model,
    )

    task_cfg = dict(sample_rate=16000, normalize=_split(family, size)[1]["normalize"])
    model = Wav2Vec2Model(merge_with_parent(Wav2Vec2Config, model_cfg))
    return model, dict(task_cfg=task_cfg, model_cfg=model_cfg), "model_weight"


def _build_wavlm(size: str):
    from s3prl.upstream.wavlm.WavLM import WavLM, WavLMConfig

    s, style = _split("wavlm", size)
    s.pop("final_dim")
    # WavLM Base+ settings: gated relative position bias shared by all layers
    cfg = dict(
        extractor_mode=style["extractor_mode"],
        activation_fn="gelu",
        layer_norm_first=style["layer_norm_first"],
        conv_bias=style["conv_bias"],
        normalize=style["normalize"],
        dropout=0.1,
        attention_dropout=0.1,
        activation_dropout=0.0,
        encoder_layerdrop=0.0,
        dropout_input=0.0,
        dropout_features=0.0,
        feature_grad_mult=0.1,
        relative_position_embedding=True,
        gru_rel_pos=True,
        **s,
    )
    model = WavLM(WavLMConfig(cfg))
    return model, dict(cfg=cfg), "model"


def _check(family: str, size: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown upstream family {family!r}; choose one of {FAMILIES}")
    if size not in SIZES:
        raise ValueError(f"unknown upstream size {size!r}; choose one of {tuple(SIZES)}")


def build_model(family: str, size: str = "tiny", num_clusters: int = 100):
    """(the s3prl model of ``family``/``size``, its checkpoint dict without the weights, the
    weights' key in it), initialised from torch's current random state (or on the ``meta``
    device, inside ``with torch.device('meta')``)."""
    _check(family, size)
    if family == "wavlm":
        return _build_wavlm(size)
    return _build_fairseq_family(family, size, num_clusters)


def build_state(family: str, size: str = "tiny", seed: int = 0, num_clusters: int = 100) -> dict:
    """The checkpoint dict for ``family``/``size``, randomly initialised with ``seed``."""
    _check(family, size)
    torch.manual_seed(seed)
    model, state, key = build_model(family, size, num_clusters)
    state[key] = model.state_dict()
    return state


def num_parameters(family: str, size: str = "tiny", num_clusters: int = 100) -> int:
    """The parameters of the checkpoint ``make_upstream`` writes for ``family``/``size``, counted
    on the meta device: no weights are built (a Large model in well under a second)."""
    import contextlib
    from unittest import mock

    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.device("meta"))
        if family == "wavlm":  # its BERT initialisation draws on the CPU and copies back: skipped
            import s3prl.upstream.wavlm.WavLM as wavlm_module

            stack.enter_context(mock.patch.object(wavlm_module, "init_bert_params", lambda m: None))
        model, _, _ = build_model(family, size, num_clusters)
    return sum(v.numel() for v in model.state_dict().values())


def make_upstream(family: str, size: str, out: str | Path, seed: int = 0) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = build_state(family, size, seed)
    with replacing(out) as tmp:  # never leave a half-written checkpoint behind
        torch.save(state, tmp)
    return out


def hub_name(family: str) -> str:
    return f"{family}_local"
