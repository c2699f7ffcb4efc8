"""Bad input to the library never becomes silent wrong data (issue 20, classes 6, 11, 12).

6. adapter files under another configuration: an error listing the differing options
   (training-only options aside); the backbone's weights hashed in the manifest, a
   warning when the same shape carries other weights; older files still load.
11. the public API validates its inputs: batch lengths, manifests with empty fields,
   argument types, all with messages instead of tracebacks.
12. results.json records its data and upstream (``provenance``); the SUPERB collector
   refuses to put runs on different data in one column unless ``--allow_mixed_data``.
"""
import contextlib
import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import adapters
from adapters.checkpoint import (BackboneWeightsWarning, CheckpointError, backbone_sha256, load_state_into,
                                 read_manifest)
from conftest import perturb


def _frontend(ckpt_dir, method, **kw):
    from adapters.espnet.frontend import S3prlAdapterFrontend

    torch.manual_seed(0)
    return S3prlAdapterFrontend(upstream="hubert_local", path_or_url=str(ckpt_dir / "hubert.pt"),
                                method=method, **kw).eval()


def _rewrite(path, out, **manifest):
    """A copy of an adapter file with manifest fields replaced (``None`` values kept; ``...`` drops)."""
    obj = torch.load(path, weights_only=True)
    for k, v in manifest.items():
        if v is ...:
            obj["manifest"].pop(k, None)
        else:
            obj["manifest"][k] = v
    torch.save(obj, out)
    return out


# ---------------------------------------------------------------- 6: configuration and backbone


def test_lora_saved_with_alpha_8_is_refused_under_alpha_64(ckpt_dir, make_up, wavs, tmp_path):
    a = adapters.attach(make_up(), "lora", alpha=8.0)
    perturb(a.method, std=0.2)
    path = adapters.save_adapter(a, tmp_path / "lora.pt")
    assert read_manifest(path)["config"]["alpha"] == 8.0
    with pytest.raises(CheckpointError, match=r"adapter_init: .*lora.pt: this lora adapter was saved with another "
                                              r"configuration \(alpha: checkpoint has 8.0, configured 64.0\)"):
        _frontend(ckpt_dir, "lora", method_conf={"alpha": 64.0}, adapter_init=str(path))
    # every differing option is listed
    b = adapters.attach(make_up(), "lora", alpha=64.0, targets=["q", "k"])
    with pytest.raises(CheckpointError, match=r"alpha: checkpoint has 8.0, configured 64.0; "
                                              r"targets: checkpoint has \['q', 'v'\], configured \['q', 'k'\]"):
        load_state_into(b, path)
    # the same configuration loads, and gives the saved adapter's outputs
    fe = _frontend(ckpt_dir, "lora", method_conf={"alpha": 8.0}, adapter_init=str(path))
    with torch.no_grad():
        ref, _ = a(*wavs)
        got, _ = fe.adapted(*wavs)
    assert all(torch.equal(x, y) for x, y in zip(ref, got))


def test_training_only_options_may_differ_and_old_manifests_take_defaults(make_up, tmp_path):
    p = adapters.save_adapter(adapters.attach(make_up(), "prefix", init_std=0.5), tmp_path / "prefix.pt")
    load_state_into(adapters.attach(make_up(), "prefix"), p)  # init_std only initialises
    with pytest.raises(CheckpointError, match="length: checkpoint has 16, configured 4"):
        load_state_into(adapters.attach(make_up(), "prefix", length=4), p)
    # a file written before an option existed: the option's default is what it was trained with;
    # before the backbone hash was recorded: no warning
    h = adapters.save_adapter(adapters.attach(make_up(), "hra"), tmp_path / "hra.pt")
    old = tmp_path / "old.pt"
    obj = torch.load(h, weights_only=True)
    del obj["manifest"]["config"]["layers"], obj["manifest"]["backbone_sha256"]
    torch.save(obj, old)
    up = make_up()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        adapters.load_adapter(up, old)
    assert not [w for w in got if issubclass(w.category, BackboneWeightsWarning)]
    with pytest.raises(CheckpointError, match="layers: checkpoint has None, configured \\[0\\]"):
        load_state_into(adapters.attach(make_up(), "hra", layers=[0]), old)
    # an option this version does not know is a difference too
    obj["manifest"]["config"]["gain"] = 2.0
    torch.save(obj, old)
    with pytest.raises(CheckpointError, match=r"gain: checkpoint has 2.0, configured \(no such option\)"):
        load_state_into(adapters.attach(make_up(), "hra"), old)


