"""Per-parameter learning-rate scales in ESPnet's single optimizer.

A method marks parameters with :func:`adapters.methods.base.set_lr_scale` (AdapterFusion
trains its fusion layers at a lower rate than its adapters, for instance); the training
entry points use
ESPnet tasks whose ``build_optimizers`` put each scale in its own parameter group with
``lr = optim_conf.lr * scale``.  ESPnet's schedulers (warmuplr, ...) scale every group
from its own initial rate, so the ratio holds for the whole run.  Without marked
parameters ESPnet's own ``build_optimizers`` runs unchanged.
"""
from __future__ import annotations

from typing import Dict, List

import torch

from adapters.methods.base import LR_SCALE_ATTR

def lr_scale_groups(model: torch.nn.Module) -> Dict[float, List[torch.nn.Parameter]]:
    """Parameters by scale (1.0 for unmarked ones), in model order within each."""
    groups: Dict[float, List[torch.nn.Parameter]] = {}
    for p in model.parameters():
        groups.setdefault(getattr(p, LR_SCALE_ATTR, 1.0), []).append(p)
    return groups


class LrScaledOptimizers:
    """Mixin for an ESPnet task class (put it first among the bases)."""

    @classmethod
    def build_optimizers(cls, args, model):
        groups = lr_scale_groups(model)
        if set(groups) <= {1.0}:
            return super().build_optimizers(args, model)
        from espnet2.tasks.abs_task import optim_classes

        if cls.num_optimizers != 1 or args.sharded_ddp or args.exclude_weight_decay:
            raise ValueError(
                "parameters with a learning-rate scale need ESPnet's plain single optimizer "
                "(no sharded_ddp, no exclude_weight_decay)"
            )
        optim_class = optim_classes.get(args.optim)
        if optim_class is None:
            raise ValueError(f"optim must be one of {list(optim_classes)}: {args.optim}")
        conf = dict(args.optim_conf)
        if "lr" not in conf:
            raise ValueError(f"a learning-rate scale needs optim_conf.lr to scale (optim {args.optim})")
        param_groups = [
            {"params": ps, "lr": conf["lr"] * s} for s, ps in sorted(groups.items(), reverse=True)
        ]
        return [optim_class(param_groups, **conf)]
