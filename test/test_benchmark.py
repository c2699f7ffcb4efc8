"""The benchmark driver on fake recipes (a run.sh that parses the stage options,
writes results.json, counts its calls and fails on request): the table at the
end, one failure not stopping the others, no rerun of finished work, resuming
an interrupted benchmark, a deleted results.json, a failed data preparation,
SIGTERM, an edited config, the data options of a shared data/, the dry run, and --seeds (a run per seed in its
own exp dir with --seed, resumed per seed, combined by the collector)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.bin import benchmark

FAKE_RUN = r"""#!/usr/bin/env bash
# a fake recipe: stages 1-10 (data) and 11-13 (one run per method)
set -euo pipefail
stage=1; stop_stage=13; methods=frozen; expdir=exp; cls_args=
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2 ;; --stop_stage) stop_stage=$2 ;; --methods) methods=$2 ;; --expdir) expdir=$2 ;;
    --cls_args) cls_args=$2 ;;
  esac
  shift 2
done
echo "$stage $stop_stage $methods" >> calls.txt
if [ -n "${BENCH_EVENTS:-}" ]; then  # one file for all recipes: the order in which runs start and end
  event="$(basename "$(dirname "$PWD")") $stage $methods"
  echo "start $event" >> "$BENCH_EVENTS"
  trap 'echo "end $event" >> "$BENCH_EVENTS"' EXIT
fi
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (fake.sh) $*"; }
if [ "$stage" -le 1 ]; then
  log "Stage 1: data preparation (OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset})"
  [ ! -f FAIL_PREP ] || { echo "data preparation broke" >&2; exit 3; }
  [ ! -f SLOW_PREP ] || sleep 2
  mkdir -p data && echo "${SYNTH_CACHE:-downloads}" > data/prepared_with
fi
[ "$stop_stage" -ge 11 ] || exit 0
for m in $methods; do
  log "Stage 11: training $m (OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset})"
  echo $$ > "pid_$m"
  [ ! -f "SLOW_$m" ] || sleep 60
  log "  $m: epoch 1 of 2, took 0.1s"
  sleep 0.2
  [ ! -f "FAIL_$m" ] || { log "ERROR: training $m failed" >&2; exit 1; }
  log "Stage 13: scoring $m"
  case $m in frozen) acc=61.0 ;; hra) acc=75.5 ;; *) acc=70.2 ;; esac
  seed=$(echo "$cls_args" | sed -n 's/.*--seed \([0-9]*\).*/\1/p')
  [ -z "$seed" ] || acc=$(awk -v a="$acc" -v s="$seed" 'BEGIN { printf "%.1f", a + s }')  # seed s: s points more
  mkdir -p "$expdir/cls_$m"
  echo "$cls_args" > "$expdir/cls_$m/cls_args"
  printf '{"task": "%s", "method": "%s", "created": "2026-11-24 10:00:00", "test": {"test": {"accuracy": %s}}}\n' \
    "$(cat task)" "$m" "$acc" > "$expdir/cls_$m/results.json"
