"""The catalogue's proof: a method defined here, in one file of a temporary module and
registered by importing it, is picked up by every tool and by the generic method tests
with nothing else edited: ``make_configs`` writes its config for every recipe with a base
config, ``benchmark --dry_run --methods <it>`` plans it, ``bench_methods`` times it, the
ESPnet frontend and the feature cache take it, and the contract of ``method_checks.py``
(identity at initialisation, frozen weights frozen, save/load, mixed-task batches) holds.

(LibriSpeech's configs are still written by hand, without a base: the benchmark plan here
covers the recipes that generate theirs.)"""
import importlib.util
import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from adapters import catalogue
from adapters.registry import unregister
from conftest import FAMILIES
from method_checks import (check_declarations, check_frozen_weights_stay_frozen, check_hidden_states_reflect_the_adapter,
                           check_identity_at_init, check_mixed_task_batch, check_save_load_round_trip)

ROOT = Path(__file__).resolve().parents[1]
NAME = "scaled_bias"
# the whole method: what a new file in adapters/methods/ would hold
SOURCE = textwrap.dedent('''
    """A scaled bias per task on every layer output: x_l <- x_l + s b_{k,l}, b zero at init."""
    from dataclasses import dataclass

    import torch
    from torch import nn

    from adapters.methods.base import AdapterMethod
    from adapters.registry import register


    @dataclass
    class ScaledBiasConfig:
        scale: float = 1.0  # s


    @register("scaled_bias")
    class ScaledBias(AdapterMethod):
        Config = ScaledBiasConfig
        description = "scaled bias: one bias per task on every layer output, times a fixed scale"
        recipe_conf = {"scale": 0.5}
        routes_tasks = True
        task_modules = "biases"

        def __init__(self, backbone, config, tasks):
            super().__init__(backbone, config, tasks)
            self.biases = nn.ModuleDict({t: self.new_task_module() for t in self.tasks})

        def new_task_module(self):
            bb = self.backbone
            return nn.ParameterList(nn.Parameter(torch.zeros(bb.dim)) for _ in range(bb.num_layers))

        def install(self):
            bb = self.backbone
            for i in range(bb.num_layers):

                def after_layer(mod, inp, out, _i=i):
                    x = bb.layer_output(out)  # (T, B, d)
                    uniq, inverse = self.routing(x.size(1), x.device)
                    b = torch.stack([self.biases[self.tasks.names[k]][_i] for k in uniq])[inverse]
                    return bb.with_layer_output(out, x + self.config.scale * b)

                self.hook(bb.layers[i], after_layer)
''')
# the recipes that generate their configs: (recipe, base, prefix, benchmark entry names)
RECIPES = [
    ("speech_commands/ks1", "base.yaml", "train", ["KS"]),
    ("iemocap/er1", "base.yaml", "train", ["ER"]),
    ("voxceleb/spk1", "base_sid.yaml", "train_sid", ["SID"]),
    ("voxceleb/spk1", "base_asv.yaml", "train_asv", ["ASV"]),
    ("euphonia/asr1", "base.yaml", "train_ctc", ["MT-ASR"]),
]


