"""The SUPERB table on a hand-made egs tree: one row per method, the expected
columns and numbers with their confidence intervals, the reasons in empty cells
(plan: failed, not run; folds not averaged), the newest of two results with its
footnote, the cost columns worked out by hand, the tidy csv = markdown, the
Pareto front by hand, the plots, and a corrupt results.json named and skipped.
Bold only where the best is significantly better than the runner-up (paired
bootstrap on per-item outcomes; non-overlapping CIs without them, said in a note;
the best value where no CI was recorded), ``≈`` against frozen, ``†`` at or below
the majority class.  Several seeds (``exp_seed<s>``): the mean ± the t interval over them,
paired tests on seed 0's items, one seed as before."""
import contextlib
import csv
import io
import json
import re

import pytest

from adapters import stats
from adapters.bin import superb
from adapters.bin.superb import pareto_front

METHODS = "frozen finetune hra elp"
PNG = b"\x89PNG\r\n\x1a\n"


def _res(task, method, test, created="2026-11-24 10:00:00", trainable=None, adapter=None, **extra):
    r = {"exp": f"exp/{task}_{method}", "task": task, "created": created, "method": method, "method_conf": {},
         "upstream": "hubert_local", "upstream_path": "up.pt", "encoder": "transformer", "test": test}
    if trainable is not None:
        r.update(trainable_params=trainable, adapter_params=adapter, downstream_params=trainable - adapter,
                 upstream_params=3_000_000, total_params=3_000_000 + trainable)
    r.update(extra)
    return r


def _write(egs, recipe, run, data, per_item=None, exp="exp"):
    d = egs / recipe / exp / run
    d.mkdir(parents=True)
    (d / "results.json").write_text(data if isinstance(data, str) else json.dumps(data))
    if per_item is not None:
        (d / "per_item.json").write_text(json.dumps(per_item))


def _wer(w):
    return {"wer": w, "cer": w / 2, "utterances": 10}


def _acc(a, **kw):
    return {"accuracy": a, "utterances": 20, "majority_accuracy": 25.0, **kw}


def _asr_items(errors, words=10):
    """(test entry, per-item outcomes) of utterances with these word errors, ``words`` each."""
    items = {"ids": [f"u{i:03d}" for i in range(len(errors))], "word_errors": list(errors),
             "words": [words] * len(errors)}
    return {"wer": stats.value(items, "wer"), "utterances": len(errors), **stats.ci_fields(items, ["wer"])}, items


def _cls_items(correct, majority=25.0):
    items = {"ids": [f"u{i:03d}" for i in range(len(correct))], "correct": list(correct)}
    return {"accuracy": stats.value(items, "accuracy"), "utterances": len(correct), "majority_accuracy": majority,
            **stats.ci_fields(items, ["accuracy"])}, items


# per-utterance word errors (10 words each): test_clean frozen 20 %, hra 12 % (better on 80 of 100
# utterances: significant); test_other frozen 25 %, hra 24 % (worse on 20, better on 30: noise)
CLEAN_FROZEN, CLEAN_HRA = [0, 1, 2, 3, 4] * 20, [0, 0, 1, 2, 3] * 20
OTHER_FROZEN = [1, 2, 3, 4] * 25
OTHER_HRA = [e + (1 if i < 20 else -1 if i < 50 else 0) for i, e in enumerate(OTHER_FROZEN)]


