"""The Large upstreams (``make_upstream --size large``): the published configurations,
counted on the meta device (no 1.2 GB file is written), and the Large architecture's style
(pre-LayerNorm, the CNN's layer_norm mode, normalised waveforms) at tiny width, loaded
through s3prl and trained through every method."""
import pytest
import torch

import adapters
from adapters import catalogue, upstreams
from adapters.bin import bench_methods, make_upstream
from conftest import FAMILIES

# the released models' parameter counts (the checkpoints' whole state, the pretraining heads
# included): wav2vec2 Large LV-60 317 M, HuBERT Large 316 M, WavLM Large 315 M
PUBLISHED = {"wav2vec2": 316_619_904, "hubert": 316_299_136, "wavlm": 315_453_120}


def test_large_is_the_published_configuration():
    s = upstreams.SIZES["large"]
    assert (s["encoder_layers"], s["encoder_embed_dim"], s["encoder_ffn_embed_dim"],
            s["encoder_attention_heads"]) == (24, 1024, 4096, 16)
    assert s["extractor_mode"] == "layer_norm" and s["layer_norm_first"] and s["normalize"]


@pytest.mark.parametrize("family", FAMILIES)
def test_large_parameter_count(family):
    n = upstreams.num_parameters(family, "large")
    assert n == PUBLISHED[family]
    assert 310e6 < n < 320e6  # "about 316 M"


@pytest.mark.parametrize("family", FAMILIES)
def test_counting_on_meta_agrees_with_a_built_checkpoint(family):
    state = upstreams.build_state(family, "small")
    weights = state["model" if family == "wavlm" else "model_weight"]
    assert upstreams.num_parameters(family, "small") == sum(v.numel() for v in weights.values())


def test_the_command_lines_take_large():
    for parse in (make_upstream.main, bench_methods.main):
        with pytest.raises(SystemExit) as e:
            parse(["--help"])
        assert e.value.code == 0
    assert "large" in upstreams.SIZES


@pytest.fixture(scope="module")
def large_style(tmp_path_factory):
    """{family: a tiny-width checkpoint in the Large style}."""
    d = tmp_path_factory.mktemp("large_style")
    style = {k: v for k, v in upstreams.SIZES["large"].items() if k in upstreams.STYLE}
    upstreams.SIZES["tiny_large_style"] = dict(upstreams.SIZES["tiny"], **style)
    try:
        return {f: upstreams.make_upstream(f, "tiny_large_style", d / f"{f}.pt") for f in FAMILIES}
    finally:
        del upstreams.SIZES["tiny_large_style"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", catalogue.methods())
def test_every_method_trains_on_the_large_architecture(large_style, wavs, family, method):
    from s3prl.nn import S3PRLUpstream

    torch.manual_seed(0)
    up = S3PRLUpstream(f"{family}_local", path_or_url=str(large_style[family])).eval()
    assert up.upstream.model.encoder.layer_norm_first
    several = catalogue.method_capabilities(method).needs_several_tasks
    a = adapters.attach(up, method, tasks=["a", "b"] if several else None)
    hs, lens = a(*wavs, task=["a", "b", "a"] if several else None)
    assert len(hs) == 3 and all(torch.isfinite(h).all() for h in hs)
    if a.trainable_parameters():
        summary = a.layer_summary(hs, lens)
        (summary[0] if summary else hs[-1]).pow(2).mean().backward()
        assert any(p.grad is not None for p in a.trainable_parameters())
