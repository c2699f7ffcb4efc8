"""The two modes that add no modules: a frozen upstream and full fine-tuning."""
from __future__ import annotations

import dataclasses
from typing import List

from adapters.methods.base import AdapterMethod, check_lr_scale
from adapters.registry import register


@register("frozen")
class Frozen(AdapterMethod):
    """Nothing trains in the upstream; the downstream reads a weighted sum (SUPERB)."""

    description = "SUPERB baseline: frozen upstream, learnable weighted sum of all layers"
    table_label = "frozen + weighted sum"
    lowest_adapted = None  # changes nothing
    cache_cut = "hidden_states"


@dataclasses.dataclass
class FineTuneConfig:
    # the pretrained transformer learns at the optimizer's rate times this, the downstream (random
    # at the start) at the rate itself: with 0.1x for the whole model, RNN-T fine-tuning's decoder
    # barely learnt (97.6 % WER against 78.4; egs/librispeech/asr1/RESULTS.md)
    backbone_lr_scale: float = 0.1

    def __post_init__(self):
        check_lr_scale("backbone_lr_scale", self.backbone_lr_scale)


@register("finetune")
class FineTune(AdapterMethod):
    """The transformer (and the feature projection) trains; the CNN feature
    encoder stays frozen, as in the wav2vec2 / HuBERT fine-tuning recipes."""

    Config = FineTuneConfig
    description = "full fine-tuning of the transformer (CNN feature encoder frozen)"
    table_label = "full fine-tuning"
    training_only_options = ("backbone_lr_scale",)
    lr_scale_options = {"backbone": "backbone_lr_scale"}
    trains_backbone = True
    lowest_adapted = 0
    cache_cut = "cnn"  # the feature LayerNorm and projection train

    def _named(self):
        up = self.backbone.upstream
        ids = {id(p) for m in self.backbone.transformer_modules() for p in m.parameters()}
        return [(n, p) for n, p in up.named_parameters() if id(p) in ids]

    def configure_trainable(self) -> None:
        for _, p in self._named():
            p.requires_grad_(True)

    def upstream_trainable_names(self) -> List[str]:
        return [n for n, _ in self._named()]

    def lr_components(self):
        return {"backbone": [p for _, p in self._named()]}
