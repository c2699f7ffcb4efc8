"""The multi-task table: per-task WER, mean WER over the seen tasks, WER on the
held-out (zero-shot) task and on a task added later, with each method's
trainable and stored parameters.

    python -m adapters.bin.score_multitask --data dump/raw --out exp/multitask \\
        --run "task-id routing" fusion_routing exp/asr_ctc_extract --run "A-AF" - exp/asr_ctc_fusion ...

Each run's hypotheses are read from ``<run>/<--decode>/<set>/text`` and the
utterances' tasks from ``<data>/<set>/utt2task``.  Mean WER is the mean of the
per-task WERs of the seen tasks (``--seen_set``), as in the papers, so a task
with many utterances does not dominate.  Stored parameters are what serving all
tasks takes beside the shared frozen backbone (``adapters.checkpoint.stored_params``:
adapters, heads, controller, fusion; the transformer for fine-tuning), plus the
downstream.  Writes ``<out>/results.json`` and ``<out>/RESULTS.md``.

It also adds to each run's own ``results.json`` (read by ``adapters.bin.superb``)
the task ``mt-asr``, the WER of every task of every set (``per_task``), a test
entry ``mean_over_tasks`` and, where given (not
``-``), the row the SUPERB table files the run under: several runs here share a
method (extraction, Avg and attention fusion are all ``fusion``).
``mean_over_tasks`` has its 95 % confidence interval (``wer_ci``: a bootstrap over
utterances within each task, the mean over tasks recomputed on every resample,
``adapters.stats``) and ``n`` (utterances); the utterances' errors, with their
task as stratum, go to the run's ``per_item.json`` under ``mean_over_tasks``.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import jiwer

from adapters.data.kaldi import DataDirError, read_table
from adapters.fileio import atomic_write, unique_tmp
from adapters.results import read_per_item, write_json, write_per_item
from adapters.scoring import ref_hyp_pairs, utterance_errors
from adapters.stats import ci_fields


def per_task_wer(ref_dir, hyp_text) -> dict:
    """{task: {"wer", "utterances", "words"}} for one decoded set."""
    keys, refs, hyps = ref_hyp_pairs(Path(ref_dir) / "text", hyp_text)  # score_asr's checks (adapters.scoring)
    ref, hyp = dict(zip(keys, refs)), dict(zip(keys, hyps))
    tasks = read_table(Path(ref_dir) / "utt2task")
    by_task = defaultdict(list)
    for u in sorted(ref):
        if u not in tasks:
            raise DataDirError(f"{ref_dir}/utt2task: no task for utterance {u}")
        by_task[tasks[u]].append(u)
    out = {}
    for t, us in sorted(by_task.items()):
        w = jiwer.process_words([ref[u] for u in us], [hyp[u] for u in us])
        out[t] = {"wer": 100.0 * w.wer, "utterances": len(us), "words": sum(len(ref[u].split()) for u in us)}
    return out


def task_items(ref_dir, hyp_text) -> dict:
    """Per-utterance word errors and reference words of one decoded set, each utterance's
    task its stratum (the mean over tasks' per-item outcomes, see ``adapters.stats``)."""
    keys, refs, hyps = ref_hyp_pairs(Path(ref_dir) / "text", hyp_text)
    tasks = read_table(Path(ref_dir) / "utt2task")
    missing = [u for u in keys if u not in tasks]
    if missing:
        raise DataDirError(f"{ref_dir}/utt2task: no task for utterance {missing[0]}")
    w = jiwer.process_words(refs, hyps)
    return {"ids": keys, "word_errors": utterance_errors(w), "words": [len(r) for r in w.references],
            "strata": [tasks[u] for u in keys]}


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None


def run_params(exp: Path) -> dict:
    """Trainable (adapter, downstream) and stored parameters of a trained run."""
    from adapters.checkpoint import stored_params
    from adapters.results import espnet_task

    info = json.loads((exp / "results.json").read_text()) if (exp / "results.json").is_file() else {}
    model, _ = espnet_task("asr").build_model_from_file(exp / "config.yaml", None, "cpu")
    adapted = model.frontend.adapted
    downstream = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("frontend.adapted."))
    return {"method": info.get("method"), "adapter_trainable": adapted.num_trainable(),
            "downstream_params": downstream, "stored_adapter_params": stored_params(adapted),
            "train_time_s": info.get("train_time_s")}


def score_runs(runs, data, decode: str, seen_set="test", zeroshot_set="test_zeroshot", new_set="test_new"):
    rows = []
    for label, _, exp in runs:
        exp = Path(exp)
        row = {"label": label, "exp": str(exp), **run_params(exp), "sets": {}}
        for s in (seen_set, zeroshot_set, new_set):
            hyp = exp / decode / s / "text"
            if hyp.is_file():
                row["sets"][s] = per_task_wer(Path(data) / s, hyp)
        seen = row["sets"].get(seen_set, {})
        row["mean_wer"] = mean(r["wer"] for r in seen.values())
        row["zeroshot_wer"] = mean(r["wer"] for r in row["sets"].get(zeroshot_set, {}).values())
        row["new_task_wer"] = mean(r["wer"] for r in row["sets"].get(new_set, {}).values())
        rows.append(row)
    return rows


