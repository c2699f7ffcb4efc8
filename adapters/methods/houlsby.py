"""Houlsby adapters (Houlsby et al., 2019): a residual bottleneck after the
attention output and after the FFN output of every layer, inside the block's
residual: y <- y + W_up GELU(W_down y).  Zero-initialised up-projections make the
adapted model equal the frozen one at step 0.

With several tasks every task has its own adapters (the per-task baseline of
the multi-task papers) and each utterance of a batch goes through its task's.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from adapters.methods.base import AdapterMethod, check_positive, routed_bottleneck
from adapters.methods.blocks import Bottleneck
from adapters.registry import register


@dataclass
class HoulsbyConfig:
    bottleneck: int = 64  # width of the adapter's hidden layer

    def __post_init__(self):
        check_positive("bottleneck", self.bottleneck)


class HoulsbyTask(nn.Module):
    """One task's adapters: after attention and after the FFN, in every layer."""

    def __init__(self, dim: int, bottleneck: int, num_layers: int):
        super().__init__()
        self.attn = nn.ModuleList(Bottleneck(dim, bottleneck) for _ in range(num_layers))
        self.ffn = nn.ModuleList(Bottleneck(dim, bottleneck) for _ in range(num_layers))


@register("houlsby")
class Houlsby(AdapterMethod):
    Config = HoulsbyConfig
    description = "Houlsby adapters after attention and FFN in every layer"
    table_label = "per-task Houlsby"
    recipe_conf = {"bottleneck": 64}
    routes_tasks = True
    task_modules = "adapters"

    def __init__(self, backbone, config, tasks):
        super().__init__(backbone, config, tasks)
        self.adapters = nn.ModuleDict({t: self.new_task_module() for t in self.tasks})

    def new_task_module(self):
        bb = self.backbone
        return HoulsbyTask(bb.dim, self.config.bottleneck, bb.num_layers)

    def _adapt(self, x, layer: int, where: str):
        uniq, inverse = self.routing(x.size(1), x.device)
        ads = [getattr(self.adapters[self.tasks.names[k]], where)[layer] for k in uniq]
        return x + routed_bottleneck(x, ads, inverse)

    def install(self):
        bb = self.backbone
        for i in range(bb.num_layers):

            def after_attention(mod, inp, out, _i=i):
                return (self._adapt(out[0], _i, "attn"),) + tuple(out[1:])

            def after_ffn(mod, inp, out, _i=i):
                return self._adapt(out, _i, "ffn")

            self.hook(bb.attention(i), after_attention)
            self.hook(bb.ffn_out(i), after_ffn)
