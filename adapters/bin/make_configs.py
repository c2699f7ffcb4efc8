"""Write one training config per adapter method from a recipe's base config.

    python -m adapters.bin.make_configs conf/base_ks.yaml --prefix train --out conf

The base holds what every method shares (downstream, batch, optimizer, the
upstream in ``frontend_conf``); this file holds what each method adds (its
``method_conf`` and learning-rate scale), so a recipe compares methods on equal
terms and a new method is one entry in ``METHODS``.  Configs are regenerated
whole: edit the base, not the generated files.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

import yaml

import adapters

# method -> (one-line description, method_conf, learning-rate scale[, registered method])
METHODS = {
    "frozen": ("SUPERB baseline: frozen upstream, learnable weighted sum of all layers", {}, 1.0),
    "finetune": ("full fine-tuning of the transformer (CNN feature encoder frozen)", {}, 0.1),
    "houlsby": ("Houlsby adapters after attention and FFN in every layer", {"bottleneck": 64}, 1.0),
    "lora": ("LoRA on the query and value projections", {"rank": 8, "alpha": 16, "targets": ["q", "v"]}, 1.0),
    "bitfit": ("BitFit: the transformer's biases", {}, 1.0),
    "prefix": ("prefix tuning: 16 learnable keys/values per layer", {"length": 16}, 1.0),
    "elp": ("ELP: E-adapters (layers 0..L-2), L-adapters summed as the features, P-adapter prefix",
            {"e_bottleneck": 64, "l_adapter": True, "p_length": 8, "p_position": "prefix",
             "p_reparam": "linear"}, 1.0),
    "hra": ("HRA: shared IndRNN controller + a head per task (linear unless the base overrides it)",
            {"controller": "indrnn", "controller_dim": 256, "head": "linear"}, 1.0),
}
# the multi-task recipe's runs (generated on request: --methods extract aaf_attention ...)
_AAF = {"bottleneck": 64}
MULTITASK_METHODS = {
    "extract": ("A-AF stage 1 (knowledge extraction): one bottleneck adapter per task and layer on "
                "the frozen run's model, each utterance through its task's (also the task-id routing "
                "baseline)",
                {"mode": "single", **_AAF}, 1.0, "fusion"),
    "aaf_avg": ("A-AF stage 2, Avg: the mean of the frozen single-task adapters, LayerNorm",
                {"mode": "avg", **_AAF}, 1.0, "fusion"),
    "aaf_wavg": ("A-AF stage 2, WAvg: a learned softmax weight per layer and adapter, LayerNorm",
                 {"mode": "wavg", **_AAF}, 1.0, "fusion"),
    "fusion": ("A-AF stage 2 (the paper's A-AF): attention over the frozen single-task adapters, LayerNorm",
                      {"mode": "attention", **_AAF}, 1.0, "fusion"),
    "aaf_attention_noln": ("A-AF stage 2 ablation: attention fusion without the LayerNorm",
                           {"mode": "attention", "layernorm": False, **_AAF}, 1.0, "fusion"),
    "aaf_attention_update": ("A-AF stage 2 ablation: attention fusion, the adapters updated too",
                             {"mode": "attention", "train_adapters": True, **_AAF}, 1.0, "fusion"),
    "aaf_attention_ownout": ("A-AF stage 2, ours: attention fusion trained with each utterance's own "
                             "adapter hidden half the time (as on an unseen task), LayerNorm",
                             {"mode": "attention", "own_adapter_dropout": 0.5, **_AAF}, 1.0, "fusion"),
    "aaf_attention_vreg": ("A-AF stage 2 with AdapterFusion's value regulariser: attention fusion, "
                           "0.01 ||I - W_value||^2 per layer added to the training loss, LayerNorm",
                           {"mode": "attention", "value_regularization": 0.01, **_AAF}, 1.0, "fusion"),
    "hra_addtask": ("HRA, a task added later: only the new task's head trains (controller, other "
                    "heads and downstream frozen)",
                    dict(METHODS["hra"][1]), 1.0, "hra"),
}
ALL_METHODS = {**METHODS, **MULTITASK_METHODS}
# training options a run must not take from its base.  Adding a task keeps its one best
# checkpoint: ESPnet averages checkpoints as (a + a + a) / 3, which moves about one frozen
# weight in seven by an ulp, and the old tasks must stay bit-identical
RUN_OVERRIDES = {"hra_addtask": {"keep_nbest_models": 1}}
# a base's top-level key: {registered method: {key: value}} merged into that method's
# method_conf in every run of the method (a multi-task recipe's HRA heads, say, which its
# later add-a-task run must share); it is not written into the configs
OVERRIDES_KEY = "method_conf_overrides"


def method_config(base: dict, method: str) -> dict:
    if method not in ALL_METHODS:
        raise SystemExit(f"unknown method {method!r} (known: {', '.join(ALL_METHODS)})")
    _, conf, lr_scale, *registered = ALL_METHODS[method]
    registered = registered[0] if registered else method
    if registered not in adapters.available_methods():
        raise SystemExit(f"method {registered!r} is not registered in adapters")
    cfg = copy.deepcopy(base)
    overrides = cfg.pop(OVERRIDES_KEY, None) or {}
    unknown = sorted(set(overrides) - set(adapters.available_methods()))
    if unknown:
        raise SystemExit(f"{OVERRIDES_KEY}: {', '.join(unknown)} not registered in adapters")
    bad = sorted(m for m, v in overrides.items() if not isinstance(v, dict))
    if bad:
        raise SystemExit(f"{OVERRIDES_KEY}: the entries of {', '.join(bad)} must be key: value maps")
    fc = cfg.setdefault("frontend_conf", {})
    fc["method"] = registered
    fc.pop("method_conf", None)
    conf = {**conf, **(overrides.get(registered) or {})}
    if conf:
        fc["method_conf"] = copy.deepcopy(conf)
    cfg.update(copy.deepcopy(RUN_OVERRIDES.get(method, {})))
    if lr_scale != 1.0 and "lr" in (cfg.get("optim_conf") or {}):
        cfg["optim_conf"]["lr"] = float(f"{cfg['optim_conf']['lr'] * lr_scale:.6g}")
    return cfg


def write_configs(base_path, out_dir, prefix: str, methods=None, title: str = "") -> list:
    base_path, out_dir = Path(base_path), Path(out_dir)
    base = yaml.safe_load(base_path.read_text())
    written = []
    for m in methods or METHODS:
        cfg = method_config(base, m)
        head = (f"# {title + ': ' if title else ''}{ALL_METHODS[m][0]}.\n"
                f"# Generated from {base_path.name} by `python -m adapters.bin.make_configs`: edit the base "
                "and regenerate.\n")
        path = out_dir / f"{prefix}_{m}.yaml"
        path.write_text(head + yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False))
        written.append(path)
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="the recipe's base config (downstream, training, upstream)")
    ap.add_argument("--out", default="conf")
    ap.add_argument("--prefix", default="train", help="files are <out>/<prefix>_<method>.yaml")
    ap.add_argument("--methods", nargs="*", default=None,
                    help=f"default: {' '.join(METHODS)}; multi-task runs: {' '.join(MULTITASK_METHODS)}")
    ap.add_argument("--title", default="", help="first words of each file's comment (the recipe)")
    a = ap.parse_args(argv)
    for p in write_configs(a.base, a.out, a.prefix, a.methods, a.title):
        print(p)


if __name__ == "__main__":
    main()
