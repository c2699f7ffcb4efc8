"""The Euphonia-like multi-task recipe: TORGO synthesis and preparation, task routing
through ESPnet (training frontend, decoding), the multi-task table, and a tiny run
of egs/euphonia/asr1 through every stage."""
import collections
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import adapters
from adapters.data import torgo
from adapters.data.kaldi import DataDirError, read_table
from conftest import copy_recipe, perturb

ROOT = Path(__file__).resolve().parents[1]
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def _wav(path, seconds=0.5):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(int(16000 * seconds), dtype="float32"), 16000)


def fake_torgo(root, speakers=("F01", "M02", "M03", "FC01", "MC01"), n=8, nested=False):
    """A TORGO tree: real prompts, plus the kinds TORGO has that are not transcripts."""
    odd = {3: "[say 'ah-p-eee' repeatedly]", 5: "input/images/21.jpg", 7: "xxx"}
    for spk in speakers:
        base = root / spk[: -2] / spk if nested else root / spk
        for k in range(1, n + 1):
            sess = base / f"Session{1 + (k > n // 2)}"
            num = f"{k:04d}"
            (sess / "prompts").mkdir(parents=True, exist_ok=True)
            (sess / "prompts" / f"{num}.txt").write_text(odd.get(k, f"Word{k}, again!") + "\n")
            _wav(sess / "wav_arrayMic" / f"{num}.wav")
            if k == 1:
                _wav(sess / "wav_headMic" / f"{num}.wav")
    return root


@pytest.mark.parametrize("nested", [False, True])
def test_torgo_preparation_tasks_splits_and_skipped_prompts(tmp_path, nested):
    root = fake_torgo(tmp_path / "TORGO", nested=nested)
    s = torgo.prepare(root, tmp_path / "data")
    d = tmp_path / "data"
    # F01, M02, M03 are impaired: each a task; FC01 + MC01 are "typical"; the last two are held out
    assert s["tasks"] == ["typical", "F01"] and s["zeroshot"] == ["M03"] and s["new"] == ["M02"]
    assert (d / "tasks_all").read_text().split() == ["typical", "F01", "M02", "M03"]
    # 3 odd prompts per speaker are skipped and counted by reason
    assert s["skipped_prompts"] == {"instruction": 5, "image": 5, "xxx": 5}
    u2t = {name: read_table(d / name / "utt2task") for name in s["utterances"]}
    assert set(u2t["test_zeroshot"].values()) == {"M03"}
    assert set(u2t["train_new"].values()) == set(u2t["test_new"].values()) == {"M02"}
    for name in ("train", "dev", "test"):
        assert set(u2t[name].values()) == {"typical", "F01"}  # every seen task in every set
    all_utts = [u for t in u2t.values() for u in t]
    assert len(all_utts) == len(set(all_utts)) == 5 * 6  # 5 speakers x (8 - 3 + the headMic copy)
    text = read_table(d / "train" / "text")
    assert all(v.startswith("WORD") and v.endswith("AGAIN") for v in text.values())  # normalized
    assert any("-head-" in u for u in all_utts)
    assert read_table(d / "train" / "utt2spk")[next(iter(u2t["train"]))] in ("F01", "FC01", "MC01")


def test_torgo_zeroshot_count_holds_out_the_last_speakers_by_number(tmp_path):
    root = fake_torgo(tmp_path / "TORGO")
    s = torgo.prepare(root, tmp_path / "data", zeroshot_count=2)
    assert s["zeroshot"] == ["M02", "M03"] and s["new"] == [] and s["tasks"] == ["typical", "F01"]
    with pytest.raises(DataDirError, match="cannot hold out 3 of the 3 impaired speakers"):
        torgo.prepare(root, tmp_path / "data2", zeroshot_count=3)
    # number first: TORGO's F01 M01 M02 F03 ...; the synthetic corpus alternates F and M
    assert sorted(["M03", "F04", "M01", "F03", "F01"], key=torgo.speaker_order) == ["F01", "M01", "F03", "M03", "F04"]


