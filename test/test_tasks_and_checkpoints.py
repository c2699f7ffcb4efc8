"""Multi-task routing and adapter-only checkpoints."""
import pytest
import torch

import adapters
from adapters import catalogue
from adapters.checkpoint import CheckpointError, load_state_into
from conftest import FAMILIES, max_diff, perturb
from method_checks import check_mixed_task_batch, check_save_load_round_trip, methods_where


@pytest.fixture
def same_len_wavs():
    g = torch.Generator().manual_seed(3)
    return torch.randn(4, 6400, generator=g), torch.full((4,), 6400)


# the generic contract (test/method_checks.py): every method of the catalogue that routes by
# task id, and HRA's FFN heads besides its default linear ones
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method, conf", [(m, {}) for m in methods_where(lambda c: c.routes_tasks)]
                         + [("hra", {"head": "ffn"})])
def test_mixed_task_batch_equals_task_by_task(make_up, same_len_wavs, family, method, conf):
    check_mixed_task_batch(make_up(family), same_len_wavs, method, **conf)


def test_multi_task_adapter_needs_task_ids(make_up, wavs):
    a = adapters.attach(make_up(), "hra", tasks=["a", "b"])
    with pytest.raises(ValueError, match="has 2 tasks .*pass task="):
        a(*wavs)
    with pytest.raises(KeyError, match="unknown task 'z'"):
        a(*wavs, task="z")
    # fusion needs none in its composition modes
    f = adapters.attach(make_up(), "fusion", tasks=["a", "b"], mode="avg")
    hs, _ = f(*wavs)
    assert len(hs) == f.num_layers and hs[-1].shape[0] == wavs[0].shape[0]


@pytest.mark.parametrize("method, new_params", [
    ("hra", {"method.heads.new.V"}),
    ("houlsby", {f"method.adapters.new.{w}.{i}.{lin}.{p}" for w in ("attn", "ffn") for i in (0, 1)
                 for lin in ("down", "up") for p in ("weight", "bias")}),
    ("fusion", {f"method.adapters.new.{i}.{lin}.{p}" for i in (0, 1) for lin in ("down", "up")
                for p in ("weight", "bias")}),
])
def test_new_task_trains_only_its_own_parts_and_leaves_others_unchanged(make_up, same_len_wavs, method, new_params):
    a = adapters.attach(make_up(), method, tasks=["a", "b"])
    perturb(a.method, std=0.2)
    wav, lens = same_len_wavs
    with torch.no_grad():
        before = [a(wav, lens, task=t)[0] for t in "ab"]
    a.method.add_task("new")
    a.method.train_only_tasks(["new"])
    assert {n for n, p in a.named_parameters() if p.requires_grad} == new_params
    with pytest.raises(KeyError, match="unknown task 'nope'"):
        a.method.train_only_tasks(["nope"])
    opt = torch.optim.Adam(a.trainable_parameters(), lr=1e-2)
    for _ in range(3):
        loss = a(wav, lens, task="new")[0][-1].pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = [a(wav, lens, task=t)[0] for t in "ab"]
        new = a(wav, lens, task="new")[0]
    for x, y in zip(before, after):
        assert all(torch.equal(u, v) for u, v in zip(x, y))  # bit-identical
    assert max_diff(new, before[0]) > 1e-4


def test_tasks_added_by_name_only_where_the_method_has_per_task_parts(make_up):
    with pytest.raises(ValueError, match="lora has no per-task parts"):
        adapters.attach(make_up(), "lora").method.add_task("x")
    with pytest.raises(ValueError, match="add task 'x' in mode single"):
        adapters.attach(make_up(), "fusion", tasks=["a", "b"], mode="avg").method.add_task("x")
    with pytest.raises(ValueError, match="already exists"):
        adapters.attach(make_up(), "hra", tasks=["a"]).method.add_task("a")


def test_stored_params_of_some_tasks_and_of_all(make_up):
    from adapters.checkpoint import stored_params

    a = adapters.attach(make_up(), "houlsby", tasks=["a", "b", "c"])
    per_task = a.num_trainable() // 3
    assert stored_params(a) == a.num_trainable() == 3 * per_task
    assert stored_params(a, ["b"]) == per_task
    h = adapters.attach(make_up(), "hra", tasks=["a", "b", "c"])
    head = h.method.heads["a"].V.numel()
    assert stored_params(h, ["a"]) == stored_params(h) - 2 * head  # the controller is stored once


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", catalogue.methods())
def test_save_load_round_trip_gives_identical_outputs(make_up, wavs, tmp_path, family, method):
    check_save_load_round_trip(make_up, wavs, tmp_path / "ad.pt", method, family)


