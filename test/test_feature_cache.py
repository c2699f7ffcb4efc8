"""The frozen-part cache: cut points per method, batch invariance, the same loss from
the cache as on the fly for every method, and the manifest's invalidation."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from adapters import catalogue
from conftest import FAMILIES, perturb

# the cuts the shipped methods declare (a regression check; every method's declaration is
# checked against its attached instance below)
METHOD_CUTS = {
    "frozen": "hidden_states",
    "finetune": "cnn",
    "hra": "encoder",
    "houlsby": "encoder",
    "lora": "encoder",
    "bitfit": "encoder",
    "prefix": "encoder",
    "elp": "encoder",
    "fusion": "encoder",
}


@pytest.mark.parametrize("family", FAMILIES)
def test_frozen_part_matches_s3prl_and_is_batch_invariant(make_up, family):
    from adapters.backbones import Backbone
    from adapters import upstream_cut as uc

    up = make_up(family)
    bb = Backbone(up)
    g = torch.Generator().manual_seed(3)
    lens = torch.tensor([9000, 6100, 3300])
    x = torch.randn(3, 9000, generator=g)
    with torch.no_grad():
        alone = []
        for i, n in enumerate(lens.tolist()):
            hs, _ = up(x[i: i + 1, :n], lens[i: i + 1])
            frames = uc.cnn_frames(bb, n)
            ref = torch.cat([h[0, :frames] for h in hs], -1)
            mine = uc.frozen_part(bb, x[i, :n], "hidden_states")
            assert mine.shape == ref.shape and torch.allclose(mine, ref, atol=1e-6)
            alone.append(mine)
        for cut in uc.CUTS:
            feats, flens = uc.frozen_part_batch(bb, x, lens, cut)
            assert feats.size(-1) == uc.cut_dim(bb, cut)
            hs, hs_len = uc.forward_from(bb, cut, feats, flens)
            for i, ref in enumerate(alone):
                got = torch.cat([h[i, : int(flens[i])] for h in hs], -1)
                assert torch.allclose(got, ref, atol=1e-5), cut


def test_every_method_names_its_cut(make_up):
    import adapters
    from adapters.upstream_cut import CUTS

    for method in catalogue.methods():
        cut = adapters.attach(make_up(), method).cache_cut
        assert cut in CUTS and cut == catalogue.cache_cut(method), method
        assert cut == METHOD_CUTS.get(method, cut), method
    # ELP with only its L-adapters needs no gradient inside the upstream
    only_l = adapters.attach(make_up(), "elp", e_adapter=False, p_adapter=False)
    assert only_l.cache_cut == "hidden_states"
    assert adapters.attach(make_up(), "elp", e_adapter=False).cache_cut == "encoder"


def _asr_model(ckpt_dir, method, vocab=12):
    """A tiny ESPnet CTC model on the s3prl_adapter frontend."""
    from espnet2.asr.ctc import CTC
    from espnet2.asr.encoder.linear_encoder import LinearEncoder

    from adapters.espnet.frontend import S3prlAdapterFrontend
    from adapters.espnet.model import AdapterASRModel

    torch.manual_seed(0)
    fe = S3prlAdapterFrontend(upstream="hubert_local", path_or_url=str(ckpt_dir / "hubert.pt"), method=method)
    perturb(fe.adapted.method, std=0.05)  # away from the identity initialisation
    enc = LinearEncoder(fe.output_size(), output_size=32, input_layer="linear")
    model = AdapterASRModel(
        vocab_size=vocab, token_list=[str(i) for i in range(vocab)], frontend=fe, specaug=None,
        normalize=None, preencoder=None, encoder=enc, postencoder=None, decoder=None,
        ctc=CTC(vocab, 32), joint_network=None, ctc_weight=1.0,
    )
    return model.eval()


@pytest.mark.parametrize("method", catalogue.methods())
def test_loss_from_cache_equals_on_the_fly(ckpt_dir, method):
    """The same batch, as waveforms and as the cached frozen part: the same loss and gradients."""
    model = _asr_model(ckpt_dir, method)
    fe = model.frontend
    g = torch.Generator().manual_seed(5)
    lens = torch.tensor([12000, 9000, 5000])
    x = torch.randn(3, 12000, generator=g)
    text = torch.tensor([[1, 2, 3, 4], [5, 6, 7, -1], [8, 9, -1, -1]])
    tlens = torch.tensor([4, 3, 2])
    feats, flens = fe.adapted.frozen_part(x, lens)
    # what ESPnet reads back from a float32 cache
    losses, grads = [], []
    for speech, slens in ((x, lens), (feats.clone(), flens)):
        model.zero_grad()
        loss, _, _ = model(speech, slens, text, tlens)
        loss.backward()
        losses.append(loss.item())
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert abs(losses[0] - losses[1]) <= 1e-5, losses
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for n in grads[0]:
        assert torch.allclose(grads[0][n], grads[1][n], atol=1e-4, rtol=1e-4), n


def test_cache_rejects_features_of_another_cut(ckpt_dir):
    model = _asr_model(ckpt_dir, "hra")
    with pytest.raises(ValueError, match="another cut or upstream"):
        model.frontend(torch.zeros(2, 30, 7), torch.tensor([30, 20]))


def _data_dir(tmp_path, n=4, rate=16000):
    d = tmp_path / "data"
    (d / "wav").mkdir(parents=True)
    g = np.random.default_rng(0)
    scp, num = [], []
    for i in range(n):
        wav = (g.standard_normal(4000 + 900 * i) * 0.1).astype(np.float32)
        p = d / "wav" / f"u{i}.wav"
        sf.write(p, wav, rate, subtype="PCM_16")
        scp.append(f"u{i} {p}\n")
        num.append(f"u{i} {len(wav)}\n")
    (d / "wav.scp").write_text("".join(scp))
    (d / "utt2num_samples").write_text("".join(num))
    return d


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_build_writes_kaldi_ark_and_reuses_it(tmp_path, ckpt_dir, dtype):
    import kaldiio

    from adapters.backbones import Backbone
    from adapters.feature_cache import build, load_upstream
    from adapters.upstream_cut import frozen_part

    path = str(ckpt_dir / "hubert.pt")
    up = load_upstream("hubert_local", path)
    d = _data_dir(tmp_path)
    out = tmp_path / "cache" / "test"
    man = build(up, "hubert_local", path, "hidden_states", d, out, dtype, log=lambda *a: None)
    assert man["built"] and man["utterances"] == 4 and man["dtype"] == dtype
    feats = kaldiio.load_scp(str(out / "feats.scp"))
    wav, _ = sf.read(d / "wav" / "u2.wav", dtype="float32")
    ref = frozen_part(Backbone(up), torch.from_numpy(wav), "hidden_states").numpy()
    assert feats["u2"].dtype == np.dtype(dtype) and feats["u2"].shape == ref.shape
    tol = 1e-6 if dtype == "float32" else 2e-2
    assert np.allclose(feats["u2"].astype(np.float32), ref, atol=tol, rtol=tol)
    assert json.loads((out / "manifest.json").read_text())["cut"] == "hidden_states"
    # unchanged: kept
    assert not build(up, "hubert_local", path, "hidden_states", d, out, dtype, log=lambda *a: None)["built"]
    # another cut, or a changed audio file (dumped again with its utt2num_samples, as stage 3
    # writes them; the fingerprint reads the data dir's tables, not the audio): rebuilt, with the reason
    said = []
    assert build(up, "hubert_local", path, "encoder", d, out, dtype, log=said.append)["built"]
    assert "cut" in said[0]
    wav2 = np.zeros(5000, dtype=np.float32)
    sf.write(d / "wav" / "u0.wav", wav2, 16000, subtype="PCM_16")
    num = d / "utt2num_samples"
    num.write_text(num.read_text().replace("u0 4000\n", "u0 5000\n"))
    said.clear()
    assert build(up, "hubert_local", path, "encoder", d, out, dtype, log=said.append)["built"]
    assert "data_fingerprint" in said[0]


def test_a_set_copies_what_another_sets_cache_holds_for_the_same_audio(tmp_path, ckpt_dir):
    """IEMOCAP's folds split the same utterances five ways: fold 2's cache copies fold 1's
    matrices instead of recomputing them, equal to the bit to a computation; audio that differs
    (same utterance name, other samples) and a cache of another cut are not copied."""
    import kaldiio

    from adapters.feature_cache import build, load_upstream

    path = str(ckpt_dir / "hubert.pt")
    up = load_upstream("hubert_local", path)
    d = _data_dir(tmp_path, n=4)
    root = tmp_path / "cache" / "tag"
    quiet = lambda *a: None  # noqa: E731
    first = build(up, "hubert_local", path, "encoder", d, root / "fold1" / "train", "float32",
                  log=quiet, reuse_root=root)
    assert first["reused"] == 0
    # fold 2: u0 and u2 as before, u1's samples changed, u4 new
    d2 = tmp_path / "data2"
    (d2 / "wav").mkdir(parents=True)
    g = np.random.default_rng(7)
    for u, n in (("u1", 4900), ("u4", 7000)):
        sf.write(d2 / "wav" / f"{u}.wav", (g.standard_normal(n) * 0.1).astype(np.float32), 16000, subtype="PCM_16")
    old = dict(line.split() for line in (d / "wav.scp").read_text().splitlines())
    scp = {"u0": old["u0"], "u1": str(d2 / "wav/u1.wav"), "u2": old["u2"], "u4": str(d2 / "wav/u4.wav")}
    (d2 / "wav.scp").write_text("".join(f"{u} {w}\n" for u, w in scp.items()))
    (d2 / "utt2num_samples").write_text("".join(f"{u} {sf.info(w).frames}\n" for u, w in scp.items()))
    said = []
    second = build(up, "hubert_local", path, "encoder", d2, root / "fold2" / "train", "float32",
                   log=said.append, reuse_root=root)
    assert second["reused"] == 2 and "(2 copied from another set's cache)" in said[-1]
    fresh = build(up, "hubert_local", path, "encoder", d2, tmp_path / "alone" / "train", "float32", log=quiet)
    got, ref = kaldiio.load_scp(str(root / "fold2/train/feats.scp")), kaldiio.load_scp(str(tmp_path / "alone/train/feats.scp"))
    assert fresh["reused"] == 0 and sorted(got) == sorted(ref) == ["u0", "u1", "u2", "u4"]
    for u in ref:
        assert np.array_equal(got[u], ref[u]), u
    # another cut under the same root: nothing to copy from the encoder caches
    other = build(up, "hubert_local", path, "cnn", d2, root / "fold3" / "train", "float32", log=quiet, reuse_root=root)
    assert other["reused"] == 0
    # a donor whose ark is gone: computed instead, not a failure
    (root / "fold1/train/feats.ark").unlink()
    again = build(up, "hubert_local", path, "encoder", d, root / "fold4" / "train", "float32", log=quiet,
                  reuse_root=root)
    assert again["utterances"] == 4
    assert again["reused"] == 2  # u0 and u2 from fold 2's cache; u1 and u3 computed
    # a donor whose matrix has another shape than the utterance's frames x dim: computed instead
    bad = root / "fold5" / "train"
    bad.mkdir(parents=True)
    (bad / "manifest.json").write_text((root / "fold4/train/manifest.json").read_text())
    (bad / "utt2audio_sha1").write_text((root / "fold4/train/utt2audio_sha1").read_text())
    with kaldiio.WriteHelper(f"ark,scp:{bad / 'feats.ark'},{bad / 'feats.scp'}") as w:
        for u in ("u0", "u1", "u2", "u3"):
            w(u, np.zeros((3, 5), dtype=np.float32))
    for d_ in ("fold2", "fold4"):
        for f in (root / d_ / "train").iterdir():
            f.unlink()
    last = build(up, "hubert_local", path, "encoder", d, root / "fold6" / "train", "float32", log=quiet,
                 reuse_root=root)
    assert last["reused"] == 0


def test_build_names_bad_audio_and_short_disk(tmp_path, ckpt_dir, monkeypatch):
    import shutil

    from adapters.feature_cache import CacheError, build, load_upstream

    path = str(ckpt_dir / "hubert.pt")
    up = load_upstream("hubert_local", path)
    d = _data_dir(tmp_path)
    sf.write(d / "wav" / "u1.wav", np.zeros(8000, dtype=np.float32), 8000)
    with pytest.raises(CacheError, match="utterance u1 .* 8000 Hz"):
        build(up, "hubert_local", path, "encoder", d, tmp_path / "c" / "x", log=lambda *a: None)
    assert not (tmp_path / "c" / "x").exists()  # nothing half-written left as a cache
    Usage = type(shutil.disk_usage("/"))
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10, 10, 100))
    with pytest.raises(CacheError, match="only 100.0 B is free"):
        build(up, "hubert_local", path, "encoder", d, tmp_path / "c" / "y", log=lambda *a: None)


def test_cli_names_the_cut_and_turns_off_for_augmentation(tmp_path, ckpt_dir):
    import yaml

    from adapters.bin.cache_features import main

    d = _data_dir(tmp_path)
    base = {"frontend": "s3prl_adapter",
            "frontend_conf": {"upstream": "hubert_local", "path_or_url": str(ckpt_dir / "hubert.pt"),
                              "method": "hra"}}
    (tmp_path / "hra.yaml").write_text(yaml.safe_dump(base))
    aug = dict(base, speed_perturb_factors=[0.9, 1.0, 1.1])
    (tmp_path / "aug.yaml").write_text(yaml.safe_dump(aug))
    root = tmp_path / "cache"
    main(["--config", str(tmp_path / "hra.yaml"), "--run", "hra", "--config", str(tmp_path / "aug.yaml"),
          "--run", "aug", "--data_root", str(tmp_path), "--sets", "data", "--cache_root", str(root)])
    where = (root / "runs" / "hra").read_text().strip()
    # float32 by default: the frontend gets bit-for-bit what it would compute on the fly
    assert where == str(root / where.split("/")[-1]) and where.endswith("_encoder_float32"), where
    assert (Path(where) / "data" / "feats.scp").is_file()
    assert (root / "runs" / "aug").read_text() == ""
    assert "speed perturbation" in (root / "runs" / "aug.off").read_text()


def test_cut_of_a_method_that_needs_later_files(ckpt_dir):
    """A-AF's composition needs the stage-1 adapter files to attach, but its cut does not
    depend on them; ELP's does, so a failed attach is an error for it."""
    from adapters.bin.cache_features import run_cut

    fc = {"upstream": "hubert_local", "path_or_url": str(ckpt_dir / "hubert.pt")}
    ups = {}
    (key, cut), _ = run_cut({"frontend": "s3prl_adapter",
                             "frontend_conf": dict(fc, method="fusion", method_conf={"mode": "attention"})}, ups)
    assert cut == "encoder"
    with pytest.raises(ValueError, match="cannot attach 'elp'"):
        run_cut({"frontend": "s3prl_adapter",
                 "frontend_conf": dict(fc, method="elp", method_conf={"no_such_option": 1})}, ups)
    assert run_cut({"frontend": "default"}, ups) == (None, "frontend 'default' is not s3prl_adapter")


