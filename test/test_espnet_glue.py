"""The ESPnet glue: the s3prl_adapter frontend, its registration, task routing
through the model, and the torchaudio RNN-T loss behind ESPnet's transducer."""
import math

import pytest
import torch

from conftest import perturb
from method_checks import methods_where


@pytest.fixture(scope="module")
def registered():
    from adapters.espnet.register import register_asr

    register_asr()
    from espnet2.tasks import asr

    return asr


def frontend(ckpt_dir, method="frozen", **kw):
    from adapters.espnet.frontend import S3prlAdapterFrontend

    torch.manual_seed(0)
    return S3prlAdapterFrontend(upstream="hubert_local", path_or_url=str(ckpt_dir / "hubert.pt"),
                                method=method, **kw).eval()


def test_registered_in_espnet_choices(registered):
    assert "s3prl_adapter" in registered.frontend_choices.choices()
    assert "adapter_espnet" in registered.model_choices.choices()
    import warprnnt_pytorch

    assert hasattr(warprnnt_pytorch, "RNNTLoss")


# every method of the catalogue without a layer summary of its own
@pytest.mark.parametrize("method", methods_where(lambda c: not c.has_layer_summary))
def test_frontend_weighted_sum_shapes(ckpt_dir, wavs, method):
    fe = frontend(ckpt_dir, method)
    x, lens = wavs
    feats, flens = fe(x, lens)
    assert feats.shape[0] == 3 and feats.shape[2] == fe.output_size() == 96
    assert flens.max() == feats.shape[1] and flens[0] > flens[1] > flens[2]
    assert fe.features == "weighted_sum"
    trainable = {n.split(".")[0] for n, p in fe.named_parameters() if p.requires_grad}
    assert "featurizer" in trainable  # the SUPERB layer weights always learn


def test_frontend_elp_uses_l_adapter_sum(ckpt_dir, wavs):
    fe = frontend(ckpt_dir, "elp", method_conf={"l_dim": 48})
    assert fe.features == "l_adapter" and fe.output_size() == 48
    feats, _ = fe(*wavs)
    assert feats.shape[-1] == 48
    with pytest.raises(ValueError, match="l_adapter: true"):
        frontend(ckpt_dir, "hra", features="l_adapter")


def test_frontend_last_and_layer_features(ckpt_dir, wavs):
    fe_last = frontend(ckpt_dir, "frozen", features="last")
    fe_l1 = frontend(ckpt_dir, "frozen", features="layer", layer=1)
    x, lens = wavs
    last, l1 = fe_last(x, lens)[0], fe_l1(x, lens)[0]
    # each utterance as s3prl computes it alone (the frontend is batch-invariant)
    for i, n in enumerate(lens.tolist()):
        with torch.no_grad():
            hs, hs_len = fe_last.adapted(x[i: i + 1, :n], lens[i: i + 1])
        t = int(hs[0].size(1)) - 1  # s3prl pads one copy of the last frame here
        assert torch.allclose(last[i, :t], hs[-1][0, :t], atol=1e-5)
        assert torch.allclose(l1[i, :t], hs[1][0, :t], atol=1e-5)


def test_frontend_rejects_bad_config(ckpt_dir):
    from adapters.espnet.frontend import S3prlAdapterFrontend

    with pytest.raises(ValueError, match="unknown s3prl upstream 'nonesuch'"):
        S3prlAdapterFrontend(upstream="nonesuch")
    with pytest.raises(ValueError, match="needs path_or_url"):
        S3prlAdapterFrontend(upstream="hubert_local")
    with pytest.raises(ValueError, match="16 kHz"):
        frontend(ckpt_dir, fs=8000)
    with pytest.raises(ValueError, match="unknown adapter method 'nope'"):
        frontend(ckpt_dir, "nope")
    with pytest.raises(ValueError, match="features must be one of"):
        frontend(ckpt_dir, features="mean")


def test_backbone_stays_in_eval_mode_when_training_adapters(ckpt_dir):
    fe = frontend(ckpt_dir, "hra")
    fe.train()
    assert not fe.adapted.upstream.training and fe.adapted.method.training
    ft = frontend(ckpt_dir, "finetune").train()
    assert ft.adapted.upstream.training


