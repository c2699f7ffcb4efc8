"""Stage 13 of cls.sh: accuracy of the predicted labels, per class and overall,
written as ESPnet-style ``RESULTS.md`` and a machine-readable ``results.json``.

The accuracy has its 95 % confidence interval (``accuracy_ci``: a bootstrap over
utterances, ``adapters.stats``) and ``n`` (utterances), beside the majority-class
rate (the bar to clear); each utterance's outcome (``correct`` 1/0) goes to
``<exp>/per_item.json`` for paired comparisons with other runs.

    python -m adapters.bin.score_cls --exp exp/cls_elp --task ks \
        --test test dump/raw/test exp/cls_elp/decode/test/prediction
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from adapters.data.kaldi import DataDirError, read_table
from adapters.metrics import accuracy
from adapters.results import header_lines, new_results, provenance, write_json, write_per_item
from adapters.stats import ci_fields, fmt_ci


def score_with_items(ref_path, hyp_path):
    """(the test set's scores with the accuracy's CI, its per-utterance outcomes)."""
    ref = read_table(ref_path)
    hyp = read_table(hyp_path)
    missing = sorted(set(ref) - set(hyp))
    if missing:
        raise DataDirError(f"{hyp_path}: no prediction for {len(missing)} utterance(s), e.g. {missing[0]} "
                           "(rerun the inference stage)")
    keys = sorted(ref)
    counts = Counter(ref[k] for k in keys)
    per_class = {}
    for c in sorted(counts):
        ks = [k for k in keys if ref[k] == c]
        per_class[c] = 100.0 * accuracy([hyp[k] for k in ks], [c] * len(ks))
    majority = max(counts.values())
    per = {"ids": keys, "correct": [int(hyp[k] == ref[k]) for k in keys]}
    return {
        "accuracy": 100.0 * accuracy([hyp[k] for k in keys], [ref[k] for k in keys]),
        "utterances": len(keys),
        "per_class_accuracy": per_class,
        # what always answering the most frequent class would score: the bar to clear
        "majority_accuracy": 100.0 * majority / len(keys),
        "confusion": {c: dict(Counter(hyp[k] for k in keys if ref[k] == c)) for c in sorted(counts)},
        **ci_fields(per, ["accuracy"]),
    }, per


def score(ref_path, hyp_path) -> dict:
    return score_with_items(ref_path, hyp_path)[0]


def write_results(exp: Path, tests, task: str) -> dict:
    exp = Path(exp)
    results = new_results(exp, task, "cls", "accuracy")
    per_item = {}
    for name, ref_dir, hyp in tests:
        results["test"][name], per_item[name] = score_with_items(Path(ref_dir) / "label", hyp)
    results["provenance"] = provenance(exp, results, {name: (ref_dir, [Path(ref_dir) / "label"])
                                                      for name, ref_dir, _ in tests})
    write_per_item(exp, per_item, results)
    write_json(exp / "results.json", results)
    ci_line = "- 95 % CI: bootstrap over utterances (per-utterance outcomes in per_item.json)"
    lines = header_lines(results, ci_line) + [
        "## Accuracy",
        "",
        "|dataset|Snt|Acc|95% CI|majority class|",
        "|---|---|---|---|---|",
    ]
    for name, r in results["test"].items():
        lines.append(f"|{name}|{r['utterances']}|{r['accuracy']:.1f}|{fmt_ci(r.get('accuracy_ci'))}|"
                     f"{r['majority_accuracy']:.1f}|")
    for name, r in results["test"].items():
        lines += ["", f"### {name}: accuracy per class", "", "|class|Acc|", "|---|---|"]
        lines += [f"|{c}|{a:.1f}|" for c, a in r["per_class_accuracy"].items()]
    (exp / "RESULTS.md").write_text("\n".join(lines) + "\n")
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exp", required=True)
    ap.add_argument("--task", default="cls", help="task name recorded in results.json (ks, er, sid ...)")
    ap.add_argument("--test", nargs=3, action="append", metavar=("NAME", "REF_DIR", "PREDICTION"),
                    required=True)
    a = ap.parse_args(argv)
    try:
        r = write_results(Path(a.exp), a.test, a.task)
    except DataDirError as e:
        raise SystemExit(f"error: {e}")
    for name, s in r["test"].items():
        print(f"{a.exp} {name}: accuracy {s['accuracy']:.1f} % {fmt_ci(s.get('accuracy_ci'))} "
              f"({s['utterances']} utts; "
              f"majority class {s['majority_accuracy']:.1f} %)")


if __name__ == "__main__":
    main()
