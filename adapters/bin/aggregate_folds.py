"""Average a method's cross-validation folds into one result (IEMOCAP's
leave-one-session-out protocol: five runs, one score).

    python -m adapters.bin.aggregate_folds --out exp/cls_5fold_elp exp/cls_fold*_elp/results.json

Writes ``<out>/results.json`` (accuracy = mean over folds, its standard
deviation, every fold's own numbers) and ``<out>/RESULTS.md``.  Missing
folds are an error: a mean over some folds is not the protocol's number.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from adapters.results import params_line


def aggregate(paths, expected=None) -> dict:
    runs = []
    for p in paths:
        try:
            runs.append(json.loads(Path(p).read_text()))
        except (OSError, ValueError) as e:
            raise SystemExit(f"error: cannot read {p}: {e}")
    if expected is not None and len(runs) != expected:
        raise SystemExit(f"error: {len(runs)} fold result(s) given, {expected} expected: {list(map(str, paths))}")
    if not runs:
        raise SystemExit("error: no fold results given")
    methods = {r.get("method") for r in runs}
    if len(methods) != 1:
        raise SystemExit(f"error: folds of different methods: {sorted(map(str, methods))}")
    folds = {}
    for p, r in zip(paths, runs):
        (name, s), = r["test"].items() if len(r["test"]) == 1 else [(None, None)]
        if s is None:
            raise SystemExit(f"error: {p}: expected exactly one test set per fold, got {list(r['test'])}")
        folds[Path(r["exp"]).name] = {"test_set": name, **s}
    accs = [f["accuracy"] for f in folds.values()]
    first = runs[0]
    out = {k: first[k] for k in ("task", "metric", "method", "method_conf", "upstream", "upstream_path",
                                 "encoder", "total_params", "trainable_params", "adapter_params",
                                 "upstream_params", "downstream_params") if k in first}
    out.update({
        "exp": None, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "train_time_s": sum(r.get("train_time_s", 0.0) for r in runs),
        "test": {"test": {
            "accuracy": statistics.fmean(accs),
            "accuracy_std": statistics.pstdev(accs) if len(accs) > 1 else 0.0,
            "utterances": sum(f["utterances"] for f in folds.values()),
            "majority_accuracy": statistics.fmean(f["majority_accuracy"] for f in folds.values()),
            "folds": folds,
        }},
    })
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--expected", type=int, default=None, help="number of folds the protocol has")
    ap.add_argument("results", nargs="+")
    a = ap.parse_args(argv)
    r = aggregate(a.results, a.expected)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    r["exp"] = str(out)
    (out / "results.json").write_text(json.dumps(r, indent=1))
    t = r["test"]["test"]
    lines = [f"# RESULTS: {out.name}", "", f"- task: {r.get('task')}; method: `{r.get('method')}`; "
             f"{len(t['folds'])}-fold cross-validation, accuracy averaged over folds",
             params_line(r), "", "|fold|test set|Snt|Acc|majority class|", "|---|---|---|---|---|"]
    for name, f in t["folds"].items():
        lines.append(f"|{name}|{f['test_set']}|{f['utterances']}|{f['accuracy']:.1f}|{f['majority_accuracy']:.1f}|")
    lines.append(f"|**mean**||{t['utterances']}|**{t['accuracy']:.1f}** ± {t['accuracy_std']:.1f}|"
                 f"{t['majority_accuracy']:.1f}|")
    (out / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print(f"{out}: accuracy {t['accuracy']:.1f} ± {t['accuracy_std']:.1f} % over {len(t['folds'])} folds "
          f"(majority class {t['majority_accuracy']:.1f} %)")


if __name__ == "__main__":
    main()