def test_reload_pretrained_parameters_undoes_espnet_init(ckpt_dir, wavs):
    fe = frontend(ckpt_dir, "hra")
    ref = fe(*wavs)[0].detach().clone()
    perturb(fe, std=0.5)  # what ESPnet's --init does to every parameter
    assert not torch.allclose(fe(*wavs)[0], ref)
    fe.reload_pretrained_parameters()
    assert torch.allclose(fe(*wavs)[0], ref)


def test_model_routes_utt2task_ids_to_the_frontend(ckpt_dir, wavs):
    from adapters.espnet.model import route_tasks

    fe = frontend(ckpt_dir, "hra", tasks=["a", "b"])
    perturb(fe.adapted.method, std=0.2)
    x, lens = wavs
    kwargs = {"task": torch.tensor([[1], [0], [1]]), "task_lengths": torch.tensor([1, 1, 1])}
    route_tasks(fe, kwargs)
    assert kwargs == {}  # consumed: ESPnet's model never sees them
    mixed = fe(x, lens)[0]
    fe.set_tasks(["b", "b", "b"])
    only_b = fe(x, lens)[0]
    assert torch.allclose(mixed[0], only_b[0], atol=1e-5)
    assert not torch.allclose(mixed[1], only_b[1], atol=1e-4)
    with pytest.raises(ValueError, match="pass task="):
        fe(x, lens)  # two tasks and no ids: refused, not guessed


def _rnnt_reference(logits, labels, blank):
    """The transducer forward algorithm in plain Python (Graves 2012), one utterance."""
    lp = torch.log_softmax(logits.double(), -1)
    T, U1, _ = lp.shape
    alpha = [[-math.inf] * U1 for _ in range(T)]
    alpha[0][0] = 0.0
    for t in range(T):
        for u in range(U1):
            if t == 0 and u == 0:
                continue
            a = alpha[t - 1][u] + lp[t - 1, u, blank].item() if t > 0 else -math.inf
            b = alpha[t][u - 1] + lp[t, u - 1, labels[u - 1]].item() if u > 0 else -math.inf
            alpha[t][u] = max(a, b) + math.log1p(math.exp(-abs(a - b))) if max(a, b) > -math.inf else -math.inf
    return -(alpha[T - 1][U1 - 1] + lp[T - 1, U1 - 1, blank].item())


def test_rnnt_loss_matches_the_forward_algorithm():
    from adapters.espnet.rnnt_loss import RNNTLoss

    g = torch.Generator().manual_seed(0)
    B, T, U, V = 2, 5, 3, 6
    logits = torch.randn(B, T, U + 1, V, generator=g)
    labels = torch.tensor([[1, 2, 3], [4, 5, 0]])
    t_len, u_len = torch.tensor([5, 4]), torch.tensor([3, 2])
    ref = [_rnnt_reference(logits[b, : t_len[b], : u_len[b] + 1], labels[b, : u_len[b]].tolist(), 0)
           for b in range(B)]
    got = RNNTLoss(blank=0, reduction="none")(logits, labels, t_len, u_len)
    assert torch.allclose(got.double(), torch.tensor(ref, dtype=torch.double), atol=1e-4)
    mean = RNNTLoss(blank=0)(logits, labels, t_len, u_len)
    assert abs(mean.item() - sum(ref) / B) < 1e-4  # warp-transducer's 'mean': over the batch
    with pytest.raises(ValueError, match="fastemit"):
        RNNTLoss(fastemit_lambda=0.01)


def _fusion_frontend(ckpt_dir, tmp_path, **method_conf):
    """An attention-fusion frontend over two stage-1 adapters."""
    import adapters

    paths = []
    for i, t in enumerate(["a", "b"]):
        single = frontend(ckpt_dir, "fusion", tasks=[t], method_conf={"mode": "single", "bottleneck": 8})
        perturb(single.adapted.method, std=0.3, seed=i)
        paths.append(str(adapters.save_adapter(single.adapted, tmp_path / f"{t}.pt")))
    return frontend(ckpt_dir, "fusion", method_conf={"mode": "attention", "bottleneck": 8,
                                                     "adapter_paths": paths, **method_conf})