@pytest.fixture(scope="module")
def egs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("superb")
    egs = tmp_path / "egs"
    ls, ks, er, vc = "librispeech/asr1", "speech_commands/ks1", "iemocap/er1", "voxceleb/spk1"
    (fc, fc_items), (fo, fo_items) = _asr_items(CLEAN_FROZEN), _asr_items(OTHER_FROZEN)
    (hc, hc_items), (ho, ho_items) = _asr_items(CLEAN_HRA), _asr_items(OTHER_HRA)
    _write(egs, ls, "asr_ctc_frozen", _res("asr", "frozen", {"test_clean": fc, "test_other": fo},
                                            decoder="ctc", trainable=1_400_000, adapter=0, train_time_s=900.0),
           {"test_clean": fc_items, "test_other": fo_items})
    _write(egs, ls, "asr_ctc_hra", _res("asr", "hra", {"test_clean": hc, "test_other": ho},
                                         decoder="ctc", trainable=1_500_000, adapter=100_000,
                                         train_time_s=1000.0, peak_mem_mb=2048.0),
           {"test_clean": hc_items, "test_other": ho_items})
    # an older, better hra run: the newest is shown all the same, with a footnote
    _write(egs, ls, "asr_ctc_hra_old", _res("asr", "hra", {"test_clean": _wer(11.0), "test_other": _wer(17.0)},
                                             created="2026-01-01 00:00:00", decoder="ctc",
                                             trainable=1_500_000, adapter=100_000, train_time_s=5000.0))
    _write(egs, ls, "asr_ctc_elp", '{"exp": "exp/asr_ctc_elp", "test": {')  # corrupt
    # KS: CIs but no per-item outcomes: finetune and hra overlap (no bold), hra overlaps frozen (≈)
    _write(egs, ks, "cls_frozen", _res("ks", "frozen", {"test": _acc(90.0, accuracy_ci=[86.0, 93.5], n=200)},
                                        trainable=200_000, adapter=0))
    _write(egs, ks, "cls_hra", _res("ks", "hra", {"test": _acc(95.5, accuracy_ci=[92.5, 98.0], n=200)},
                                     trainable=300_000, adapter=100_000, train_time_s=200.0, peak_mem_mb=1024.0))
    _write(egs, ks, "cls_finetune", _res("ks", "finetune", {"test": _acc(97.0, accuracy_ci=[94.0, 99.5], n=200)},
                                          trainable=3_200_000, adapter=3_000_000, train_time_s=600.0))
    # IEMOCAP: hra's five folds and their average; frozen has two folds and no average
    for k in range(1, 6):
        _write(egs, er, f"cls_fold{k}_hra", _res("er", "hra", {f"fold{k}_test": _acc(50.0 + k)},
                                                  trainable=250_000, adapter=100_000, train_time_s=100.0))
    _write(egs, er, "cls_5fold_hra", _res("er", "hra", {"test": _acc(60.0, accuracy_std=2.5, folds={})},
                                           created="2026-11-24 11:00:00", trainable=250_000, adapter=100_000,
                                           train_time_s=500.0))
    for k in (1, 2):
        _write(egs, er, f"cls_fold{k}_frozen", _res("er", "frozen", {f"fold{k}_test": _acc(40.0)},
                                                     trainable=150_000, adapter=0))
    _write(egs, vc, "cls_sid_hra", _res("sid", "hra", {"sid_test": _acc(80.0)}, trainable=400_000,
                                         adapter=100_000, train_time_s=300.0))
    eer = {"eer": 5.0, "min_dcf_0.05": 0.3, "min_dcf_0.01": 0.5, "trials": 100, "targets": 50}
    _write(egs, vc, "spk_asv_hra", _res("asv", "hra", {"asv_test": eer}, trainable=350_000, adapter=100_000,
                                         train_time_s=400.0))
    _write(egs, vc, "spk_asv_frozen", _res("asv", "frozen",
                                            {"asv_test": {**eer, "eer": 8.0, "min_dcf_0.05": 0.45}},
                                            trainable=250_000, adapter=0, train_time_s=300.0))
    (egs / "bench_methods").mkdir()
    (egs / "bench_methods" / "RESULTS.md").write_text(
        "# Method benchmark\n\nsome words\n\n```\nmethod  trainable  step/ft\nhra     393,728    0.773\n```\n")
    plan = [
        {"recipe": "egs/voxceleb/spk1", "method": "frozen", "column_hint": "SID", "status": "failed",
         "log": "logs/frozen_sid.log"},
        {"recipe": "egs/speech_commands/ks1", "method": "elp", "column_hint": "KS", "status": "not run"},
        {"recipe": "egs/euphonia/asr1", "method": "hra", "column_hint": "ASR-CTC test WER", "status": "failed",
         "log": "logs/euphonia_hra.log"},
        {"recipe": "egs/librispeech/asr1", "method": "hra", "column_hint": "ASR", "status": "done"},
    ]
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    return egs


COLUMNS = ["euphonia ASR-CTC test WER↓", "librispeech ASR-CTC test_clean WER↓",
           "librispeech ASR-CTC test_other WER↓", "KS acc↑", "ER acc↑", "SID acc↑", "ASV EER↓", "ASV minDCF↓"]


def _md_rows(md):
    lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    split = [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines]
    return split[0], {r[0]: dict(zip(split[0], r)) for r in split[2:]}


@pytest.fixture(scope="module")
def run(egs):
    """The CLI, run once for the module (plots cost about a second)."""
    out, printed = egs.parent / "superb", io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        superb.main(["--egs", str(egs), "--out", str(out), "--methods", METHODS,
                     "--plan", str(egs.parent / "plan.json")])
    return out, printed.getvalue()


