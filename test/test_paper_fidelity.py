"""Paper fidelity through the catalogue (issue 21): the ELP preset that counts as the ELP
authors' predecessor code does on WavLM Base, learning-rate scales per component in
ESPnet's optimizer, and A-AF's second learning algorithm (the adapters updated during
composition) for Avg and WAvg as runs of the Euphonia recipe."""
from pathlib import Path

import pytest
import torch
from torch import nn

import adapters
from adapters import catalogue
from method_checks import (
    check_declarations,
    check_frozen_weights_stay_frozen,
    check_hidden_states_reflect_the_adapter,
    check_identity_at_init,
    check_save_load_round_trip,
)

ROOT = Path(__file__).resolve().parents[1]
L, D, C = 2, 96, 48  # the tiny upstream: layers, width, CNN channels
PAPER = catalogue.variant("elp_wavlm_paper").method_conf()


def layernorm_count(layers, dim, cnn_dim):
    """The backbone's LayerNorms (gain and bias each): two per layer, the encoder's, the one
    over the CNN features (the CNN's own GroupNorm is not one of them)."""
    return 2 * dim * (2 * layers + 1) + 2 * cnn_dim


def elp_paper_count(layers, dim, cnn_dim, e_bottleneck=256, l_dim=512):
    """E-adapters in layers 0..L-2 (down, up, LayerNorm), L-adapters on every layer (projection,
    LayerNorm) and their softmax weights, the backbone's LayerNorms; no P-adapter."""
    e = (layers - 1) * (dim * e_bottleneck + e_bottleneck + e_bottleneck * dim + dim + 2 * dim)
    l_ = layers * (dim * l_dim + l_dim + 2 * l_dim) + layers
    return e + l_ + layernorm_count(layers, dim, cnn_dim)


# ---------------------------------------------------------------- the ELP preset


@pytest.fixture(scope="module")
def wavlm_base(tmp_path_factory):
    """A randomly initialised WavLM Base (12 layers, width 768, ~94 M parameters), built offline."""
    from adapters.upstreams import make_upstream

    path = make_upstream("wavlm", "base", tmp_path_factory.mktemp("base") / "wavlm_base.pt", seed=0)
    yield path
    path.unlink()


def test_elp_wavlm_paper_trains_9_13_m_on_wavlm_base(wavlm_base):
    from s3prl.nn import S3PRLUpstream

    up = S3PRLUpstream("wavlm_local", path_or_url=str(wavlm_base)).eval()
    assert sum(p.numel() for p in up.parameters()) == 94_381_936  # WavLM Base's 94.4 M
    a = adapters.attach(up, "elp", **PAPER)
    n = a.num_trainable()
    # E 11 x 395,776 = 4,353,536; L 12 x 394,752 + 12 = 4,737,036; LayerNorms 25 x 1,536 + 1,024 = 39,424
    assert n == elp_paper_count(12, 768, 512) == 9_129_996
    assert round(n / 1e6, 2) == 9.13  # the predecessor code's figure, to its two decimals
    # what trains in the backbone: its 26 LayerNorms (gain and bias), the CNN not at all
    names = a.method.upstream_trainable_names()
    assert len(names) == 2 * 26 and all(n.endswith((".weight", ".bias")) for n in names)
    assert not any(p.requires_grad for p in a.backbone.feature_extractor().parameters())
    assert a.method.e_layers == list(range(11)) and not hasattr(a.method, "p_adapter")
    # the adapter-only file stores exactly what trains
    from adapters.checkpoint import stored_params

    assert stored_params(a) == n


@pytest.mark.parametrize("family", ["wav2vec2", "hubert", "wavlm"])
def test_elp_paper_preset_count_and_layernorms_on_every_family(make_up, family):
    a = adapters.attach(make_up(family), "elp", **PAPER)
    assert a.num_trainable() == elp_paper_count(L, D, C)
    plain = adapters.attach(make_up(family), "elp", **{**PAPER, "train_layernorms": False})
    assert a.num_trainable() - plain.num_trainable() == layernorm_count(L, D, C)
    lns = [m for m in a.upstream.modules() if isinstance(m, nn.LayerNorm)]
    assert lns and all(p.requires_grad for m in lns for p in m.parameters())
    assert plain.method.upstream_trainable_names() == []


