"""Stored adapter parameters against the number of tasks: HRA grows by one head per
task, per-task methods by a full copy; on the base model HRA for 128 tasks stores at
most a tenth of what 128 Houlsby adapters do."""
import json
import time

import pytest

from adapters.bin import param_growth as pg
from adapters.upstreams import make_upstream

L, D = 2, 96  # the tiny upstream: layers, width
C = 256  # the recipes' HRA controller width


def hra_formula(k, d=D, c=C):
    """IndRNN controller (W: C x d without bias, b: C, u: C) + one linear head V_k: d x C per task."""
    return (c * d + c + c) + k * d * c


def test_growth_table_scales_per_task_methods_and_keeps_hra_measured():
    t = pg.growth_table({"houlsby": 10, "lora": 3}, {1: 7, 2: 9, 4: 13}, [1, 2, 4])
    assert t == {"hra": [(1, 7), (2, 9), (4, 13)],
                 "houlsby": [(1, 10), (2, 20), (4, 40)],
                 "lora": [(1, 3), (2, 6), (4, 12)]}
    assert pg.ratios(t) == [(1, 0.7), (2, 0.45), (4, 13 / 40)]
    with pytest.raises(ValueError, match="no HRA count"):
        pg.growth_table({"houlsby": 10}, {1: 7}, [1, 2])
    with pytest.raises(ValueError, match="positive"):
        pg.growth_table({"houlsby": 10}, {0: 7}, [0])
    with pytest.raises(ValueError, match="leave it out"):
        pg.growth_table({"hra": 10}, {1: 7}, [1])


def test_defaults_are_the_recipes():
    assert pg.default_conf("houlsby") == {"bottleneck": 64}
    assert pg.default_conf("lora") == {"rank": 8, "alpha": 16, "targets": ["q", "v"]}
    assert pg.default_conf("elp")["e_bottleneck"] == 64 and pg.default_conf("elp")["p_length"] == 8
    assert pg.default_conf("hra") == {"controller": "indrnn", "controller_dim": 256, "head": "linear"}


@pytest.fixture(scope="module")
def tiny_measured(ckpt_dir):
    up = pg.load_upstream("hubert", ckpt_dir / "hubert.pt")
    confs = {m: pg.default_conf(m) for m in ("hra",) + pg.PER_TASK}
    ks = [1, 2, 3, 4, 8, 16]
    one_task, hra = pg.measure(up, ks, confs)
    return up, ks, one_task, hra


def test_hra_is_controller_plus_one_head_per_task(tiny_measured):
    _, ks, _, hra = tiny_measured
    assert hra == {k: hra_formula(k) for k in ks}
    slopes = {(hra[b] - hra[a]) // (b - a) for a, b in zip(ks, ks[1:])}
    assert slopes == {D * C}  # linear in K, slope = one head


def test_per_task_methods_scale_exactly_k(tiny_measured):
    up, ks, one_task, hra = tiny_measured
    assert one_task["houlsby"] == L * 2 * (2 * D * 64 + 64 + D)
    assert one_task["lora"] == L * 2 * 8 * (D + D)
    assert 0 < one_task["elp"] and 0 < one_task["finetune"] < pg.backbone_params(up)
    table = pg.growth_table(one_task, hra, ks)
    assert set(table) == {"hra", *pg.PER_TASK}
    for m in pg.PER_TASK:
        assert table[m] == [(k, k * one_task[m]) for k in ks]
    # measuring detaches every method again: the upstream is back to frozen and hook-free
    assert pg.count_trainable(up, "frozen", {}) == 0


def test_cli_writes_json_md_png_on_tiny(ckpt_dir, tmp_path, capsys):
    out = tmp_path / "growth"
    pg.main(["--family", "hubert", "--upstream", str(ckpt_dir / "hubert.pt"), "--tasks", "1", "2", "4",
             "--out", str(out), "--hra_conf", '{"controller_dim": 32}', "--lora_conf", '{"rank": 4}'])
    rep = json.loads((out / "param_growth.json").read_text())
    assert rep["tasks"] == [1, 2, 4] and rep["family"] == "hubert"
    assert rep["methods"]["hra"] == [[k, hra_formula(k, c=32)] for k in (1, 2, 4)]
    assert rep["methods"]["lora"] == [[k, k * L * 2 * 4 * 2 * D] for k in (1, 2, 4)]
    assert rep["confs"]["lora"] == {"rank": 4, "alpha": 16, "targets": ["q", "v"]}  # override over defaults
    houlsby = dict(rep["methods"]["houlsby"])
    assert rep["ratio_hra_houlsby"] == [[k, n / houlsby[k]] for k, n in rep["methods"]["hra"]]
    md = (out / "param_growth.md").read_text()
    assert "| K | hra | houlsby | lora | elp | finetune | HRA / Houlsby |" in md
    assert md.count("\n| ") == 5  # header, rule, three K rows
    assert md in capsys.readouterr().out
    png = (out / "param_growth.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def test_cli_rejects_bad_arguments(tmp_path):
    for bad in (["--tasks", "0"], ["--hra_conf", "[1]"], ["--houlsby_conf", "{oops"]):
        with pytest.raises(SystemExit):
            pg.main(bad + ["--out", str(tmp_path)])


def test_base_hra_for_128_tasks_stores_a_tenth_of_houlsby(tmp_path):
    t0 = time.perf_counter()
    path = make_upstream("hubert", "base", tmp_path / "base.pt")
    up = pg.load_upstream("hubert", path)
    built = time.perf_counter() - t0
    d, c = 768, 256
    t1 = time.perf_counter()
    hra = pg.count_trainable(up, "hra", pg.default_conf("hra"), [f"task{i}" for i in range(128)])
    attach_128 = time.perf_counter() - t1
    houlsby = pg.count_trainable(up, "houlsby", pg.default_conf("houlsby"))
    assert hra == hra_formula(128, d=d, c=c)
    assert houlsby == 12 * 2 * (2 * d * 64 + 64 + d)
    ratio = hra / (128 * houlsby)
    print(f"\nbase: built in {built:.1f} s, HRA with 128 tasks attached in {attach_128:.2f} s; "
          f"HRA {hra:,} / 128 x Houlsby {128 * houlsby:,} = {ratio:.4f}")
    assert ratio <= 0.1
    assert attach_128 < 10
