"""Trainable parameter counts against their formulas; frozen weights stay frozen."""
import pytest
import torch

import adapters
from adapters import catalogue
from conftest import FAMILIES, perturb
from method_checks import check_frozen_weights_stay_frozen

L, D, F_, H = 2, 96, 192, 4  # the tiny upstream: layers, width, FFN width, heads


def formula(method, family, tasks=1):
    if method == "frozen":
        return 0
    if method == "houlsby":  # two bottlenecks (b=64) per layer, one set per task
        return tasks * L * 2 * (2 * D * 64 + 64 + D)
    if method == "lora":  # rank 8 on q and v
        return L * 2 * 8 * (D + D)
    if method == "prefix":  # 16 key and 16 value vectors per layer
        return L * 2 * 16 * D
    if method == "hra":  # IndRNN controller C=256 + one linear head per task
        C = 256
        return (C * D + 2 * C) + tasks * D * C
    if method == "fusion":  # one residual bottleneck per layer and task
        return tasks * L * (2 * D * 64 + 64 + D)
    if method == "elp":
        e = (L - 1) * (2 * D * 64 + 64 + D + 2 * D)  # E in layers 0..L-2, with LN
        l_ = L * (D * D + D + 2 * D) + L  # L-adapters + layer weights
        p = 8 * D + (D * D + D)  # E (8 x d) and the linear reparametrisation
        return e + l_ + p
    if method == "bitfit":  # q,k,v,out,fc1,fc2,2 LN biases per layer + pos_conv + encoder LN
        per_layer = 7 * D + F_ + (8 if family == "wavlm" else 0)  # WavLM: gated rel-pos bias
        return L * per_layer + 2 * D
    raise KeyError(method)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", ["frozen", "houlsby", "lora", "prefix", "hra", "fusion", "elp", "bitfit"])
def test_trainable_count_matches_formula(make_up, family, method):
    a = adapters.attach(make_up(family), method)
    assert a.num_trainable() == formula(method, family)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", ["hra", "houlsby", "fusion"])
def test_per_task_parts_grow_with_the_number_of_tasks(make_up, family, method):
    for k in (1, 2, 4):
        a = adapters.attach(make_up(family), method, tasks=[f"t{i}" for i in range(k)])
        assert a.num_trainable() == formula(method, family, tasks=k)


def test_hra_ffn_and_rnn_variant_counts(make_up):
    C, Fh = 32, 16
    a = adapters.attach(make_up(), "hra", controller="rnn", head="ffn", controller_dim=C, head_hidden=Fh, tasks=["a", "b"])
    assert a.num_trainable() == (C * D + C + C * C) + 2 * (Fh * C + D * Fh)
    g = adapters.attach(make_up(), "hra", controller="lightgru", controller_dim=C)
    assert g.num_trainable() == (2 * C * D + 2 * C + 2 * C * C) + D * C


@pytest.mark.parametrize("family", FAMILIES)
def test_finetune_trains_the_transformer_not_the_cnn(make_up, family):
    a = adapters.attach(make_up(family), "finetune")
    cnn = a.backbone.feature_extractor()
    assert not any(p.requires_grad for p in cnn.parameters())
    assert all(p.requires_grad for p in a.backbone.encoder.parameters())
    assert a.num_trainable() == sum(p.numel() for m in a.backbone.transformer_modules() for p in m.parameters())


def test_lora_with_k_and_the_fusion_composition_counts(make_up, tmp_path):
    a = adapters.attach(make_up(), "lora", rank=4, targets=["q", "k", "v"])
    assert a.num_trainable() == L * 3 * 4 * 2 * D
    paths = []
    for t in ("x", "y"):
        paths.append(str(adapters.save_adapter(adapters.attach(make_up(), "fusion", tasks=[t]), tmp_path / f"{t}.pt")))
    att = adapters.attach(make_up(), "fusion", mode="attention", adapter_paths=paths)
    assert att.num_trainable() == L * ((D * D + D) * 3 + 2 * D)  # Q, K, V and LN; adapters frozen
    upd = adapters.attach(make_up(), "fusion", mode="wavg", train_adapters=True, adapter_paths=paths)
    assert upd.num_trainable() == L * (2 + 2 * D) + formula("fusion", "hubert", tasks=2)
    no_ln = adapters.attach(make_up(), "fusion", mode="avg", layernorm=False, adapter_paths=paths)
    assert no_ln.num_trainable() == 0


# the generic contract (test/method_checks.py), for every method of the catalogue
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", catalogue.methods())
def test_frozen_weights_are_bit_identical_after_optimizer_steps(make_up, wavs, family, method):
    check_frozen_weights_stay_frozen(make_up(family), wavs, method)
