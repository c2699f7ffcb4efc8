"""The SUPERB table on a hand-made egs tree: one row per method, the expected
columns and numbers, the reasons in empty cells (plan: failed, not run; folds
not averaged), the newest of two results with its footnote, the cost columns
worked out by hand, csv = markdown, the Pareto front by hand, the plots, and a
corrupt results.json named and skipped."""
import contextlib
import csv
import io
import json
import re

import pytest

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


def _write(egs, recipe, run, data):
    d = egs / recipe / "exp" / run
    d.mkdir(parents=True)
    (d / "results.json").write_text(data if isinstance(data, str) else json.dumps(data))


def _wer(w):
    return {"wer": w, "cer": w / 2, "utterances": 10}


def _acc(a, **kw):
    return {"accuracy": a, "utterances": 20, "majority_accuracy": 25.0, **kw}


@pytest.fixture(scope="module")
def egs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("superb")
    egs = tmp_path / "egs"
    ls, ks, er, vc = "librispeech/asr1", "speech_commands/ks1", "iemocap/er1", "voxceleb/spk1"
    _write(egs, ls, "asr_ctc_frozen", _res("asr", "frozen", {"test_clean": _wer(20.0), "test_other": _wer(25.0)},
                                            decoder="ctc", trainable=1_400_000, adapter=0, train_time_s=900.0))
    _write(egs, ls, "asr_ctc_hra", _res("asr", "hra", {"test_clean": _wer(12.34), "test_other": _wer(18.0)},
                                         decoder="ctc", trainable=1_500_000, adapter=100_000,
                                         train_time_s=1000.0, peak_mem_mb=2048.0))
    # an older, better hra run: the newest is shown all the same, with a footnote
    _write(egs, ls, "asr_ctc_hra_old", _res("asr", "hra", {"test_clean": _wer(11.0), "test_other": _wer(17.0)},
                                             created="2026-01-01 00:00:00", decoder="ctc",
                                             trainable=1_500_000, adapter=100_000, train_time_s=5000.0))
    _write(egs, ls, "asr_ctc_elp", '{"exp": "exp/asr_ctc_elp", "test": {')  # corrupt
    _write(egs, ks, "cls_frozen", _res("ks", "frozen", {"test": _acc(90.0)}, trainable=200_000, adapter=0))
    _write(egs, ks, "cls_hra", _res("ks", "hra", {"test": _acc(95.5)}, trainable=300_000, adapter=100_000,
                                     train_time_s=200.0, peak_mem_mb=1024.0))
    _write(egs, ks, "cls_finetune", _res("ks", "finetune", {"test": _acc(97.0)}, trainable=3_200_000,
                                          adapter=3_000_000, train_time_s=600.0))
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
    # the newest hra run (12.34), not the older and better one, with a footnote naming both
    assert re.fullmatch(r"\*\*12\.3\*\*\[\^(\d+)\]", hra["librispeech ASR-CTC test_clean WER↓"])
    n = re.search(r"\[\^(\d+)\]", hra["librispeech ASR-CTC test_clean WER↓"]).group(1)
    note = next(ln for ln in md.splitlines() if ln.startswith(f"[^{n}]:"))
    assert "2 results" in note and "asr_ctc_hra/results.json" in note and "asr_ctc_hra_old" in note
    assert frozen["librispeech ASR-CTC test_clean WER↓"] == "20.0"
    assert frozen["librispeech ASR-CTC test_other WER↓"] == "25.0"
    assert ft["KS acc↑"] == "**97.0**" and hra["KS acc↑"] == "95.5" and frozen["KS acc↑"] == "90.0"
    assert hra["ER acc↑"] == "**60.0 ±2.5**"  # the fold average, not a fold
    assert frozen["ER acc↑"] == "2 fold(s), not averaged"
    assert hra["SID acc↑"] == "**80.0**"
    assert frozen["SID acc↑"] == "failed (see logs/frozen_sid.log)"
    assert hra["ASV EER↓"] == "**5.00**" and frozen["ASV EER↓"] == "8.00"
    assert hra["ASV minDCF↓"] == "**0.300**" and frozen["ASV minDCF↓"] == "0.450"
    # a recipe with no result at all still has its column, from the plan's hint
    assert hra["euphonia ASR-CTC test WER↓"] == "failed (see logs/euphonia_hra.log)"
    assert frozen["euphonia ASR-CTC test WER↓"] == "not run"
    assert elp["KS acc↑"] == "not run" and elp["librispeech ASR-CTC test_clean WER↓"] == "not run"
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


def test_csv_parses_back_and_matches_the_markdown(run):
    out, _ = run
    _, md_rows = _md_rows((out / "superb.md").read_text())
    with open(out / "superb.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == METHODS.split()
    fmt = {"WER": "{:.1f}", "acc": "{:.1f}", "EER": "{:.2f}", "minDCF": "{:.3f}"}
    for r in rows:
        md = md_rows[r["method"]]
        for col in COLUMNS:
            shown = re.sub(r"\[\^\d+\]$", "", md[col]).strip("*")
            try:
                v = float(r[col])
            except ValueError:
                assert r[col] == shown  # the reason, word for word
                continue
            text = fmt[col.split()[-1].rstrip("↓↑")].format(v)
            if r.get(f"{col} std"):
                text += f" ±{float(r[f'{col} std']):.1f}"
            assert text == shown
    hra = next(r for r in rows if r["method"] == "hra")
    assert float(hra["librispeech ASR-CTC test_clean WER↓"]) == 12.34
    assert float(hra["ER acc↑ std"]) == 2.5
    assert int(hra["stored (all tasks)"]) == 2_800_000 and float(hra["train time (s)"]) == 2400.0
    frozen = next(r for r in rows if r["method"] == "frozen")
    assert frozen["train time (s)"] == "" and frozen["peak mem (MB)"] == ""  # incomplete / unknown


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
    # KS: frozen 200k/90.0, hra 300k/95.5, finetune 3.2M/97.0 -- none beaten on both
    assert "## KS acc↑" in index and "frozen, hra, finetune" in index


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

