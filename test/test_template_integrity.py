"""The staged templates (egs/TEMPLATE) and the recipes' run.sh on bad input and faults:
option values of the wrong type, stage-1 stamps that no longer match their corpus, TERM during
a stage, and reruns of finished stages.  Each builds its situation in a temporary copy of a
recipe and runs in seconds (no training)."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import copy_recipe

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "egs" / "TEMPLATE" / "common" / "lib.sh"


def run(recipe, *args, env=None, timeout=300):
    e = dict(os.environ, PYTHON=sys.executable, LIBRISPEECH="", SPEECH_COMMANDS="", IEMOCAP="", VOXCELEB1="",
             TORGO="")
    e.update(env or {})
    return subprocess.run(["./run.sh", *args], cwd=recipe, env=e, capture_output=True, text=True, timeout=timeout)


def bash(script, cwd, timeout=60):
    return subprocess.run(["bash", "-c", f"set -euo pipefail; python={sys.executable}; . {LIB}\n" + script],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    out = {}
    for rel in ("librispeech/asr1", "speech_commands/ks1", "iemocap/er1", "voxceleb/spk1", "euphonia/asr1"):
        out[rel] = copy_recipe(tmp_path_factory.mktemp("tree"), rel)
    return out


# ---------------------------------------------------------------- class 7: option values

@pytest.mark.parametrize("rel,args,expected", [
    ("librispeech/asr1", ["--stage", "three"], "--stage expects a whole number"),
    ("librispeech/asr1", ["--stop_stage", "1.5"], "--stop_stage expects a whole number"),
    ("librispeech/asr1", ["--stage", "5", "--stop_stage", "3"], "--stage 5 is after --stop_stage 3"),
    ("librispeech/asr1", ["--nj", "0"], "--nj expects a whole number of at least 1"),
    ("librispeech/asr1", ["--train_jobs", "two"], "--train_jobs expects a whole number of at least 1"),
    ("librispeech/asr1", ["--skip_bad", "yes"], "--skip_bad expects true or false"),
    ("librispeech/asr1", ["--max_wav_duration", "long"], "--max_wav_duration expects a number"),
    ("librispeech/asr1", ["--stage"], "option --stage needs a value"),
    ("librispeech/asr1", ["--use_lm", "yes"], "--use_lm expects true or false"),
    ("speech_commands/ks1", ["--stage", "three"], "--stage expects a whole number"),
    ("speech_commands/ks1", ["--use_cache", "1"], "--use_cache expects true or false"),
    ("iemocap/er1", ["--folds"], "option --folds needs a value"),
    ("iemocap/er1", ["--folds", "1 7"], "--folds expects folds among 1 2 3 4 5"),
    ("iemocap/er1", ["--folds", "one"], "--folds expects folds among 1 2 3 4 5"),
    ("iemocap/er1", ["--folds", "1", "--stage", "three"], "--stage expects a whole number"),
    ("voxceleb/spk1", ["--tasks"], "option --tasks needs a value"),
    ("voxceleb/spk1", ["--tasks", "sid nosuch"], "--tasks expects sid, asv or both, got 'nosuch'"),
    ("voxceleb/spk1", ["--stop_stage", "x"], "--stop_stage expects a whole number"),
    ("euphonia/asr1", ["--stage", "three"], "--stage expects a whole number"),
    ("euphonia/asr1", ["--train_jobs", "0"], "--train_jobs expects a whole number of at least 1"),
])
def test_bad_option_values_are_refused(trees, rel, args, expected):
    d = trees[rel]
    r = run(d, *args, timeout=60)
    assert r.returncode != 0, r.stdout
    assert expected in r.stderr, r.stderr
    assert "unbound variable" not in r.stderr
    assert not (d / "data").exists() or not any((d / "data").iterdir())  # nothing was done


# ---------------------------------------------------------------- class 2: stale stage-1 stamps

def fake_librispeech(root: Path, text="HELLO WORLD"):
    """The LibriSpeech layout, two utterances per part, a speaker of its own in each."""
    rng = np.random.default_rng(0)
    for k, part in enumerate(("train-clean-100", "dev-clean", "test-clean", "test-other")):
        ch = root / part / str(19 + k) / "198"
        ch.mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(2):
            utt = f"{19 + k}-198-{i:04d}"
            sf.write(ch / f"{utt}.flac", rng.uniform(-0.1, 0.1, 8000).astype("float32"), 16000)
            lines.append(f"{utt} {text} {i}")
        (ch / f"{19 + k}-198.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def test_stage1_redoes_when_the_corpus_changed(trees, tmp_path):
    d = trees["librispeech/asr1"]
    corpus = fake_librispeech(tmp_path / "corpus")
    one = ("--stage", "1", "--stop_stage", "1")
    r = run(d, *one, env={"LIBRISPEECH": str(corpus)})
    assert r.returncode == 0, r.stdout + r.stderr
    stamp = (d / "data/train_clean_100/.done").read_text()
    assert f"source {corpus}" in stamp and "fingerprint " in stamp
    # unchanged: done
    r = run(d, *one, env={"LIBRISPEECH": str(corpus)})
    assert r.returncode == 0 and "data/train_clean_100: done" in r.stdout
    # a transcript edited in the corpus: prepared again, with the reason
    trans = corpus / "train-clean-100/19/198/19-198.trans.txt"
    time.sleep(0.05)
    trans.write_text(trans.read_text().replace("HELLO WORLD 0", "GOODBYE WORLD 0"))
    r = run(d, *one, env={"LIBRISPEECH": str(corpus)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "data/train_clean_100: prepared from another corpus" in r.stdout and "fingerprint" in r.stdout
    assert "GOODBYE WORLD 0" in (d / "data/train_clean_100/text").read_text()
    assert "data/dev_clean: done" in r.stdout  # the other parts did not change
    # another corpus path: every part again
    other = fake_librispeech(tmp_path / "other", text="OTHER CORPUS")
    r = run(d, *one, env={"LIBRISPEECH": str(other)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "changed: fingerprint,source" in r.stdout or "changed: source,fingerprint" in r.stdout
    assert "OTHER CORPUS" in (d / "data/test_other/text").read_text()


def test_corpus_done_adopts_an_old_stamp_and_names_the_change(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.wav").write_bytes(b"x")
    r = bash(textwrap.dedent("""
        echo "c 0.2" > .done
        rec=$(record source c ratio 0.2 fingerprint "$(corpus_fingerprint c)")
        corpus_done .done "c 0.2" "$rec" && echo ADOPTED
        [ "$(cat .done)" = "$rec" ] && echo RECORDED
        corpus_done .done "" "$rec" && echo DONE
        echo xx >> c/a.wav
        rec=$(record source c ratio 0.2 fingerprint "$(corpus_fingerprint c)")
        corpus_done .done "" "$rec" || echo REDO
    """), tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:3] == ["ADOPTED", "RECORDED", "DONE"]
    assert "REDO" in r.stdout and "(changed: fingerprint;" in r.stdout


def test_training_on_other_data_is_refused(tmp_path):
    r = bash(textwrap.dedent("""
        mkdir -p exp/run; echo "x: 1" > conf.yaml; sleep 0.02
        stamp_write exp/run/.done "$(record train_data aaa token_list bbb)"
        echo "same: $(train_state exp/run conf.yaml "$(record train_data aaa token_list bbb)")"
        echo "other: $(train_state exp/run conf.yaml "$(record train_data ccc token_list bbb)")"
        rm exp/run/.done; stamp_write exp/run/.inputs "$(record train_data aaa token_list bbb)"
        echo "resume: $(train_state exp/run conf.yaml "$(record train_data aaa token_list bbb)")"
        echo "mixed: $(train_state exp/run conf.yaml "$(record train_data aaa token_list ddd)")"
    """), tmp_path)
    assert r.returncode == 0, r.stderr
    out = dict(l.split(": ", 1) for l in r.stdout.splitlines())
    assert out["same"] == "trained" and out["resume"] == "train"
    assert out["other"].startswith("refuse: exp/run was trained on other inputs (train_data changed since it finished)")
    assert "token_list changed since it started" in out["mixed"]


def test_a_changed_config_is_refused_not_resumed(tmp_path):
    # Before: a config edited after training made stage 11 resume from the old checkpoint, and
    # ESPnet stopped on a state dict of another shape (LibriSpeech's linear -> conv1d2 input layer).
    r = bash(textwrap.dedent("""
        mkdir -p exp/run; echo "x: 1" > conf.yaml
        rec() { printf '%s\\n%s' "$(record train_data aaa)" "$(record config "$(file_sig conf.yaml)")"; }
        stamp_write exp/run/.done "$(rec)"; sleep 0.02; touch conf.yaml
        echo "touched: $(train_state exp/run conf.yaml "$(rec)")"
        old=$(rec); echo "x: 2" > conf.yaml
        echo "edited: $(train_state exp/run conf.yaml "$(rec)")"
        rm exp/run/.done; stamp_write exp/run/.inputs "$old"
        echo "edited_mid: $(train_state exp/run conf.yaml "$(rec)")"
        rm exp/run/.inputs; stamp_write exp/run/.done "$(record train_data aaa)"; sleep 0.02; touch conf.yaml
        echo "old_stamp_config_newer: $(train_state exp/run conf.yaml "$(rec)")"
        sleep 0.02; touch exp/run/.done
        echo "old_stamp_done_newer: $(train_state exp/run conf.yaml "$(rec)")"
        echo "old_stamp_other_data: $(train_state exp/run conf.yaml "$(printf '%s\\n%s' "$(record train_data bbb)" \\
            "$(record config "$(file_sig conf.yaml)")")")"
    """), tmp_path)
    assert r.returncode == 0, r.stderr
    out = dict(l.split(": ", 1) for l in r.stdout.splitlines())
    assert out["touched"] == "trained"  # the same content: nothing to do
    assert out["edited"].startswith("refuse: exp/run was trained on other inputs (config changed since it finished;"
                                    " its config: conf.yaml)")
    assert out["edited_mid"].startswith("refuse: exp/run was trained on other inputs (config changed since it started")
    # a stamp without the config line: judged by its data and by the times, as before
    assert out["old_stamp_config_newer"] == "train" and out["old_stamp_done_newer"] == "trained"
    assert "train_data changed since it finished" in out["old_stamp_other_data"]


def test_data_sig_is_the_library_fingerprint_of_the_tables_contents(tmp_path):
    """The stamps' data_sig is adapters.data.fingerprint (the one implementation, also in the feature
    cache and results.json): the tables' contents, not their mtimes; the value is the one the stamps
    written before it recorded (MD5 of "<table> <MD5>" lines), so they still match."""
    import hashlib

    from adapters.data.fingerprint import data_fingerprint

    d = tmp_path / "set"
    d.mkdir()
    tables = {"wav.scp": "u1 /a/u1.flac\nu2 /a/u2.flac\n", "text": "u1 A B\nu2 C\n", "utt2spk": "u1 s\nu2 s\n"}
    for name, body in tables.items():
        (d / name).write_text(body)
    (d / "notes.txt").write_text("not a table\n")
    sig = lambda: bash(f"data_sig {d}; data_sig {tmp_path / 'gone'}", tmp_path)  # noqa: E731
    r = sig()
    assert r.returncode == 0, r.stderr
    first, gone = r.stdout.split()
    assert gone == "missing"
    md5 = lambda b: hashlib.md5(b).hexdigest()  # noqa: E731
    assert first == data_fingerprint(d) == md5("".join(f"{n} {md5(tables[n].encode())}\n"
                                                          for n in ("wav.scp", "text", "utt2spk")).encode())
    # written again, byte for byte, later: the same data
    for name, body in tables.items():
        (d / name).write_text(body)
        os.utime(d / name, (time.time() + 100, time.time() + 100))
    (d / "notes.txt").write_text("edited\n")
    assert sig().stdout.split()[0] == first
    (d / "text").write_text("u1 A B\nu2 D\n")
    assert sig().stdout.split()[0] != first


# ---------------------------------------------------------------- class 8: signals

def _session_procs(sid):
    ps = subprocess.run(["ps", "-eo", "pid=,sid=,stat="], capture_output=True, text=True).stdout.split("\n")
    return [l for l in ps if l.split() and l.split()[1] == str(sid) and not l.split()[2].startswith("Z")]


def _term_and_check(p, tmp_path, after=1.5):
    time.sleep(after)
    os.kill(p.pid, signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    time.sleep(1.0)
    left = _session_procs(p.pid)
    return out, err, left


def test_term_stops_parallel_jobs_and_leaves_no_done(tmp_path):
    script = tmp_path / "pipe.sh"
    script.write_text(textwrap.dedent(f"""\
        set -euo pipefail
        . {LIB}
        job() {{  # a "training": a child process, its watcher, then the stamp
          sleep 4 & watch_training $! . "$1" x || return 1
          stamp_write "$1.done" ok
        }}
        run_parallel 2 job a b
        stamp_write all.done ok
    """))
    p = subprocess.Popen(["bash", str(script)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    out, err, left = _term_and_check(p, tmp_path)
    assert p.returncode == 143 and "caught SIGTERM" in err
    assert left == [], left  # no orphan
    time.sleep(4)  # past the jobs' end: nobody wrote a stamp
    assert not list(tmp_path.glob("*.done"))


def _fake_python(tmp_path):
    """A python that sleeps: the stage it runs in is interrupted by the test."""
    fake = tmp_path / "slowpython"
    fake.write_text("#!/bin/sh\nsleep 20\n")
    fake.chmod(0o755)
    return str(fake)


@pytest.mark.parametrize("rel,args", [("librispeech/asr1", []), ("iemocap/er1", ["--folds", "1 2"])])
def test_term_of_run_sh_stops_the_template(tmp_path, rel, args):
    (tmp_path / "tree").mkdir()
    d = copy_recipe(tmp_path / "tree", rel)
    env = dict(os.environ, PYTHON=_fake_python(tmp_path), LIBRISPEECH="", IEMOCAP="")
    p = subprocess.Popen(["./run.sh", "--stop_stage", "3", *args], cwd=d, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    out, err, left = _term_and_check(p, tmp_path, after=2.0)
    assert p.returncode == 143, (out, err)
    assert "caught SIGTERM" in err
    assert left == [], left
    assert not list(d.rglob(".done")) and not list(d.rglob("*.done"))


# ---------------------------------------------------------------- class 9: idempotent reruns

def _tiny_data(d: Path):
    rng = np.random.default_rng(1)
    audio = d / "audio"
    audio.mkdir(exist_ok=True)
    for s in ("train", "dev", "test"):
        sd = d / "data" / s
        sd.mkdir(parents=True, exist_ok=True)
        wav, text, u2s = [], [], []
        for i in range(3):
            u = f"{s}_{i}"
            sf.write(audio / f"{u}.wav", rng.uniform(-0.1, 0.1, 8000 + 800 * i).astype("float32"), 16000)
            wav.append(f"{u} {audio / (u + '.wav')}")
            text.append(f"{u} A B C {i}")
            u2s.append(f"{u} spk{i}")
        for name, rows in (("wav.scp", wav), ("text", text), ("utt2spk", u2s)):
            (sd / name).write_text("\n".join(rows) + "\n")


def _mtimes(d: Path):
    return {str(p.relative_to(d)): p.stat().st_mtime_ns for p in sorted((d / "dump" / "raw").rglob("*"))
            if p.is_file()} | {"tokens": (d / "data/token_list/char/tokens.txt").stat().st_mtime_ns}


def test_lm_text_of_a_real_corpus(trees, tmp_path):
    """LIBRISPEECH_LM_TEXT (OpenSLR 11's gzipped text) -> data/local/other_text/text with ESPnet's ids;
    a missing one is an error naming it; none: the LM trains on the transcripts only."""
    import gzip

    d = trees["librispeech/asr1"]
    corpus = fake_librispeech(tmp_path / "corpus")
    one = ("--stage", "1", "--stop_stage", "1")
    r = run(d, *one, env={"LIBRISPEECH": str(corpus), "LIBRISPEECH_LM_TEXT": str(tmp_path / "nope.txt.gz")})
    assert r.returncode != 0 and f"the language-model text {tmp_path / 'nope.txt.gz'} is missing" in r.stderr
    lm = tmp_path / "librispeech-lm-norm.txt.gz"
    lm.write_bytes(b"not gzip at all")
    r = run(d, *one, env={"LIBRISPEECH": str(corpus), "LIBRISPEECH_LM_TEXT": str(lm)})
    assert r.returncode != 0 and f"could not read the language-model text {lm}" in r.stderr
    # more lines than are kept: the reader stopped early is no error
    lm.write_bytes(gzip.compress(b"FIRST SENTENCE\n\nSECOND ONE\n" + b"THIRD\n" * 100000))
    r = run(d, *one, "--local_data_opts", "--lm_text_lines 3", env={"LIBRISPEECH": str(corpus), "LIBRISPEECH_LM_TEXT": str(lm)})
    assert r.returncode == 0, r.stdout + r.stderr
    # the first 3 lines, the empty one dropped
    assert (d / "data/local/other_text/text").read_text() == \
        "librispeech_lm_norm_00000001 FIRST SENTENCE\nlibrispeech_lm_norm_00000003 SECOND ONE\n"
    r = run(d, *one, env={"LIBRISPEECH": str(corpus), "LIBRISPEECH_LM_TEXT": ""})
    assert r.returncode == 0 and "trains on the training transcripts only" in r.stdout
    assert not (d / "data/local/other_text").exists()


def test_rerun_of_finished_stages_changes_nothing(tmp_path):
    top = tmp_path / "tree"
    top.mkdir()
    d = copy_recipe(top, "librispeech/asr1")
    _tiny_data(d)
    asr = ("./asr.sh", "--python", sys.executable, "--train_set", "train", "--valid_set", "dev", "--test_sets", "test",
           "--token_type", "char", "--nj", "1", "--stage", "3", "--stop_stage", "5")
    env = dict(os.environ, PYTHON=sys.executable)
    r = subprocess.run(asr, cwd=d, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    before = _mtimes(d)
    time.sleep(0.05)
    r = subprocess.run(asr, cwd=d, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "train: done" in r.stdout and "tokens.txt: done" in r.stdout
    assert _mtimes(d) == before  # stage 4 did not rewrite, so stage 5 did not rebuild
    # rerunning stage 4 alone does not make stage 5 rebuild either
    r = subprocess.run([*asr[:-4], "--stage", "4", "--stop_stage", "5"], cwd=d, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and _mtimes(d) == before, r.stdout + r.stderr
    # a transcript edited in data/: stage 3 redoes that set (the reason said), stages 4-5 follow
    t = d / "data/train/text"
    t.write_text(t.read_text().replace("A B C 0", "X Y Z 0"))
    r = subprocess.run(asr, cwd=d, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "train: made from other inputs (changed: data since it ran)" in r.stdout
    assert "dev: done" in r.stdout
    assert "X" in (d / "data/token_list/char/tokens.txt").read_text().split()


# ---------------------------------------------------------------- class 9: stage 13 reruns

def _scoring_tree(top: Path, kind: str):
    """A recipe whose run 'frozen' was trained and decoded (stages 1-12 faked): its exp dir
    (config.yaml, model_info.json) and the test set's data dir and hypotheses.  Returns
    (recipe dir, template command, run dir, hypothesis file)."""
    rel, script, run = {"asr": ("librispeech/asr1", "./asr.sh", "asr_ctc_frozen"),
                        "cls": ("speech_commands/ks1", "./cls.sh", "cls_frozen"),
                        "spk": ("voxceleb/spk1", "./spk.sh", "spk_frozen")}[kind]
    d = copy_recipe(top, rel)
    ref, exp = d / "dump/raw/test", d / "exp" / run
    ref.mkdir(parents=True)
    exp.mkdir(parents=True)
    utts = [f"u{i}" for i in range(4)]
    (ref / "wav.scp").write_text("".join(f"{u} {d}/audio/{u}.wav\n" for u in utts))
    (exp / "config.yaml").write_text("frontend_conf:\n  method: frozen\n  upstream: hubert_local\n")
    (exp / "model_info.json").write_text(json.dumps(
        {"method": "frozen", "method_conf": {}, "upstream": "hubert_local", "upstream_path": None, "decoder": "ctc",
         "encoder": None, "total_params": 100, "trainable_params": 10, "adapter_params": 0}))
    (exp / "train_time_s").write_text("12\n")
    cmd = [script, "--python", sys.executable, "--train_set", "train", "--valid_set", "dev", "--test_sets", "test",
           "--methods", "frozen", "--stage", "13", "--stop_stage", "13"]
    if kind == "asr":
        (ref / "text").write_text("".join(f"{u} A B C\n" for u in utts))
        hyp = exp / "decode_decode_ctc/test/text"
        hyp.parent.mkdir(parents=True)
        hyp.write_text("".join(f"{u} A B {'C' if i else 'D'}\n" for i, u in enumerate(utts)))
    elif kind == "cls":
        (ref / "label").write_text("".join(f"{u} {'yes' if i % 2 else 'no'}\n" for i, u in enumerate(utts)))
        hyp = exp / "decode/test/prediction"
        hyp.parent.mkdir(parents=True)
        hyp.write_text("".join(f"{u} yes\n" for u in utts))
        cmd += ["--task_name", "ks"]
    else:
        (ref / "trials").write_text("1 u0 u1\n0 u0 u2\n1 u2 u3\n0 u1 u3\n")
        hyp = exp / "embed/test/embeddings.npz"
        hyp.parent.mkdir(parents=True)
        np.savez(hyp, **{u: np.random.default_rng(i).standard_normal(8) for i, u in enumerate(utts)})
        cmd += ["--conf_prefix", "train_asv", "--task_name", "asv"]
    return d, cmd, exp, hyp


@pytest.mark.parametrize("kind", ["asr", "cls", "spk"])
def test_scoring_reruns_only_when_its_inputs_changed(tmp_path, kind):
    d, cmd, exp, hyp = _scoring_tree(tmp_path, kind)
    env = dict(os.environ, PYTHON=sys.executable)
    score = lambda *extra: subprocess.run([*cmd, *extra], cwd=d, env=env, capture_output=True, text=True,  # noqa: E731
                                          timeout=300)
    name = exp.name.split("_", 1)[1]  # the run's name: ctc_frozen, frozen
    results = exp / "results.json"
    r = score()
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Stage 13: scoring {name}" in r.stdout and results.is_file()
    assert "test_sets test" in (exp / ".score.done").read_text()
    first = results.read_text()
    mtimes = {f: (exp / f).stat().st_mtime_ns for f in ("results.json", "RESULTS.md", "per_item.json")}
    time.sleep(0.05)
    # unchanged inputs: skipped, results.json not rewritten
    r = score()
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Stage 13: {name}: scored" in r.stdout and f"scoring {name}" not in r.stdout
    assert {f: (exp / f).stat().st_mtime_ns for f in mtimes} == mtimes and results.read_text() == first
    # other hypotheses (decoded again with another model): scored again, saying why
    if kind == "spk":
        np.savez(hyp, **{f"u{i}": np.random.default_rng(10 + i).standard_normal(8) for i in range(4)})
    else:
        hyp.write_text(hyp.read_text().replace("u0 A B D", "u0 A B C").replace("u0 yes", "u0 no"))
    r = score()
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Stage 13: {name}: made from other inputs (changed: hyp_test since it ran)" in r.stdout
    assert f"Stage 13: scoring {name}" in r.stdout and results.read_text() != first
    # other references in the test set's data dir
    second = results.read_text()
    table = d / "dump/raw/test" / {"asr": "text", "cls": "label", "spk": "trials"}[kind]
    table.write_text(table.read_text().replace("u3 A B C", "u3 A B").replace("u3 yes", "u3 no")
                     .replace("1 u2 u3", "0 u2 u3").replace("0 u1 u3", "1 u1 u3"))
    r = score()
    assert r.returncode == 0 and "(changed: ref_test since it ran)" in r.stdout, r.stdout + r.stderr
    assert results.read_text() != second
    if kind != "asr":
        # a scoring option: another task name
        r = score("--task_name", "other")
        assert r.returncode == 0 and "(changed: task since it ran)" in r.stdout, r.stdout + r.stderr
        assert json.loads(results.read_text())["task"] == "other"
        return  # what follows is lib.sh's, the same in every template
    # the run retrained (its train_time_s): scored again, its results.json reports the new time
    (exp / "train_time_s").write_text("30\n")
    r = score()
    assert r.returncode == 0 and "(changed: run since it ran)" in r.stdout, r.stdout + r.stderr
    assert json.loads(results.read_text())["train_time_s"] == 30.0
    # an output removed: scored again, saying which
    (exp / "RESULTS.md").unlink()
    r = score()
    assert r.returncode == 0 and f"{exp.relative_to(d)}/RESULTS.md is missing: running it again" in r.stdout, \
        r.stdout + r.stderr
    assert (exp / "RESULTS.md").is_file()
    # a scorer that fails leaves no stamp: the next run scores again
    hyp.unlink()
    r = score()
    assert r.returncode != 0 and not (exp / ".score.done").exists(), r.stdout + r.stderr
