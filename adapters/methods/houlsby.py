"""Houlsby adapters (Houlsby et al., 2019): a residual bottleneck after the
attention output and after the FFN output of every layer, inside the block's
residual: y <- y + W_up GELU(W_down y).  Zero-initialised up-projections make the
adapted model equal the frozen one at step 0."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from adapters.methods.base import AdapterMethod, check_positive
from adapters.methods.blocks import Bottleneck
from adapters.registry import register


@dataclass
class HoulsbyConfig:
    bottleneck: int = 64  # width of the adapter's hidden layer

    def __post_init__(self):
        check_positive("bottleneck", self.bottleneck)


@register("houlsby")
class Houlsby(AdapterMethod):
    Config = HoulsbyConfig

    def __init__(self, backbone, config, tasks):
        super().__init__(backbone, config, tasks)
        d, b = backbone.dim, config.bottleneck
        self.attn_adapters = nn.ModuleList(Bottleneck(d, b) for _ in range(backbone.num_layers))
        self.ffn_adapters = nn.ModuleList(Bottleneck(d, b) for _ in range(backbone.num_layers))

    def install(self):
        bb = self.backbone
        for i in range(bb.num_layers):
            attn_ad, ffn_ad = self.attn_adapters[i], self.ffn_adapters[i]

            def after_attention(mod, inp, out, a=attn_ad):
                x = out[0]
                return (x + a(x),) + tuple(out[1:])

            def after_ffn(mod, inp, out, a=ffn_ad):
                return out + a(out)

            self.hook(bb.attention(i), after_attention)
            self.hook(bb.ffn_out(i), after_ffn)
