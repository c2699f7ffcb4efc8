"""Profiles never break silently: every profile of the benchmark driver passes the plan
check against the real recipes, its data are prepared at the profile's sizes (the
preparation code on the synthetic corpora's plans, with empty or tiny audio files, no
synthesis), and an inconsistent plan is rejected by --dry_run and by a real run, in
seconds, naming the option."""
import json
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from adapters.bin import benchmark, benchmark_plan
from adapters.data.kaldi import read_table

ROOT = Path(__file__).resolve().parents[1]
EGS = ROOT / "egs"
CORPUS_VARS = ("TORGO", "IEMOCAP", "VOXCELEB1", "LIBRISPEECH", "SPEECH_COMMANDS")


@pytest.fixture(autouse=True)
def embedded_corpora(monkeypatch):
    for v in CORPUS_VARS:  # the profiles' data are the synthetic corpora
        monkeypatch.delenv(v, raising=False)


def entries_of(profile, recipe=None):
    es = benchmark.load_profile(profile)[1]
    return [e for e in es if recipe is None or e.recipe == recipe]


@pytest.mark.parametrize("profile", sorted(benchmark.PROFILES))
def test_every_profile_passes_the_plan_check(profile, capsys, tmp_path):
    errors, notes = benchmark_plan.check(entries_of(profile), EGS)
    assert errors == []
    assert any(n.startswith("MT-ASR (euphonia/asr1): ") and "zero-shot" in n for n in notes)
    out = tmp_path / "superb"
    assert benchmark.main(["--profile", profile, "--egs", str(EGS), "--out", str(out), "--dry_run"]) == 0
    printed = capsys.readouterr().out
    assert "# plan checked:" in printed and "seen tasks" in printed
    assert not out.exists()  # a dry run writes nothing


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


@pytest.mark.parametrize("profile", sorted(benchmark.PROFILES))
def test_profile_multitask_data_prepared_with_its_speaker_counts(profile, tmp_path):
    """local/data.sh's split (adapters.data.torgo) on the prompts the synthesis would write."""
    from adapters.data import torgo
    from adapters.synth import torgo as synth

    (e,) = entries_of(profile, "euphonia/asr1")
    o = benchmark_plan.data_options(e, EGS)
    n_imp, n_typ, prompts, vocab = (int(o[k]) for k in ("synth_impaired", "synth_typical", "synth_prompts", "synth_vocab"))
    root = tmp_path / "torgo_synth"
    listing = synth.listing(root, n_imp, n_typ, prompts, vocab=vocab)
    for wav, text in listing:
        _touch(wav)
        (wav.parent.parent / "prompts").mkdir(exist_ok=True)
        (wav.parent.parent / "prompts" / f"{wav.stem}.txt").write_text(text)
    data = tmp_path / "data"
    args = [str(root / "TORGO"), str(data), "--zeroshot_count", o["zeroshot_count"] or "4"]  # as local/data.sh
    args += ["--zeroshot", *o["zeroshot"].split()] if o["zeroshot"] else []
    args += ["--new", *o["new"].split()] if o["new"] else []
    torgo.main(args)
    s = json.loads((data / "torgo_summary.json").read_text())
    assert len(s["zeroshot"]) >= 2 and len(s["tasks"]) >= 2 and "typical" in s["tasks"]
    if profile == "quick":
        assert len(s["tasks"]) >= 3  # several seen tasks
    if "hra" in e.methods:  # stage 16 adds the new task
        assert s["new"]
    for name in ("train", "dev", "test"):
        assert set(read_table(data / name / "utt2task").values()) == set(s["tasks"])
    assert set(read_table(data / "test_zeroshot" / "utt2task").values()) == set(s["zeroshot"])
    # the plan check's split is the preparation's
    seen, zs, new, sets = torgo.plan(torgo.utterances(listing)[0], zeroshot_count=int(o["zeroshot_count"] or 4))
    assert (seen, zs, new) == (s["tasks"], s["zeroshot"], s["new"])
    assert {k: len(v) for k, v in sets.items()} == s["utterances"]