def test_table_rows_columns_and_cells(run):
    out, printed = run
    md = (out / "superb.md").read_text()
    head, rows = _md_rows(md)
    assert head == ["method"] + COLUMNS + ["trainable/task", "adapter/task", "stored (all tasks)", "train time",
                                           "peak mem"]
    assert list(rows) == METHODS.split()
    hra, frozen, ft, elp = rows["hra"], rows["frozen"], rows["finetune"], rows["elp"]
    clean, other = "librispeech ASR-CTC test_clean WER↓", "librispeech ASR-CTC test_other WER↓"
    # the newest hra run (12.0 ± half its CI), not the older and better one, with a footnote naming
    # both; bold: the paired bootstrap finds it better than frozen, the runner-up
    assert re.fullmatch(r"\*\*12\.0 ± 2\.2\*\*\[\^(\d+)\]", hra[clean])
    n = re.search(r"\[\^(\d+)\]", hra[clean]).group(1)
    note = next(ln for ln in md.splitlines() if ln.startswith(f"[^{n}]:"))
    assert "2 results" in note and "asr_ctc_hra/results.json" in note and "asr_ctc_hra_old" in note
    assert frozen[clean] == "20.0 ± 2.7" and frozen[other] == "25.0 ± 2.2"
    # test_other: hra's 24.0 is within noise of frozen's 25.0: no bold, and ≈ frozen
    assert re.fullmatch(r"24\.0 ± 2\.7 ≈\[\^\d+\]", hra[other])
    # KS: CIs without per-item outcomes: finetune's and hra's overlap, so no bold; hra's overlaps frozen's
    assert ft["KS acc↑"] == "97.0 ± 2.8" and hra["KS acc↑"] == "95.5 ± 2.8 ≈" and frozen["KS acc↑"] == "90.0 ± 3.8"
    assert "- KS acc: finetune, frozen, hra compared by non-overlapping 95 % CIs, not by a paired test " \
           "(no per-item outcomes)" in md
    assert hra["ER acc↑"] == "**60.0 (sd 2.5)**"  # the fold average, not a fold (an old one: std, no CI)
    assert frozen["ER acc↑"] == "2 fold(s), not averaged"
    assert hra["SID acc↑"] == "**80.0**"
    assert frozen["SID acc↑"] == "failed (see logs/frozen_sid.log)"
    # no CI recorded (older results): the best by value, as before, and a note says so
    assert hra["ASV EER↓"] == "**5.00**" and frozen["ASV EER↓"] == "8.00"
    assert hra["ASV minDCF↓"] == "**0.300**" and frozen["ASV minDCF↓"] == "0.450"
    assert "- ASV EER: no confidence interval recorded for frozen, hra: the best by value only" in md
    # a recipe with no result at all still has its column, from the plan's hint
    assert hra["euphonia ASR-CTC test WER↓"] == "failed (see logs/euphonia_hra.log)"
    # planned and not run; and not in the plan at all (a profile may leave a method out of a column)
    assert elp["KS acc↑"] == "not run"
    assert frozen["euphonia ASR-CTC test WER↓"] == "not in the plan"
    assert elp["librispeech ASR-CTC test_clean WER↓"] == "not in the plan"
    # costs by hand: hra's five tasks (asr 1.5M, ks 300k, er 250k, sid 400k, asv 350k)
    assert [hra[k] for k in ("trainable/task", "adapter/task", "stored (all tasks)", "train time", "peak mem")] == \
        ["350.0k", "100.0k", "2.80M", "40.0 min", "2.0 GB"]
    # frozen: asr, ks, asv (the folds count only averaged); ks recorded no training time
    assert [frozen[k] for k in ("trainable/task", "adapter/task", "stored (all tasks)", "train time", "peak mem")] == \
        ["250.0k", "0", "1.85M", "20.0 min+?", "?"]
    # fine-tuning stores the whole model per task
    assert ft["stored (all tasks)"] == "6.20M" and ft["trainable/task"] == "3.20M"
    assert [elp[k] for k in ("trainable/task", "stored (all tasks)", "train time", "peak mem")] == ["?"] * 4
    assert "| hra | " in printed and str(out / "superb.md") in printed