def test_torgo_preparation_errors_name_the_problem(tmp_path):
    with pytest.raises(DataDirError, match="TORGO root not found"):
        torgo.prepare(tmp_path / "nowhere", tmp_path / "data")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataDirError, match="no <spk>/Session<N>/ folders"):
        torgo.prepare(tmp_path / "empty", tmp_path / "data")
    root = fake_torgo(tmp_path / "T")
    with pytest.raises(DataDirError, match="held-out task 'M09' is not a task"):
        torgo.prepare(root, tmp_path / "data", zeroshot=["M09"])
    with pytest.raises(DataDirError, match="typical task cannot be held out"):
        torgo.prepare(root, tmp_path / "data", zeroshot=["typical"])
    small = fake_torgo(tmp_path / "S", speakers=("F01", "FC01"), n=1)
    with pytest.raises(DataDirError, match="task .F01. has 2 utterances: too few"):
        torgo.prepare(small, tmp_path / "data", zeroshot=[], new=[])


def test_non_speech_prompts():
    for p in ("[relax your mouth]", "input/images/cat.jpg", "picture.PNG", "xxx", "  "):
        assert torgo.non_speech_reason(p) is not None, p
    for p in ("yes", "The quick brown fox.", "Don't"):
        assert torgo.non_speech_reason(p) is None, p
    assert torgo.normalize("Don't stop, Bob!") == "DON'T STOP BOB"


@needs_espeak
def test_synthetic_torgo_layout_and_speakers(tmp_path):
    from adapters.synth import torgo as synth

    root = synth.build(tmp_path / "s", impaired=3, typical=1, prompts=6, nj=1)
    assert root.name == "TORGO"
    wavs = sorted(root.glob("*/Session*/wav_arrayMic/*.wav"))
    assert len(wavs) == 4 * 6
    for w in wavs:
        assert (w.parent.parent / "prompts" / f"{w.stem}.txt").is_file()
        info = sf.info(str(w))
        assert info.samplerate == 16000 and info.frames > 1600
    stamp = json.loads((tmp_path / "s" / ".synth_complete.json").read_text())
    mixes = [stamp["speakers"][s]["impairment"] for s in ("M01", "F02", "M03")]
    assert all(2 <= len(m) <= 4 and set(m) <= set(synth.FEATURES) for m in mixes)
    assert stamp["speakers"]["MC01"]["impairment"] == {}
    mtime = wavs[0].stat().st_mtime
    synth.build(tmp_path / "s", impaired=3, typical=1, prompts=6, nj=1)  # cached: nothing rewritten
    assert wavs[0].stat().st_mtime == mtime
    with pytest.raises(ValueError, match="impaired speakers must be 1..128"):
        synth.speaker_names(129, 1)
    # other options, same folder: the old corpus goes, nothing of it is mixed in
    synth.build(tmp_path / "s", impaired=2, typical=1, prompts=4, nj=1)
    assert len(list(root.glob("*/Session*/wav_arrayMic/*.wav"))) == 3 * 4


@needs_espeak
def test_synthetic_torgo_takes_of_a_repeated_prompt_differ(tmp_path):
    """A speaker who reads a prompt twice gives two recordings, never one copied: with a copy,
    a test utterance equal to a training one scores memory, not recognition."""
    import hashlib
    from adapters.synth import torgo as synth

    listing = synth.listing(tmp_path / "s", impaired=1, typical=1, prompts=8, vocab=2)
    by_speaker_text = collections.Counter((w.parts[-4], t) for w, t in listing)
    assert max(by_speaker_text.values()) > 1  # 2 words: every speaker repeats prompts
    root = synth.build(tmp_path / "s", impaired=1, typical=1, prompts=8, vocab=2, nj=1)
    digests = collections.defaultdict(list)
    for w in sorted(root.glob("*/Session*/wav_arrayMic/*.wav")):
        x, _ = sf.read(str(w), dtype="int16")
        digests[hashlib.sha1(x.tobytes()).hexdigest()].append(w)
    assert len(digests) == 16, [v for v in digests.values() if len(v) > 1]


def test_frontend_adds_a_task_from_an_adapter_only_file(ckpt_dir, wavs, tmp_path):
    from adapters.espnet.frontend import S3prlAdapterFrontend

    def fe(**kw):
        torch.manual_seed(0)
        return S3prlAdapterFrontend(upstream="hubert_local", path_or_url=str(ckpt_dir / "hubert.pt"),
                                    method="hra", **kw)

    old = fe(tasks=["a", "b"])
    perturb(old.adapted.method, std=0.2)
    adapters.save_adapter(old.adapted, tmp_path / "hra.pt")
    new = fe(tasks=["a", "b", "c"], adapter_init=str(tmp_path / "hra.pt"), train_tasks=["c"])
    assert {n for n, p in new.adapted.named_parameters() if p.requires_grad} == {"method.heads.c.V"}
    old.eval(), new.eval()
    for t in ("a", "b"):
        old.set_tasks([t] * 3), new.set_tasks([t] * 3)
        assert torch.equal(old(*wavs)[0], new(*wavs)[0])
    with pytest.raises(Exception, match="adapter checkpoint not found"):
        fe(tasks=["a"], adapter_init=str(tmp_path / "missing.pt"))


