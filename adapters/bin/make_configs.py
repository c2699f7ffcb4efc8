"""Write one training config per adapter method from a recipe's base config.

    python -m adapters.bin.make_configs conf/base_ks.yaml --prefix train --out conf

The base holds what every method shares (downstream, batch, optimizer, the
upstream in ``frontend_conf``); the catalogue (``adapters.catalogue``) holds what each
run adds: its method's ``recipe_conf`` and learning-rate scale (declared in the method's
own file), and for a named variant its overrides; so a recipe compares methods on
equal terms and a new method needs nothing here.  Configs are regenerated whole: edit
the base, not the generated files.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

import yaml

import adapters
from adapters import catalogue

# a base's top-level key: {registered method: {key: value}} merged into that method's
# method_conf in every run of the method (a multi-task recipe's HRA heads, say, which its
# later add-a-task run must share); it is not written into the configs
OVERRIDES_KEY = "method_conf_overrides"


def method_config(base: dict, method: str) -> dict:
    """The config of the run ``method`` (a method, or a variant of the catalogue) on ``base``."""
    try:
        run = catalogue.variant(method)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    registered = run.method
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
    conf = {**run.method_conf(), **(overrides.get(registered) or {})}
    if conf:
        fc["method_conf"] = copy.deepcopy(conf)
    cfg.update(copy.deepcopy(dict(run.train_overrides)))
    lr_scale = run.learning_rate_scale
    if lr_scale != 1.0 and "lr" in (cfg.get("optim_conf") or {}):
        cfg["optim_conf"]["lr"] = float(f"{cfg['optim_conf']['lr'] * lr_scale:.6g}")
    return cfg


def write_configs(base_path, out_dir, prefix: str, methods=None, title: str = "") -> list:
    base_path, out_dir = Path(base_path), Path(out_dir)
    base = yaml.safe_load(base_path.read_text())
    written = []
    for m in methods or catalogue.single_task_runs():
        cfg = method_config(base, m)
        head = (f"# {title + ': ' if title else ''}{catalogue.variant(m).summary}.\n"
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
                    help=f"default: {' '.join(catalogue.single_task_runs())}; "
                         f"multi-task runs: {' '.join(catalogue.multi_task_runs())}")
    ap.add_argument("--title", default="", help="first words of each file's comment (the recipe)")
    a = ap.parse_args(argv)
    for p in write_configs(a.base, a.out, a.prefix, a.methods, a.title):
        print(p)


if __name__ == "__main__":
    main()
