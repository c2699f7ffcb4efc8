"""The command-line tools: make_upstream and the method benchmark."""
import json
import subprocess
import sys

import pytest
import torch

from adapters import upstreams
from adapters.bin import bench_methods


def test_make_upstream_cli_writes_a_loadable_checkpoint(tmp_path):
    out = tmp_path / "w.pt"
    r = subprocess.run(
        [sys.executable, "-m", "adapters.bin.make_upstream", "--family", "wavlm", "--size", "tiny",
         "--out", str(out), "--seed", "3"],
        capture_output=True, text=True, check=True,
    )
    assert "wavlm_local" in r.stdout and out.exists()
    from s3prl.nn import S3PRLUpstream

    up = S3PRLUpstream("wavlm_local", path_or_url=str(out))
    n = sum(p.numel() for p in up.parameters())
    assert 2e5 < n < 2e6  # "a few hundred thousand to 2 M"
    hs, lens = up(torch.randn(1, 16000), torch.tensor([16000]))
    assert len(hs) == 3 and hs[0].shape == (1, 50, 96)


def test_make_upstream_is_seeded():
    a = upstreams.build_state("hubert", "tiny", seed=5)["model_weight"]
    b = upstreams.build_state("hubert", "tiny", seed=5)["model_weight"]
    c = upstreams.build_state("hubert", "tiny", seed=6)["model_weight"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_make_upstream_rejects_unknown_family_and_size():
    with pytest.raises(ValueError, match="unknown upstream family 'bert'"):
        upstreams.build_state("bert")
    with pytest.raises(ValueError, match="unknown upstream size 'huge'"):
        upstreams.build_state("hubert", "huge")


def test_base_size_is_the_published_configuration():
    s = upstreams.SIZES["base"]
    assert (s["encoder_layers"], s["encoder_embed_dim"], s["encoder_ffn_embed_dim"], s["encoder_attention_heads"]) == (12, 768, 3072, 12)


def test_bench_methods_reports_every_method(tmp_path):
    out = tmp_path / "bench.json"
    bench_methods.main(["--size", "tiny", "--repeat", "1", "--batch-size", "2", "--seconds", "0.5", "--json", str(out)])
    res = json.loads(out.read_text())
    names = [r["name"] for r in res["rows"]]
    assert names == [r[0] for r in bench_methods.plan_rows()]  # every method of the catalogue
    ft = next(r for r in res["rows"] if r["name"] == "finetune")
    assert ft["step_ratio_vs_finetune"] == 1.0 and ft["memory_ratio_vs_finetune"] == 1.0
    for r in res["rows"]:
        assert r["step_s"] > 0 and r["infer_s"] > 0 and r["peak_bytes"] > 0
        assert 0 <= r["share"] < 1
    frozen = next(r for r in res["rows"] if r["name"] == "frozen")
    assert frozen["trainable"] == 0
    assert res["hra_mixed"]["train_speed_ratio"] > 0
    assert "hra mixed-task batch" in bench_methods.format_table(res)