done
"""


def make_recipe(egs, recipe, task):
    d = egs / recipe
    d.mkdir(parents=True)
    (d / "run.sh").write_text(FAKE_RUN)
    (d / "run.sh").chmod(0o755)
    (d / "task").write_text(task)
    return d


def entry(recipe, name, methods, **kw):
    return {"recipe": recipe, "name": name, "args": kw.pop("args", []), "methods": methods,
            "results": "{expdir}/cls_{method}/results.json", **kw}


@pytest.fixture
def bench(tmp_path, monkeypatch):
    """(egs, out, run(profile entries, *args) -> exit status)."""
    monkeypatch.setattr(benchmark, "POLL_S", 0.05)
    egs, out = tmp_path / "egs", tmp_path / "superb"
    make_recipe(egs, "corpa/ks1", "ks")
    make_recipe(egs, "corpb/er1", "er")
    profile = tmp_path / "profile.json"

    def run(entries, *args):
        profile.write_text(json.dumps(entries))
        return benchmark.main(["--profile_file", str(profile), "--egs", str(egs), "--out", str(out), *args])

    return egs, out, run


TWO = [entry("corpa/ks1", "KS", "frozen hra elp"), entry("corpb/er1", "ER", "frozen hra")]


def calls(egs, recipe):
    p = egs / recipe / "calls.txt"
    return p.read_text().splitlines() if p.exists() else []


def state(out):
    return json.loads((out / "state.json").read_text())["runs"]


def test_all_done_writes_plan_and_table(bench, capsys, monkeypatch):
    egs, out, run = bench
    monkeypatch.setattr(benchmark, "STATUS_EVERY_S", 0.1)
    assert run(TWO, "--jobs", "2") == 0
    runs = state(out)
    assert sorted(runs) == ["er_frozen", "er_hra", "ks_elp", "ks_frozen", "ks_hra"]
    for key, r in runs.items():
        assert r["status"] == "done" and r["returncode"] == 0 and r["duration_s"] >= 0.2
        assert r["log"] == str(out / "logs" / f"{key}.log") and r["start"] and r["end"]
    # data stages once per entry with all its methods, then one run per method
    assert calls(egs, "corpa/ks1")[0] == "1 10 frozen hra elp"
    assert sorted(calls(egs, "corpa/ks1")[1:]) == ["11 13 elp", "11 13 frozen", "11 13 hra"]
    threads = max(1, benchmark.cpu_count() // 2)
    assert f"OMP_NUM_THREADS={threads}" in (out / "logs" / "ks_hra.log").read_text()
    assert "Stage 1: data preparation (OMP_WAIT_POLICY=PASSIVE)" in (out / "logs" / "ks_prep.log").read_text()
    plan = json.loads((out / "plan.json").read_text())
    assert {(p["recipe"], p["method"], p["column_hint"], p["status"]) for p in plan} >= {
        (str(egs / "corpa/ks1"), "hra", "KS", "done"), (str(egs / "corpb/er1"), "frozen", "ER", "done")}
    md = (out / "superb.md").read_text()
    assert "| method | KS acc↑ | ER acc↑ |" in md
    assert "| hra | **75.5** | **75.5** |" in md and "| elp | 70.2 | not in the plan |" in md
    printed = capsys.readouterr().out
    assert "| frozen | 61.0 | 61.0 |" in printed and "start KS/hra" in printed and "done ER/hra" in printed
    assert "status: running KS/" in printed and "time left ~" in printed


def test_progress_from_the_log_and_time_left(tmp_path):
    p = tmp_path / "run.log"
    p.write_text("2026-11-24T04:30:00 (cls.sh) Stage 10: shape files\n"
                 "2026-11-24T04:31:00 (cls.sh) Stage 11: training fold1_hra\n"
                 "2026-11-24T04:34:22 (cls.sh)   fold1_hra: epoch 3 of 6, took 61.2s; valid loss=1.2 acc=0.5\n")
    assert benchmark.log_progress(p) == "stage 11, epoch 3 of 6"
    with p.open("a") as f:  # the next fold: its epochs have not begun
        f.write("2026-11-24T04:40:00 (cls.sh) Stage 11: training fold2_hra\n")
    assert benchmark.log_progress(p) == "stage 11"
    assert benchmark.log_progress(tmp_path / "none.log") == "starting"
    recs = [{"status": "done", "duration_s": 100.0}, {"status": "failed", "duration_s": 300.0},
            {"status": "running"}, {"status": "pending"}, {"status": "pending"}, {"status": "pending"}]
    assert benchmark.eta(recs, jobs=2) == 200.0 * 4 / 2
    assert benchmark.eta([{"status": "pending"}], jobs=2) is None
    # a column's own finished runs say what its pending ones take; running ones, their epochs
    recs = [{"entry": "ks", "status": "done", "duration_s": 60.0}, {"entry": "ks", "status": "pending"},
            {"entry": "asr", "status": "running", "elapsed_s": 120.0, "epochs": (2, 8)},
            {"entry": "asr", "status": "running", "elapsed_s": 30.0}, {"entry": "er", "status": "pending"}]
    # ks: 60; asr running: 120 x 6 / 2 = 360, and 60 - 30 = 30 (no epoch yet, no asr run finished:
    # all finished runs' mean); er: 60
    assert benchmark.eta(recs, jobs=2) == (60 + 360 + 30 + 60) / 2
    # nothing finished yet: the running runs' epochs project a run's length for the pending ones
    recs = [{"entry": "asr", "status": "running", "elapsed_s": 100.0, "epochs": (1, 4)},
            {"entry": "asr", "status": "pending"}]
    assert benchmark.eta(recs, jobs=1) == 300 + 400
    assert benchmark.epochs_of("stage 11, epoch 3 of 6") == (3, 6) and benchmark.epochs_of("stage 12") is None
    assert benchmark.epochs_of("stage 11, epoch 3 of ?") is None
    assert benchmark.fmt_duration(None) == "unknown" and benchmark.fmt_duration(7200) == "2.0 h"


def test_status_says_which_data_preparations_its_time_left_leaves_out(tmp_path):
    from types import SimpleNamespace as NS

    log = tmp_path / "ks_hra.log"
    log.write_text("x (cls.sh) Stage 11: training hra\nx (cls.sh)   hra: epoch 1 of 4, took 10s\n")
    runs = {"ks_frozen": {"entry": "ks", "status": "done", "duration_s": 40.0, "log": str(log)},
            "ks_hra": {"entry": "ks", "status": "running", "log": str(log)},
            "asr_frozen": {"entry": "asr", "status": "pending", "log": str(log)}}
    prep_log = tmp_path / "asr_prep.log"
    prep_log.write_text("x (asr.sh) Stage 7: LM\n")
    d = benchmark.Driver(tmp_path, tmp_path / "out", 2, {"runs": runs, "prep": {"asr": {"log": str(prep_log)}}})
    jobs = [NS(key=k, label=k.replace("_", "/")) for k in runs]
    line = d.status_line(jobs, {"ks_hra": jobs[1]}, {"asr": NS(label="ASR-CTC", id="asr")}.values())
    assert "running ASR-CTC data (stage 7), ks/hra (stage 11, epoch 1 of 4)" in line
    assert "done 1, failed 0, running 1, pending 1" in line
    assert line.endswith("time left ~ 40 s + ASR-CTC data")
    assert not d.status_line(jobs, {"ks_hra": jobs[1]}).endswith("data")


def test_one_failing_method_does_not_stop_the_others(bench):
    egs, out, run = bench
    (egs / "corpa/ks1/FAIL_hra").touch()
    assert run(TWO, "--jobs", "3") == 1
    runs = state(out)
    assert runs["ks_hra"]["status"] == "failed" and runs["ks_hra"]["returncode"] == 1
    assert all(r["status"] == "done" for k, r in runs.items() if k != "ks_hra")
    log = runs["ks_hra"]["log"]
    assert "ERROR: training hra failed" in Path(log).read_text()
    md = (out / "superb.md").read_text()
    assert f"| hra | failed (see {log}) | **75.5** |" in md
    assert next(p for p in json.loads((out / "plan.json").read_text())
                if p["method"] == "hra" and p["column_hint"] == "KS")["status"] == "failed"
    # a rerun retries the failed run only
    (egs / "corpa/ks1/FAIL_hra").unlink()
    before = calls(egs, "corpa/ks1")
    assert run(TWO) == 0
    assert calls(egs, "corpa/ks1")[len(before):] == ["1 10 frozen hra elp", "11 13 hra"]
    # ER's two runs may run side by side (--jobs 3): their lines come in either order
    er = calls(egs, "corpb/er1")
    assert er[0] == "1 10 frozen hra" and sorted(er[1:]) == ["11 13 frozen", "11 13 hra"]


def test_heavy_runs_start_first(bench, capsys):
    egs, out, run = bench
    entries = [entry("corpa/ks1", "KS", "frozen hra"), entry("corpb/er1", "ER", "frozen hra elp", heavy="elp")]
    assert run(entries, "--jobs", "1") == 0
    printed = capsys.readouterr().out.splitlines()
    started = [line.split(" start ")[1].split()[0] for line in printed if " start " in line]
    assert started == ["ER/elp", "KS/frozen", "KS/hra", "ER/frozen", "ER/hra"]
    # the data of the entry with the long run first, though the profile lists it second
    order = [line.split(" start ")[1].split()[0] if " start " in line else line.split(") ")[1].split()[0] + " data"
             for line in printed if " start " in line or "data preparation (log" in line]
    assert order == ["ER data", "ER/elp", "KS data", "KS/frozen", "KS/hra", "ER/frozen", "ER/hra"]


def test_a_run_waits_for_the_run_it_starts_from(bench, capsys):
    # A-AF's fusion starts from frozen: were both started at once, the recipe would train
    # frozen's directory twice at the same time (the fusion run brings frozen along)
    egs, out, run = bench
    entries = [entry("corpa/ks1", "MT", "hra fusion frozen", heavy="fusion")]
    assert run(entries, "--jobs", "3") == 0
    started = [line.split(" start ")[1].split()[0] for line in capsys.readouterr().out.splitlines()
               if " start " in line]
    # frozen first (what the heavy run starts from), hra in the slot fusion may not take yet
    assert started == ["MT/frozen", "MT/hra", "MT/fusion"]
    runs = state(out)
    assert runs["mt_fusion"]["start"] >= runs["mt_frozen"]["end"]
    # a failed prerequisite does not hold the run back for ever: the recipe retrains it itself
    (egs / "corpa/ks1/FAIL_frozen").touch()
    for m in ("frozen", "fusion"):
        for f in (egs / "corpa/ks1/exp").glob(f"cls_{m}/results.json"):
            f.unlink()
    assert run(entries, "--jobs", "3") == 1
    runs = state(out)
    assert runs["mt_frozen"]["status"] == "failed" and runs["mt_fusion"]["status"] == "done"


def test_a_recipes_runs_train_while_another_recipe_prepares(bench, monkeypatch):
    """The data stages share the slots with the runs: a recipe's runs start when its data are
    ready, not after every recipe's; the data stages of one recipe (two entries on its data/, as
    SID and ASV on VoxCeleb's) run one after the other, and no run of it starts before both."""
    egs, out, run = bench
    events = egs.parent / "events.txt"
    monkeypatch.setenv("BENCH_EVENTS", str(events))
    (egs / "corpb/er1/SLOW_PREP").touch()
    entries = [entry("corpb/er1", "ER", "frozen"), entry("corpa/ks1", "KS", "frozen hra"),
               entry("corpa/ks1", "KS2", "elp")]
    assert run(entries, "--jobs", "3") == 0
    ev = events.read_text().splitlines()
    at = {line: i for i, line in enumerate(ev)}
    assert at["start corpa 1 elp"] > at["end corpa 1 frozen hra"]  # one recipe: one preparation at a time
    first_ks_run = min(at[f"start corpa 11 {m}"] for m in ("frozen", "hra", "elp"))
    assert first_ks_run > at["end corpa 1 elp"]
    assert first_ks_run < at["end corpb 1 frozen"]  # KS trains while ER still prepares
    assert at["start corpb 11 frozen"] > at["end corpb 1 frozen"]
    assert all(r["status"] == "done" for r in state(out).values())