@pytest.mark.parametrize("profile", sorted(benchmark.PROFILES))
def test_profile_iemocap_folds_prepared(profile, tmp_path):
    from adapters.data import iemocap as data
    from adapters.synth import iemocap as synth

    (e,) = entries_of(profile, "iemocap/er1")
    o = benchmark_plan.data_options(e, EGS)
    release = tmp_path / synth.RELEASE
    jobs, dialogs = synth.plan(release, int(o["synth_utts_per_actor"]), 0.1, 0)
    silence = np.zeros(800, dtype="float32")
    for _, args in jobs:
        args[-1].parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(args[-1]), silence, 16000)
    synth.write_annotations(release, dialogs, random.Random("0-annotations"))
    s = data.prepare(release, tmp_path / "data", valid_ratio=float(o["valid_ratio"]))
    folds = benchmark.arg_value(e.args, "--folds", "1 2 3 4 5").split()
    for k in folds:
        assert all(sum(s["folds"][f"fold{k}"][split].values()) > 0 for split in ("train", "dev", "test"))
    assert f"cls_{len(folds)}fold_" in e.results


@pytest.mark.parametrize("profile", sorted(benchmark.PROFILES))
def test_profile_voxceleb_sets_and_trials_prepared(profile, tmp_path):
    from adapters.data import voxceleb as data
    from adapters.synth import voxceleb as synth

    e = entries_of(profile, "voxceleb/spk1")[0]
    o = benchmark_plan.data_options(e, EGS)
    out = tmp_path / "VoxCeleb1"
    jobs, split, trials = synth.plan(tmp_path, int(o["synth_speakers"]), int(o["synth_test_speakers"]),
                                     int(o["synth_videos"]), int(o["synth_utts_per_video"]),
                                     synth.DEFAULTS["trials"])
    for _, args in jobs:
        _touch(args[-1])
    (out / "iden_split.txt").write_text("".join(f"{split[r]} {r}\n" for r in sorted(split)))
    (out / "veri_test2.txt").write_text("".join(f"{y} {a} {b}\n" for y, a, b in trials))
    s = data.prepare(out, tmp_path / "data", dev_trials=int(o["dev_trials"]))
    assert {"sid_train", "sid_dev", "sid_test", "asv_train", "asv_dev", "asv_test"} <= set(s["sets"])
    assert s["sets"]["asv_dev"]["trials"] > 0 and s["sets"]["asv_test"]["trials"] > 0


# ---------------------------------------------------------------- inconsistent plans


def mt(local_data_opts, methods="frozen hra fusion", **kw):
    return {"recipe": "euphonia/asr1", "name": "MT-ASR", "methods": methods,
            "args": ["--local_data_opts", local_data_opts, "--aaf_methods", "", *kw.pop("args", [])], **kw}


BAD = [
    # the issue: 4 synthetic impaired speakers against the recipe's 4 zero-shot ones
    (mt("--synth_impaired 4 --synth_typical 1"),
     "--zeroshot_count 4 (local/data.sh's default) (with --synth_impaired 4): cannot hold out 4 of the 4 impaired"),
    (mt("--synth_impaired 4 --synth_typical 1 --zeroshot_count 3"), "--zeroshot_count 3 (with --synth_impaired 4) "
     "leaves no new-task speaker"),
    (mt("--synth_impaired 5 --synth_typical 0 --zeroshot_count 2"), "--synth_typical 0"),
    (mt("--synth_impaired 5 --zeroshot_cnt 2"), "local/data.sh does not take --zeroshot_cnt (did you mean --zeroshot_count"),
    (mt("--synth_impaired five"), "--synth_impaired 'five': not an integer"),
    (mt("", args=["--aaf_methods", "aaf_nope"]), "--aaf_methods 'aaf_nope': no conf/train_ctc_aaf_nope.yaml"),
    (mt("", args=["--decoder", "rnnt"]), "run.sh does not take --decoder"),
    ({"recipe": "iemocap/er1", "name": "ER", "methods": "frozen", "args": ["--folds", "1 6"],
      "results": "{expdir}/cls_2fold_{method}/results.json"}, "--folds '1 6': folds are IEMOCAP's sessions 1-5"),
    ({"recipe": "iemocap/er1", "name": "ER", "methods": "frozen", "args": ["--folds", "1 2"],
      "results": "{expdir}/cls_1fold_{method}/results.json"}, "--folds '1 2': 2 fold(s), but the entry's results"),
    ({"recipe": "speech_commands/ks1", "name": "KS", "methods": "frozen hra_v2", "args": []},
     "method 'hra_v2': no conf/train_hra_v2.yaml"),
    ({"recipe": "librispeech/asr1", "name": "ASR", "methods": "frozen", "args": ["--decoder", "rnnt", "--asr_arg", "x"]},
     "run.sh does not take --asr_arg (did you mean --asr_args"),
    ({"recipe": "voxceleb/spk1", "name": "SID", "methods": "frozen",
      "args": ["--tasks", "sid", "--local_data_opts", "--synth_speakers 6 --synth_test_speakers 5"]},
     "--dev_trials 100 (with --synth_speakers 6 --synth_test_speakers 5): cannot draw 100 validation trials"),
    ({"recipe": "voxceleb/spk1", "name": "SID", "methods": "frozen",
      "args": ["--tasks", "sid", "--local_data_opts", "--synth_speakers 8 --synth_test_speakers 3 --synth_videos 1"]},
     "--synth_videos 1 --synth_utts_per_video 2: need at least 2 videos"),  # 2: local/data.sh's default
    ({"recipe": "voxceleb/spk1", "name": "SID", "methods": "frozen", "args": ["--tasks", "lid"]},
     "--tasks 'lid': no task 'lid'"),
    ({"recipe": "nosuch/asr1", "name": "X", "methods": "frozen"}, "no recipe"),
]