def test_backbone_hash_warns_on_same_shape_with_other_weights(make_up, tmp_path):
    from adapters.upstreams import make_upstream
    from s3prl.nn import S3PRLUpstream

    a = adapters.attach(make_up(), "houlsby")
    path = adapters.save_adapter(a, tmp_path / "h.pt")
    assert read_manifest(path)["backbone_sha256"] == backbone_sha256(a)
    up = make_up()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        adapters.load_adapter(up, path)  # the same weights: silent
    assert not [w for w in got if issubclass(w.category, BackboneWeightsWarning)]
    make_upstream("hubert", "tiny", tmp_path / "other.pt", seed=1)
    other = S3PRLUpstream("hubert_local", path_or_url=str(tmp_path / "other.pt")).eval()
    with pytest.warns(BackboneWeightsWarning, match="same shape|this shape but with other weights"):
        adapters.load_adapter(other, path)


def test_backbone_hash_covers_only_the_frozen_backbone(make_up):
    frozen = backbone_sha256(adapters.attach(make_up(), "frozen"))
    lora = adapters.attach(make_up(), "lora")  # parametrized weights: the same names and values
    perturb(lora.method, std=0.3)
    assert backbone_sha256(lora) == frozen
    bitfit = adapters.attach(make_up(), "bitfit")  # the biases it trains are not the backbone's identity
    with torch.no_grad():
        for p in bitfit.trainable_parameters():
            p.add_(1.0)
    assert backbone_sha256(bitfit) == backbone_sha256(adapters.attach(make_up(), "bitfit"))
    changed = make_up()
    with torch.no_grad():
        next(changed.parameters()).add_(1e-3)
    assert backbone_sha256(adapters.attach(changed, "frozen")) != frozen


def test_fusion_checks_each_composed_adapter_against_the_backbone_weights(make_up, tmp_path, monkeypatch):
    """A-AF's adapter_paths get the single-file check: a warning naming each file trained on
    a backbone of this shape with other weights; files without the hash are not checked; the
    backbone is hashed once for all the files."""
    from s3prl.nn import S3PRLUpstream

    import adapters.adapter_file as adapter_file
    from adapters.upstreams import make_upstream

    paths = []
    for i, t in enumerate(("x", "y")):
        s = adapters.attach(make_up(), "fusion", tasks=[t])
        perturb(s.method, seed=i)
        paths.append(str(adapters.save_adapter(s, tmp_path / f"{t}.pt")))
    old = str(_rewrite(paths[1], tmp_path / "old.pt", backbone_sha256=...))  # written before the hash

    def weights_warnings(upstream, files, mode="avg"):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            adapters.attach(upstream, "fusion", mode=mode, adapter_paths=files)
        return [str(w.message) for w in got if issubclass(w.category, BackboneWeightsWarning)]

    hashed = []
    real = adapter_file.frozen_backbone_sha256
    monkeypatch.setattr(adapter_file, "frozen_backbone_sha256", lambda *a: hashed.append(1) or real(*a))
    assert weights_warnings(make_up(), paths, "attention") == []  # the weights they were trained on
    assert len(hashed) == 1
    make_upstream("hubert", "tiny", tmp_path / "other.pt", seed=1)
    other = lambda: S3PRLUpstream("hubert_local", path_or_url=str(tmp_path / "other.pt")).eval()  # noqa: E731
    got = weights_warnings(other(), paths)
    assert len(got) == 2 and len(hashed) == 2
    for p, msg in zip(paths, got):
        assert msg.startswith(f"{p}: the adapter was trained on a backbone of this shape but with other weights")
    assert weights_warnings(other(), [paths[0], old], "single") == [got[0]]
    hashed.clear()
    assert weights_warnings(other(), [old]) == [] and hashed == []  # nothing to check: not hashed
    # the same semantics as a single file's load: a warnings filter makes it an error
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackboneWeightsWarning)
        with pytest.raises(BackboneWeightsWarning, match=re.escape(paths[0])):
            adapters.attach(other(), "fusion", mode="avg", adapter_paths=paths)
        with pytest.raises(BackboneWeightsWarning, match=re.escape(paths[0])):
            adapters.load_adapter(other(), paths[0])


# ---------------------------------------------------------------- 11: inputs