def test_rerun_after_completion_runs_nothing(bench):
    egs, out, run = bench
    assert run(TWO) == 0
    before = [calls(egs, r) for r in ("corpa/ks1", "corpb/er1")]
    assert run(TWO) == 0
    assert [calls(egs, r) for r in ("corpa/ks1", "corpb/er1")] == before
    assert "| hra | **75.5** | **75.5** |" in (out / "superb.md").read_text()
    (out / "superb.md").unlink()
    assert run(TWO, "--collect_only") == 0 and (out / "superb.md").exists()
    assert [calls(egs, r) for r in ("corpa/ks1", "corpb/er1")] == before
    # an --out whose state.json never saw the runs: the table all the same, the runs named not done
    (out / "state.json").unlink()
    (out / "superb.md").unlink()
    assert run(TWO, "--collect_only") == 1 and "| hra | **75.5**" in (out / "superb.md").read_text()


def test_interrupted_benchmark_resumes_the_unfinished_run(bench):
    egs, out, run = bench
    one = [entry("corpa/ks1", "KS", "frozen hra")]
    assert run(one) == 0
    s = json.loads((out / "state.json").read_text())
    s["runs"]["ks_frozen"]["status"] = "running"  # what a killed driver leaves behind
    (out / "state.json").write_text(json.dumps(s))
    n = len(calls(egs, "corpa/ks1"))
    assert run(one) == 0
    assert calls(egs, "corpa/ks1")[n:] == ["1 10 frozen hra", "11 13 frozen"]
    assert state(out)["ks_frozen"]["status"] == "done"


