"""Gradient checkpointing (``AdaptedUpstream.set_gradient_checkpointing``, the frontend's
``gradient_checkpointing: true``): the layers recomputed in the backward pass give the same
loss and gradients, to 1e-6, for every run with gradients inside the upstream."""
import pytest
import torch

import adapters
from adapters import catalogue
from conftest import FAMILIES
from method_checks import check_gradient_checkpointing

RUNS = [n for n in catalogue.names() if catalogue.variant(n).capabilities.upstream_grad]


def test_the_runs_with_gradients_inside_the_upstream():
    assert {"finetune", "bitfit", "houlsby", "lora", "prefix", "hra", "elp"} <= set(RUNS)
    assert "frozen" not in RUNS


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("run", RUNS)
def test_checkpointing_gives_the_same_loss_and_gradients(make_up, wavs, family, run):
    check_gradient_checkpointing(make_up, wavs, run, family)


def test_checkpointing_recomputes_the_layers(make_up, wavs):
    """The layers run again in the backward pass, and only with gradients on."""
    a = adapters.attach(make_up(), "houlsby", tasks=["a", "b", "c"]).set_gradient_checkpointing()
    calls = []
    a.backbone.layers[0].fc2.register_forward_hook(lambda *_: calls.append(torch.is_grad_enabled()))
    hs, _ = a(*wavs, task=["b", "a", "c"])
    assert len(calls) == 1
    hs[-1].pow(2).mean().backward()  # task ids are gone by now: the recomputation restores them
    assert len(calls) == 2
    with torch.no_grad():
        a(*wavs, task="a")
    assert len(calls) == 3


def test_checkpointing_keeps_less_for_the_backward_pass(make_up, wavs):
    saved = []
    for on in (False, True):
        a = adapters.attach(make_up(), "lora").set_gradient_checkpointing(on)
        n = [0]

        def pack(t):
            n[0] += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            hs, _ = a(*wavs)
        saved.append(n[0])
    assert saved[1] < 0.5 * saved[0]


def test_frontend_option(ckpt_dir, wavs):
    """``frontend_conf: {gradient_checkpointing: true}``: the same loss and gradients through the
    ESPnet frontend (waveforms in, the frozen part below the cut computed without gradients)."""
    pytest.importorskip("espnet2")
    from adapters.espnet.frontend import S3prlAdapterFrontend

    outs = []
    for on in (False, True):
        torch.manual_seed(0)
        fe = S3prlAdapterFrontend(upstream="hubert_local", path_or_url=str(ckpt_dir / "hubert.pt"),
                                  method="houlsby", method_conf={"bottleneck": 8}, tasks=["a", "b", "c"],
                                  gradient_checkpointing=on).train()
        assert fe.adapted.gradient_checkpointing == on
        with torch.no_grad():
            for p in fe.adapted.trainable_parameters():
                p.add_(0.05)
        fe.set_tasks(["b", "a", "c"])
        feats, _ = fe(*wavs)
        loss = feats.pow(2).mean()
        loss.backward()
        outs.append((loss.detach(), [p.grad.clone() for p in fe.parameters() if p.requires_grad]))
    torch.testing.assert_close(outs[1][0], outs[0][0], atol=1e-6, rtol=1e-6)
    for a, b in zip(outs[0][1], outs[1][1]):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-6)


def test_every_kth_layer(make_up, wavs):
    """``every=k`` recomputes layers 0, k, 2k, ... and keeps the others' activations: the same loss
    and gradients, and between no checkpointing and all of it in what the forward keeps."""
    outs, saved = [], []
    for every in (None, 1, 2):
        torch.manual_seed(0)
        a = adapters.attach(make_up(), "houlsby", tasks=["a", "b", "c"])
        if every:
            a.set_gradient_checkpointing(True, every=every)
        n_layers = len(list(a.backbone.layers))
        assert a.checkpointed_layers == ([] if every is None else list(range(0, n_layers, every)))
        assert a.checkpoint_every == (every or 1)
        with torch.no_grad():
            for p in a.trainable_parameters():
                p.add_(0.05)
        n = [0]

        def pack(t):
            n[0] += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            hs, _ = a(*wavs, task=["b", "a", "c"])
        loss = sum(h.pow(2).mean() for h in hs)
        loss.backward()
        saved.append(n[0])
        outs.append((loss.detach(), [p.grad.clone() for p in a.trainable_parameters()]))
    assert saved[1] < saved[2] < saved[0]
    for loss, grads in outs[1:]:
        torch.testing.assert_close(loss, outs[0][0], atol=1e-6, rtol=1e-6)
        for g, g0 in zip(grads, outs[0][1]):
            torch.testing.assert_close(g, g0, atol=1e-6, rtol=1e-6)
    a.set_gradient_checkpointing(False)
    assert not a.gradient_checkpointing and a.checkpointed_layers == []
    with pytest.raises(ValueError, match="every must be a positive integer"):
        a.set_gradient_checkpointing(True, every=0)


def test_live_saved_bytes_follow_the_backward_pass(make_up, wavs):
    """``bench_methods``' CPU memory count: what autograd saves is counted once per storage
    when saved and released when the backward pass frees it, so nothing is left after it."""
    from adapters.bin.bench_methods import _LiveSaved, _count_saved_bytes

    a = adapters.attach(make_up(), "houlsby").train()
    counted = [0]
    with _count_saved_bytes(counted):
        a(*wavs)[0][-1].pow(2).mean()
    live = _LiveSaved()
    with torch.autograd.graph.saved_tensors_hooks(live.pack, live.unpack):
        loss = a(*wavs)[0][-1].pow(2).mean()
    assert live.live == counted[0] > 0
    loss.backward()
    del loss
    assert live.live == 0 and not live.refs


@pytest.mark.parametrize("every", [1, 2])
def test_recompute_peak_within_its_bounds(tmp_path, every):
    """The backward pass's peak under checkpointing, measured in its order: at least what is
    saved when it starts, at most that plus the largest recomputed layer (the older bound),
    and below the peak without checkpointing."""
    from adapters.bin import bench_methods as bm
    from adapters.upstreams import make_upstream

    path = make_upstream("hubert", "tiny", tmp_path / "tiny.pt", seed=0)
    torch.manual_seed(0)
    wavs = (torch.randn(2, 8000), torch.full((2,), 8000))
    peaks = {}
    for ckpt in (False, every):
        a = bm.build(path, "hubert", "houlsby", {}, None, torch.device("cpu"), ckpt)
        peaks[ckpt] = bm.measure(a, wavs, torch.device("cpu"), repeat=1)
    on = peaks[every]
    assert on["memory_kind"] == "saved+recompute+optimizer"
    assert on["peak_bytes"] <= on["peak_bytes_bound"]
    assert on["peak_bytes"] < peaks[False]["peak_bytes"]
    assert on["step_ratio_vs_own_plain"] > 0