def test_the_preset_keeps_the_method_contract(make_up, wavs, tmp_path):
    caps = catalogue.variant("elp_wavlm_paper").capabilities
    # the feature LayerNorm reads the CNN's output: the cache stops there, every hidden state may change
    assert caps.cache_cut == "cnn" and caps.lowest_adapted == 0 and caps.identity_at_init
    assert caps.has_layer_summary and not caps.trains_backbone
    check_declarations(make_up, "elp", **PAPER)
    check_identity_at_init(make_up(), wavs, "elp", **PAPER)
    check_hidden_states_reflect_the_adapter(make_up(), wavs, "elp", **PAPER)
    check_frozen_weights_stay_frozen(make_up(), wavs, "elp", **PAPER)
    check_save_load_round_trip(make_up, wavs, tmp_path / "elp.pt", "elp", **PAPER)  # LayerNorms included


def test_the_preset_is_a_single_task_run_not_a_multi_task_one():
    v = catalogue.variant("elp_wavlm_paper")
    assert v.method == "elp" and v.filed_under == "elp_wavlm_paper"
    assert "elp_wavlm_paper" in catalogue.names()
    assert "elp_wavlm_paper" not in catalogue.multi_task_runs()
    assert "elp_wavlm_paper" not in catalogue.single_task_runs()  # the recipes' defaults stay as they were
    from adapters.bin.make_configs import method_config

    cfg = method_config({"frontend_conf": {"upstream": "wavlm_local"}, "optim_conf": {"lr": 1e-3}}, "elp_wavlm_paper")
    assert cfg["frontend_conf"]["method"] == "elp" and cfg["optim_conf"]["lr"] == 1e-3
    mc = cfg["frontend_conf"]["method_conf"]
    assert (mc["e_bottleneck"], mc["l_dim"], mc["p_adapter"], mc["train_layernorms"]) == (256, 512, False, True)


# ---------------------------------------------------------------- learning-rate scales


def _frontend(ckpt_dir, method, **method_conf):
    from adapters.espnet.frontend import S3prlAdapterFrontend

    torch.manual_seed(0)
    return S3prlAdapterFrontend(upstream="hubert_local", path_or_url=str(ckpt_dir / "hubert.pt"),
                                method=method, method_conf=method_conf).eval()


def _optim_args(**kw):
    import argparse

    return argparse.Namespace(**{"optim": "adam", "optim_conf": {"lr": 0.002}, "sharded_ddp": False,
                                 "exclude_weight_decay": False, **kw})


def _model(fe):
    return nn.ModuleDict({"frontend": fe, "head": nn.Linear(fe.output_size(), 3)})


def test_elp_adapters_and_layernorms_learn_at_their_declared_rates(ckpt_dir, wavs):
    from adapters.espnet.tasks import AdapterASRTask

    fe = _frontend(ckpt_dir, "elp", **PAPER, adapter_lr_scale=0.5, layernorm_lr_scale=0.1)
    method = fe.adapted.method
    assert method.lr_scales() == {"adapters": 0.5, "layernorms": 0.1}
    model = _model(fe)
    (optim,) = AdapterASRTask.build_optimizers(_optim_args(), model)
    by_lr = {g["lr"]: {id(p) for p in g["params"]} for g in optim.param_groups}
    assert sorted(by_lr) == pytest.approx([0.0002, 0.001, 0.002])
    comps = method.lr_components()
    adapters_ids = {id(p) for p in comps["adapters"]}
    ln_ids = {id(p) for p in comps["layernorms"]}
    assert adapters_ids == {id(p) for p in method.parameters()} and len(ln_ids) == 2 * (2 * L + 2)
    lr = {round(k, 8): v for k, v in by_lr.items()}
    assert lr[0.001] == adapters_ids and lr[0.0002] == ln_ids
    assert lr[0.002] == {id(p) for p in model.parameters()} - adapters_ids - ln_ids
    # Adam's first step moves each trainable parameter by its group's rate
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    fe.train()
    feats, _ = fe(*wavs)
    model["head"](feats).pow(2).mean().backward()
    optim.step()
    moved = {n: (p.detach() - before[n]).abs().max().item() for n, p in model.named_parameters()
             if p.grad is not None and p.grad.abs().max() > 0}
    assert moved["frontend.adapted.method.l_adapters.0.proj.weight"] == pytest.approx(0.001, rel=1e-3)
    ln = next(n for n in moved if n.startswith("frontend.adapted.upstream.") and "layer_norm" in n)
    assert moved[ln] == pytest.approx(0.0002, rel=1e-3)
    assert moved["head.weight"] == pytest.approx(0.002, rel=1e-3)