@pytest.fixture
def new_method(tmp_path):
    """The method's file in a temporary module, registered by importing it; forgotten after."""
    path = tmp_path / "scaled_bias_method.py"
    path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location("scaled_bias_method", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield NAME
    finally:
        unregister(NAME)
        sys.modules.pop(spec.name, None)


def test_new_method_joins_the_catalogue(new_method, make_up):
    assert catalogue.methods()[-1] == NAME and NAME in catalogue.single_task_runs()
    run = catalogue.variant(NAME)
    assert run.method == NAME and run.method_conf() == {"scale": 0.5} and run.learning_rate_scale == 1.0
    c = run.capabilities
    assert c.routes_tasks and c.identity_at_init and c.lowest_adapted == 1 and not c.needs_several_tasks
    assert catalogue.cache_cut(NAME) == "encoder" and c.upstream_grad
    check_declarations(make_up, NAME)


def test_new_method_in_the_multitask_plan_and_table(new_method):
    from adapters.bin.multitask_plan import shell

    plan = catalogue.multitask_plan(["frozen", NAME])
    assert plan.scratch == ["frozen", NAME]
    assert catalogue.table_label(NAME) == f"{NAME} (task id)"  # routes by task id, no table_label of its own
    assert f"'{NAME}|{NAME} (task id)|-'" in shell(plan)


def test_new_method_configs_for_every_recipe(new_method, tmp_path):
    from adapters.bin.make_configs import write_configs

    for recipe, base, prefix, _ in RECIPES:
        out = tmp_path / recipe / prefix
        out.mkdir(parents=True)
        written = {p.name: p for p in write_configs(ROOT / "egs" / recipe / "conf" / base, out, prefix)}
        assert f"{prefix}_{NAME}.yaml" in written, recipe  # among the defaults: nothing to list
        text = written[f"{prefix}_{NAME}.yaml"].read_text()
        assert "scaled bias: one bias per task" in text.splitlines()[0]
        cfg, frozen = yaml.safe_load(text), yaml.safe_load(written[f"{prefix}_frozen.yaml"].read_text())
        fc = cfg.pop("frontend_conf")
        assert fc.pop("method") == NAME and fc.pop("method_conf") == {"scale": 0.5}
        ffc = frozen.pop("frontend_conf")
        ffc.pop("method")
        assert fc == ffc and cfg == frozen, f"{recipe}: the run differs in more than the adapter"


def copy_recipes(top: Path, recipes) -> Path:
    """egs/<recipe> copies (no data or outputs) under top, with TEMPLATE and tools linked."""
    egs = top / "egs"
    egs.mkdir(parents=True)
    os.symlink(ROOT / "egs" / "TEMPLATE", egs / "TEMPLATE")
    os.symlink(ROOT / "tools", top / "tools")
    for r in dict.fromkeys(recipes):
        shutil.copytree(ROOT / "egs" / r, egs / r, symlinks=True,
                        ignore=shutil.ignore_patterns("data", "dump*", "exp*", "downloads*"))
    return egs


def test_new_method_is_planned_by_the_benchmark(new_method, tmp_path, capsys):
    from adapters.bin import benchmark
    from adapters.bin.make_configs import write_configs

    egs = copy_recipes(tmp_path, [r for r, *_ in RECIPES])
    for recipe, base, prefix, _ in RECIPES:
        conf = egs / recipe / "conf"
        write_configs(conf / base, conf, prefix, [NAME])
    names = [n for *_, ns in RECIPES for n in ns]
    rc = benchmark.main(["--egs", str(egs), "--out", str(tmp_path / "out"), "--profile", "full", "--dry_run",
                         "--methods", NAME, "--only", *names])
    out = capsys.readouterr().out
    assert rc == 0, out
    runs = [line for line in out.splitlines() if f"--stage 11 --methods {NAME} " in line]
    assert len(runs) == len(names), out
    assert f"# plan checked: {len(names)} entries, {len(names)} runs" in out


def test_new_method_is_timed_by_bench_methods(new_method, tmp_path):
    from adapters.bin import bench_methods

    out = tmp_path / "bench.json"
    bench_methods.main(["--size", "tiny", "--repeat", "1", "--batch-size", "2", "--seconds", "0.5",
                        "--methods", NAME, "--json", str(out)])
    res = json.loads(out.read_text())
    rows = {r["name"]: r for r in res["rows"]}
    # with the run that fine-tunes the backbone: the ratios' reference
    assert list(rows) == [catalogue.variant(n).name for n in catalogue.methods()
                          if catalogue.variant(n).capabilities.trains_backbone][:1] + [NAME]
    r = rows[NAME]
    assert r["method"] == NAME and r["trainable"] == 2 * 96  # one bias per layer (L = 2, d = 96), one task
    assert r["step_s"] > 0 and r["infer_s"] > 0 and r["step_ratio_vs_finetune"] > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_new_method_keeps_the_method_contract(new_method, make_up, wavs, tmp_path, family):
    check_identity_at_init(make_up(family), wavs, NAME)
    check_hidden_states_reflect_the_adapter(make_up(family), wavs, NAME)
    check_frozen_weights_stay_frozen(make_up(family), wavs, NAME)
    check_save_load_round_trip(make_up, wavs, tmp_path / "ad.pt", NAME, family)
    g = torch.Generator().manual_seed(3)
    check_mixed_task_batch(make_up(family), (torch.randn(4, 6400, generator=g), torch.full((4,), 6400)), NAME)


def test_new_method_in_the_espnet_frontend_and_the_cache(new_method, ckpt_dir, wavs):
    from adapters.espnet.frontend import S3prlAdapterFrontend

    fe = S3prlAdapterFrontend(upstream="hubert_local", path_or_url=str(ckpt_dir / "hubert.pt"), method=NAME,
                              method_conf=catalogue.variant(NAME).method_conf(), tasks=["a", "b"]).eval()
    assert fe.features == "weighted_sum" and fe.adapted.cache_cut == "encoder"
    x, lens = wavs
    fe.set_tasks(["a", "b", "a"])
    feats, flens = fe(x, lens)
    assert feats.shape[0] == 3 and feats.shape[-1] == fe.output_size()
    # from the cached frozen part (cut where the method says): the same features
    cached = fe.adapted.frozen_part(x, lens)
    fe.set_tasks(["a", "b", "a"])
    feats2, _ = fe(*cached)
    torch.testing.assert_close(feats, feats2)
