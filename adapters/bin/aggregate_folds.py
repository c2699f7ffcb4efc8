"""Average a method's cross-validation folds into one result (IEMOCAP's
leave-one-session-out protocol: five runs, one score).

    python -m adapters.bin.aggregate_folds --out exp/cls_5fold_elp exp/cls_fold*_elp/results.json

Writes ``<out>/results.json`` (accuracy = mean over folds, its standard
deviation, every fold's own numbers) and ``<out>/RESULTS.md``.  Missing
folds are an error: a mean over some folds is not the protocol's number.
The same averages runs of several seeds.

Uncertainty: ``accuracy_ci`` is the 95 % Student's t interval of the mean over the
folds (``n``: the number of folds; one fold: that fold's own interval over utterances); where every fold kept its per-utterance
outcomes (``per_item.json``), they are gathered in ``<out>/per_item.json`` with
each utterance's fold as its stratum, and ``accuracy_ci_utterances`` is the
bootstrap over utterances within folds (``adapters.stats``): what paired
comparisons of two methods on the same folds use.

Provenance (``adapters.results``): where every fold recorded it, ``provenance`` keeps
each fold's and sums up its training, validation and test sets as one id each (a
digest of the folds' ids); folds on different upstream weights are an error.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from adapters.results import (PROVENANCE_VERSION, TRAINING_SETS, combined_record, params_line, read_per_item,
                              upstream_sha, write_json, write_per_item)
from adapters.stats import CONFIDENCE, bootstrap_ci, ci_method, fmt_ci, t_interval


def fold_items(paths, runs, test_sets) -> dict | None:
    """Every fold's per-utterance outcomes in one list, the fold's test set its stratum
    (the run's position too where runs share a test set: seeds); None if a fold has none."""
    ids, correct, strata = [], [], []
    for k, (p, r, name) in enumerate(zip(paths, runs, test_sets)):
        items = read_per_item(Path(p), r).get(name)
        if not items or "correct" not in items or "ids" not in items:
            return None
        stratum = name if test_sets.count(name) == 1 else f"{k + 1}:{name}"
        ids += [f"{stratum}/{u}" for u in items["ids"]]
        correct += list(items["correct"])
        strata += [stratum] * len(items["ids"])
    return {"ids": ids, "correct": correct, "strata": strata}


def aggregate(paths, expected=None) -> dict:
    return aggregate_with_items(paths, expected)[0]


def aggregate_with_items(paths, expected=None):
    """(the averaged results, the folds' per-utterance outcomes for ``<out>/per_item.json`` or None)."""
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
    folds, test_sets = {}, []
    for p, r in zip(paths, runs):
        (name, s), = r["test"].items() if len(r["test"]) == 1 else [(None, None)]
        if s is None:
            raise SystemExit(f"error: {p}: expected exactly one test set per fold, got {list(r['test'])}")
        folds[Path(r["exp"]).name] = {"test_set": name, **s}
        test_sets.append(name)
    accs = [f["accuracy"] for f in folds.values()]
    items = fold_items(paths, runs, test_sets)
    if len(accs) > 1:
        spread = {"accuracy_std": statistics.pstdev(accs), "accuracy_ci": t_interval(accs), "n": len(accs),
                  "ci_method": f"{100 * CONFIDENCE:g} % Student's t interval of the mean over {len(accs)} folds"}
    else:  # one fold has no spread over folds (a standard deviation of 0 would claim certainty): its own interval
        (only,) = folds.values()
        spread = {"accuracy_ci": only.get("accuracy_ci"), "n": only.get("n", only["utterances"]),
                  "ci_method": f"one fold: {only.get('ci_method', 'no interval recorded')}"}
    first = runs[0]
    out = {k: first[k] for k in ("task", "metric", "method", "method_conf", "upstream", "upstream_path",
                                 "encoder", "total_params", "trainable_params", "adapter_params",
                                 "upstream_params", "downstream_params") if k in first}
    out.update({
        "exp": None, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "train_time_s": sum(r.get("train_time_s", 0.0) for r in runs),
        "test": {"test": {
            "accuracy": statistics.fmean(accs),
            **spread,
            "utterances": sum(f["utterances"] for f in folds.values()),
            "majority_accuracy": statistics.fmean(f["majority_accuracy"] for f in folds.values()),
            "folds": folds,
        }},
    })
    if items is not None:
        t = out["test"]["test"]
        t["accuracy_ci_utterances"] = bootstrap_ci(items, "accuracy")["ci"]
        t["ci_method_utterances"] = ci_method(items, "accuracy")
    out["provenance"] = folds_provenance(paths, runs, test_sets)
    machines = [r.get("train_machine") for r in runs]
    if machines and all(isinstance(m, dict) and m == machines[0] for m in machines):
        out["train_machine"] = machines[0]  # folds trained on several machines: none recorded
    return out, items


def folds_provenance(paths, runs, test_sets) -> dict | None:
    """The folds' provenance, each set summed up over the folds; None (with a warning) when a
    fold recorded none (scored before it was recorded)."""
    lacking = [str(p) for p, r in zip(paths, runs) if not isinstance(r.get("provenance"), dict)]
    if lacking:
        print(f"warning: {len(lacking)} fold result(s) record no provenance ({', '.join(lacking)}): "
              "the average records none", file=sys.stderr)
        return None
    shas = {upstream_sha(r) for r in runs} - {None}
    if len(shas) > 1:
        raise SystemExit(f"error: folds on different upstream weights (sha256 {', '.join(sorted(shas))}): "
                         f"{list(map(str, paths))}")
    names = [Path(str(r.get("exp"))).name for r in runs]
    if len(set(names)) != len(names):
        names = [f"{k + 1}:{n}" for k, n in enumerate(names)]
    provs = dict(zip(names, (r["provenance"] for r in runs)))
    return {"version": PROVENANCE_VERSION, "upstream": runs[0]["provenance"].get("upstream"),
            **{k: combined_record({n: p.get(k) for n, p in provs.items()}) for k in TRAINING_SETS},
            "test": {"test": combined_record({n: (p.get("test") or {}).get(t)
                                              for (n, p), t in zip(provs.items(), test_sets)})},
            "folds": provs}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--expected", type=int, default=None, help="number of folds the protocol has")
    ap.add_argument("results", nargs="+")
    a = ap.parse_args(argv)
    r, items = aggregate_with_items(a.results, a.expected)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    r["exp"] = str(out)
    if items is not None:
        write_per_item(out, {"test": items}, r)
    write_json(out / "results.json", r)
    t = r["test"]["test"]
    lines = [f"# RESULTS: {out.name}", "", f"- task: {r.get('task')}; method: `{r.get('method')}`; "
             f"{len(t['folds'])}-fold cross-validation, accuracy averaged over folds",
             params_line(r), "", "|fold|test set|Snt|Acc|majority class|", "|---|---|---|---|---|"]
    for name, f in t["folds"].items():
        lines.append(f"|{name}|{f['test_set']}|{f['utterances']}|{f['accuracy']:.1f}|{f['majority_accuracy']:.1f}|")
    sd = f" (sd {t['accuracy_std']:.1f})" if "accuracy_std" in t else ""
    lines.append(f"|**mean**||{t['utterances']}|**{t['accuracy']:.1f}** {fmt_ci(t['accuracy_ci'])}{sd}"
                 f"|{t['majority_accuracy']:.1f}|")
    lines += ["", f"- 95 % CI: {t['ci_method']}"]
    if t.get("accuracy_ci_utterances"):
        lines.append(f"- over utterances (within folds): {fmt_ci(t['accuracy_ci_utterances'])}")
    (out / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print(f"{out}: accuracy {t['accuracy']:.1f} % {fmt_ci(t['accuracy_ci'])}{sd} "
          f"over {len(t['folds'])} fold{'s' if len(t['folds']) > 1 else ''} (majority class {t['majority_accuracy']:.1f} %)")


if __name__ == "__main__":
    main()