def test_batch_lengths_are_checked_with_a_message(make_up, wavs):
    a = adapters.attach(make_up(), "lora")
    wav, _ = wavs  # (3, 8000)
    cases = [
        (torch.tensor([16000, 8000, 8000]), r"wavs_len\[0\] = 16000 samples is longer than the batch, padded to 8000"),
        (torch.tensor([8000, 8000]), r"one length per utterance, shape \(3,\); got shape \(2,\)"),
        (torch.tensor([8000.0, 8000.0, 8000.0]), "integer lengths"),
        (torch.tensor([8000, 0, 8000]), r"wavs_len\[1\] = 0 samples: fewer than the upstream's receptive field"),
    ]
    for lens, msg in cases:
        with pytest.raises(ValueError, match=msg):
            a(wav, lens)
        with pytest.raises(ValueError, match=msg):
            a.frozen_part(wav, lens)
    with pytest.raises(ValueError, match=r"padded batch \(batch, samples\), got shape \(3, 8000, 1\)"):
        a(wav[..., None], torch.tensor([8000] * 3))
    with pytest.raises(TypeError, match="wavs must be a tensor"):
        a(wav.tolist(), torch.tensor([8000] * 3))
    feats, lens = a.frozen_part(wav, torch.tensor([8000, 6400, 4800]))
    with pytest.raises(ValueError, match=r"lengths\[0\] = .* frames is longer than the batch"):
        a.forward_from(feats, lens + feats.size(1))
    hs, _ = a(wav, [8000, 6400, 4800])  # a list of lengths is fine
    assert hs[-1].shape[0] == 3


@pytest.mark.parametrize("field, value, msg", [
    ("config", None, "manifest field 'config' is None, not a mapping"),
    ("backbone", {}, r"manifest field 'backbone' lacks or has empty \['family'"),
    ("backbone", None, "manifest field 'backbone' is None"),
    ("tasks", [], r"manifest field 'tasks' is \[\], not a non-empty list"),
    ("tasks", None, "manifest field 'tasks' is None"),
    ("method", "", "manifest field 'method' is '', not a method name"),
    ("backbone_sha256", "", "manifest field 'backbone_sha256' is '', not a SHA-256"),
    ("tasks", ..., r"manifest lacks \['tasks'\]"),
])
def test_manifest_with_an_empty_field_names_it(make_up, tmp_path, field, value, msg):
    good = adapters.save_adapter(adapters.attach(make_up(), "hra"), tmp_path / "good.pt")
    bad = _rewrite(good, tmp_path / "bad.pt", **{field: value})
    with pytest.raises(CheckpointError, match=f"bad.pt: .*{msg}"):
        adapters.load_adapter(make_up(), bad)
    with pytest.raises(CheckpointError, match=msg):
        load_state_into(adapters.attach(make_up(), "hra"), bad)


def test_public_api_arguments_are_checked(ckpt_dir, make_up, tmp_path):
    up = make_up()
    with pytest.raises(ValueError, match=r"the string 'ab' \(one task: tasks=\['ab'\]\)"):
        adapters.attach(up, "hra", tasks="ab")
    with pytest.raises(ValueError, match="tasks is empty"):
        adapters.attach(up, "hra", tasks=[])
    with pytest.raises(TypeError, match="method must be a method name"):
        adapters.attach(up, 3)
    with pytest.raises(TypeError, match="attach takes an s3prl upstream"):
        adapters.attach("hubert", "hra")
    a = adapters.attach(up, "hra", tasks=["a", "b"])
    with pytest.raises(TypeError, match="save_adapter takes an adapted upstream"):
        adapters.save_adapter(make_up(), tmp_path / "x.pt")
    for tasks, msg in (("a", "list of task names, got 'a'"), ([], "tasks is empty"), (["a", "a"], "twice")):
        with pytest.raises(ValueError, match=msg):
            adapters.save_adapter(a, tmp_path / "x.pt", tasks=tasks)
    path = adapters.save_adapter(a, tmp_path / "a.pt")
    with pytest.raises(ValueError, match="already carries the 'hra' adapter"):
        adapters.load_adapter(a, path)
    with pytest.raises(ValueError, match="layer 7 is out of range: hubert_local reports 3 hidden states"):
        _frontend(ckpt_dir, "frozen", features="layer", layer=7)


def test_unreadable_cache_manifest_is_a_stale_reason(tmp_path):
    from adapters.feature_cache import stale_reason

    out = tmp_path / "cache"
    out.mkdir()
    for text, why in (("", "manifest.json unreadable"), ("null", "holds NoneType, not a manifest")):
        (out / "manifest.json").write_text(text)
        assert why in stale_reason(out, {"cut": "encoder"})


# ---------------------------------------------------------------- 12: provenance


