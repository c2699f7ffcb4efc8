"""ci/gpu_check.sh, the GPU check of issue 22, without a GPU: the script parses, its dry mode
prints every command it would run (the method benchmark at base and large size, plain, with
gradient checkpointing and with bf16; the gpu profile and its table), each of those commands
is accepted by its program, and without CUDA the script stops before running anything."""
import os
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "ci" / "gpu_check.sh"


def printed_commands(tmp_path, *args, **env):
    e = dict(os.environ, OUT=str(tmp_path / "gpu_check"), **env)
    r = subprocess.run(["bash", str(SCRIPT), *args], cwd=tmp_path, env=e, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (tmp_path / "gpu_check").exists()  # a dry run writes nothing
    lines = r.stdout.splitlines()
    assert lines and all(ln.startswith("+ ") for ln in lines), r.stdout
    return [shlex.split(ln[2:]) for ln in lines]


def test_script_parses():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_dry_run_prints_the_commands_and_they_parse(tmp_path, monkeypatch, capsys):
    from adapters.bin import bench_methods, benchmark

    cmds = printed_commands(tmp_path, "--dry_run")
    assert cmds == printed_commands(tmp_path, GPU_CHECK_DRY="1")
    bench = [c for c in cmds if "adapters.bin.bench_methods" in c]
    drivers = [c for c in cmds if "adapters.bin.benchmark" in c]
    assert len(bench) == 8 and len(drivers) == 2 and len(cmds) == 10
    assert drivers[0][:2] == ["timeout", os.environ.get("PROFILE_TIMEOUT", "2400")]
    assert printed_commands(tmp_path, "--dry_run", "--bench_only") == bench

    calls = []
    monkeypatch.setattr(bench_methods, "run", lambda *a, **kw: calls.append((a, kw)) or {})
    monkeypatch.setattr(bench_methods, "format_table", lambda res: "table")
    for c in bench:
        bench_methods.main(c[c.index("-m") + 2:])
    assert len(calls) == 8 and {(a[1], a[2], kw["amp"], kw["checkpointing"]) for a, kw in calls} == {
        (size, "cuda", amp, gc) for size in ("base", "large")
        for amp, gc in ((None, False), (None, 1), (None, 2), ("bf16", False))}
    assert len({c[-1] for c in bench}) == 8  # a JSON file each
    assert Path(drivers[1][-1]).name == "bench_hubert_base_plain.json" and drivers[1][-1] in {c[-1] for c in bench}

    monkeypatch.setattr(benchmark, "gpu_count", lambda: 1)
    monkeypatch.chdir(ROOT)
    for c in drivers:  # the driver's options, checked by its own dry run (the plan against the recipes)
        assert benchmark.main([*c[c.index("-m") + 2:], "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert "# plan checked: 7 entries, 50 runs" in out and "one GPU each, 4 to a GPU" in out


def test_unknown_option_is_refused(tmp_path):
    r = subprocess.run(["bash", str(SCRIPT), "--nope"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr


def test_without_cuda_it_stops_before_anything(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the script would run the whole check")
    out = tmp_path / "gpu_check"
    r = subprocess.run(["bash", str(SCRIPT), "--bench_only"], cwd=ROOT, env=dict(os.environ, OUT=str(out)),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "torch.cuda is not available" in r.stderr, r.stdout + r.stderr
    assert not list(out.glob("*.json"))
