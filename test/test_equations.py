"""Each method against its paper's equation (DESIGN.md section 4)."""
import math

import pytest
import torch
import torch.nn.functional as F

import adapters
from adapters.methods.prefix import attention_with_prefix
from conftest import FAMILIES, max_diff, perturb
from method_checks import check_hidden_states_reflect_the_adapter, check_identity_at_init, methods_where


def capture_layer_outputs(up):
    """Forward hooks registered before any adapter: they see raw layer outputs."""
    from adapters.backbones import Backbone

    raw = []
    for layer in Backbone(up).layers:
        layer.register_forward_hook(lambda m, i, o: raw.append(o[0].detach().clone()))
    return raw


# ---------------------------------------------------------------- HRA
@pytest.mark.parametrize("controller", ["indrnn", "rnn", "lightgru"])
@pytest.mark.parametrize("head", ["linear", "ffn"])
def test_hra_matches_the_recurrence_written_as_a_loop(make_up, wavs, controller, head):
    up = make_up("hubert")
    raw = capture_layer_outputs(up)
    a = adapters.attach(up, "hra", controller=controller, head=head, controller_dim=16, head_hidden=8)
    perturb(a.method, std=0.2)
    with torch.no_grad():
        hs, _ = a(*wavs)
    m = a.method
    c = m.controller
    h = None
    L = a.backbone.num_layers
    assert len(raw) == L
    for layer in range(L):
        x = raw[layer]  # (T, B, d), the frozen layer's output given adapted inputs
        if controller == "indrnn":
            pre = x @ c.W.weight.T + c.b + (0 if h is None else c.u * h)
            h = torch.relu(pre)
        elif controller == "rnn":
            pre = x @ c.W.weight.T + c.W.bias + (0 if h is None else h @ c.U.weight.T)
            h = torch.tanh(pre)
        else:
            pre = x @ c.W.weight.T + c.W.bias + (0 if h is None else h @ c.U.weight.T)
            z, cand = torch.sigmoid(pre[..., :16]), torch.relu(pre[..., 16:])
            h = (1 - z) * cand + (0 if h is None else z * h)
        hd = m.heads["default"]
        o = h @ hd.V.T if head == "linear" else torch.relu(h @ hd.V1.T) @ hd.V2.T
        expected = (x + o).transpose(0, 1)
        n = min(expected.size(1), hs[layer + 1].size(1))  # s3prl pads by repeating the last frame
        torch.testing.assert_close(hs[layer + 1][:, :n], expected[:, :n], atol=1e-5, rtol=1e-4)


# the generic contract (test/method_checks.py), for every method of the catalogue that promises it
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", methods_where(lambda c: c.identity_at_init))
def test_identity_at_initialisation(make_up, wavs, family, method):
    check_identity_at_init(make_up(family), wavs, method)


@pytest.mark.parametrize("family", FAMILIES)
def test_elp_e_adapter_is_identity_at_init_with_zero_gain(make_up, wavs, family):
    up = make_up(family)
    with torch.no_grad():
        ref, _ = up(*wavs)
    a = adapters.attach(up, "elp", p_adapter=False)
    with torch.no_grad():
        hs, _ = a(*wavs)
    assert max_diff(hs, ref) < 1e-5


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", methods_where(lambda c: c.lowest_adapted is not None))
def test_hidden_states_reflect_an_adapter_away_from_identity(make_up, wavs, family, method):
    # the hidden states below the lowest adapted one are the frozen upstream's; the last differs
    check_hidden_states_reflect_the_adapter(make_up(family), wavs, method)


# --------------------------------------------------------------- fusion
def stage1_fusion(make_up, tmp_path, tasks=("a", "b", "c"), family="hubert"):
    paths = []
    for i, t in enumerate(tasks):
        a = adapters.attach(make_up(family), "fusion", tasks=[t], bottleneck=8)
        perturb(a.method, std=0.3, seed=i)
        paths.append(adapters.save_adapter(a, tmp_path / f"{t}.pt"))
    return paths


