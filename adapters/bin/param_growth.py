"""Adapter parameters to store as the number of tasks grows, on one shared upstream.

    python -m adapters.bin.param_growth --family hubert --size base --tasks 1 2 4 8 16 32 64 128

HRA's case for multi-task serving: one controller is shared by every task and
each new task adds one small head, so its storage grows with the head's slope;
every per-task method (Houlsby, LoRA, ELP, full fine-tuning) stores a complete
copy of its trainable parameters for each task.  This tool measures rather than
assumes: HRA is attached with K task names for every K and its trainable
parameters counted; each per-task method is attached once (one task) and its
count scaled by K, which is what "per task" means.  Full fine-tuning counts the
transformer parameters that ``finetune`` trains (the frozen CNN is shared).
The frozen upstream itself is stored once and left out of every count.

Method configurations default to the recipes' (``adapters.catalogue``: each method's
``recipe_conf``);
``--<method>_conf JSON`` overrides single keys.  Writes ``param_growth.json``,
``param_growth.md`` (the table plus HRA / Houlsby at each K) and
``param_growth.png`` (log-log, one line per method) under ``--out``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import textwrap
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import adapters
from adapters import catalogue
from adapters.upstreams import FAMILIES, SIZES, hub_name, make_upstream

# the comparison this tool makes (its choice of methods; what each is comes from the catalogue):
# HRA, measured with K tasks, against per-task methods, each task storing one full copy of
# what the method trains
HRA = "hra"
PER_TASK = ("houlsby", "lora", "elp", "finetune")
HOULSBY = "houlsby"  # the ratio's denominator (HRA / Houlsby)
DEFAULT_TASKS = (1, 2, 4, 8, 16, 32, 64, 128)

Table = Dict[str, List[Tuple[int, int]]]


def default_conf(method: str) -> dict:
    """The recipes' ``method_conf`` for ``method`` (a copy)."""
    return catalogue.variant(method).method_conf()


def growth_table(one_task: Dict[str, int], hra_counts: Dict[int, int], ks: Iterable[int]) -> Table:
    """{method: [(K, params to store for K tasks), ...]}: HRA's measured counts, and
    K x the one-task count for every per-task method in ``one_task``."""
    ks = list(ks)
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError(f"task counts must be positive integers, got {ks}")
    missing = [k for k in ks if k not in hra_counts]
    if missing:
        raise ValueError(f"no HRA count for K = {missing}")
    if HRA in one_task:
        raise ValueError("HRA is measured with K tasks, not scaled: leave it out of one_task")
    table: Table = {HRA: [(k, int(hra_counts[k])) for k in ks]}
    for m, n in one_task.items():
        table[m] = [(k, k * int(n)) for k in ks]
    return table


def ratios(table: Table, num: str = HRA, den: str = HOULSBY) -> List[Tuple[int, float]]:
    """[(K, num's params / den's params)] at every K."""
    d = dict(table[den])
    return [(k, n / d[k]) for k, n in table[num]]


# -- measuring on an upstream ---------------------------------------------------
def load_upstream(family: str, path: str | Path):
    from s3prl.nn import S3PRLUpstream

    return S3PRLUpstream(hub_name(family), path_or_url=str(path)).eval()


def count_trainable(upstream, method: str, conf: dict, tasks: Optional[List[str]] = None) -> int:
    """Trainable parameters of ``method`` attached to ``upstream``; detached again after."""
    a = adapters.attach(upstream, method, tasks=tasks, **conf)
    try:
        return a.num_trainable()
    finally:
        a.detach_method()


def backbone_params(upstream) -> int:
    return sum(p.numel() for p in upstream.parameters())


def measure(upstream, ks: Iterable[int], confs: Dict[str, dict]) -> Tuple[Dict[str, int], Dict[int, int]]:
    """(one-task count of every per-task method, {K: HRA's count with K tasks})."""
    one_task = {m: count_trainable(upstream, m, confs.get(m, {})) for m in PER_TASK}
    hra = {k: count_trainable(upstream, HRA, confs.get(HRA, {}), [f"task{i}" for i in range(k)])
           for k in ks}
    return one_task, hra


