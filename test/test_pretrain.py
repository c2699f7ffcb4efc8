"""HuBERT iteration-1 pretraining of the offline default upstream: export format,
determinism, resuming, and bad checkpoints."""
import shutil

import pytest
import numpy as np
import torch

from adapters.pretrain.hubert import PretrainConfig, UpstreamCheckpointError, load_checked, pretrain

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

TINY = PretrainConfig(size="tiny", num_clusters=8, kmeans_frames=3000, crop_sec=1.0, batch_size=3,
                      max_steps=6, warmup_steps=2, save_every=3, seed=5)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from adapters.bin.pretrain_upstream import synthesize_corpus

    return synthesize_corpus(tmp_path_factory.mktemp("c"), speakers=4, utts=3, seed=9, nj=1)


def test_export_loads_in_s3prl_and_is_deterministic(corpus, tmp_path):
    from s3prl.nn import S3PRLUpstream

    from adapters.bin.pretrain_upstream import export_half

    r = pretrain(corpus, tmp_path / "a", TINY, log=lambda *_: None)
    assert r["steps"] == 6 and r["clusters"] == 8 and r["hours"] > 0
    assert (tmp_path / "a" / "loss.png").stat().st_size > 1000
    export_half(tmp_path / "a" / "hubert_pretrained.pt", tmp_path / "up.pt")
    up = S3PRLUpstream("hubert_local", path_or_url=str(tmp_path / "up.pt")).eval()
    wav = torch.randn(1, 16000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        hs, _ = up(wav, torch.tensor([16000]))
    assert len(hs) == 3 and hs[-1].shape[::2] == (1, 96) and 48 <= hs[-1].shape[1] <= 50
    # trained weights, not the random initialisation
    trained = load_checked(tmp_path / "a" / "hubert_pretrained.pt")["model_weight"]
    from adapters.pretrain.hubert import build_model

    init = build_model(TINY)[0].state_dict()
    assert any(not torch.equal(trained[k], init[k]) for k in init)
    # same seed, same weights
    pretrain(corpus, tmp_path / "b", TINY, log=lambda *_: None)
    again = load_checked(tmp_path / "b" / "hubert_pretrained.pt")["model_weight"]
    assert all(torch.equal(trained[k], again[k]) for k in trained)


def test_iteration_2_starts_from_iteration_1_with_layer_targets(corpus, tmp_path):
    """HuBERT's second iteration: k-means on a layer of the first model's hidden states
    gives one label per CNN frame, and the new model starts from the first one's weights
    (all but the label embeddings of the new codebook)."""
    from adapters.bin.pretrain_upstream import export_half
    from adapters.pretrain.hubert import build_model, init_from_previous

    pretrain(corpus, tmp_path / "it1", TINY, log=lambda *_: None)
    export_half(tmp_path / "it1" / "hubert_pretrained.pt", tmp_path / "it1.pt")
    it2 = PretrainConfig(**{**TINY.__dict__, "iteration": 2, "init_from": str(tmp_path / "it1.pt"),
                            "target_layer": 1, "num_clusters": 5})
    model = build_model(it2)[0]
    init_from_previous(model, tmp_path / "it1.pt")
    first = load_checked(tmp_path / "it1.pt")["model_weight"]
    for k, v in model.state_dict().items():
        if k.startswith("label_embs"):
            assert v.shape[0] == 5
        else:
            assert torch.equal(v, first[k].float()), k
    msgs = []
    r = pretrain(corpus, tmp_path / "it2", it2, log=msgs.append)
    assert r["clusters"] == 5 and any("layer 1 of" in m for m in msgs)
    z = np.load(tmp_path / "it2" / "labels.npz")
    import soundfile as sf

    for i, path in enumerate(corpus):
        n = sf.info(path).frames
        assert len(z[f"u{i}"]) == (n - 400) // 320 + 1 and z[f"u{i}"].max() < 5
    with pytest.raises(UpstreamCheckpointError, match="needs --init_from"):
        pretrain(corpus, tmp_path / "it2b", PretrainConfig(**{**it2.__dict__, "init_from": ""}), log=lambda *_: None)
    with pytest.raises(UpstreamCheckpointError, match="another architecture"):
        init_from_previous(build_model(PretrainConfig(size="small"))[0], tmp_path / "it1.pt")


def test_resume_after_interruption_gives_the_same_model(corpus, tmp_path):
    full = pretrain(corpus, tmp_path / "full", TINY, log=lambda *_: None)
    assert pretrain(corpus, tmp_path / "cut", TINY, log=lambda *_: None, stop_after=3) is None
    assert load_checked(tmp_path / "cut" / "pretrain_state.pt")["step"] == 3
    msgs = []
    resumed = pretrain(corpus, tmp_path / "cut", TINY, log=msgs.append)
    assert "resuming from step 3" in msgs and resumed["steps"] == 6
    a = load_checked(tmp_path / "full" / "hubert_pretrained.pt")["model_weight"]
    b = load_checked(tmp_path / "cut" / "hubert_pretrained.pt")["model_weight"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    other = PretrainConfig(**{**TINY.__dict__, "lr": 0.5})
    with pytest.raises(UpstreamCheckpointError, match="another configuration"):
        pretrain(corpus, tmp_path / "cut", other, log=lambda *_: None)


def test_corrupt_or_truncated_checkpoints_are_rejected(tmp_path, ckpt_dir):
    good = (ckpt_dir / "hubert.pt").read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(UpstreamCheckpointError, match=r"truncated.pt: corrupt or truncated"):
        load_checked(bad)
    with pytest.raises(UpstreamCheckpointError, match="not found"):
        load_checked(tmp_path / "missing.pt")
    from adapters.espnet.frontend import S3prlAdapterFrontend

    with pytest.raises(ValueError, match=r"cannot load upstream 'hubert_local' from .*truncated.pt: corrupt"):
        S3prlAdapterFrontend(upstream="hubert_local", path_or_url=str(bad))
    with pytest.raises(ValueError, match=r"from .*nothere.pt: file not found"):
        S3prlAdapterFrontend(upstream="hubert_local", path_or_url=str(tmp_path / "nothere.pt"))


def test_probe_heads_learn_what_is_learnable():
    """The probe's heads on features that do / do not carry the label."""
    from adapters.bin.probe_upstream import WeightedSum, probe_kws

    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (200,), generator=g)
    noise = torch.randn(200, 3, 8, generator=g)
    informative = noise.clone()
    informative[:, 2, :4] += 3.0 * torch.nn.functional.one_hot(y, 4)  # only layer 2 knows the class
    acc = 100.0 * np.mean(probe_kws((informative[:150], y[:150]), (informative[150:], y[150:]), 4, seed=0, epochs=60))
    chance = 100.0 * np.mean(probe_kws((noise[:150], y[:150]), (noise[150:], y[150:]), 4, seed=0, epochs=60))
    assert acc > 75.0 and chance < 45.0  # 4 classes: chance is 25 %
    ws = WeightedSum(3)
    assert torch.allclose(ws(informative[:5]), informative[:5].mean(1), atol=1e-6)  # uniform at init

