"""Recipe configs are generated from one base per recipe: the committed files must be
what the generator writes from the committed base, and methods must differ only in
the adapter (finetune's upstream learns at a tenth of the rate: its backbone_lr_scale, a
parameter group of its own, not a smaller rate in the config)."""
from pathlib import Path

import pytest
import yaml

from adapters import catalogue
from adapters.bin.make_configs import method_config, write_configs

HRA_CONF = catalogue.variant("hra").method_conf()  # the recipes' HRA, from its file

ROOT = Path(__file__).resolve().parents[1]
BASES = [  # (recipe conf dir, base, prefix)
    ("egs/speech_commands/ks1/conf", "base.yaml", "train"),
    ("egs/iemocap/er1/conf", "base.yaml", "train"),
    ("egs/voxceleb/spk1/conf", "base_sid.yaml", "train_sid"),
    ("egs/voxceleb/spk1/conf", "base_asv.yaml", "train_asv"),
    ("egs/librispeech/asr1/conf", "base_ctc.yaml", "train_ctc"),
    ("egs/librispeech/asr1/conf", "base_rnnt.yaml", "train_rnnt"),
]


@pytest.mark.parametrize("conf,base,prefix", BASES)
def test_committed_configs_match_their_base(tmp_path, conf, base, prefix):
    for p in write_configs(ROOT / conf / base, tmp_path, prefix):
        committed = ROOT / conf / p.name
        assert committed.is_file(), f"{committed} missing: run python -m adapters.bin.make_configs"
        assert yaml.safe_load(committed.read_text()) == yaml.safe_load(p.read_text()), (
            f"{committed} differs from what {base} generates: regenerate it")


def test_methods_differ_only_in_the_adapter():
    base = {"frontend_conf": {"upstream": "hubert_local", "method_conf": {"stale": 1}},
            "optim_conf": {"lr": 0.002}, "max_epoch": 3}
    frozen, ft, hra = (method_config(base, m) for m in ("frozen", "finetune", "hra"))
    assert frozen["frontend_conf"] == {"upstream": "hubert_local", "method": "frozen"}
    assert ft["optim_conf"]["lr"] == frozen["optim_conf"]["lr"] == 0.002
    assert hra["frontend_conf"]["method_conf"] == HRA_CONF
    assert base["frontend_conf"]["method_conf"] == {"stale": 1}  # the base is not modified
    for cfg in (frozen, ft, hra):
        assert cfg["max_epoch"] == 3
    with pytest.raises(SystemExit, match="unknown method 'nosuch'"):
        method_config(base, "nosuch")


def test_multitask_recipe_configs_match_their_base(tmp_path):
    """The Euphonia recipe generates the multi-task runs too (extract, fusions, hra_addtask)."""
    conf = ROOT / "egs/euphonia/asr1/conf"
    methods = sorted(p.stem[len("train_ctc_"):] for p in conf.glob("train_ctc_*.yaml"))
    assert {"hra", "hra_addtask", "extract", "fusion"} <= set(methods)
    for p in write_configs(conf / "base.yaml", tmp_path, "train_ctc", methods):
        assert yaml.safe_load((conf / p.name).read_text()) == yaml.safe_load(p.read_text()), (
            f"{conf / p.name} differs from what base.yaml generates: regenerate it")


def test_a_base_overrides_one_method_in_all_its_runs():
    base = {"frontend_conf": {"upstream": "hubert_local"},
            "method_conf_overrides": {"hra": {"head": "ffn", "head_hidden": 128}}}
    for run in ("hra", "hra_addtask"):  # the add-a-task run must build the same heads
        cfg = method_config(base, run)
        assert cfg["frontend_conf"]["method_conf"] == {**HRA_CONF, "head": "ffn", "head_hidden": 128}
        assert "method_conf_overrides" not in cfg
    # the added task keeps one checkpoint: averaging moves frozen weights by an ulp
    assert method_config({"keep_nbest_models": 3}, "hra_addtask")["keep_nbest_models"] == 1
    assert method_config({"keep_nbest_models": 3}, "hra")["keep_nbest_models"] == 3
    assert "method_conf" not in method_config(base, "frozen")["frontend_conf"]
    assert catalogue.variant("hra").method_conf()["head"] == "linear"  # the declaration is not modified
    with pytest.raises(SystemExit, match="nosuch not registered"):
        method_config({"method_conf_overrides": {"nosuch": {}}}, "hra")
    with pytest.raises(SystemExit, match="entries of hra must be key: value maps"):
        method_config({"method_conf_overrides": {"hra": ["ffn"]}}, "hra")