def test_cached_batches_name_missing_and_corrupt_features(tmp_path, ckpt_dir):
    from adapters.data.batches import cached_batches
    from adapters.data.kaldi import DataDirError
    from adapters.feature_cache import build, load_upstream

    path = str(ckpt_dir / "hubert.pt")
    d = _data_dir(tmp_path)
    out = tmp_path / "cache" / "test"
    build(load_upstream("hubert_local", path), "hubert_local", path, "encoder", d, out, log=lambda *a: None)
    got = [k for keys, x, lens in cached_batches(out, 10_000, "t") for k in keys]
    assert sorted(got) == ["u0", "u1", "u2", "u3"]
    scp = (out / "feats.scp").read_text().splitlines()
    (out / "feats.scp").write_text("\n".join(scp[:-1]) + "\n")
    with pytest.raises(DataDirError, match=r"no features for utterance\(s\) \['u3'\]"):
        list(cached_batches(out, 10_000, "t"))
    (out / "feats.scp").write_text("\n".join(scp) + "\n")
    ark = out / "feats.ark"
    ark.write_bytes(ark.read_bytes()[: ark.stat().st_size // 2])  # the later utterances cut off
    with pytest.raises(DataDirError, match="utterance u[23]: unreadable cached features"):
        list(cached_batches(out, 10_000, "t"))