@pytest.mark.parametrize("mode", ["avg", "wavg", "attention"])
def test_fusion_fast_path_equals_the_written_out_equation(make_up, tmp_path, mode):
    paths = stage1_fusion(make_up, tmp_path)
    a = adapters.attach(make_up(), "fusion", mode=mode, bottleneck=8, adapter_paths=[str(p) for p in paths])
    perturb(a.method.fusion, std=0.3)
    m = a.method.double()  # float64: the two orders of summation agree to round-off
    x = torch.randn(5, 2, a.backbone.dim, dtype=torch.float64)
    for layer in range(a.backbone.num_layers):
        torch.testing.assert_close(m.fuse(x, layer), m.fuse_reference(x, layer), atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("mode", ["avg", "wavg", "attention"])
def test_fusion_with_hidden_adapters_is_the_fusion_over_the_others(make_up, tmp_path, mode):
    paths = stage1_fusion(make_up, tmp_path)
    a = adapters.attach(make_up(), "fusion", mode=mode, bottleneck=8, adapter_paths=[str(p) for p in paths])
    perturb(a.method.fusion, std=0.3)
    m = a.method.double()
    x = torch.randn(5, 3, a.backbone.dim, dtype=torch.float64)  # (T, B, d)
    hidden = torch.tensor([[False, True, False], [False, False, False], [True, False, False]])
    f = m.fuse(x, 1, hidden)
    for utt, keep in enumerate([[0, 2], [0, 1, 2], [1, 2]]):
        torch.testing.assert_close(f[:, utt], m.fuse_reference(x[:, utt], 1, keep), atol=1e-9, rtol=1e-9)


def test_own_adapter_dropout_hides_the_own_adapter_in_training_only(make_up, tmp_path):
    paths = [str(p) for p in stage1_fusion(make_up, tmp_path)]
    a = adapters.attach(make_up(), "fusion", mode="attention", bottleneck=8, adapter_paths=paths,
                        own_adapter_dropout=1.0)
    m = a.method
    ids = torch.tensor([2, 0, 2, 1])
    m.train()
    m.begin(ids)
    hidden = m.hidden_own_adapters(4, "cpu")
    assert hidden.tolist() == [[k == int(i) for k in range(3)] for i in ids]
    assert m.hidden_own_adapters(4, "cpu") is hidden.to("cpu")  # one draw for every layer
    m.begin(None)
    with pytest.raises(ValueError, match="needs each training utterance's task id"):
        m.hidden_own_adapters(4, "cpu")
    m.eval()
    m.begin(ids)
    assert m.hidden_own_adapters(4, "cpu") is None  # decoding never reads the task ids
    m.end()
    # decoding: the same output with or without task ids
    wav = torch.randn(4, 4000)
    lens = torch.full((4,), 4000)
    a.eval()
    with torch.no_grad():
        h_ids, _ = a(wav, lens, task=ids)
        h_none, _ = a(wav, lens)
    torch.testing.assert_close(h_ids[-1], h_none[-1])
    # training with p = 1: an utterance of task 2 gets the fusion of adapters 0 and 1 only
    # (attention's parameters do not depend on K, so a fusion of those two shares them)
    two = adapters.attach(make_up(), "fusion", mode="attention", bottleneck=8, adapter_paths=paths[:2])
    two.method.fusion.load_state_dict(m.fusion.state_dict())
    two.eval()
    m.train()  # the method only: the upstream stays deterministic, as in the recipes
    with torch.no_grad():
        h_hid, _ = a(wav[:1], lens[:1], task=[2])
        h_two, _ = two(wav[:1], lens[:1])
        h_all, _ = a(wav[:1], lens[:1], task=[0])  # its own adapter hidden instead
    torch.testing.assert_close(h_hid[-1], h_two[-1])
    assert not torch.allclose(h_hid[-1], h_all[-1], atol=1e-4)
    with pytest.raises(ValueError, match="own_adapter_dropout"):
        adapters.attach(make_up(), "fusion", mode="avg", adapter_paths=paths, bottleneck=8, own_adapter_dropout=1.5)


def test_fusion_avg_is_the_mean_and_weights_sum_to_one(make_up, tmp_path):
    paths = stage1_fusion(make_up, tmp_path)
    a = adapters.attach(make_up(), "fusion", mode="avg", bottleneck=8, adapter_paths=[str(p) for p in paths])
    x = torch.randn(4, 2, a.backbone.dim)
    outs = torch.stack([a.method.adapters[t][0](x) for t in "abc"])
    torch.testing.assert_close(a.method.fuse(x, 0), outs.mean(0), atol=1e-5, rtol=1e-4)
    w = adapters.attach(make_up(), "fusion", mode="wavg", bottleneck=8, adapter_paths=[str(p) for p in paths])
    perturb(w.method.fusion)
    torch.testing.assert_close(torch.softmax(w.method.fusion[0].w, 0).sum(), torch.tensor(1.0))
    att = adapters.attach(make_up(), "fusion", mode="attention", bottleneck=8, adapter_paths=[str(p) for p in paths])
    perturb(att.method.fusion)
    att.method.fuse(x, 1)
    s = att.method.last_scores[1]
    assert s.shape == (4, 2, 3)
    torch.testing.assert_close(s.sum(-1), torch.ones(4, 2))


@pytest.mark.parametrize("layernorm", [True, False])
def test_fusion_layernorm_switch(make_up, tmp_path, layernorm):
    paths = stage1_fusion(make_up, tmp_path)
    a = adapters.attach(make_up(), "fusion", mode="attention", bottleneck=8, layernorm=layernorm,
                        adapter_paths=[str(p) for p in paths])
    m = a.method
    x = torch.randn(4, 2, a.backbone.dim)
    f = m.fuse(x, 0)
    expected = x + (F.layer_norm(f, f.shape[-1:]) if layernorm else f)
    torch.testing.assert_close(m.adapt(x, 0), expected, atol=1e-5, rtol=1e-4)
    assert isinstance(m.fusion[0].norm, torch.nn.LayerNorm) == layernorm


def test_fusion_single_mode_is_the_residual_adapter(make_up):
    a = adapters.attach(make_up(), "fusion", tasks=["a"], bottleneck=8)
    perturb(a.method)
    x = torch.randn(4, 2, a.backbone.dim)
    ad = a.method.adapters["a"][0]
    expected = x + ad.up(F.gelu(ad.down(x)))
    torch.testing.assert_close(a.method.adapt(x, 0), expected, atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------ ELP
def test_elp_e_adapter_equation_on_the_ffn_output(make_up, wavs):
    up = make_up("wav2vec2")
    fc2_out = []
    up.upstream.model.encoder.layers[0].fc2.register_forward_hook(lambda m, i, o: fc2_out.append(o.detach()))
    a = adapters.attach(up, "elp", l_adapter=False, p_adapter=False, e_ln_init=1.0)
    e = a.method.e_adapters["0"]
    seen = []
    e.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    with torch.no_grad():
        a(*wavs)
    y = fc2_out[0]
    expected = y + F.layer_norm(e.up(F.gelu(e.down(y))), (y.size(-1),), e.norm.weight, e.norm.bias)
    torch.testing.assert_close(seen[0], expected, atol=1e-5, rtol=1e-4)
    # E in layers 0..L-2 by default
    assert sorted(a.method.e_adapters.keys()) == [str(i) for i in range(a.backbone.num_layers - 1)]


def test_elp_l_adapter_weighted_sum(make_up, wavs):
    a = adapters.attach(make_up(), "elp", e_adapter=False, p_adapter=False, l_dim=32)
    perturb(a.method)
    with torch.no_grad():
        hs, lens = a(*wavs)
        feats, flens = a.layer_summary(hs, lens)
    m = a.method
    w = torch.softmax(m.l_weights, 0)
    expected = sum(
        w[i] * F.layer_norm(F.gelu(hs[i + 1] @ ad.proj.weight.T + ad.proj.bias), (32,), ad.norm.weight, ad.norm.bias)
        for i, ad in enumerate(m.l_adapters)
    )
    torch.testing.assert_close(feats, expected, atol=1e-5, rtol=1e-4)
    assert feats.shape[-1] == 32 and torch.equal(flens, lens[-1])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("position", ["prefix", "suffix"])
@pytest.mark.parametrize("reparam", ["linear", "nonlinear"])
def test_elp_p_adapter_keeps_lengths_and_changes_states(make_up, wavs, family, position, reparam):
    up = make_up(family)
    with torch.no_grad():
        ref, ref_lens = up(*wavs)
    a = adapters.attach(up, "elp", e_adapter=False, l_adapter=False, p_position=position, p_reparam=reparam, p_length=5)
    with torch.no_grad():
        hs, lens = a(*wavs)
    assert [h.shape for h in hs] == [r.shape for r in ref]
    assert all(torch.equal(x, y) for x, y in zip(lens, ref_lens))
    assert (hs[-1] - ref[-1]).abs().max() > 1e-4  # the pseudo frames are attended to


def test_elp_p_adapter_pseudo_frames_follow_the_reparametrisation(make_up):
    a = adapters.attach(make_up(), "elp", p_reparam="nonlinear", p_length=3, p_hidden=7)
    p = a.method.p_adapter
    n = p.net
    torch.testing.assert_close(p(), n[2](torch.tanh(n[0](p.E))))
    assert p().shape == (3, a.backbone.dim)


# ------------------------------------------------------------------ LoRA
@pytest.mark.parametrize("family", FAMILIES)
def test_lora_changes_the_attention_output_through_s3prls_fast_path(make_up, family):
    a = adapters.attach(make_up(family), "lora", rank=4, alpha=8.0, targets=["q", "k", "v"])
    attn = a.backbone.attention(0)
    x = torch.randn(6, 2, a.backbone.dim)
    kw = dict(query=x, key=x, value=x, key_padding_mask=None, need_weights=False)
    with torch.no_grad():
        before = attn(**kw)[0]
        W0 = attn.q_proj.weight.clone()
        perturb(a.method)
        delta = a.method.deltas["0_q"]
        # the weight s3prl hands to F.multi_head_attention_forward is W + (alpha/r) B A
        torch.testing.assert_close(attn.q_proj.weight, W0 + 2.0 * delta.B @ delta.A)
        after = attn(**kw)[0]
        with a.inference():  # merged once, same result
            merged = attn(**kw)[0]
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(merged, after)


# ---------------------------------------------------------------- prefix
@pytest.mark.parametrize("family", FAMILIES)
def test_prefix_attention_without_prefixes_reproduces_s3prl_attention(make_up, family):
    up = make_up(family)
    from adapters.backbones import Backbone

    bb = Backbone(up)
    for i in range(bb.num_layers):
        attn = bb.attention(i)
        x = torch.randn(7, 2, bb.dim)
        pad = torch.zeros(2, 7, dtype=torch.bool)
        pad[1, 5:] = True
        kw = dict(query=x, key=x, value=x, key_padding_mask=pad, need_weights=False)
        with torch.no_grad():
            ref = attn(**kw)
            got = attention_with_prefix(attn, bb.family, x, pad, None, None, ref[2] if family == "wavlm" and i > 0 else None)
        torch.testing.assert_close(got[0][:, 0], ref[0][:, 0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(got[0][:5, 1], ref[0][:5, 1], atol=1e-5, rtol=1e-4)


def test_prefix_attention_equals_softmax_over_prefix_and_keys(make_up):
    a = adapters.attach(make_up("hubert"), "prefix", length=3)
    perturb(a.method, std=0.5)
    attn = a.backbone.attention(0)
    x = torch.randn(4, 1, a.backbone.dim)
    with torch.no_grad():
        out = attn(query=x, key=x, value=x, key_padding_mask=None)[0]
        q = attn.q_proj(x)[:, 0]
        k = torch.cat([a.method.keys[0], attn.k_proj(x)[:, 0]])
        v = torch.cat([a.method.values[0], attn.v_proj(x)[:, 0]])
        H = attn.num_heads
        hd = q.size(-1) // H
        heads = []
        for h in range(H):
            sl = slice(h * hd, (h + 1) * hd)
            s = torch.softmax(q[:, sl] @ k[:, sl].T / math.sqrt(hd), -1)
            heads.append(s @ v[:, sl])
        expected = attn.out_proj(torch.cat(heads, -1))
    torch.testing.assert_close(out[:, 0], expected, atol=1e-5, rtol=1e-4)


def test_fusion_value_regulariser_is_adapterfusions_penalty(make_up, tmp_path):
    paths = [str(p) for p in stage1_fusion(make_up, tmp_path)]
    a = adapters.attach(make_up(), "fusion", mode="attention", bottleneck=8, adapter_paths=paths,
                        value_regularization=0.5)
    m = a.method
    # the value projection starts near the identity: a small penalty, not zero
    assert 0 < float(m.regularization_loss()) < 0.5 * 1e-4 * m.backbone.num_layers * m.backbone.dim ** 2
    perturb(m.fusion, std=0.1)
    expected = sum(0.5 * float(((torch.eye(f.value.weight.size(0)) - f.value.weight) ** 2).sum()) for f in m.fusion)
    assert float(m.regularization_loss()) == pytest.approx(expected, rel=1e-5)
    for p in m.fusion.parameters():
        p.requires_grad_(False)
    assert m.regularization_loss() is None  # nothing it could move
    off = adapters.attach(make_up(), "fusion", mode="attention", bottleneck=8, adapter_paths=paths)
    assert off.method.regularization_loss() is None
    with pytest.raises(ValueError, match="needs mode attention"):
        adapters.attach(make_up(), "fusion", mode="wavg", bottleneck=8, adapter_paths=paths, value_regularization=0.01)
    with pytest.raises(ValueError, match="must be >= 0"):
        adapters.attach(make_up(), "fusion", mode="attention", bottleneck=8, adapter_paths=paths, value_regularization=-1)