def test_decoding_routes_task_ids_with_a_fallback_for_unknown_tasks():
    from adapters.bin.asr_inference import _task_routed
    from adapters.tasks import TaskSet

    class Base:
        def __call__(self, speech, **kw):
            return "decoded"

    cls = _task_routed(Base, ["typical", "F01", "M03"], fallback="typical")
    model_tasks = TaskSet(["typical", "F01"])
    assert cls._model_task(1, model_tasks) == "F01"
    assert cls._model_task(2, model_tasks) == "typical"  # zero-shot: the fallback's adapter
    with pytest.raises(ValueError, match="task id 5 is out of range"):
        cls._model_task(5, model_tasks)
    strict = _task_routed(Base, ["typical", "F01", "M03"], fallback=None)
    with pytest.raises(ValueError, match="no adapter for task 'M03'.*--fallback_task"):
        strict._model_task(2, model_tasks)
    bad_fallback = _task_routed(Base, ["typical", "M03"], fallback="nosuch")
    with pytest.raises(KeyError, match="unknown task 'nosuch'"):
        bad_fallback._model_task(1, model_tasks)


def test_per_task_wer_and_mean_over_tasks(tmp_path):
    from adapters.bin.score_multitask import mean, per_task_wer

    d = tmp_path / "test"
    d.mkdir()
    (d / "text").write_text("u1 A B\nu2 C D\nu3 E F G H\n")
    (d / "utt2task").write_text("u1 t1\nu2 t1\nu3 t2\n")
    hyp = tmp_path / "hyp"
    hyp.write_text("u1 A B\nu2 C X\nu3 E F\n")
    r = per_task_wer(d, hyp)
    assert r["t1"]["wer"] == pytest.approx(25.0) and r["t2"]["wer"] == pytest.approx(50.0)
    assert mean(x["wer"] for x in r.values()) == pytest.approx(37.5)  # not 3/8 pooled
    hyp.write_text("u1 A B\n")
    with pytest.raises(DataDirError, match="no hypothesis for 2 utterance"):
        per_task_wer(d, hyp)


def test_multitask_report_has_a_table_per_seen_and_per_zero_shot_task(tmp_path):
    from adapters.bin.score_multitask import write_report

    def row(label, seen, zs):
        return {"label": label, "mean_wer": 10.0, "zeroshot_wer": sum(zs.values()) / len(zs) if zs else None,
                "new_task_wer": None, "adapter_trainable": 1, "stored_adapter_params": 1,
                "downstream_params": 1, "train_time_s": 1.0,
                "sets": {"test": {t: {"wer": w} for t, w in seen.items()},
                         **({"test_zeroshot": {t: {"wer": w} for t, w in zs.items()}} if zs else {})}}

    write_report([row("A", {"typical": 1.0, "F02": 2.0}, {"M17": 30.0, "F16": 40.0}),
                  row("B", {"typical": 3.0, "F02": 4.0}, {})], tmp_path)
    md = (tmp_path / "RESULTS.md").read_text()
    seen, zs = md.split("## WER per seen task")[1].split("## WER per zero-shot (held-out) task")
    assert "| method | typical | F02 |" in seen and "| B | 3.0 | 4.0 |" in seen
    assert "| method | F16 | M17 |" in zs and "| A | 40.0 | 30.0 |" in zs and "| B |" not in zs
    assert "| A | 10.0 | 35.0 |" in md