def test_lr_scales_of_one_give_espnets_single_group(ckpt_dir):
    from espnet2.tasks.asr import ASRTask

    from adapters.espnet.tasks import AdapterASRTask

    for method, conf in (("elp", {**PAPER, "adapter_lr_scale": 1.0, "layernorm_lr_scale": 1.0}),
                         ("elp", {}), ("lora", {})):
        model = _model(_frontend(ckpt_dir, method, **conf))
        (ours,) = AdapterASRTask.build_optimizers(_optim_args(), model)
        (espnets,) = ASRTask.build_optimizers(_optim_args(), model)
        assert type(ours) is type(espnets) and len(ours.param_groups) == len(espnets.param_groups) == 1
        g, h = ours.param_groups[0], espnets.param_groups[0]
        assert [id(p) for p in g["params"]] == [id(p) for p in h["params"]]
        assert {k: v for k, v in g.items() if k != "params"} == {k: v for k, v in h.items() if k != "params"}
        assert g["lr"] == 0.002


def test_lr_scale_options_are_checked(make_up):
    with pytest.raises(ValueError, match="layernorm_lr_scale needs train_layernorms"):
        adapters.attach(make_up(), "elp", layernorm_lr_scale=0.1)
    with pytest.raises(ValueError, match="adapter_lr_scale must be > 0"):
        adapters.attach(make_up(), "elp", adapter_lr_scale=0)
    with pytest.raises(ValueError, match="adapter_lr_scale must be > 0"):
        adapters.attach(make_up(), "elp", adapter_lr_scale=True)
    # a scale marks its component's parameters (and nothing of the frozen backbone)
    a = adapters.attach(make_up(), "elp", adapter_lr_scale=0.5)
    assert {getattr(p, "lr_scale", 1.0) for p in a.method.parameters()} == {0.5}
    assert {getattr(p, "lr_scale", 1.0) for p in a.upstream.parameters()} == {1.0}


# ---------------------------------------------------------------- A-AF's second learning algorithm

UPDATE_RUNS = {"aaf_avg_update": "avg", "aaf_wavg_update": "wavg"}


def test_make_configs_writes_the_update_runs_for_the_euphonia_recipe(tmp_path):
    from adapters.bin.make_configs import write_configs

    conf = ROOT / "egs/euphonia/asr1/conf"
    written = write_configs(conf / "base.yaml", tmp_path, "train_ctc", list(UPDATE_RUNS),
                            title="Euphonia-like multi-task CTC")
    assert [p.name for p in written] == [f"train_ctc_{r}.yaml" for r in UPDATE_RUNS]
    for p, (run, mode) in zip(written, UPDATE_RUNS.items()):
        assert (conf / p.name).read_bytes() == p.read_bytes(), f"{conf / p.name}: regenerate it"
        import yaml

        fc = yaml.safe_load(p.read_text())["frontend_conf"]
        assert fc["method"] == "fusion" and fc["method_conf"]["mode"] == mode
        assert fc["method_conf"]["train_adapters"] is True
        v = catalogue.variant(run)
        assert v.after == ("extract",) and v.capabilities.needs_several_tasks
        assert run in catalogue.multi_task_runs() and catalogue.companion_runs(run) == ["frozen", "extract"]
    # the frozen-adapter compositions are the same but for train_adapters
    for run, mode in UPDATE_RUNS.items():
        plain = catalogue.variant(f"aaf_{mode}").method_conf()
        assert catalogue.variant(run).method_conf() == {**plain, "train_adapters": True}


@pytest.fixture
def stage1(make_up, tmp_path):
    """Two single-task adapter files, moved off their zero up-projections (as after training)."""
    paths = []
    for i, t in enumerate(("x", "y")):
        a = adapters.attach(make_up(), "fusion", tasks=[t])
        g = torch.Generator().manual_seed(i)
        with torch.no_grad():
            for p in a.trainable_parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=g))
        paths.append(str(adapters.save_adapter(a, tmp_path / f"{t}.pt")))
    return paths


@pytest.mark.parametrize("run", list(UPDATE_RUNS))
def test_the_composed_adapters_train_and_receive_gradient(make_up, wavs, stage1, run):
    conf = {**catalogue.variant(run).method_conf(), "adapter_paths": stage1}
    a = adapters.attach(make_up(), "fusion", **conf)
    ads = list(a.method.adapters.parameters())
    assert ads and all(p.requires_grad for p in ads)
    frozen = adapters.attach(make_up(), "fusion", **{**conf, "train_adapters": False})
    assert not any(p.requires_grad for p in frozen.method.adapters.parameters())
    assert a.num_trainable() - frozen.num_trainable() == sum(p.numel() for p in ads)
    a.train()
    hs, _ = a(*wavs)
    hs[-1].pow(2).mean().backward()
    for t in ("x", "y"):
        for n, p in a.method.adapters[t].named_parameters():
            assert p.grad is not None and p.grad.abs().max() > 0, f"{t}.{n} got no gradient"
    # and the frozen upstream none
    assert all(p.grad is None for p in a.upstream.parameters() if not p.requires_grad)
