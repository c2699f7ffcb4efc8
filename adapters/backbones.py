"""Where adapters attach in each upstream family.

s3prl wraps three transformer implementations that matter here:
  * wav2vec2 and HuBERT: ``s3prl.upstream.wav2vec2.wav2vec2_model`` layers,
    returning ``(x, (attn, layer_result))``;
  * WavLM: ``s3prl.upstream.wavlm.WavLM`` layers, returning ``(x, attn, pos_bias)``
    and a relative position bias passed from layer to layer.
Both keep activations time-major (T, B, C) inside the encoder and call
``F.multi_head_attention_forward`` with the raw projection weights.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import List

import torch
from torch import nn

_FAMILY_BY_MODEL = {"Wav2Vec2Model": "wav2vec2", "HubertModel": "hubert", "WavLM": "wavlm"}


@dataclass(frozen=True)
class BackboneShape:
    """What an adapter checkpoint must agree with."""

    family: str
    num_layers: int
    dim: int
    ffn_dim: int
    num_heads: int

    def to_dict(self):
        return asdict(self)

    def differences(self, other: "BackboneShape") -> List[str]:
        return [
            f"{k}: checkpoint has {v!r}, upstream has {getattr(self, k)!r}"
            for k, v in asdict(other).items()
            if getattr(self, k) != v
        ]


class Backbone:
    """A view of an ``S3PRLUpstream``'s transformer for attaching adapters."""

    def __init__(self, upstream: nn.Module):
        expert = getattr(upstream, "upstream", None)
        model = getattr(expert, "model", None)
        family = _FAMILY_BY_MODEL.get(type(model).__name__) if model is not None else None
        if family is None:
            found = type(model).__name__ if model is not None else type(upstream).__name__
            raise TypeError(
                f"unsupported upstream {found}: adapters attach to s3prl's wav2vec2, HuBERT "
                f"and WavLM upstreams (S3PRLUpstream('wav2vec2'|'hubert'|'wavlm*' ...))"
            )
        layers = model.encoder.layers
        if len(layers) == 0 or not hasattr(layers[0], "fc2"):
            raise TypeError(f"unsupported {family} layer type {type(layers[0]).__name__}")
        self.upstream = upstream
        self.expert = expert
        self.model = model
        self.family = family
        self.encoder = model.encoder
        self.layers = layers
        first = layers[0]
        self.shape = BackboneShape(
            family=family,
            num_layers=len(layers),
            dim=first.fc2.out_features,
            ffn_dim=first.fc2.in_features,
            num_heads=first.self_attn.num_heads,
        )
        self.layer_norm_first = bool(getattr(first, "layer_norm_first", False))

    @property
    def num_layers(self) -> int:
        return self.shape.num_layers

    @property
    def dim(self) -> int:
        return self.shape.dim

    def attention(self, i: int) -> nn.Module:
        return self.layers[i].self_attn

    def ffn_out(self, i: int) -> nn.Linear:
        return self.layers[i].fc2

    def feature_extractor(self) -> nn.Module:
        return self.model.feature_extractor

    def transformer_modules(self) -> List[nn.Module]:
        """Everything between the CNN feature encoder and the hidden states."""
        mods = [self.encoder]
        for name in ("layer_norm", "post_extract_proj"):
            m = getattr(self.model, name, None)
            if isinstance(m, nn.Module):
                mods.append(m)
        return mods

    @staticmethod
    def layer_output(output) -> torch.Tensor:
        """The hidden state (T, B, C) in a layer's return value."""
        return output[0]

    @staticmethod
    def with_layer_output(output, x: torch.Tensor):
        return (x,) + tuple(output[1:])
