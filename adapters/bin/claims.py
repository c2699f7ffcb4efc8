"""Check the papers' claims on a recipe's runs: paired 95 % intervals, a stated margin,
and a plain verdict.

    python -m adapters.bin.claims --spec conf/claims.yaml --exp exp --out exp/multitask/claims.md

The spec (YAML) lists claims of the form "method A is close to (or better than) method B
on a test set", each naming the two runs (exp dir names), the test set's per-item entry
in their ``per_item.json`` and the metric.  For each, the difference A - B is bootstrapped
over the same test items (``adapters.stats.paired_bootstrap``: utterances, within tasks
for a mean over tasks) and judged against the margin (points of the metric):

* ``close``  holds when the interval's worse end is within the margin (A is at most
  ``margin`` points worse than B), does not hold when even its better end is beyond it,
  and is inconclusive otherwise (the test set is too small to say);
* ``better`` holds when the interval excludes 0 on A's side.

The parameter figures (``params``: a results.json count, e.g. ``adapter_params``) are
put side by side with their ratio, since "at a fraction of the parameters" is the
other half of most of these claims.  A claim whose runs are missing is reported as
not run, never guessed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from adapters import stats
from adapters.results import fmt_params, read_per_item

LOWER_IS_BETTER = {"wer", "cer", "eer", *stats.DCF_P}
KINDS = ("close", "better")


class ClaimSpecError(ValueError):
    pass


def load_spec(path) -> dict:
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ClaimSpecError(f"{path}: cannot read the claims ({e})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("claims"), list) or not spec["claims"]:
        raise ClaimSpecError(f"{path}: expected a mapping with a non-empty list `claims`")
    for i, c in enumerate(spec["claims"], 1):
        missing = [k for k in ("name", "a", "b", "test", "metric") if not c.get(k)]
        if missing:
            raise ClaimSpecError(f"{path}: claim {i} lacks {', '.join(missing)}")
        if c.get("kind", "close") not in KINDS:
            raise ClaimSpecError(f"{path}: claim {i} ({c['name']}): kind {c['kind']!r}, expected one of {KINDS}")
        if c["metric"] not in stats.METRICS:
            raise ClaimSpecError(f"{path}: claim {i} ({c['name']}): metric {c['metric']!r}, "
                                 f"expected one of {', '.join(stats.METRICS)}")
    return spec


def _run(exp: Path, name: str):
    res_path = exp / name / "results.json"
    if not res_path.is_file():
        return None, None
    res = json.loads(res_path.read_text())
    return res, read_per_item(res_path, res)


def verdict(kind: str, metric: str, ci, margin: float) -> str:
    """The claim's verdict from the interval of A - B (in the metric's points)."""
    if ci is None:
        return "inconclusive (too few items for an interval)"
    # orient so that positive = A worse
    lo, hi = (ci[0], ci[1]) if metric in LOWER_IS_BETTER else (-ci[1], -ci[0])
    if kind == "better":
        if hi < 0:
            return "holds (A significantly better)"
        if lo > 0:
            return "does not hold (A significantly worse)"
        return "does not hold (no significant difference)"
    if hi < 0:
        return "holds (A significantly better)"
    if hi <= margin:
        return f"holds (A at most {margin:g} points worse)"
    if lo > margin:
        return f"does not hold (A more than {margin:g} points worse)"
    return f"inconclusive (the interval reaches beyond the {margin:g}-point margin)"


def check(spec: dict, exp: Path) -> list:
    margin_default = float(spec.get("margin", 2.0))
    rows = []
    for c in spec["claims"]:
        kind, metric, margin = c.get("kind", "close"), c["metric"], float(c.get("margin", margin_default))
        item_set = c.get("item_set", c["test"])
        row = {"name": c["name"], "paper": c.get("paper", ""), "a": c["a"], "b": c["b"], "test": c["test"],
               "metric": metric, "kind": kind, "margin": margin}
        (ra, ia), (rb, ib) = _run(exp, c["a"]), _run(exp, c["b"])
        missing = [n for n, r in ((c["a"], ra), (c["b"], rb)) if r is None]
        if missing:
            rows.append({**row, "verdict": f"not run ({', '.join(missing)}: no results.json)"})
            continue
        if item_set not in ia or item_set not in ib:
            who = [n for n, i in ((c["a"], ia), (c["b"], ib)) if item_set not in i]
            rows.append({**row, "verdict": f"no per-item outcomes for {item_set} in {', '.join(who)}"})
            continue
        try:
            d = stats.paired_bootstrap(ia[item_set], ib[item_set], metric)
        except ValueError as e:
            rows.append({**row, "verdict": f"cannot pair the runs' items: {e}"})
            continue
        row.update(value_a=d["a"], value_b=d["b"], diff=d["diff"], ci=d["ci"], n=d["n"],
                   verdict=verdict(kind, metric, d["ci"], margin), method=d["method"])
        if c.get("params"):
            pa, pb = ra.get(c["params"]), rb.get(c["params"])
            row.update(params=c["params"], params_a=pa, params_b=pb,
                       params_ratio=(pa / pb) if pa is not None and pb else None)
        rows.append(row)
    return rows


def markdown(rows: list) -> str:
    out = ["| claim | A | B | test | A | B | A - B [95 % CI] | parameters A / B | verdict |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "diff" not in r:
            out.append(f"| {r['name']} | {r['a']} | {r['b']} | {r['test']} | – | – | – | – | {r['verdict']} |")
            continue
        params = "–"
        if r.get("params_a") is not None and r.get("params_b") is not None:
            ratio = f" ({r['params_ratio']:.2f}x)" if r.get("params_ratio") is not None else ""
            params = f"{fmt_params(r['params_a'])} / {fmt_params(r['params_b'])}{ratio}"
        m = r["metric"].upper() if r["metric"] in ("wer", "cer", "eer") else r["metric"]
        out.append(f"| {r['name']} | {r['a']} | {r['b']} | {r['test']} {m} | {r['value_a']:.1f} | "
                   f"{r['value_b']:.1f} | {r['diff']:+.1f} {stats.fmt_ci(r['ci'])} | {params} | {r['verdict']} |")
    margins = sorted({r["margin"] for r in rows})
    out += ["", f"- A - B: paired bootstrap over the same test items ({rows[0].get('method', 'see adapters.stats')}); "
            f"margin of a \"close to\" claim: {', '.join(f'{m:g}' for m in margins)} points of the metric.",
            "- verdicts: *holds* when the interval's worse end is within the margin; *does not hold* when even its "
            "better end is beyond it; *inconclusive* when the interval straddles the margin (more test items "
            "would decide)."]
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", required=True, help="the claims (YAML), e.g. conf/claims.yaml")
    ap.add_argument("--exp", default="exp", help="where the runs' exp dirs are")
    ap.add_argument("--out", default=None, help="write the markdown table here (and OUT's .json beside it)")
    a = ap.parse_args(argv)
    try:
        rows = check(load_spec(a.spec), Path(a.exp))
    except ClaimSpecError as e:
        raise SystemExit(f"error: {e}")
    md = markdown(rows)
    sys.stdout.write(md)
    if a.out:
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(md)
        out.with_suffix(".json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