def annotate_run(exp, row_name, row, items: dict | None = None, zeroshot_items: dict | None = None) -> None:
    """The SUPERB collector's view of a multi-task run (see the module docstring); ``items``
    (``task_items`` of the seen set) give the mean's CI and go to the run's per_item.json;
    ``zeroshot_items`` (of the held-out set) go there too, as ``zeroshot_mean_over_tasks``,
    for paired comparisons of the zero-shot mean (``adapters.bin.claims``)."""
    path = Path(exp) / "results.json"
    res = json.loads(path.read_text())
    res["task"] = "mt-asr"
    res["per_task"] = {name: {t: r["wer"] for t, r in tasks.items()} for name, tasks in row["sets"].items()}
    if row_name and row_name != "-":
        res["row"] = row_name
    seen = row["sets"].get("test", {})
    if row["mean_wer"] is not None:
        res["test"]["mean_over_tasks"] = {"wer": row["mean_wer"], "tasks": len(seen),
                                          "utterances": sum(r["utterances"] for r in seen.values())}
        prov = res.get("provenance")
        if isinstance(prov, dict) and isinstance(prov.get("test"), dict) and "test" in prov["test"]:
            prov["test"]["mean_over_tasks"] = prov["test"]["test"]  # the same utterances
        if items is not None:
            res["test"]["mean_over_tasks"].update(ci_fields(items, ["wer"]))
            per_item = read_per_item(path, res)
            per_item["mean_over_tasks"] = items
            if zeroshot_items is not None:
                per_item["zeroshot_mean_over_tasks"] = zeroshot_items
            write_per_item(Path(exp), per_item, res)
    write_json(path, res)  # other benchmark jobs may read it at any time


def _fmt(x, digits=1):
    return "–" if x is None else f"{x:.{digits}f}"


def _count(n):
    return "–" if n is None else f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k" if n >= 1e3 else str(n)


def _per_task_table(rows, set_name, title):
    tasks = sorted({t for r in rows for t in r["sets"].get(set_name, {})}, key=lambda t: (t != "typical", t))
    if not tasks:
        return []
    lines = ["", f"## {title}", "", "| method | " + " | ".join(tasks) + " |", "| --- |" + " --- |" * len(tasks)]
    for r in rows:
        got = r["sets"].get(set_name, {})
        if got:
            lines.append(f"| {r['label']} | " + " | ".join(_fmt(got.get(t, {}).get("wer")) for t in tasks) + " |")
    return lines


def write_report(rows, out, seen_set="test", zeroshot_set="test_zeroshot") -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # not results.json: this summary is not one run (the SUPERB collector reads the runs' own)
    (out / "multitask.json").write_text(json.dumps({"metric": "wer", "runs": rows}, indent=1))
    lines = ["# RESULTS: multi-task ASR (per-task WER, %)", "",
             "Mean WER = mean of the seen tasks' WERs; zero-shot = mean WER of the tasks held out of every training;",
             "new task = the task added later (HRA: only its head trained).  Stored = what serving every",
             "task keeps beside the shared frozen backbone (adapters, heads, controller, fusion; the",
             "transformer for fine-tuning), downstream excluded.", "",
             "| method | mean WER | zero-shot WER | new-task WER | adapter trainable | stored | downstream | train s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['label']} | {_fmt(r['mean_wer'])} | {_fmt(r['zeroshot_wer'])} | "
                     f"{_fmt(r['new_task_wer'])} | {_count(r['adapter_trainable'])} | "
                     f"{_count(r['stored_adapter_params'])} | {_count(r['downstream_params'])} | "
                     f"{_fmt(r['train_time_s'], 0)} |")
    lines += _per_task_table(rows, seen_set, "WER per seen task")
    lines += _per_task_table(rows, zeroshot_set, "WER per zero-shot (held-out) task")
    atomic_write(out / "RESULTS.md", "\n".join(lines) + "\n", tmp=unique_tmp(out / "RESULTS.md"))


def main(argv=None):
    from adapters.espnet.register import register_asr

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", nargs=3, action="append", metavar=("LABEL", "ROW", "EXP"), required=True,
                    help="a run: its label here, its SUPERB row ('-': its method), its exp dir")
    ap.add_argument("--data", default="dump/raw", help="folder of the decoded sets' data dirs")
    ap.add_argument("--decode", default="decode_ctc", help="the runs' decode folder name")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    register_asr()
    runs = [tuple(r) for r in a.run if (Path(r[2]) / "config.yaml").is_file()]
    for r in a.run:
        if tuple(r) not in runs:
            print(f"warning: {r[2]} not trained; left out of the table")
    try:
        rows = score_runs(runs, a.data, a.decode)
    except DataDirError as e:
        raise SystemExit(f"error: {e}")
    for (_, row_name, exp), row in zip(runs, rows):
        hyp = Path(exp) / a.decode / "test" / "text"
        zs = Path(exp) / a.decode / "test_zeroshot" / "text"
        annotate_run(exp, row_name, row, task_items(Path(a.data) / "test", hyp) if hyp.is_file() else None,
                     task_items(Path(a.data) / "test_zeroshot", zs) if zs.is_file() else None)
    write_report(rows, a.out)
    for r in rows:
        print(f"{r['label']}: mean WER {_fmt(r['mean_wer'])}, zero-shot {_fmt(r['zeroshot_wer'])}, "
              f"new task {_fmt(r['new_task_wer'])}, stored {r['stored_adapter_params']:,}")
    print(f"wrote {a.out}/RESULTS.md and multitask.json")


if __name__ == "__main__":
    main()
