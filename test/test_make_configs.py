"""Recipe configs are generated from one base per recipe: the committed files must be
what the generator writes from the committed base, and methods must differ only in
the adapter (and finetune's smaller learning rate)."""
from pathlib import Path

import pytest
import yaml

from adapters.bin.make_configs import METHODS, method_config, write_configs

ROOT = Path(__file__).resolve().parents[1]
BASES = [  # (recipe conf dir, base, prefix)
    ("egs/speech_commands/ks1/conf", "base.yaml", "train"),
    ("egs/iemocap/er1/conf", "base.yaml", "train"),
    ("egs/voxceleb/spk1/conf", "base_sid.yaml", "train_sid"),
    ("egs/voxceleb/spk1/conf", "base_asv.yaml", "train_asv"),
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
    assert ft["optim_conf"]["lr"] == pytest.approx(0.0002) and frozen["optim_conf"]["lr"] == 0.002
    assert hra["frontend_conf"]["method_conf"] == METHODS["hra"][1]
    assert base["frontend_conf"]["method_conf"] == {"stale": 1}  # the base is not modified
    for cfg in (frozen, ft, hra):
        assert cfg["max_epoch"] == 3
    with pytest.raises(SystemExit, match="unknown method 'nosuch'"):
        method_config(base, "nosuch")
