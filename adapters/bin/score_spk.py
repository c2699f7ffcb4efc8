"""Stage 13 of spk.sh: cosine scoring of trial lists with the run's speaker
embeddings; EER and minDCF (p_target 0.05 and 0.01) into ``RESULTS.md`` and
``results.json``.

Each metric has its 95 % confidence interval (``eer_ci``, ``min_dcf_0.05_ci``,
``min_dcf_0.01_ci``: a bootstrap over trials, within targets and within
non-targets, ``adapters.stats``) and ``n`` (trials); every trial's score and
label go to ``<exp>/per_item.json`` for paired comparisons with other runs.

    python -m adapters.bin.score_spk --exp exp/spk_elp --task asv \
        --test asv_test dump/raw/asv_test/trials exp/spk_elp/embed/asv_test/embeddings.npz
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from adapters.data.kaldi import DataDirError
from adapters.data.trials import read_trials
from adapters.metrics import verification_report
from adapters.results import header_lines, new_results, provenance, write_json, write_per_item
from adapters.stats import ci_fields, fmt_ci


def cosine_scores(trials, emb) -> np.ndarray:
    unit = {u: e / max(np.linalg.norm(e), 1e-12) for u, e in emb.items()}
    return np.array([float(unit[a] @ unit[b]) for _, a, b in trials])


def score_with_items(trials_path, emb_path):
    """(the trial list's scores with their CIs, its per-trial scores and labels)."""
    if not Path(emb_path).is_file():
        raise DataDirError(f"{emb_path}: not found (run stage 12)")
    with np.load(emb_path) as z:
        emb = {k: z[k] for k in z.files}
    # a trial utterance without an embedding is named with its line (rerun stage 12)
    trials = read_trials(trials_path, set(emb), f"the embeddings {emb_path}")
    s = cosine_scores(trials, emb)
    r = verification_report(s, [t[0] for t in trials])
    per = {"ids": [f"{a} {b}" for _, a, b in trials], "scores": [float(v) for v in s],
           "labels": [int(t[0]) for t in trials]}
    out = {"eer": 100.0 * r["eer"], "min_dcf_0.05": r["min_dcf_p0.05"], "min_dcf_0.01": r["min_dcf_p0.01"],
           "trials": r["n_trials"], "targets": r["n_target"], "eer_threshold": r["eer_threshold"],
           **ci_fields(per, ["eer", "min_dcf_0.05", "min_dcf_0.01"])}
    scores_file = Path(emb_path).parent / "scores"
    scores_file.write_text("".join(f"{a} {b} {v:.6f} {'target' if y else 'nontarget'}\n"
                                   for (y, a, b), v in zip(trials, s)))
    return out, per


def score(trials_path, emb_path) -> dict:
    return score_with_items(trials_path, emb_path)[0]


def write_results(exp: Path, tests, task: str) -> dict:
    exp = Path(exp)
    results = new_results(exp, task, "spk", "eer")
    per_item = {}
    for name, trials, emb in tests:
        results["test"][name], per_item[name] = score_with_items(trials, emb)
    # the trial list's data dir: its audio, and the trials themselves
    results["provenance"] = provenance(exp, results, {name: (Path(trials).parent, [trials])
                                                      for name, trials, _ in tests})
    write_per_item(exp, per_item, results)
    write_json(exp / "results.json", results)
    lines = header_lines(results, "- scoring: cosine similarity of the embeddings",
                         "- 95 % CI: bootstrap over trials (per-trial scores in per_item.json)") + [
        "|trial list|trials|targets|EER %|EER 95% CI|minDCF (p=0.05)|95% CI|minDCF (p=0.01)|95% CI|",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results["test"].items():
        lines.append(f"|{name}|{r['trials']}|{r['targets']}|{r['eer']:.2f}|{fmt_ci(r.get('eer_ci'), 2)}|"
                     f"{r['min_dcf_0.05']:.3f}|{fmt_ci(r.get('min_dcf_0.05_ci'), 3)}|"
                     f"{r['min_dcf_0.01']:.3f}|{fmt_ci(r.get('min_dcf_0.01_ci'), 3)}|")
    (exp / "RESULTS.md").write_text("\n".join(lines) + "\n")
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exp", required=True)
    ap.add_argument("--task", default="asv")
    ap.add_argument("--test", nargs=3, action="append", required=True, metavar=("NAME", "TRIALS", "EMBEDDINGS"))
    a = ap.parse_args(argv)
    try:
        r = write_results(Path(a.exp), a.test, a.task)
    except (DataDirError, ValueError) as e:
        raise SystemExit(f"error: {e}")
    for name, s in r["test"].items():
        print(f"{a.exp} {name}: EER {s['eer']:.2f} % {fmt_ci(s.get('eer_ci'), 2)} "
              f"minDCF(0.05) {s['min_dcf_0.05']:.3f} minDCF(0.01) {s['min_dcf_0.01']:.3f} "
              f"({s['trials']} trials; 95 % CIs)")


if __name__ == "__main__":
    main()