def _data_dir(d: Path, n=3, text="A B"):
    d.mkdir(parents=True, exist_ok=True)
    (d / "wav").mkdir(exist_ok=True)
    lines = []
    for i in range(n):
        p = d / "wav" / f"u{i}.wav"
        sf.write(p, np.zeros(1600 + 160 * i, dtype=np.float32), 16000, subtype="PCM_16")
        lines.append(f"u{i} {p}\n")
    (d / "wav.scp").write_text("".join(lines))
    (d / "text").write_text("".join(f"u{i} {text}\n" for i in range(n)))
    return d


def _scored_run(tmp_path, monkeypatch, name="exp_run", text="A B", upstream=None):
    from adapters.bin import score_asr

    root = tmp_path / name
    train, test = _data_dir(root / "train"), _data_dir(root / "test", text=text)
    exp = root / "exp"
    exp.mkdir()
    (exp / "config.yaml").write_text(
        f"train_data_path_and_name_and_type:\n- - {train}/wav.scp\n  - speech\n  - sound\n"
        f"- - {train}/text\n  - text\n  - text\n")

    def new_results(exp, task, espnet_task_name, metric):
        return {"exp": str(exp), "task": task, "metric": metric, "created": "2026-12-01 00:00:00",
                "method": "hra", "method_conf": {}, "upstream": "hubert_local", "upstream_path": upstream,
                "decoder": "ctc", "encoder": "transformer", "test": {}}

    monkeypatch.setattr(score_asr, "new_results", new_results)
    (exp / "hyp").write_text("".join(f"u{i} A B\n" for i in range(3)))
    return score_asr.write_results(exp, [("test", test, exp / "hyp")]), root


def test_results_record_data_fingerprints_and_the_upstream_hash(tmp_path, monkeypatch, ckpt_dir):
    from adapters.feature_cache import data_fingerprint, file_sha256
    from adapters.results import data_ids

    up = str(ckpt_dir / "hubert.pt")
    r, root = _scored_run(tmp_path, monkeypatch, upstream=up)
    prov = json.loads((root / "exp" / "results.json").read_text())["provenance"]
    assert prov == r["provenance"]
    assert prov["upstream"] == {"name": "hubert_local", "path": up, "sha256": file_sha256(up)}
    assert prov["test"]["test"]["data"] == data_fingerprint(root / "test")
    assert prov["test"]["test"]["files"] == {"text": file_sha256(root / "test" / "text")}
    assert prov["train"]["data"] == data_fingerprint(root / "train") and "text" in prov["train"]["files"]
    ids = data_ids(r, "test")
    assert ids["train"] and ids["test"] and ids["valid"] is None
    assert "- provenance: upstream sha256 " + file_sha256(up)[:12] in (root / "exp" / "RESULTS.md").read_text()
    # another transcript of the same audio: another test id, the same training id
    r2, _ = _scored_run(tmp_path, monkeypatch, name="other", text="A C")
    assert data_ids(r2, "test")["test"] != ids["test"]
    # a missing data dir is said, with no id
    from adapters.results import set_record

    rec = set_record(tmp_path / "gone", [tmp_path / "gone" / "text"])
    assert rec["id"] is None and any("no wav.scp" in e for e in rec["errors"])


def test_training_on_a_feature_cache_records_its_source_fingerprint(tmp_path):
    from adapters.results import training_sets

    cache = tmp_path / "cache" / "hubert" / "train"
    cache.mkdir(parents=True)
    (cache / "feats.scp").write_text("u0 feats.ark:1\n")
    (cache / "manifest.json").write_text(json.dumps({"data_dir": "dump/raw/train", "data_fingerprint": "f" * 64}))
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "config.yaml").write_text(f"train_data_path_and_name_and_type:\n- - {cache}/feats.scp\n"
                                     "  - speech\n  - kaldi_ark\n")
    rec = training_sets(exp)["train"]
    assert rec["data"] == "f" * 64 and rec["source_dir"] == "dump/raw/train" and rec["id"]


def _egs_run(egs, recipe, run, method, test_id, train_id="t1", prov=True, **extra):
    d = egs / recipe / "exp" / run
    d.mkdir(parents=True)
    r = {"exp": str(d), "task": "ks", "method": method, "created": "2026-12-01 00:00:00",
         "upstream": "hubert_local", "upstream_path": "up.pt", "test": {"test": {"accuracy": 90.0}}, **extra}
    if prov:
        r["provenance"] = {"version": 1, "upstream": {"name": "hubert_local", "path": "up.pt", "sha256": "ab" * 32},
                           "train": {"id": train_id}, "test": {"test": {"id": test_id}}}
    (d / "results.json").write_text(json.dumps(r))


def _collect(egs, *args):
    from adapters.bin import superb

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        superb.main(["--egs", str(egs), "--out", str(egs.parent / "superb"), "--methods", "frozen hra elp", *args])
    return (egs.parent / "superb" / "superb.md").read_text(), printed.getvalue()


