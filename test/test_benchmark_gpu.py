"""The benchmark driver on GPUs: one GPU per run (``--ngpu 1``: the templates train and run
stage 12 on it), as many runs at a time as GPUs (x ``--runs_per_gpu``; the gpu profile shares
each GPU among 4); on the CPU the commands are those without GPUs."""
from pathlib import Path

import pytest

from adapters.bin import benchmark

ROOT = Path(__file__).resolve().parents[1]


def dry_run(monkeypatch, capsys, gpus, *extra, profile="quick"):
    monkeypatch.setattr(benchmark, "gpu_count", lambda: gpus)
    monkeypatch.chdir(ROOT)
    assert benchmark.main(["--profile", profile, "--dry_run", "--out", "superb_gpu_test", *extra]) == 0
    return capsys.readouterr().out


def test_cpu_commands_have_no_gpu(monkeypatch, capsys):
    out = dry_run(monkeypatch, capsys, 0)
    assert "--ngpu" not in out and "# runs, 3 at a time\n" in out


def test_gpu_commands_one_gpu_per_run(monkeypatch, capsys):
    out = dry_run(monkeypatch, capsys, 2, "--jobs", "5")
    from adapters.bin.benchmark_plan import Recipe

    runs = [ln for ln in out.splitlines() if "--stage 11" in ln]
    assert runs
    for ln in runs:  # what the recipe takes gets its GPU option; nothing else is passed
        recipe = Recipe.read(ROOT / ln.split()[1])
        assert ("--ngpu 1" in ln) == recipe.takes("ngpu"), ln
        assert "--inference_args" not in ln, ln  # --ngpu covers stage 12 too
    assert any("/asr1 " in ln and "--ngpu 1" in ln for ln in runs)
    assert sum("--ngpu 1" in ln for ln in runs) >= len(runs) // 2
    assert "# runs, 2 at a time, one GPU each\n" in out  # capped at the GPUs


def test_gpu_profile_shares_one_gpu_among_4_runs(monkeypatch, capsys):
    out = dry_run(monkeypatch, capsys, 1, profile="gpu")
    assert "# runs, 4 at a time, one GPU each, 4 to a GPU" in out
    runs = [ln for ln in out.splitlines() if "--stage 11" in ln]
    assert len(runs) == 50 and all("OMP_NUM_THREADS=" in ln for ln in runs)
    out = dry_run(monkeypatch, capsys, 1, "--runs_per_gpu", "2", "--jobs", "9", profile="gpu")
    assert "# runs, 2 at a time, one GPU each, 2 to a GPU" in out  # capped at GPUs x runs_per_gpu


def test_each_running_run_holds_its_own_gpu(monkeypatch, tmp_path):
    e = benchmark.Entry("x/asr1", "X", [], ["a", "b", "c"])
    jobs = [benchmark.Job(e, m) for m in e.methods]
    d = benchmark.Driver(tmp_path, tmp_path, 2, {"runs": {j.key: j.record(tmp_path) for j in jobs}, "prep": {}},
                         gpus=2)
    got = {}

    def spawn(key, entry, command, log_path, env_extra):
        got[key] = env_extra["CUDA_VISIBLE_DEVICES"]
        d.children[key] = benchmark.Child(key, None, open(tmp_path / f"{key}.log", "w"), 0.0)

    monkeypatch.setattr(d, "spawn", spawn)
    d.start(jobs[0])
    d.start(jobs[1])
    assert sorted(got.values()) == ["0", "1"]
    d.reap(d.children[jobs[0].key])  # its GPU is free again
    d.start(jobs[2])
    assert got[jobs[2].key] == got[jobs[0].key]


def test_runs_sharing_gpus_go_to_the_least_loaded(monkeypatch, tmp_path):
    e = benchmark.Entry("x/asr1", "X", [], ["a", "b", "c", "d", "e"])
    jobs = [benchmark.Job(e, m) for m in e.methods]
    d = benchmark.Driver(tmp_path, tmp_path, 4, {"runs": {j.key: j.record(tmp_path) for j in jobs}, "prep": {}},
                         gpus=2, runs_per_gpu=2)
    got = {}

    def spawn(key, entry, command, log_path, env_extra):
        got[key] = env_extra["CUDA_VISIBLE_DEVICES"]
        d.children[key] = benchmark.Child(key, None, open(tmp_path / f"{key}.log", "w"), 0.0)

    monkeypatch.setattr(d, "spawn", spawn)
    for j in jobs[:4]:
        d.start(j)
    assert sorted(got.values()) == ["0", "0", "1", "1"]
    d.reap(d.children[jobs[1].key])  # GPU 1 now holds one run, GPU 0 two
    d.start(jobs[4])
    assert got[jobs[4].key] == got[jobs[1].key] == "1"
