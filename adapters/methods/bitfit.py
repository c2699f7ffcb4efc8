"""BitFit (Ben Zaken et al., 2022): only the bias terms of the transformer train."""
from __future__ import annotations

from typing import List

from adapters.methods.base import AdapterMethod
from adapters.registry import register


@register("bitfit")
class BitFit(AdapterMethod):
    description = "BitFit: the transformer's biases"
    table_label = "BitFit"
    lowest_adapted = 0  # the positional convolution's and the encoder LayerNorm's biases too

    def _named(self):
        up = self.backbone.upstream
        ids = {
            id(p)
            for n, p in self.backbone.encoder.named_parameters()
            if n == "bias" or n.endswith(".bias")
        }
        return [(n, p) for n, p in up.named_parameters() if id(p) in ids]

    def configure_trainable(self) -> None:
        for _, p in self._named():
            p.requires_grad_(True)

    def upstream_trainable_names(self) -> List[str]:
        return [n for n, _ in self._named()]