@pytest.mark.parametrize("bad,message", BAD, ids=[m[:40] for _, m in BAD])
def test_inconsistent_plan_is_rejected_by_dry_run_naming_the_option(bad, message, tmp_path, capsys):
    profile = tmp_path / "bad.json"
    profile.write_text(json.dumps([bad]))
    out = tmp_path / "superb"
    rc = benchmark.main(["--profile_file", str(profile), "--egs", str(EGS), "--out", str(out), "--dry_run"])
    captured = capsys.readouterr()
    assert rc == 2, captured.out
    assert "the plan is inconsistent" in captured.err and message in captured.err, captured.err
    assert "./run.sh" not in captured.out and not out.exists()


def test_the_quick_profile_of_the_issue_is_fixed():
    (e,) = entries_of("quick", "euphonia/asr1")
    o = benchmark_plan.data_options(e, EGS)
    assert int(o["zeroshot_count"]) >= 2 and int(o["synth_impaired"]) - int(o["zeroshot_count"]) >= 3


def test_a_real_run_checks_the_plan_before_anything_runs(tmp_path, capsys):
    """One bad entry stops the whole benchmark before the good entries' data preparation."""
    egs = tmp_path / "egs"
    d = egs / "corpa" / "ks1"
    d.mkdir(parents=True)
    (d / "run.sh").write_text("#!/usr/bin/env bash\necho ran >> calls.txt\n")
    (d / "run.sh").chmod(0o755)
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps([{"recipe": "corpa/ks1", "name": "KS", "methods": "frozen hra"},
                                   {"recipe": "corpa/ks1x", "name": "KSX", "methods": "frozen"},
                                   {"recipe": "corpa/ks1", "name": "KS2", "methods": "frozen no_such_method"}]))
    out = tmp_path / "superb"
    assert benchmark.main(["--profile_file", str(profile), "--egs", str(egs), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "KSX (corpa/ks1x): no recipe" in err and "method 'no_such_method': not a known method" in err
    assert not (d / "calls.txt").exists() and not (out / "state.json").exists()


def test_seeds_pass_seed_through_each_recipes_training_options():
    """--seeds 2 on the recipes' defaults: seed 1 in exp_seed1 with --seed 1 in the option each recipe
    hands to ESPnet's trainer (its own arguments give none); the plan check passes and rejects 0."""
    entries = benchmark.seeded(entries_of("recipes"), 2, EGS)
    seed1 = {e.name: e for e in entries if e.seed == 1}
    assert seed1["ASR-CTC"].seed_options == ["asr_args"] and seed1["KS"].seed_options == ["cls_args"]
    assert seed1["ASV"].seed_options == ["cls_args", "spk_args"] and seed1["MT-ASR"].seed_options == ["asr_args"]
    assert seed1["KS"].args[-4:] == ["--expdir", "exp_seed1", "--cls_args", "--seed 1"]
    errors, _ = benchmark_plan.check([e for e in entries if e.seed <= 1], EGS, seeds=2)
    assert errors == []
    quick = {e.name: e for e in benchmark.seeded(entries_of("quick"), 2, EGS) if e.seed == 1}
    given = benchmark.train_args(benchmark.SIZES["quick"], "ks")
    assert benchmark.arg_value(quick["KS"].args, "--cls_args") == f"{given} --seed 1"
    assert benchmark.arg_value(quick["KS"].args, "--expdir") == "exp_quick_seed1"
    assert benchmark_plan.check_seeds(0) and benchmark_plan.check_seeds(2) == []
