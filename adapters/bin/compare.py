"""Print one comparison table from several runs' ``results.json``.

    python -m adapters.bin.compare exp/asr_*/results.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from adapters.results import fmt_params



def _metric_name(results, test) -> str:
    for r in results:
        s = r.get("test", {}).get(test)
        if s:
            return "WER/CER" if "wer" in s else "acc %" if "accuracy" in s else "EER %/minDCF" if "eer" in s else ""
    return ""


def _cell(s: dict) -> str:
    if "wer" in s:
        # a multi-task run's mean_over_tasks (written by stage 17) has a WER only
        return f"{s['wer']:.1f}" + (f" / {s['cer']:.1f}" if "cer" in s else "")
    if "accuracy" in s:
        return f"{s['accuracy']:.1f}" + (f" ±{s['accuracy_std']:.1f}" if "accuracy_std" in s else "")
    if "eer" in s:
        return f"{s['eer']:.2f} / {s['min_dcf_0.05']:.3f}"
    return "?"


def table(results) -> str:
    tests = []
    for r in results:
        for t in r.get("test", {}):
            if t not in tests:
                tests.append(t)
    head = ["run", "method", "trainable", "adapter"] + [f"{t} {_metric_name(results, t)}" for t in tests]
    rows = [head, ["---"] * len(head)]
    for r in results:
        cells = [Path(r["exp"]).name, r.get("method", "?"),
                 fmt_params(r.get("trainable_params")), fmt_params(r.get("adapter_params"))]
        for t in tests:
            s = r.get("test", {}).get(t)
            cells.append(_cell(s) if s else "not run")
        rows.append(cells)
    return "\n".join("| " + " | ".join(c) + " |" for c in rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+")
    a = ap.parse_args(argv)
    results = []
    for p in a.results:
        try:
            results.append(json.loads(Path(p).read_text()))
        except (OSError, ValueError) as e:
            raise SystemExit(f"error: cannot read {p}: {e}")
    print(table(results))


if __name__ == "__main__":
    main()