def test_csv_is_tidy_and_matches_the_markdown(run):
    out, _ = run
    _, md_rows = _md_rows((out / "superb.md").read_text())
    with open(out / "superb.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames[:8] == ["method", "column", "metric", "value", "ci_low", "ci_high", "n", "status"]
    metric_rows = [r for r in rows if r["column"] != "cost"]
    # one row per (method, column, metric), in table order
    assert [(r["method"], r["column"] + ("↓" if r["metric"] != "accuracy" else "↑")) for r in metric_rows] == \
        [(m, c) for m in METHODS.split() for c in COLUMNS]
    assert {r["metric"] for r in metric_rows} == {"wer", "accuracy", "eer", "min_dcf_0.05"}
    fmt = {"wer": "{:.1f}", "accuracy": "{:.1f}", "eer": "{:.2f}", "min_dcf_0.05": "{:.3f}"}
    for r in metric_rows:
        col = r["column"] + ("↓" if r["metric"] != "accuracy" else "↑")
        shown = re.sub(r"\[\^\d+\]$", "", md_rows[r["method"]][col])
        if r["status"] != "ok":
            assert r["value"] == "" and r["status"] == shown  # the reason, word for word
            continue
        f = fmt[r["metric"]]
        text = f.format(float(r["value"]))
        if r["ci_low"]:
            lo, hi = float(r["ci_low"]), float(r["ci_high"])
            assert lo <= float(r["value"]) <= hi
            text += " ± " + f.format((hi - lo) / 2)
        elif r["std"]:
            text += f" (sd {float(r['std']):.1f})"
        if r["best"] == "1":
            text = f"**{text}**"
        if r["vs_frozen"] == "not significant":
            text += " ≈"
        if r["below_majority"] == "1":
            text += " †"
        assert text == shown, (r, shown)
    hra = {r["column"]: r for r in rows if r["method"] == "hra"}
    clean = hra["librispeech ASR-CTC test_clean WER"]
    assert float(clean["value"]) == 12.0 and int(clean["n"]) == 100 and clean["vs_frozen"] == "better"
    assert clean["best"] == "1" and "bootstrap over utterances" in clean["ci_method"]
    assert (float(clean["ci_low"]), float(clean["ci_high"])) == pytest.approx((9.8, 14.3))
    assert float(hra["ER acc"]["std"]) == 2.5 and hra["ER acc"]["ci_low"] == ""
    costs = {r["metric"]: r for r in rows if r["method"] == "hra" and r["column"] == "cost"}
    assert int(costs["stored_params"]["value"]) == 2_800_000 and float(costs["train_time_s"]["value"]) == 2400.0
    frozen = {r["metric"]: r for r in rows if r["method"] == "frozen" and r["column"] == "cost"}
    assert frozen["train_time_s"]["status"] == "incomplete" and frozen["peak_mem_mb"]["status"] == "unknown"


def test_plots_and_index(run):
    out, _ = run
    pngs = sorted((out / "plots").glob("*.png"))
    # one per column with results; the euphonia column has none
    assert [p.name for p in pngs] == sorted(
        ["librispeech_asr_ctc_test_clean_wer.png", "librispeech_asr_ctc_test_other_wer.png", "ks_acc.png",
         "er_acc.png", "sid_acc.png", "asv_eer.png", "asv_mindcf.png"])
    for p in pngs:
        data = p.read_bytes()
        assert len(data) > 1000 and data.startswith(PNG)
    index = (out / "plots" / "index.md").read_text()
    assert all(f"({p.name})" in index for p in pngs)
    # KS: frozen 200k/90.0, hra 300k/95.5, finetune 3.2M/97.0 -- none beaten on both; hra is no
    # different from frozen (the table's ≈), and the front's list says so
    assert "## KS acc↑" in index and "frozen, hra ≈, finetune\n" in index
    assert "drawn on point estimates; ≈: not significantly different from `frozen`" in index


def test_corrupt_results_named_and_skipped(run):
    out, printed = run
    bad = "librispeech/asr1/exp/asr_ctc_elp/results.json"
    assert bad in printed
    md = (out / "superb.md").read_text()
    assert "## Skipped results" in md and bad in md


def test_bench_table_included_verbatim(run, tmp_path):
    out, _ = run
    md = (out / "superb.md").read_text()
    assert "## Method cost (step time, inference time, memory)" in md
    assert "```\nmethod  trainable  step/ft\nhra     393,728    0.773\n```" in md
    res = {"family": "hubert", "size": "tiny", "device": "cpu", "batch_size": 2, "seconds": 1.0, "repeat": 3,
           "rows": [{"name": "hra", "trainable": 1234, "share": 0.01, "step_ratio_vs_finetune": 0.8,
                     "memory_ratio_vs_finetune": 0.7, "inference_ratio_vs_frozen": 1.0, "memory_kind": "cuda peak"}],
           "hra_mixed": {"train_speed_ratio": 0.95, "infer_speed_ratio": 1.0}}
    (tmp_path / "b.json").write_text(json.dumps(res))
    (tmp_path / "bad.json").write_text("[")
    lines, problems = superb.bench_section([tmp_path / "b.json", tmp_path / "bad.json"])
    from adapters.bin.bench_methods import format_table

    assert lines[0] == "## Method cost (step time, inference time, memory)"
    assert "```\n" + format_table(res) + "\n```" in lines
    assert [p for p, _ in problems] == [tmp_path / "bad.json"]


def test_no_plan_empty_cells_read_not_run(egs):
    s = superb.summarize(egs, ["frozen", "hra"])
    sid = next(c for c in s.columns if c.name == "SID acc")
    assert s.cells[(sid.key, "frozen")].text == "not run" and s.cells[(sid.key, "frozen")].value is None
    assert not any(c.name.startswith("euphonia") for c in s.columns)  # only the plan names that recipe


def test_pareto_front_by_hand():
    pts = [("a", 10, 5.0), ("b", 20, 4.0), ("c", 30, 4.5), ("d", 5, 9.0), ("e", 10, 5.0), ("f", 40, 4.0)]
    # lower is better: c is beaten by b (fewer params, lower), f by b (fewer params, same value);
    # a and e tie and beat each other on neither
    assert pareto_front(pts) == [("d", 5, 9.0), ("a", 10, 5.0), ("e", 10, 5.0), ("b", 20, 4.0)]
    # higher is better: d has the fewest parameters and the highest value
    assert pareto_front(pts, lower_is_better=False) == [("d", 5, 9.0)]
    assert pareto_front([]) == []


def test_tick_labels_of_near_sizes_give_way():
    """make demo's CTC plot: frozen, BitFit and LoRA at 1.64-1.67 M (the downstream) printed three
    labels over one another; the thinned ticks stay 5 % of the log axis apart, ends kept."""
    import math

    xs = [1.64e6, 1.65e6, 1.67e6, 1.77e6, 1.90e6, 2.07e6, 4.57e6]
    kept = superb.spaced_ticks(xs, margin=0.15)
    assert kept == [1.64e6, 1.77e6, 1.90e6, 2.07e6, 4.57e6]
    axis = (math.log10(xs[-1]) - math.log10(xs[0])) * 1.3
    assert all(math.log10(b / a) >= 0.05 * axis for a, b in zip(kept, kept[1:]))
    # the largest keeps its label where its neighbour is too close
    assert superb.spaced_ticks([1e5, 1e6, 1.01e6]) == [1e5, 1.01e6]
    assert superb.spaced_ticks([3e5]) == [3e5] and superb.spaced_ticks([1e5, 1e5 + 1]) == [1e5]


def test_point_labels_do_not_cover_one_another():
    """Near points (same size, nearly the same score) had their names printed over one another: a
    label that would cover another label or a marker moves down, then up, in line steps."""
    assert superb.label_offsets([(100.0, 100.0)], ["frozen"]) == [(4, 4)]
    far = superb.label_offsets([(100.0, 100.0), (300.0, 100.0)], ["frozen", "hra"])
    assert far == [(4, 4), (4, 4)]
    at, names = [(100.0, 100.0), (101.0, 103.0), (102.0, 98.0)], ["frozen", "bitfit", "lora"]
    near = superb.label_offsets(at, names)
    assert len(set(near)) == 3
    boxes = [(x + dx, y + dy, 4.8 * len(n), 9.0) for (x, y), (dx, dy), n in zip(at, near, names)]
    markers = [(x - 3.5, y - 3.5, 7.0, 7.0) for x, y in at]
    for i, (x0, y0, w0, h0) in enumerate(boxes):  # no label box covers another label or a marker
        for x1, y1, w1, h1 in boxes[i + 1:] + markers:
            assert not (x0 < x1 + w1 and x1 < x0 + w0 and y0 < y1 + h1 and y1 < y0 + h0)


def test_runs_of_one_method_are_filed_under_their_own_row(tmp_path):
    """The multi-task recipe's A-AF stages are all method 'fusion': each run's 'row' keeps them apart."""
    egs, eu = tmp_path / "egs", "euphonia/asr1"
    tests = lambda w: {"test": _wer(w), "test_zeroshot": _wer(w + 10), "mean_over_tasks": {"wer": w - 1}}
    _write(egs, eu, "asr_ctc_extract", _res("mt-asr", "fusion", tests(30.0), row="fusion_routing",
                                             created="2026-11-24 10:00:00"))
    _write(egs, eu, "asr_ctc_fusion", _res("mt-asr", "fusion", tests(31.0), created="2026-11-24 09:00:00"))
    _write(egs, eu, "asr_ctc_hra", _res("mt-asr", "hra", tests(29.0)))
    s = superb.summarize(egs, ["hra", "fusion"])
    names = [c.name for c in s.columns]
    assert names == ["MT-ASR mean_over_tasks WER", "MT-ASR test WER", "MT-ASR test_zeroshot WER"]
    col = s.columns[0]
    assert s.cells[(col.key, "fusion")].value == 30.0  # the attention fusion, not the newer routing run
    assert s.cells[(col.key, "hra")].value == 28.0
    assert any("fusion_routing" in n for n in s.notes)  # left out of the rows, and said so


def test_transducer_runs_fill_the_planned_rnnt_column(tmp_path):
    """ESPnet names the RNN-T decoder 'transducer'; the profiles' column hint says ASR-RNNT."""
    egs, ls = tmp_path / "egs", "librispeech/asr1"
    _write(egs, ls, "asr_rnnt_hra", _res("asr", "hra", {"test_clean": _wer(40.0)}, decoder="transducer"))
    plan = [{"recipe": "egs/librispeech/asr1", "method": m, "column_hint": "ASR-RNNT", "status": "done",
             "log": f"logs/asr-rnnt_{m}.log"} for m in ("hra", "frozen")]
    s = superb.summarize(egs, ["frozen", "hra"], plan)
    assert [c.name for c in s.columns] == ["ASR-RNNT test_clean WER"]
    col = s.columns[0]
    assert s.cells[(col.key, "hra")].value == 40.0
    assert s.cells[(col.key, "frozen")].text.startswith("done, no results.json")


def test_fusion_is_not_applicable_to_single_task_columns(tmp_path):
    egs = tmp_path / "egs"
    _write(egs, "speech_commands/ks1", "cls_hra", _res("ks", "hra", {"test": _acc(80.0)}))
    _write(egs, "euphonia/asr1", "asr_ctc_hra", _res("mt-asr", "hra", {"test": _wer(50.0)}))
    s = superb.summarize(egs, ["hra", "fusion"])
    cols = {c.name: c for c in s.columns}
    assert s.cells[(cols["KS acc"].key, "fusion")].text == "n/a (needs several tasks)"
    assert s.cells[(cols["MT-ASR WER"].key, "fusion")].text == "not run"



def test_bold_only_when_significant_and_marks(tmp_path):
    """Paired bootstrap on the same utterances: 90 vs 88 % (mostly the same items) is no winner,
    90 vs 50 % is; ≈ where a method is no different from frozen; † at or below the majority class."""
    egs, ks = tmp_path / "egs", "speech_commands/ks1"
    hra = [1] * 90 + [0] * 10
    close = [1] * 86 + [0, 0, 1, 1] + [0] * 10  # 88 %: two of hra's right answers wrong
    low = [1] * 50 + [0] * 50
    runs = {"hra": (hra, hra), "elp": (close, low), "frozen": (low, low)}
    for m, (a, b) in runs.items():
        (ea, ia), (eb, ib) = _cls_items(a), _cls_items(b, majority=60.0)
        _write(egs, ks, f"cls_{m}", _res("ks", m, {"test_a": ea, "test_b": eb}), {"test_a": ia, "test_b": ib})
    s = superb.summarize(egs, ["frozen", "elp", "hra"])
    cols = {c.name: c for c in s.columns}
    ja, jb = s.judgements[cols["KS test_a acc"].key], s.judgements[cols["KS test_b acc"].key]
    assert ja.best == set() and ja.runner_up == "elp" and ja.best_how == "paired"
    assert jb.best == {"hra"} and jb.best_how == "paired"
    assert ja.vs_baseline == {"elp": "better", "hra": "better"} and jb.same_as_baseline == {"elp"}
    assert jb.below_majority == {"frozen", "elp"} and ja.below_majority == set()
    _, rows = _md_rows("\n".join(superb.markdown_table(s)[0]))
    assert rows["hra"]["KS test_a acc↑"] == "90.0 ± 6.0" and rows["elp"]["KS test_a acc↑"] == "88.0 ± 6.5"
    assert rows["hra"]["KS test_b acc↑"] == "**90.0 ± 6.0**"
    assert rows["elp"]["KS test_b acc↑"] == "50.0 ± 10.0 ≈ †" and rows["frozen"]["KS test_b acc↑"] == "50.0 ± 10.0 †"
    assert not any("compared by non-overlapping" in n or "no confidence interval" in n for n in s.notes)


def test_verification_paired_on_trials_and_the_ci_fallback(tmp_path):
    """ASV: trials resampled jointly for two runs with per-trial scores; a run without them is
    compared by its CI, and a note says so."""
    import numpy as np

    egs, vc = tmp_path / "egs", "voxceleb/spk1"
    rng = np.random.default_rng(0)
    labels = [1] * 100 + [0] * 200
    ids = [f"e{i} t{i}" for i in range(300)]
    y = np.array(labels, dtype=float)
    sharp, blurred = rng.normal(2.5 * y, 1.0), rng.normal(0.5 * y, 1.0)  # EER about 10 % and 40 %
    for m, sc, keep in (("hra", sharp, True), ("frozen", blurred, True), ("elp", blurred + 0.01, False)):
        items = {"ids": ids, "scores": sc.tolist(), "labels": labels}
        entry = {**stats.values(items, ["eer", "min_dcf_0.05"]), "trials": 300, "targets": 100,
                 **stats.ci_fields(items, ["eer", "min_dcf_0.05"])}
        _write(egs, vc, f"spk_asv_{m}", _res("asv", m, {"asv_test": entry}), {"asv_test": items} if keep else None)
    s = superb.summarize(egs, ["frozen", "elp", "hra"])
    cols = {c.name: c for c in s.columns}
    eer, dcf = s.judgements[cols["ASV EER"].key], s.judgements[cols["ASV minDCF"].key]
    assert eer.best == {"hra"} and eer.best_how == "paired" and eer.runner_up in ("frozen", "elp")
    assert eer.vs_baseline["hra"] == "better" and "elp" in eer.same_as_baseline  # by overlapping CIs
    assert set(eer.unpaired) == {"elp"} and dcf.best == {"hra"}
    assert any(n.startswith("ASV EER: elp compared by non-overlapping 95 % CIs") for n in s.notes)
    cell = s.cells[(cols["ASV EER"].key, "hra")]
    assert cell.n == 300 and cell.ci[0] <= cell.value <= cell.ci[1]


def test_seeds_combine_into_the_mean_and_t_interval(tmp_path):
    """Two seeds of frozen and hra (exp/, exp_seed1/): the cell is their mean ± Student's t over
    the seeds, n = 2 seeds; hra against frozen pairs the seeds (t with 1 degree of freedom: not
    significant), hra against elp (seed 0 only) the seed-0 runs' items; --seeds 1 is the one-seed
    table."""
    egs, ks = tmp_path / "egs", "speech_commands/ks1"
    outcomes = {("frozen", "exp"): [1] * 50 + [0] * 50, ("frozen", "exp_seed1"): [1] * 54 + [0] * 46,
                ("hra", "exp"): [1] * 90 + [0] * 10, ("hra", "exp_seed1"): [1] * 86 + [0] * 14,
                ("elp", "exp"): [1] * 70 + [0] * 30}
    for (m, exp), correct in outcomes.items():
        e, items = _cls_items(correct)
        _write(egs, ks, f"cls_{m}", _res("ks", m, {"test": e}), {"test": items}, exp=exp)
    _write(egs, ks, "cls_hra", _res("ks", "hra", {"test": _acc(10.0)}), exp="exp_other")  # not a seed dir
    s = superb.summarize(egs, ["frozen", "elp", "hra"])
    (col,) = s.columns
    hra, frozen, elp = (s.cells[(col.key, m)] for m in ("hra", "frozen", "elp"))
    assert hra.value == pytest.approx(88.0) and hra.ci == pytest.approx(stats.t_interval([90.0, 86.0]))
    assert (hra.n, hra.seeds, hra.run.seed, hra.run_value) == (2, 2, 0, 90.0)
    assert [r.seed for r in hra.seed_runs] == [0, 1] and "over 2 seeds" in hra.ci_method
    assert frozen.value == pytest.approx(52.0) and frozen.seeds == 2
    assert (elp.value, elp.seeds, elp.n) == (70.0, 1, 100)  # one seed: its bootstrap CI as before
    assert hra.seed_values == {0: 90.0, 1: 86.0} and elp.seed_values == {}
    j = s.judgements[col.key]
    assert j.best == {"hra"} and j.best_how == "paired"  # against elp: the seed-0 runs' items
    # against frozen: per-seed differences 40 and 32, t interval 36 ± 12.7 x 4: spans 0
    v = superb.Tester().compare(col, hra, frozen)
    assert v.how == "seeds" and not v.significant and v.diff == pytest.approx(36.0)
    assert v.ci == pytest.approx(tuple(stats.t_interval([40.0, 32.0])))
    assert j.vs_baseline == {"hra": "not significant", "elp": "better"}
    assert any("Student's t interval over the seeds" in n for n in s.notes)
    _, rows = _md_rows("\n".join(superb.markdown_table(s)[0]))
    h = (hra.ci[1] - hra.ci[0]) / 2
    assert rows["hra"]["KS acc↑"] == f"**88.0 ± {h:.1f}** {superb.SAME_AS_BASELINE}"
    csv_rows = {r["method"]: r for r in csv.DictReader(io.StringIO(superb.csv_text(s))) if r["column"] == "KS acc"}
    assert (csv_rows["hra"]["seeds"], csv_rows["hra"]["n"], csv_rows["elp"]["seeds"]) == ("2", "2", "1")
    # one seed: the table of exp/ alone, as before seeds
    one = superb.summarize(egs, ["frozen", "elp", "hra"], seeds=1)
    alone = tmp_path / "alone"
    for (m, exp), correct in outcomes.items():
        if exp == "exp":
            e, items = _cls_items(correct)
            _write(alone, ks, f"cls_{m}", _res("ks", m, {"test": e}), {"test": items})
    before = superb.summarize(alone, ["frozen", "elp", "hra"])
    assert superb.markdown_table(one) == superb.markdown_table(before)
    assert superb.csv_text(one).replace(str(egs), "X") == superb.csv_text(before).replace(str(alone), "X")
    assert not any("over the seeds" in n for n in one.notes)


@pytest.mark.parametrize("hra_seeds,houlsby_seeds,bold", [
    ((90, 60, 62), (70, 72, 61), set()),  # seed 0 alone says hra by 20 points; the seeds disagree
    ((90, 88, 91), (70, 71, 69), {"hra"}),  # every seed says hra
])
def test_bold_with_several_seeds_needs_the_seeds_to_agree(tmp_path, hra_seeds, houlsby_seeds, bold):
    egs, ks = tmp_path / "egs", "speech_commands/ks1"
    for m, accs in (("hra", hra_seeds), ("houlsby", houlsby_seeds)):
        for seed, acc in enumerate(accs):
            e, items = _cls_items([1] * acc + [0] * (100 - acc))
            _write(egs, ks, f"cls_{m}", _res("ks", m, {"test": e}), {"test": items},
                   exp="exp" if seed == 0 else f"exp_seed{seed}")
    s = superb.summarize(egs, ["hra", "houlsby"])
    (col,) = s.columns
    j = s.judgements[col.key]
    assert j.best_how == "seeds" and j.best == bold
    # seed 0's items alone: hra 90 against houlsby 70 on the same 100 items is a clear difference
    one = superb.summarize(egs, ["hra", "houlsby"], seeds=1)
    assert one.judgements[col.key].best == {"hra"} and one.judgements[col.key].best_how == "paired"


def test_seeds_plan_reasons(tmp_path):
    """A failed seed is named under the cell; a cell with no seed reads seed 0's reason."""
    egs, ks = tmp_path / "egs", "speech_commands/ks1"
    e, items = _cls_items([1] * 80 + [0] * 20)
    _write(egs, ks, "cls_hra", _res("ks", "hra", {"test": e}), {"test": items})
    plan = [{"recipe": "egs/speech_commands/ks1", "method": "hra", "column_hint": "KS", "status": "done"},
            {"recipe": "egs/speech_commands/ks1", "method": "hra", "column_hint": "KS", "status": "failed",
             "log": "logs/ks_hra_seed1.log", "seed": 1},
            {"recipe": "egs/speech_commands/ks1", "method": "elp", "column_hint": "KS", "status": "failed",
             "log": "logs/ks_elp_seed1.log", "seed": 1},
            {"recipe": "egs/speech_commands/ks1", "method": "elp", "column_hint": "KS", "status": "failed",
             "log": "logs/ks_elp.log"}]
    s = superb.summarize(egs, ["elp", "hra"], plan)
    (col,) = s.columns
    hra = s.cells[(col.key, "hra")]
    assert hra.value == 80.0 and hra.notes == ["the planned run of seed 1 is 'failed' (see logs/ks_hra_seed1.log): "
                                               "not in the cell"]
    assert s.cells[(col.key, "elp")].text == "failed (see logs/ks_elp.log)"


def test_machine_note_names_the_processor_types():
    class R:
        def __init__(self, m):
            self.data = {"train_machine": m} if m else {}

    a = {"cpu": "Xeon A", "cpu_capability": "AVX512", "torch": "2.9.1"}
    b = {"cpu": "Epyc B", "cpu_capability": "AVX2", "torch": "2.9.1"}
    assert superb.machine_notes([R(None)]) == []
    (one,) = superb.machine_notes([R(a), R(a)])
    assert one == "trained on: Xeon A (AVX512 kernels, torch 2.9.1)"
    (two,) = superb.machine_notes([R(a), R(b), R(None)])
    assert "Epyc B (AVX2 kernels, torch 2.9.1): 1 run(s)" in two and "Xeon A (AVX512 kernels, torch 2.9.1): 1 run(s)" in two
    assert "several processor types" in two and "1 result(s) without the record" in two
