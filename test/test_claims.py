"""The papers' claims checker: verdicts from paired intervals, orientation of the
metric, missing runs and bad specs."""
import json

import numpy as np
import pytest
import yaml

from adapters.bin.claims import ClaimSpecError, check, load_spec, main, verdict


def _run(exp, name, errors, words=10, adapter_params=1000, key="test"):
    d = exp / name
    d.mkdir(parents=True)
    ids = [f"u{i:03d}" for i in range(len(errors))]
    (d / "results.json").write_text(json.dumps({"method": name, "adapter_params": adapter_params,
                                                "per_item": "per_item.json"}))
    (d / "per_item.json").write_text(json.dumps(
        {key: {"ids": ids, "word_errors": list(map(int, errors)), "words": [words] * len(errors)}}))


def _spec(tmp_path, claims, margin=2.0):
    p = tmp_path / "claims.yaml"
    p.write_text(yaml.safe_dump({"margin": margin, "claims": claims}))
    return load_spec(p)


def test_verdicts_follow_the_interval_and_the_margin():
    assert verdict("close", "wer", [-3.0, -1.0], 2.0).startswith("holds (A significantly better")
    assert verdict("close", "wer", [-1.0, 1.5], 2.0).startswith("holds (A at most 2 points worse")
    assert verdict("close", "wer", [2.5, 6.0], 2.0).startswith("does not hold")
    assert verdict("close", "wer", [-1.0, 5.0], 2.0).startswith("inconclusive")
    # accuracy: higher is better, so a positive A - B is A better
    assert verdict("close", "accuracy", [1.0, 3.0], 2.0).startswith("holds (A significantly better")
    assert verdict("close", "accuracy", [-9.0, -4.0], 2.0).startswith("does not hold")
    assert verdict("better", "wer", [-1.0, 1.0], 2.0) == "does not hold (no significant difference)"
    assert verdict("better", "eer", [-4.0, -1.0], 2.0).startswith("holds")
    assert verdict("close", "wer", None, 2.0).startswith("inconclusive")


def test_claims_on_runs(tmp_path):
    rng = np.random.default_rng(0)
    exp = tmp_path / "exp"
    base = rng.integers(2, 6, size=400)  # about 40 % WER over 400 utterances of 10 words
    _run(exp, "asr_b", base, adapter_params=4000)
    _run(exp, "asr_same", np.clip(base + rng.integers(-1, 2, size=400), 0, 10), adapter_params=1000)
    _run(exp, "asr_worse", np.clip(base + 2, 0, 10))
    _run(exp, "asr_few_b", base[:6])
    _run(exp, "asr_few_a", np.clip(base[:6] + rng.integers(-3, 4, size=6), 0, 10))
    spec = _spec(tmp_path, [
        {"name": "same", "a": "asr_same", "b": "asr_b", "test": "test", "metric": "wer", "params": "adapter_params"},
        {"name": "worse", "a": "asr_worse", "b": "asr_b", "test": "test", "metric": "wer"},
        {"name": "few", "a": "asr_few_a", "b": "asr_few_b", "test": "test", "metric": "wer"},
        {"name": "missing", "a": "asr_none", "b": "asr_b", "test": "test", "metric": "wer"},
        {"name": "no items", "a": "asr_same", "b": "asr_b", "test": "test_other", "metric": "wer"},
    ])
    rows = {r["name"]: r for r in check(spec, exp)}
    assert rows["same"]["verdict"].startswith("holds") and rows["same"]["params_ratio"] == 0.25
    lo, hi = rows["same"]["ci"]
    assert lo < rows["same"]["diff"] < hi and hi - lo < 4
    assert rows["worse"]["verdict"].startswith("does not hold") and rows["worse"]["diff"] > 15
    assert rows["few"]["verdict"].startswith("inconclusive")
    assert rows["missing"]["verdict"] == "not run (asr_none: no results.json)"
    assert rows["no items"]["verdict"].startswith("no per-item outcomes for test_other")
    out = tmp_path / "claims.md"
    main(["--spec", str(tmp_path / "claims.yaml"), "--exp", str(exp), "--out", str(out)])
    text = out.read_text()
    assert "| same | asr_same | asr_b | test WER |" in text and "(0.25x)" in text
    assert json.loads(out.with_suffix(".json").read_text())[0]["name"] == "same"


def test_bad_specs_are_errors_naming_the_claim(tmp_path):
    with pytest.raises(ClaimSpecError, match="non-empty list `claims`"):
        _spec(tmp_path, [])
    with pytest.raises(ClaimSpecError, match="claim 1 lacks b"):
        _spec(tmp_path, [{"name": "x", "a": "r", "test": "test", "metric": "wer"}])
    with pytest.raises(ClaimSpecError, match=r"claim 1 \(x\): metric 'bleu'"):
        _spec(tmp_path, [{"name": "x", "a": "r", "b": "s", "test": "test", "metric": "bleu"}])
    with pytest.raises(ClaimSpecError, match=r"kind 'similar'"):
        _spec(tmp_path, [{"name": "x", "a": "r", "b": "s", "test": "t", "metric": "wer", "kind": "similar"}])