def test_fusion_weights_summary_against_hand_counts():
    from adapters.bin.fusion_weights import markdown, summarize

    tasks = ["typical", "F02", "M03"]
    one_hot = torch.tensor([[0.0, 1.0, 0.0]] * 4)  # every frame on F02: collapsed
    uniform = torch.full((2, 3), 1 / 3)
    mixed = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    per_utt = {"u1": [one_hot, uniform], "u2": [one_hot[:2], mixed], "z1": [one_hot[:3], uniform]}
    u2t = {"u1": "F02", "u2": "typical", "z1": "F16"}  # z1: a held-out speaker, no adapter of its own
    layers = summarize(per_utt, tasks, u2t)
    l0, l1 = layers
    assert l0["top_adapter"] == "F02" and l0["top_adapter_mean_weight"] == pytest.approx(1.0)
    assert l0["mean_max_weight"] == pytest.approx(1.0) and l0["mean_entropy"] == pytest.approx(0.0)
    assert l0["own_adapter_top_share"] == pytest.approx(4 / 6)  # u1's 4 frames of u1's and u2's 6
    assert l0["utterance_top_adapters"] == {"F02": 3}
    # layer 1: entropy over 6 frames: u1 2 x log 3, u2 its two rows, z1 2 x log 3
    h = lambda p: -sum(x * math.log(x) for x in p)
    ent = (4 * math.log(3) + h([0.7, 0.2, 0.1]) + h([0.1, 0.8, 0.1])) / 6
    assert l1["mean_entropy"] == pytest.approx(ent) and l1["uniform_entropy"] == pytest.approx(math.log(3))
    assert l1["mean_max_weight"] == pytest.approx((4 / 3 + 0.7 + 0.8) / 6)
    # own share: u1's uniform frames count for argmax 0 (typical), not F02; u2 (typical) 1 of 2
    assert l1["own_adapter_top_share"] == pytest.approx(1 / 4)
    md = markdown("run", {"test": layers})
    assert "| test | 0 | F02 (1.000) | 1.000 | 0.000 (1.099) | 66.7 % | F02 3 (1 distinct) |" in md


def test_fusion_weights_rejects_bad_data_naming_the_file_or_utterance(tmp_path):
    from adapters.bin.fusion_weights import weights_on

    d = tmp_path / "set"
    d.mkdir()
    with pytest.raises(DataDirError, match="set/wav.scp not found"):
        weights_on(None, None, d)
    (d / "wav.scp").write_text("")
    with pytest.raises(DataDirError, match="lists no utterances"):
        weights_on(None, None, d)
    (d / "wav.scp").write_text(f"u1 {d / 'gone.wav'}\n")
    with pytest.raises(DataDirError, match="utterance u1: audio file not found"):
        weights_on(None, None, d)
    sf.write(str(d / "slow.wav"), np.zeros(800, dtype="float32"), 8000)
    (d / "wav.scp").write_text(f"u2 {d / 'slow.wav'}\n")
    with pytest.raises(DataDirError, match="utterance u2: .* sample rate 8000 Hz"):
        weights_on(None, None, d)
    sf.write(str(d / "bad.flac"), np.random.default_rng(0).standard_normal(16000).astype("float32") * 0.1, 16000)
    data = (d / "bad.flac").read_bytes()
    half = len(data) // 2  # a good header, then a stretch of the stream zeroed
    (d / "bad.flac").write_bytes(data[:half] + b"\x00" * 50 + data[half + 50:])
    (d / "wav.scp").write_text(f"u3 {d / 'bad.flac'}\n")
    with pytest.raises(DataDirError, match="utterance u3: unreadable audio"):
        weights_on(None, None, d)


# ---------------------------------------------------------------- the tiny recipe run

TINY_UP = ("--frontend_conf path_or_url=exp/upstream/tiny.pt --max_epoch 1 --batch_bins 200000")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    top = tmp_path_factory.mktemp("tree")
    d = copy_recipe(top, "euphonia/asr1")
    # the tiny upstream, where the configs' ../../upstream path points
    (top / "egs" / "upstream").mkdir()
    subprocess.run([sys.executable, "-m", "adapters.bin.make_upstream", "--family", "hubert", "--size", "tiny",
                    "--out", str(d / "exp" / "upstream" / "tiny.pt")], check=True, capture_output=True)
    shutil.copy(d / "exp" / "upstream" / "tiny.pt", top / "egs" / "upstream" / "hubert_pretrained_small.pt")
    return d


def run(recipe, *args, check=True):
    env = dict(os.environ, PYTHON=sys.executable, TORGO="")
    r = subprocess.run(["./run.sh", *args], cwd=recipe, env=env, capture_output=True, text=True, timeout=1200)
    if check and r.returncode != 0:
        raise AssertionError(f"run.sh {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-3000:]}")
    return r