# -- reports ------------------------------------------------------------------
def markdown(table: Table, title: str = "") -> str:
    methods = list(table)
    ks = [k for k, _ in table[methods[0]]]
    cols = {m: dict(table[m]) for m in methods}
    has_ratio = HRA in table and HOULSBY in table
    r = dict(ratios(table)) if has_ratio else {}
    head = ["K"] + methods + (["HRA / Houlsby"] if has_ratio else [])
    rows = [head, ["---:"] * len(head)]
    for k in ks:
        rows.append([str(k)] + [f"{cols[m][k]:,}" for m in methods] + ([f"{r[k]:.4f}"] if has_ratio else []))
    lines = [f"# {title}", ""] if title else []
    lines += ["| " + " | ".join(c) + " |" for c in rows]
    return "\n".join(lines) + "\n"


def plot(table: Table, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for m, pts in table.items():
        ax.plot([k for k, _ in pts], [n for _, n in pts], "o-", label=m,
                linewidth=2.5 if m == HRA else 1.5)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ks = [k for k, _ in next(iter(table.values()))]
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("number of tasks K")
    ax.set_ylabel("adapter parameters stored")
    if title:
        ax.set_title(textwrap.fill(title, 70), fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def write_reports(out: Path, table: Table, meta: dict, title: str) -> str:
    out.mkdir(parents=True, exist_ok=True)
    report = dict(meta, methods={m: [list(p) for p in pts] for m, pts in table.items()})
    if HRA in table and HOULSBY in table:
        report["ratio_hra_houlsby"] = [[k, r] for k, r in ratios(table)]
    (out / "param_growth.json").write_text(json.dumps(report, indent=2) + "\n")
    md = markdown(table, title)
    (out / "param_growth.md").write_text(md)
    plot(table, out / "param_growth.png", title)
    return md


# -- CLI ----------------------------------------------------------------------
def _json_conf(s: str) -> dict:
    try:
        conf = json.loads(s)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON: {e}") from None
    if not isinstance(conf, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {s!r}")
    return conf


def _positive(s: str) -> int:
    k = int(s)
    if k < 1:
        raise argparse.ArgumentTypeError(f"a number of tasks must be >= 1, got {k}")
    return k


def run(family: str, size: str, ks: Iterable[int], out: str | Path,
        upstream_path: Optional[str | Path] = None, confs: Optional[Dict[str, dict]] = None) -> dict:
    """Measure, write the reports, return the JSON report."""
    ks = sorted(set(ks))
    confs = {m: {**default_conf(m), **(confs or {}).get(m, {})} for m in (HRA,) + PER_TASK}
    with tempfile.TemporaryDirectory() as tmp:
        path = upstream_path or make_upstream(family, size, Path(tmp) / f"{family}_{size}.pt")
        up = load_upstream(family, path)
    backbone = backbone_params(up)
    one_task, hra = measure(up, ks, confs)
    table = growth_table(one_task, hra, ks)
    name = f"{family} {size}" if upstream_path is None else f"{family} {Path(upstream_path).name}"
    meta = dict(family=family, size=size if upstream_path is None else None,
                upstream=str(upstream_path) if upstream_path else None,
                backbone_params=backbone, tasks=ks, confs=confs, one_task=one_task)
    md = write_reports(Path(out), table, meta, f"Adapter parameters stored for K tasks ({name}, "
                                               f"{backbone / 1e6:.1f} M frozen upstream shared)")
    print(md, end="")
    return json.loads((Path(out) / "param_growth.json").read_text())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=FAMILIES, default="hubert")
    ap.add_argument("--size", choices=tuple(SIZES), default="base")
    ap.add_argument("--upstream", default=None,
                    help="an existing checkpoint of --family (default: build a random one of --size)")
    ap.add_argument("--tasks", nargs="+", type=_positive, default=list(DEFAULT_TASKS))
    ap.add_argument("--out", default="exp/param_growth")
    for m in (HRA,) + PER_TASK:
        if not catalogue.has_options(m):
            continue
        ap.add_argument(f"--{m}_conf", type=_json_conf, default={},
                        help=f"JSON keys over the recipe default {json.dumps(default_conf(m))}")
    a = ap.parse_args(argv)
    confs = {m: getattr(a, f"{m}_conf") for m in (HRA,) + PER_TASK if catalogue.has_options(m)}
    run(a.family, a.size, a.tasks, a.out, a.upstream, confs)


if __name__ == "__main__":
    main()