def test_collector_refuses_runs_on_different_data_in_one_column(tmp_path):
    egs = tmp_path / "egs"
    _egs_run(egs, "speech_commands/ks1", "cls_frozen", "frozen", "aaaa")
    _egs_run(egs, "speech_commands/ks1", "cls_hra", "hra", "bbbb")
    with pytest.raises(SystemExit, match=r"(?s)different data.*KS acc: the runs differ in their test data: "
                                         r"aaaa \(frozen .*cls_frozen.*\); bbbb \(hra .*cls_hra"):
        _collect(egs)
    md, _ = _collect(egs, "--allow_mixed_data")
    assert "mixed data (--allow_mixed_data): KS acc: the runs differ in their test data" in md
    assert "sha256 abababababab" in md


def test_collector_training_data_and_rows_of_their_own(tmp_path):
    egs = tmp_path / "egs"
    _egs_run(egs, "speech_commands/ks1", "cls_frozen", "frozen", "aaaa", train_id="t1")
    _egs_run(egs, "speech_commands/ks1", "cls_hra", "hra", "aaaa", train_id="t2")
    with pytest.raises(SystemExit, match="differ in their train data"):
        _collect(egs)
    # a variant its recipe filed under a row of its own may train on other data: a note
    egs2 = tmp_path / "egs2"
    _egs_run(egs2, "speech_commands/ks1", "cls_frozen", "frozen", "aaaa", train_id="t1")
    _egs_run(egs2, "speech_commands/ks1", "cls_hra", "hra", "aaaa", train_id="t2", row="elp")
    md, _ = _collect(egs2)
    assert "runs filed under a row of their own: KS acc: the runs differ in their train data" in md


def test_collector_warns_on_results_without_provenance(tmp_path):
    egs = tmp_path / "egs"
    _egs_run(egs, "speech_commands/ks1", "cls_frozen", "frozen", "aaaa")
    _egs_run(egs, "speech_commands/ks1", "cls_hra", "hra", None, prov=False)
    md, printed = _collect(egs)
    assert "warning: the data of 1 result(s) could not be checked" in printed and "cls_hra" in printed
    assert "no provenance recorded" in md
    assert re.search(r"\| hra \| \**90\.0", md)


def test_fold_average_sums_up_the_folds_provenance(tmp_path):
    from adapters.bin import aggregate_folds

    paths = []
    for k in (1, 2):
        d = tmp_path / f"cls_fold{k}_hra"
        d.mkdir()
        res = {"exp": str(d), "task": "er", "method": "hra",
               "test": {f"fold{k}_test": {"accuracy": 50.0, "utterances": 4, "majority_accuracy": 25.0}},
               "provenance": {"version": 1, "upstream": {"sha256": "ab" * 32}, "train": {"id": f"tr{k}"},
                              "test": {f"fold{k}_test": {"id": f"te{k}"}}}}
        (d / "results.json").write_text(json.dumps(res))
        paths.append(d / "results.json")
    out, _ = aggregate_folds.aggregate_with_items(paths)
    prov = out["provenance"]
    assert prov["test"]["test"]["parts"] == {"cls_fold1_hra": "te1", "cls_fold2_hra": "te2"}
    assert prov["test"]["test"]["id"] and prov["train"]["id"] and prov["valid"]["id"] is None
    again, _ = aggregate_folds.aggregate_with_items(paths[::-1])
    assert again["provenance"]["test"]["test"]["id"] == prov["test"]["test"]["id"]  # order does not matter
    # another method on the same folds: exp dirs named after it, the same data ids (make demo-quick
    # refused its ER column when the ids were digested with the exp dir names)
    other = []
    for k, p in zip((1, 2), paths):
        d = tmp_path / f"cls_fold{k}_elp"
        d.mkdir()
        res = json.loads(p.read_text())
        res.update(exp=str(d), method="elp")
        (d / "results.json").write_text(json.dumps(res))
        other.append(d / "results.json")
    elp, _ = aggregate_folds.aggregate_with_items(other)
    for part in ("train", "test"):
        got = elp["provenance"][part] if part == "train" else elp["provenance"]["test"]["test"]
        want = prov[part] if part == "train" else prov["test"]["test"]
        assert got["id"] == want["id"], part
    res = json.loads(paths[1].read_text())
    res["provenance"]["upstream"]["sha256"] = "cd" * 32
    paths[1].write_text(json.dumps(res))
    with pytest.raises(SystemExit, match="folds on different upstream weights"):
        aggregate_folds.aggregate_with_items(paths)