def test_done_run_without_results_is_rerun(bench):
    egs, out, run = bench
    assert run(TWO) == 0
    (egs / "corpa/ks1/exp/cls_hra/results.json").unlink()
    n = len(calls(egs, "corpa/ks1"))
    assert run(TWO) == 0
    assert calls(egs, "corpa/ks1")[n:] == ["1 10 frozen hra elp", "11 13 hra"]
    assert (egs / "corpa/ks1/exp/cls_hra/results.json").exists()


def test_an_edited_config_runs_its_recipes_runs_again(bench):
    egs, out, run = bench
    conf = egs / "corpa/ks1/conf"
    conf.mkdir()
    (conf / "train_hra.yaml").write_text("lr: 0.001\n")
    assert run(TWO) == 0
    n_a, n_b = len(calls(egs, "corpa/ks1")), len(calls(egs, "corpb/er1"))
    (conf / "train_hra.yaml").write_text("lr: 0.002\n")
    assert run(TWO) == 0
    # the edited recipe's runs go again (the recipe's own stamps decide what to retrain); not the other's
    assert sorted(calls(egs, "corpa/ks1")[n_a:]) == ["1 10 frozen hra elp", "11 13 elp", "11 13 frozen", "11 13 hra"]
    assert calls(egs, "corpb/er1")[n_b:] == []
    n_a = len(calls(egs, "corpa/ks1"))
    assert run(TWO) == 0 and len(calls(egs, "corpa/ks1")) == n_a  # once, not at every start
    # a state written before runs recorded their configs: taken as unchanged, and recorded now
    s = json.loads((out / "state.json").read_text())
    for r in s["runs"].values():
        del r["conf"]
    (out / "state.json").write_text(json.dumps(s))
    assert run(TWO) == 0 and len(calls(egs, "corpa/ks1")) == n_a
    assert all(r["conf"] for r in state(out).values())


