"""Tiny end-to-end runs of the utterance-level recipes (cls.sh and spk.sh templates):
Speech Commands KS, IEMOCAP ER (two folds averaged), VoxCeleb SID + ASV.  One
epoch on a few synthetic utterances with a tiny upstream, in copies of the
recipes so the source tree stays clean.  They check the plumbing (every stage,
counts, files, resumption, errors), not accuracy: the default runs measure that."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_recipe as copy_recipe_into

ROOT = Path(__file__).resolve().parents[1]
TINY_UP = ("--upstream_ckpt", "exp/upstream/tiny.pt", "--upstream_size", "tiny")
TINY_TRAIN = "--max_epoch 1 --frontend_conf path_or_url=exp/upstream/tiny.pt"

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def copy_recipe(tmp_path_factory, rel):
    return copy_recipe_into(tmp_path_factory.mktemp("tree"), rel)


def run(recipe, *args, check=True, **env):
    env = dict(os.environ, PYTHON=sys.executable, SPEECH_COMMANDS="", IEMOCAP="", VOXCELEB1="", **env)
    r = subprocess.run(["./run.sh", *args], cwd=recipe, env=env, capture_output=True, text=True, timeout=900)
    if check and r.returncode != 0:
        raise AssertionError(f"run.sh {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def lines(p):
    return Path(p).read_text().splitlines()


# the default run's end-to-end recipe test (every stage of cls.sh, one tiny training); the others are slow
def test_speech_commands_ks(tmp_path_factory):
    d = copy_recipe(tmp_path_factory, "speech_commands/ks1")
    r = run(d, "--local_data_opts", "--synth_speakers 12 --synth_aux 1", "--methods", "hra",
            "--cls_args", TINY_TRAIN, *TINY_UP)
    # SUPERB's 12 classes (ten commands, _unknown_, _silence_) then <unk>
    tokens = lines(d / "data/token_list/train/tokens.txt")
    assert len(tokens) == 13 and tokens[-1] == "<unk>" and {"_silence_", "_unknown_", "yes"} <= set(tokens)
    res = json.loads((d / "exp/cls_hra/results.json").read_text())
    test = res["test"]["test"]
    n_test = len(lines(d / "dump/raw/test/wav.scp"))
    assert test["utterances"] == n_test == len(lines(d / "exp/cls_hra/decode/test/prediction"))
    # stage 3 compared the held-out sets' dumped samples with the training set's
    assert f"test: none of its {n_test} utterances has the samples of a training utterance" in r.stdout
    assert 0.0 <= test["accuracy"] <= 100.0 and res["task"] == "ks" and res["method"] == "hra"
    assert 0 < res["adapter_params"] < res["trainable_params"] < res["total_params"]
    assert res["train_time_s"] > 0 and res["peak_mem_mb"] > 100
    # the training curves, drawn once at the end (not after every epoch)
    assert "use_matplotlib: false" in (d / "exp/cls_hra/config.yaml").read_text()
    assert {"loss.png", "acc.png"} <= {p.name for p in (d / "exp/cls_hra/images").iterdir()}
    # the machine it trained on (another processor type rounds differently)
    import torch
    assert res["train_machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert res["train_machine"]["torch"] == torch.__version__
    assert "- trained on: " in (d / "exp/cls_hra/RESULTS.md").read_text()
    scores = lines(d / "exp/cls_hra/decode/test/scores")[0].split()
    assert len(scores) == 1 + 12 and abs(sum(map(float, scores[1:])) - 1.0) < 1e-3
    assert "|test|" in (d / "exp/cls_hra/RESULTS.md").read_text()
    assert "| cls_hra | hra |" in r.stdout
    # trained and classified from the stage-9 cache of HRA's frozen part
    cache = (d / "exp/cls_hra/feature_cache").read_text().strip()
    assert cache.endswith("_encoder_float32") and (d / cache / "test" / "feats.scp").is_file()
    # every stage skips what is complete
    r = run(d, "--stage", "11", "--methods", "hra", "--cls_args", TINY_TRAIN, *TINY_UP)
    assert "hra: trained" in r.stdout and "every test set already classified" in r.stdout
    # a new exp dir started at stage 11 names stage 10's missing files (not ESPnet's traceback)
    r = run(d, "--stage", "11", "--expdir", "exp_other", "--methods", "hra", *TINY_UP, check=False)
    assert r.returncode != 0 and "speech_shape is missing: stage 10 writes it" in r.stderr
    assert "exp_other/cls_stats_" in r.stderr and not (d / "exp_other/cls_hra").exists()
    # an unknown method names the configs there are
    r = run(d, "--stage", "11", "--methods", "nosuch", *TINY_UP, check=False)
    assert r.returncode != 0 and "no config conf/train_nosuch.yaml" in r.stderr and "hra" in r.stderr


@pytest.mark.slow  # two folds: two trainings
def test_iemocap_folds_are_averaged(tmp_path_factory):
    d = copy_recipe(tmp_path_factory, "iemocap/er1")
    r = run(d, "--folds", "1 2", "--methods", "frozen", "--local_data_opts", "--synth_utts_per_actor 3",
            "--cls_args", TINY_TRAIN, *TINY_UP)
    for k in (1, 2):  # the fold's test session never trains
        test_spk = {l.split()[1] for l in lines(d / f"data/fold{k}/test/utt2spk")}
        train_spk = {l.split()[1] for l in lines(d / f"data/fold{k}/train/utt2spk")}
        assert test_spk == {f"Ses0{k}F", f"Ses0{k}M"} and not test_spk & train_spk
    folds = [json.loads((d / f"exp/cls_fold{k}_frozen/results.json").read_text()) for k in (1, 2)]
    agg = json.loads((d / "exp/cls_2fold_frozen/results.json").read_text())
    t = agg["test"]["test"]
    accs = [f["test"]["fold1_test" if i == 0 else "fold2_test"]["accuracy"] for i, f in enumerate(folds)]
    assert t["accuracy"] == pytest.approx(sum(accs) / 2) and set(t["folds"]) == {"cls_fold1_frozen", "cls_fold2_frozen"}
    assert agg["task"] == "er" and "| cls_2fold_frozen | frozen |" in r.stdout
    # a missing fold is an error, not a mean over fewer folds
    from adapters.bin.aggregate_folds import aggregate

    with pytest.raises(SystemExit, match="1 fold result"):
        aggregate([d / "exp/cls_fold1_frozen/results.json"], expected=2)


@pytest.mark.slow  # two trainings (SID, ASV) and embedding extraction
def test_voxceleb_sid_and_asv(tmp_path_factory):
    d = copy_recipe(tmp_path_factory, "voxceleb/spk1")
    small = ("--local_data_opts", "--synth_speakers 8 --synth_test_speakers 3 --dev_trials 20")
    r = run(d, "--methods", "elp", *small,
            "--cls_args", TINY_TRAIN, "--spk_args", TINY_TRAIN, *TINY_UP)
    sid = json.loads((d / "exp/cls_elp/results.json").read_text())
    assert sid["task"] == "sid" and sid["test"]["sid_test"]["utterances"] == len(lines(d / "dump/raw/sid_test/wav.scp"))
    asv = json.loads((d / "exp/spk_elp/results.json").read_text())
    s = asv["test"]["asv_test"]
    trials = lines(d / "dump/raw/asv_test/trials")
    assert asv["task"] == "asv" and s["trials"] == len(trials) and s["targets"] == sum(t[0] == "1" for t in trials)
    assert 0.0 <= s["eer"] <= 100.0 and 0.0 <= s["min_dcf_0.05"] <= 1.0 + 1e-9
    assert len(lines(d / "exp/spk_elp/embed/asv_test/scores")) == len(trials)
    # verification trains on speakers the trial list never uses
    train_spk = {l.split()[1] for l in lines(d / "data/asv_train/utt2spk")}
    test_spk = {l.split()[1] for l in lines(d / "data/asv_test/utt2spk")}
    assert train_spk and test_spk and not train_spk & test_spk
    assert "| spk_elp | elp |" in r.stdout
    # speaker training crops random waveform segments: no cache for it, and the reason said
    assert "random 2.0 s waveform crops" in (d / "dump/cache/runs/spk_elp.off").read_text()
    # a malformed trial list is named with its line
    t = d / "data/asv_test/trials"
    t.write_text(t.read_text() + "2 a b\n")
    r = run(d, "--tasks", "asv", "--stage", "1", "--stop_stage", "1", "--methods", "elp", *small, *TINY_UP,
            check=False)
    assert r.returncode != 0 and f"trials:{len(trials) + 1}" in r.stderr