def test_model_adds_the_fusion_value_penalty_in_training_only(registered, ckpt_dir, wavs, tmp_path):
    from espnet2.asr.ctc import CTC
    from espnet2.asr.encoder.linear_encoder import LinearEncoder

    from adapters.espnet.model import AdapterASRModel

    fe = _fusion_frontend(ckpt_dir, tmp_path, value_regularization=0.01)
    perturb(fe.adapted.method.fusion, std=0.05)
    tokens = ["<blank>", "<unk>", "a", "b", "<sos/eos>"]
    model = AdapterASRModel(
        vocab_size=len(tokens), token_list=tokens, frontend=fe, specaug=None, normalize=None,
        preencoder=None, encoder=LinearEncoder(fe.output_size(), 16, input_layer="linear"),
        postencoder=None, decoder=None, ctc=CTC(len(tokens), 16), joint_network=None, ctc_weight=1.0,
    )
    x, lens = wavs
    text = torch.tensor([[2, 3], [3, 2], [2, -1]])
    text_lens = torch.tensor([2, 2, 1])
    # AdapterFusion's penalty, written out: 0.01 * sum over layers of ||I - W_value||_F^2
    expected = 0.01 * sum(((torch.eye(f.value.weight.size(0)) - f.value.weight) ** 2).sum()
                          for f in fe.adapted.method.fusion)
    model.train()
    loss, stats, _ = model(x, lens, text, text_lens)
    torch.testing.assert_close(stats["adapter_penalty"].squeeze(), expected.detach())
    torch.testing.assert_close(loss.squeeze(), (stats["loss_ctc"] + expected).squeeze().detach(),
                               check_dtype=False)
    loss.sum().backward()
    assert fe.adapted.method.fusion[0].value.weight.grad is not None
    model.eval()
    with torch.no_grad():
        loss, stats, _ = model(x, lens, text, text_lens)
    assert "adapter_penalty" not in stats  # validation losses (best-epoch choice) stay the ASR loss
    torch.testing.assert_close(loss.squeeze(), stats["loss_ctc"].squeeze())


def test_a_penalty_no_model_adds_is_an_error_not_silence(ckpt_dir, wavs, tmp_path):
    fe = _fusion_frontend(ckpt_dir, tmp_path, value_regularization=0.01)
    fe.train()
    fe(*wavs)
    with pytest.raises(RuntimeError, match="only the ASR model 'adapter_espnet'"):
        fe(*wavs)  # the first step's penalty was never claimed
    plain = _fusion_frontend(ckpt_dir, tmp_path)
    assert plain.regularization_loss() is None
    plain.train()
    plain(*wavs)
    plain(*wavs)


def _optim_args(**kw):
    import argparse

    return argparse.Namespace(**{"optim": "adam", "optim_conf": {"lr": 0.002}, "sharded_ddp": False,
                                 "exclude_weight_decay": False, **kw})


def test_fusion_lr_scale_trains_the_fusion_at_its_own_rate(ckpt_dir, wavs, tmp_path):
    from espnet2.schedulers.warmup_lr import WarmupLR

    from adapters.espnet.tasks import AdapterASRTask

    fe = _fusion_frontend(ckpt_dir, tmp_path, fusion_lr_scale=0.1)
    head = torch.nn.Linear(fe.output_size(), 3)
    model = torch.nn.ModuleDict({"frontend": fe, "head": head})
    (optim,) = AdapterASRTask.build_optimizers(_optim_args(), model)
    fusion_ids = {id(p) for p in fe.adapted.method.fusion.parameters()}
    by_lr = {g["lr"]: {id(p) for p in g["params"]} for g in optim.param_groups}
    assert sorted(by_lr) == pytest.approx([0.0002, 0.002])
    assert by_lr[min(by_lr)] == fusion_ids
    assert by_lr[max(by_lr)] == {id(p) for p in model.parameters()} - fusion_ids
    # ESPnet's scheduler scales each group from its own rate: the ratio holds while it warms up
    sched = WarmupLR(optim, warmup_steps=10)
    # Adam's first step moves every parameter with a gradient by its group's rate
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    fe.train()
    feats, _ = fe(*wavs)
    head(feats).pow(2).mean().backward()
    optim.step()
    sched.step()
    lrs = sorted(g["lr"] for g in optim.param_groups)
    assert lrs[0] / lrs[1] == pytest.approx(0.1)
    moved = {n: (p.detach() - before[n]).abs().max().item() for n, p in model.named_parameters()
             if p.grad is not None and p.grad.abs().max() > 0}
    q = "frontend.adapted.method.fusion.0.query.weight"
    assert moved[q] == pytest.approx(0.0002 / 10, rel=1e-3)  # WarmupLR's first step: lr * 1/10
    assert moved["head.weight"] == pytest.approx(0.002 / 10, rel=1e-3)