def test_failed_data_preparation_fails_its_runs_only(bench):
    egs, out, run = bench
    (egs / "corpb/er1/FAIL_PREP").touch()
    assert run(TWO) == 1
    runs = state(out)
    prep_log = str(out / "logs" / "er_prep.log")
    for m in ("frozen", "hra"):
        assert runs[f"er_{m}"]["status"] == "failed" and runs[f"er_{m}"]["log"] == prep_log
        assert runs[f"er_{m}"]["returncode"] == 3
    assert all(runs[f"ks_{m}"]["status"] == "done" for m in ("frozen", "hra", "elp"))
    assert calls(egs, "corpb/er1") == ["1 10 frozen hra"]  # no run started
    assert "data preparation broke" in Path(prep_log).read_text()
    md = (out / "superb.md").read_text()
    assert f"| hra | **75.5** | failed (see {prep_log}) |" in md


def test_sigterm_stops_the_runs_and_leaves_them_pending(tmp_path):
    egs, out = tmp_path / "egs", tmp_path / "superb"
    d = make_recipe(egs, "corpa/ks1", "ks")
    (d / "SLOW_hra").touch()
    (tmp_path / "p.json").write_text(json.dumps([entry("corpa/ks1", "KS", "frozen hra")]))
    proc = subprocess.Popen([sys.executable, "-m", "adapters.bin.benchmark", "--profile_file", str(tmp_path / "p.json"),
                             "--egs", str(egs), "--out", str(out), "--jobs", "2"],
                            cwd=Path(benchmark.__file__).parents[2], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while not (d / "pid_hra").exists() or state(out).get("ks_hra", {}).get("status") != "running":
        assert time.time() < deadline and proc.poll() is None, proc.stdout.read().decode()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    printed = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 128 + signal.SIGTERM, printed
    assert state(out)["ks_hra"]["status"] == "pending" and "SIGTERM: stopping the runs" in printed
    with pytest.raises(ProcessLookupError):  # the recipe's process group is gone
        os.kill(int((d / "pid_hra").read_text()), 0)


def test_data_options_of_a_shared_data_dir(bench):
    """A profile with other data options makes stage 1 prepare data/ again (the .done stamps go)."""
    egs, out, run = bench
    d = egs / "corpa/ks1"
    (d / "data/train").mkdir(parents=True)
    (d / "data/train/.done").touch()  # prepared by a plain ./run.sh
    full = [entry("corpa/ks1", "KS", "frozen")]
    assert run(full) == 0 and (d / "data/train/.done").exists()
    quick = [entry("corpa/ks1", "KS", "frozen", env={"SYNTH_CACHE": "dq"},
                   args=["--expdir", "exp_q", "--local_data_opts", "--small 1"])]
    assert run(quick, "--out", str(out) + "_quick") == 0
    assert not (d / "data/train/.done").exists()
    assert (d / "data/prepared_with").read_text().strip() == "dq"
    assert "SYNTH_CACHE=dq local_data_opts=--small 1" in (d / "data/.benchmark_data").read_text()
    (d / "data/train/.done").touch()
    assert run(full) == 0 and (d / "data/train/.done").exists()  # nothing to run: data/ untouched
    (d / "exp/cls_frozen/results.json").unlink()
    assert run(full) == 0 and not (d / "data/train/.done").exists()  # back to the defaults: prepared again
    assert (d / "data/prepared_with").read_text().strip() == "downloads"
    # the quick results live in exp_q: the table reads them through a view, and only them
    md = Path(str(out) + "_quick", "superb.md").read_text()
    assert "| frozen | **61.0** |" in md and (d / "exp_q/cls_frozen/results.json").exists()


def test_a_first_preparation_is_not_called_a_change_of_options(tmp_path):
    """A fresh clone has no data/: its first preparation with a profile's options is no change (the
    driver said "data options changed" for every recipe of a first make demo); a later switch is."""
    d = tmp_path / "ks1"
    d.mkdir()
    sig = benchmark.data_signature({"SYNTH_CACHE": "dq"}, "--small 1")
    assert benchmark.ensure_data_profile(d, sig) is False
    assert (d / "data" / benchmark.DATA_STAMP).read_text().strip() == sig
    assert benchmark.ensure_data_profile(d, sig) is False
    (d / "data/train").mkdir(parents=True)
    (d / "data/train/.done").touch()
    other = benchmark.data_signature({"SYNTH_CACHE": "downloads"}, "")
    assert benchmark.ensure_data_profile(d, other) is True and not (d / "data/train/.done").exists()


def test_dry_run_prints_and_runs_nothing(bench, capsys):
    egs, out, run = bench
    assert run(TWO, "--dry_run", "--only", "corpa/ks1", "--methods", "hra") == 0
    printed = capsys.readouterr().out
    assert "./run.sh --methods hra --stop_stage 10" in printed
    assert "./run.sh --stage 11 --methods hra --train_jobs 1" in printed and "corpb" not in printed
    assert calls(egs, "corpa/ks1") == [] and not (out / "state.json").exists()


SEEDED = [entry("corpa/ks1", "KS", "frozen hra", args=["--expdir", "exp_q", "--cls_args", "--max_epoch 2"])]


def test_seeds_run_each_method_once_per_seed_in_its_own_exp_dir(bench, capsys):
    egs, out, run = bench
    d = egs / "corpa/ks1"
    assert run(SEEDED, "--seeds", "2", "--jobs", "2") == 0
    runs = state(out)
    assert sorted(runs) == ["ks_frozen", "ks_frozen_seed1", "ks_hra", "ks_hra_seed1"]
    assert {k: r["seed"] for k, r in runs.items()} == {"ks_frozen": 0, "ks_hra": 0, "ks_frozen_seed1": 1,
                                                       "ks_hra_seed1": 1}
    assert all(r["status"] == "done" and r["log"] == str(out / "logs" / f"{k}.log") for k, r in runs.items())
    # seed 0: the command of a run without --seeds; seed 1: its own exp dir and --seed 1
    assert runs["ks_hra"]["command"] == ["./run.sh", "--expdir", "exp_q", "--cls_args", "--max_epoch 2",
                                         "--stage", "11", "--methods", "hra", "--train_jobs", "1"]
    assert runs["ks_hra_seed1"]["command"] == ["./run.sh", "--expdir", "exp_q_seed1", "--cls_args",
                                               "--max_epoch 2 --seed 1", "--stage", "11", "--methods", "hra",
                                               "--train_jobs", "1"]
    for m in ("frozen", "hra"):
        assert (d / f"exp_q/cls_{m}/cls_args").read_text().strip() == "--max_epoch 2"
        assert (d / f"exp_q_seed1/cls_{m}/cls_args").read_text().strip() == "--max_epoch 2 --seed 1"
    # the data stages once per seed's exp dir, then one run per (method, seed)
    assert calls(egs, "corpa/ks1")[:2] == ["1 10 frozen hra", "1 10 frozen hra"]
    assert sorted(calls(egs, "corpa/ks1")[2:]) == ["11 13 frozen"] * 2 + ["11 13 hra"] * 2
    assert (out / "logs" / "ks_seed1_prep.log").exists() and (out / "logs" / "ks_prep.log").exists()
    printed = capsys.readouterr().out
    assert "start KS/hra seed 1" in printed and "done KS/hra seed 1" in printed
    plan = json.loads((out / "plan.json").read_text())
    assert sorted((p["method"], p.get("seed", 0), p["status"]) for p in plan) == [
        ("frozen", 0, "done"), ("frozen", 1, "done"), ("hra", 0, "done"), ("hra", 1, "done")]
    # the collector: the mean over the two seeds ± the t interval (75.5 and 76.5: 76.0 ± 12.71 * 0.5)
    assert (out / "egs_view/corpa/ks1/exp_seed1").resolve() == (d / "exp_q_seed1").resolve()
    md = (out / "superb.md").read_text()
    assert "| hra | **76.0 ± 6.4** |" in md and "| frozen | 61.5 ± 6.4 |" in md
    assert "Student's t interval over the seeds" in md
    import csv
    with open(out / "superb.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["method"] == "hra" and r["column"] == "KS acc")
    assert (row["seeds"], row["n"]) == ("2", "2") and float(row["ci_low"]) == pytest.approx(76.0 - 6.353, abs=1e-3)


def test_seeds_resume_and_one_seed_is_unchanged(bench):
    egs, out, run = bench
    assert run(SEEDED, "--seeds", "2") == 0
    s = json.loads((out / "state.json").read_text())
    s["runs"]["ks_hra_seed1"]["status"] = "running"  # what a killed driver leaves behind
    (out / "state.json").write_text(json.dumps(s))
    n = len(calls(egs, "corpa/ks1"))
    assert run(SEEDED, "--seeds", "2") == 0
    assert calls(egs, "corpa/ks1")[n:] == ["1 10 frozen hra", "11 13 hra"]  # seed 1's data stages, its run
    assert state(out)["ks_hra_seed1"]["status"] == "done"
    # --seeds 1: seed 0's runs are those of the seeded benchmark (nothing runs), the table is one seed's
    n = len(calls(egs, "corpa/ks1"))
    assert run(SEEDED) == 0 and len(calls(egs, "corpa/ks1")) == n
    md = (out / "superb.md").read_text()
    assert "| hra | **75.5** |" in md and "| frozen | 61.0 |" in md and "over the seeds" not in md
    assert not (out / "egs_view/corpa/ks1/exp_seed1").exists()


def test_seeds_dry_run_and_plan_check(bench, capsys):
    egs, out, run = bench
    assert run(SEEDED, "--seeds", "3", "--dry_run") == 0
    printed = capsys.readouterr().out
    assert "# plan checked: 1 entries, 6 runs (3 seeds each)" in printed
    assert "# KS seed 2 (corpa/ks1): data preparation for exp_q_seed2" in printed
    assert "--expdir exp_q_seed2 --cls_args '--max_epoch 2 --seed 2' --stage 11 --methods hra" in printed
    assert calls(egs, "corpa/ks1") == [] and not (out / "state.json").exists()
    assert run(SEEDED, "--seeds", "0", "--dry_run") == 2
    assert "--seeds 0: the number of seeds per run must be a positive integer" in capsys.readouterr().err
    # a recipe whose training options cannot be told: --seed has nowhere to go
    assert run([entry("corpa/ks1", "KS", "frozen")], "--seeds", "2", "--dry_run") == 2
    assert "cannot tell how run.sh passes --seed 1" in capsys.readouterr().err
    assert run([entry("corpa/ks1", "KS", "frozen")], "--seeds", "1", "--dry_run") == 0