@needs_espeak
@pytest.mark.slow  # five runs (frozen, HRA, extraction, fusion, HRA + a task), each trained and decoded
def test_tiny_multitask_recipe_end_to_end(recipe):
    r = run(recipe, "--local_data_opts", "--synth_impaired 3 --synth_typical 1 --synth_prompts 12 --zeroshot_count 1",
            "--methods", "hra fusion", "--aaf_methods", "", "--nj", "1", "--train_jobs", "2",
            "--asr_args", TINY_UP)
    out = r.stdout + r.stderr
    # speakers in number order (M01 F02 M03): the last held out, the one before added later
    assert "seen tasks: typical,M01; new: F02; zero-shot: M03" in out
    assert "the seen tasks' decodings are identical before and after adding F02" in out
    ext = recipe / "exp" / "asr_ctc_extract" / "adapters"
    assert {p.name for p in ext.glob("*.pt")} == {"adapter.pt", "typical.pt", "M01.pt"}
    # HRA, the run a task was added to, is packed for serving (stage 14)
    assert "the serving pack of hra" in out and (recipe / "exp" / "asr_ctc_hra" / "pack.zip").stat().st_size > 0
    res = json.loads((recipe / "exp" / "multitask" / "multitask.json").read_text())
    rows = {row["label"]: row for row in res["runs"]}
    aaf = "A-AF attention + LayerNorm (no task id)"
    # fusion's extraction adapts the frozen run's model, so that run is trained too
    assert set(rows) == {"frozen + weighted sum", "HRA (task id)", "single-task adapters, task-id routing", aaf,
                         "HRA + new task head"}
    for row in rows.values():
        assert row["mean_wer"] is not None and row["mean_wer"] >= 0
    assert set(rows["HRA (task id)"]["sets"]["test"]) == {"typical", "M01"}
    assert set(rows[aaf]["sets"]["test_zeroshot"]) == {"M03"}
    assert rows["HRA + new task head"]["new_task_wer"] is not None
    hra, added = rows["HRA (task id)"], rows["HRA + new task head"]
    assert added["sets"]["test"] == hra["sets"]["test"]  # the old tasks: unchanged
    # one FFN head (the recipe's base sets them): V1 (H x C) + V2 (d x H), d = 96, C = 256, H = 128
    assert added["stored_adapter_params"] - hra["stored_adapter_params"] == 128 * 256 + 96 * 128
    report = (recipe / "exp" / "multitask" / "RESULTS.md").read_text()
    assert f"| {aaf} |" in report and "## WER per zero-shot (held-out) task" in report
    fw = json.loads((recipe / "exp" / "multitask" / "fusion_weights.json").read_text())
    assert fw["tasks"] == ["typical", "M01"] and set(fw["sets"]) == {"test", "test_zeroshot"}
    for layers in fw["sets"].values():
        assert len(layers) == 2 and all(0 <= r["mean_entropy"] <= r["uniform_entropy"] + 1e-9 for r in layers)
    assert fw["sets"]["test_zeroshot"][0]["own_adapter_top_share"] is None
    # each run's own results.json: per-task WERs and the SUPERB table's view of it
    ext_res = json.loads((recipe / "exp" / "asr_ctc_extract" / "results.json").read_text())
    assert ext_res["task"] == "mt-asr" and ext_res["row"] == "fusion_routing" and ext_res["method"] == "fusion"
    assert set(ext_res["per_task"]["test"]) == {"typical", "M01"} and "mean_over_tasks" in ext_res["test"]

    # extraction trained the adapters alone: the frozen run's downstream came through untouched
    import torch

    base = torch.load(recipe / "exp" / "asr_ctc_frozen" / "valid.loss.ave.pth", map_location="cpu")
    extracted = torch.load(recipe / "exp" / "asr_ctc_extract" / "valid.loss.ave.pth", map_location="cpu")
    downstream = [k for k in base if k.split(".")[0] in ("encoder", "ctc") or k.startswith("frontend.featurizer.")]
    assert len(downstream) > 10 and any(k.startswith("frontend.featurizer.") for k in downstream)
    for k in downstream:
        torch.testing.assert_close(extracted[k], base[k], msg=k)  # up to the ulp of ESPnet's averaging

    # a stage that is complete is skipped; composition needs the extraction files
    r = run(recipe, "--stage", "11", "--stop_stage", "13", "--methods", "hra", "--nj", "1", "--asr_args", TINY_UP)
    assert "ctc_hra: trained" in r.stdout
    shutil.rmtree(recipe / "exp" / "asr_ctc_extract" / "adapters")
    r = run(recipe, "--stage", "15", "--stop_stage", "15", "--methods", "fusion", check=False)
    assert r.returncode != 0 and "stage 15 needs the per-task adapters" in r.stderr