def test_finetune_trains_the_upstream_at_a_tenth_of_the_downstreams_rate(ckpt_dir):
    from adapters.espnet.tasks import AdapterASRTask

    fe = frontend(ckpt_dir, "finetune")
    head = torch.nn.Linear(fe.output_size(), 3)
    model = torch.nn.ModuleDict({"frontend": fe, "head": head})
    (optim,) = AdapterASRTask.build_optimizers(_optim_args(), model)
    by_lr = {g["lr"]: {id(p) for p in g["params"]} for g in optim.param_groups}
    assert sorted(by_lr) == pytest.approx([0.0002, 0.002])
    trained = {id(p) for p in fe.adapted.upstream.parameters() if p.requires_grad}
    assert trained and by_lr[min(by_lr)] == trained  # the transformer: 0.1x (backbone_lr_scale)
    assert {id(p) for p in head.parameters()} <= by_lr[max(by_lr)]  # the downstream: the rate itself
    # one rate for all on request; a bad scale named
    same = frontend(ckpt_dir, "finetune", method_conf={"backbone_lr_scale": 1.0})
    (optim,) = AdapterASRTask.build_optimizers(_optim_args(), same)
    assert len(optim.param_groups) == 1
    with pytest.raises(ValueError, match="backbone_lr_scale must be > 0"):
        frontend(ckpt_dir, "finetune", method_conf={"backbone_lr_scale": 0})


def test_without_lr_scales_espnets_optimizer_is_unchanged(ckpt_dir, tmp_path):
    from adapters.espnet.tasks import AdapterASRTask

    fe = _fusion_frontend(ckpt_dir, tmp_path)
    (optim,) = AdapterASRTask.build_optimizers(_optim_args(), fe)
    assert len(optim.param_groups) == 1 and optim.param_groups[0]["lr"] == 0.002
    scaled = _fusion_frontend(ckpt_dir, tmp_path, fusion_lr_scale=0.5)
    with pytest.raises(ValueError, match="plain single optimizer"):
        AdapterASRTask.build_optimizers(_optim_args(exclude_weight_decay=True), scaled)
    with pytest.raises(ValueError, match="fusion_lr_scale must be > 0"):
        _fusion_frontend(ckpt_dir, tmp_path, fusion_lr_scale=0.0)
    with pytest.raises(ValueError, match="fusion_lr_scale needs a composition mode"):
        frontend(ckpt_dir, "fusion", tasks=["a"], method_conf={"mode": "single", "fusion_lr_scale": 0.5})


def test_beam_search_at_the_vocabulary_size_is_refused_naming_the_config(tmp_path):
    """At the vocabulary's size ESPnet's beam search decodes garbage silently (100 % WER on the
    full profile's dev set), above it dies in topk: refuse both, naming the config and the limit;
    the transducer clamps its own beam, so it is not refused."""
    import yaml

    from adapters.bin.asr_inference import check_beam_size

    tokens = ["<blank>", "<unk>", "A", "B", "<sos/eos>"]
    ctc = tmp_path / "ctc.yaml"
    ctc.write_text(yaml.safe_dump({"token_list": tokens, "decoder": None}))
    check_beam_size(4, str(ctc))
    for beam in (5, 6):
        with pytest.raises(SystemExit, match=rf"--beam_size {beam} is not below the 5 tokens of .*ctc.yaml.*at most 4"):
            check_beam_size(beam, str(ctc))
    (tmp_path / "tokens.txt").write_text("".join(t + "\n" for t in tokens))
    by_path = tmp_path / "by_path.yaml"
    by_path.write_text(yaml.safe_dump({"token_list": str(tmp_path / "tokens.txt")}))
    with pytest.raises(SystemExit, match="5 tokens"):
        check_beam_size(5, str(by_path))
    rnnt = tmp_path / "rnnt.yaml"
    rnnt.write_text(yaml.safe_dump({"token_list": tokens, "decoder": "transducer"}))
    check_beam_size(10, str(rnnt))
