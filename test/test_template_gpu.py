"""Stage 12 on the GPU when asked: with ``--ngpu N > 0`` the templates decode (asr.sh:
``asr_inference --ngpu 1``), classify (cls.sh: ``cls_inference --ngpu 1``) and embed
(spk.sh: ``spk_embed --ngpu 1``) on one GPU; with ``--ngpu 0`` (the default) the commands
are those of before (``asr_inference --ngpu 0``; no ``--ngpu`` for the others).  Each case
runs stage 12 alone in a temporary copy of a recipe, with a stand-in python that records
the inference command instead of running it (no model, no GPU), in a second or two."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_recipe

FAKE_PY = """#!/usr/bin/env bash
# records stage 12's inference commands; anything else is the real python
case "${2:-}" in
  adapters.bin.asr_inference|adapters.bin.cls_inference|adapters.bin.spk_embed)
    echo "$*" >> "$STAGE12_CALLS"
    prev=
    for a in "$@"; do
      if [ "$prev" = --output_dir ]; then mkdir -p "$a/1best_recog"; : > "$a/1best_recog/text"; fi
      prev=$a
    done
    exit 0 ;;
esac
exec %s "$@"
"""

# recipe, run.sh arguments, module, (exp dir, model file), test sets
CASES = {
    "asr": ("librispeech/asr1", [], "adapters.bin.asr_inference", ("asr_ctc_frozen", "valid.loss.ave.pth"),
            ["test_clean", "test_other"]),
    "cls": ("speech_commands/ks1", [], "adapters.bin.cls_inference", ("cls_frozen", "valid.acc.best.pth"), ["test"]),
    "spk": ("voxceleb/spk1", ["--tasks", "asv"], "adapters.bin.spk_embed", ("spk_frozen", "valid.eer.best.pth"),
            ["asv_test"]),
}


def stage12_calls(tmp_path, kind, *extra):
    recipe, args, module, (exp, model), tests = CASES[kind]
    d = copy_recipe(tmp_path, recipe)
    for s in tests:
        (d / "dump" / "raw" / s).mkdir(parents=True)
        (d / "dump" / "raw" / s / "wav.scp").write_text(f"{s}-u1 /nonexistent/{s}-u1.flac\n")
    (d / "exp" / exp).mkdir(parents=True)
    (d / "exp" / exp / model).write_text("a trained model\n")
    if kind == "asr":  # LibriSpeech decodes with its language model (stages 6-7)
        (d / "exp" / "lm_char").mkdir()
        (d / "exp" / "lm_char" / "valid.loss.best.pth").write_text("a trained LM\n")
    py = tmp_path / "python"
    py.write_text(FAKE_PY % sys.executable)
    py.chmod(0o755)
    calls = tmp_path / "calls"
    env = dict(os.environ, PYTHON=str(py), STAGE12_CALLS=str(calls))
    r = subprocess.run(["./run.sh", *args, "--methods", "frozen", "--stage", "12", "--stop_stage", "12", *extra],
                       cwd=d, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = calls.read_text().splitlines()
    assert lines and all(ln.split()[1] == module for ln in lines), lines
    return lines


@pytest.mark.parametrize("kind", sorted(CASES))
def test_stage12_on_the_cpu_by_default(kind, tmp_path):
    for ln in stage12_calls(tmp_path, kind):
        words = ln.split()
        if kind == "asr":  # as before: written in
            assert words.count("--ngpu") == 1 and words[words.index("--ngpu") + 1] == "0", ln
        else:  # as before: no option at all
            assert "--ngpu" not in words, ln


@pytest.mark.parametrize("kind", sorted(CASES))
def test_stage12_on_one_gpu_with_ngpu(kind, tmp_path):
    for ln in stage12_calls(tmp_path, kind, "--ngpu", "2"):  # training's DDP; inference takes one
        words = ln.split()
        assert words.count("--ngpu") == 1 and words[words.index("--ngpu") + 1] == "1", ln


@pytest.mark.parametrize("module", ["cls_inference", "spk_embed"])
def test_inference_scripts_refuse_a_gpu_they_do_not_have(module, monkeypatch):
    import importlib

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    m = importlib.import_module(f"adapters.bin.{module}")
    with pytest.raises(SystemExit, match="--ngpu 1.*torch.cuda is not available"):
        m.main(["--exp", "x", "--test", "t", "d", "--ngpu", "1"])
