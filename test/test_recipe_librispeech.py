"""A tiny end-to-end run of egs/librispeech/asr1 (every stage, CTC and RNN-T,
one epoch on a few hundred synthetic utterances with a tiny upstream), in a
copy of the recipe so the source tree stays clean."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_recipe

ROOT = Path(__file__).resolve().parents[1]
TINY = ("--asr_args", "--max_epoch 1 --batch_bins 400000 --frontend_conf path_or_url=exp/upstream/tiny.pt",
        "--upstream_ckpt", "exp/upstream/tiny.pt", "--upstream_size", "tiny",
        "--lm_args", "--max_epoch 1 --lm_conf unit=32")

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    return copy_recipe(tmp_path_factory.mktemp("tree"), "librispeech/asr1")


def run(recipe, *args, check=True):
    env = dict(os.environ, PYTHON=sys.executable, LIBRISPEECH="")
    r = subprocess.run(["./run.sh", *args], cwd=recipe, env=env, capture_output=True, text=True,
                       timeout=900)
    if check and r.returncode != 0:
        raise AssertionError(f"run.sh {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


@pytest.mark.slow  # three trainings and decodings (CTC, RNN-T, CTC beam search) plus data synthesis
def test_ctc_then_rnnt_end_to_end(recipe):
    r = run(recipe, "--local_data_opts", "--synth_scale 0.1 --lm_text_lines 300", "--methods", "hra", *TINY)
    res = json.loads((recipe / "exp/asr_ctc_hra/results.json").read_text())
    # stages 6-8: the LM trained on the transcripts and 300 sentences of the LM text, and decoded with
    assert len((recipe / "data/local/other_text/text").read_text().splitlines()) == 300
    assert len((recipe / "dump/raw/lm_train.txt").read_text().splitlines()) > 300
    assert float((recipe / "exp/lm_char/perplexity_test_clean/ppl").read_text()) > 1.0
    assert res["decoding"]["lm"] == "exp/lm_char/valid.loss.best.pth"
    assert res["decoding"]["config"] == "conf/decode_ctc_lm.yaml"
    assert "language model exp/lm_char" in (recipe / "exp/asr_ctc_hra/RESULTS.md").read_text()
    assert set(res["test"]) == {"test_clean", "test_other"}
    for s in res["test"].values():
        assert s["utterances"] == 6 and 0.0 <= s["cer"] and s["wer"] >= 0.0
    assert res["method"] == "hra" and res["decoder"] == "ctc"
    assert 0 < res["adapter_params"] < res["trainable_params"] < res["total_params"]
    assert res["train_time_s"] > 0
    assert "|test_clean|6|" in (recipe / "exp/asr_ctc_hra/RESULTS.md").read_text()
    assert "| asr_ctc_hra | hra |" in r.stdout  # the comparison table
    # stage 9 cached the frozen part at HRA's cut (the encoder's input) and the run read it
    cache = (recipe / "exp/asr_ctc_hra/feature_cache").read_text().strip()
    assert cache.endswith("_encoder_float32"), cache
    man = json.loads((recipe / cache / "test_clean" / "manifest.json").read_text())
    assert man["cut"] == "encoder" and man["utterances"] == 6
    assert "frozen part from" in r.stdout

    # RNN-T on the same data: ESPnet's transducer decoder, torchaudio's loss, transducer beam search
    run(recipe, "--stage", "11", "--decoder", "rnnt", "--methods", "elp", *TINY)
    res = json.loads((recipe / "exp/asr_rnnt_elp/results.json").read_text())
    assert res["decoder"] == "transducer" and res["test"]["test_clean"]["utterances"] == 6
    hyp = (recipe / "exp/asr_rnnt_elp/decode_decode_rnnt_lm/test_clean/text").read_text().splitlines()
    assert len(hyp) == 6

    # ESPnet's CTC prefix beam search on the same model
    run(recipe, "--stage", "12", "--methods", "hra", "--inference_config", "conf/decode_ctc_beam.yaml", *TINY)
    beam = json.loads((recipe / "exp/asr_ctc_hra/results.json").read_text())
    assert beam["test"]["test_clean"]["utterances"] == 6
    assert (recipe / "exp/asr_ctc_hra/decode_decode_ctc_beam/test_clean/text").is_file()

    # an LM that is not there: an error naming it, before any decoding
    r = run(recipe, "--stage", "12", "--methods", "hra", "--inference_lm", "nope.pth", *TINY, check=False)
    assert r.returncode != 0 and "exp/lm_char/nope.pth not found: train the language model first" in r.stderr

    # without the LM: best-path decoding, recorded as such
    run(recipe, "--stage", "12", "--methods", "hra", "--use_lm", "false", *TINY)
    greedy = json.loads((recipe / "exp/asr_ctc_hra/results.json").read_text())
    assert greedy["decoding"]["lm"] is None and greedy["decoding"]["ctc_greedy"] is True

    # every stage skips what is complete
    r = run(recipe, "--stage", "3", "--methods", "hra", *TINY)
    assert "ctc_hra: trained" in r.stdout and "test_clean: decoded" in r.stdout
    assert "Stage 7: LM training" in r.stdout and "LM perplexity" in r.stdout


@pytest.mark.slow  # needs the data of test_ctc_then_rnnt_end_to_end (skips without it)
def test_bad_audio_is_named(recipe):
    if not (recipe / "data" / "test_clean" / "wav.scp").is_file():
        pytest.skip("needs the data of test_ctc_then_rnnt_end_to_end")
    wav = (recipe / "data/test_clean/wav.scp").read_text().splitlines()
    utt, path = wav[2].split(maxsplit=1)
    broken = recipe / "broken.flac"
    broken.write_bytes(b"fLaC but not really")
    wav[2] = f"{utt} {broken}"
    (recipe / "data/test_clean/wav.scp").write_text("\n".join(wav) + "\n")
    r = run(recipe, "--stage", "3", "--stop_stage", "3", *TINY, check=False)
    assert r.returncode != 0
    assert f"utterance {utt}: unreadable audio {broken}" in r.stdout + r.stderr


def test_bpe_token_stage(tmp_path_factory):
    """Stage 5 with --token_type bpe: sentencepiece's trainer, then ESPnet's token list from it
    (the real corpus's documented ``--token_type bpe --nbpe 5000``, here on a tiny synthetic one)."""
    recipe = copy_recipe(tmp_path_factory.mktemp("bpe"), "librispeech/asr1")
    r = run(recipe, "--stop_stage", "5", "--local_data_opts", "--synth_scale 0.05 --lm_text_lines 50",
            "--token_type", "bpe", "--nbpe", "40", *TINY)
    tokens = (recipe / "data/token_list/bpe_unigram40/tokens.txt").read_text().split()
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    assert len(tokens) == 40  # 37 pieces (sentencepiece counts its <unk>, <s>, </s> in --nbpe) + ESPnet's 3
    assert (recipe / "data/token_list/bpe_unigram40/bpe.model").is_file()
    assert "nltk" not in r.stdout + r.stderr  # ESPnet's tokenize_text ran without g2p_en's download


def test_options_are_checked(recipe):
    r = run(recipe, "--no_such_option", "1", check=False)
    assert r.returncode != 0 and "unknown option --no_such_option" in r.stderr
    r = run(recipe, "--stage", "11", "--methods", "nonesuch", check=False)
    assert r.returncode != 0 and "no config conf/train_ctc_nonesuch.yaml" in r.stderr
    assert "available: bitfit elp finetune frozen houlsby hra lora prefix" in r.stderr
    r = run(recipe, "--help")
    assert "--stop_stage" in r.stdout and "--methods" in r.stdout