def test_checkpoint_from_another_backbone_is_rejected(make_up, tmp_path, ckpt_dir):
    from adapters.upstreams import SIZES, make_upstream
    from s3prl.nn import S3PRLUpstream

    a = adapters.attach(make_up("hubert"), "hra")
    path = adapters.save_adapter(a, tmp_path / "hra.pt")
    with pytest.raises(CheckpointError, match="another backbone.*family: checkpoint has 'hubert', upstream has 'wavlm'"):
        adapters.load_adapter(make_up("wavlm"), path)
    SIZES["wider"] = dict(SIZES["tiny"], encoder_embed_dim=64, encoder_ffn_embed_dim=128)
    try:
        make_upstream("hubert", "wider", tmp_path / "wide.pt")
    finally:
        del SIZES["wider"]
    wide = S3PRLUpstream("hubert_local", path_or_url=str(tmp_path / "wide.pt"))
    with pytest.raises(CheckpointError, match="dim: checkpoint has 96, upstream has 64"):
        adapters.load_adapter(wide, path)
    other = adapters.attach(make_up("hubert"), "lora")
    with pytest.raises(CheckpointError, match="holds a 'hra' adapter, the upstream carries 'lora'"):
        load_state_into(other, path)


def test_missing_corrupt_and_foreign_files_are_rejected(make_up, tmp_path):
    with pytest.raises(CheckpointError, match="not found: .*nothere.pt"):
        adapters.load_adapter(make_up(), tmp_path / "nothere.pt")
    good = adapters.save_adapter(adapters.attach(make_up(), "hra"), tmp_path / "good.pt")
    bad = tmp_path / "trunc.pt"
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="trunc.pt: not a readable adapter checkpoint"):
        adapters.load_adapter(make_up(), bad)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="foreign.pt: not an adapter checkpoint"):
        adapters.load_adapter(make_up(), tmp_path / "foreign.pt")


def test_per_task_checkpoints_and_fusion_from_missing_file(make_up, wavs, tmp_path):
    a = adapters.attach(make_up(), "hra", tasks=["a", "b"])
    perturb(a.method)
    pa = adapters.save_adapter(a, tmp_path / "a.pt", tasks=["a"])
    state = torch.load(pa, weights_only=True)["state"]
    assert not any(k.startswith("method.heads.b.") for k in state)
    b = adapters.load_adapter(make_up(), pa)
    assert b.tasks.names == ["a"]
    with torch.no_grad():
        torch.testing.assert_close(b(*wavs, task="a")[0][-1], a(*wavs, task="a")[0][-1])
    with pytest.raises(KeyError, match="unknown task 'c'"):
        adapters.save_adapter(a, tmp_path / "c.pt", tasks=["c"])
    with pytest.raises(CheckpointError, match="not found: .*gone.pt"):
        adapters.attach(make_up(), "fusion", mode="avg", adapter_paths=[str(tmp_path / "gone.pt")])
    with pytest.raises(ValueError, match="not a single-task adapter from the extraction stage"):
        adapters.attach(make_up(), "fusion", mode="avg", adapter_paths=[str(pa)])


def test_extraction_checkpoints_load_into_composition(make_up, wavs, tmp_path):
    paths = []
    singles = {}
    for i, t in enumerate(["x", "y"]):
        s = adapters.attach(make_up(), "fusion", tasks=[t])
        perturb(s.method, seed=i)
        singles[t] = s
        paths.append(str(adapters.save_adapter(s, tmp_path / f"{t}.pt")))
    comp = adapters.attach(make_up(), "fusion", mode="attention", adapter_paths=paths)
    assert comp.tasks.names == ["x", "y"]
    for t in "xy":
        for k, v in singles[t].method.adapters[t].state_dict().items():
            assert torch.equal(comp.method.adapters[t].state_dict()[k], v)
    # task routing over the same adapters equals each single-task model
    route = adapters.attach(make_up(), "fusion", mode="single", adapter_paths=paths)
    with torch.no_grad():
        torch.testing.assert_close(route(*wavs, task="y")[0][-1], singles["y"](*wavs)[0][-1])
