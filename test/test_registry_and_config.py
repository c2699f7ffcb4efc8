import pytest
import torch

import adapters
from adapters.tasks import TaskSet, UnknownTaskError

ALL = ["bitfit", "elp", "finetune", "frozen", "fusion", "houlsby", "hra", "lora", "prefix"]


def test_available_methods_lists_every_method_and_mode():
    assert set(ALL) <= set(adapters.available_methods())


def test_unknown_method_is_rejected_with_the_list(make_up):
    with pytest.raises(ValueError, match="unknown adapter method 'nope'.*hra"):
        adapters.attach(make_up(), "nope")


@pytest.mark.parametrize(
    "method, conf, match",
    [
        ("hra", {"controller": "lstm"}, "controller must be one of"),
        ("hra", {"head": "conv"}, "head must be one of"),
        ("hra", {"controller_dim": 0}, "controller_dim must be a positive integer"),
        ("hra", {"bottleneck": 4}, r"unknown option\(s\) \['bottleneck'\]"),
        ("fusion", {"mode": "max"}, "mode must be one of"),
        ("elp", {"p_position": "middle"}, "p_position must be one of"),
        ("elp", {"e_adapter": False, "l_adapter": False, "p_adapter": False}, "adapts nothing"),
        ("lora", {"targets": ["q", "z"]}, "targets must be distinct"),
        ("houlsby", {"bottleneck": -1}, "bottleneck must be a positive integer"),
        ("hra", {"layers": [0, 7]}, r"layers \[7\] out of range"),
    ],
)
def test_wrong_configuration_is_rejected(make_up, method, conf, match):
    with pytest.raises(ValueError, match=match):
        adapters.attach(make_up(), method, **conf)


def test_attach_twice_is_rejected(make_up):
    a = adapters.attach(make_up(), "hra")
    with pytest.raises(ValueError, match="already carries the 'hra' adapter"):
        adapters.attach(a, "lora")


def test_non_s3prl_module_is_rejected():
    with pytest.raises(TypeError, match="unsupported upstream Linear"):
        adapters.attach(torch.nn.Linear(2, 2), "hra")


def test_default_attach_works_with_one_default_task(make_up, wavs):
    a = adapters.attach(make_up(), "hra")
    assert a.tasks.names == ["default"]
    hs, lens = a(*wavs)
    assert len(hs) == a.num_layers


def test_task_set_resolves_names_indices_and_rejects_unknown():
    ts = TaskSet(["a", "b"])
    assert ts.resolve(["b", "a", 1], 3).tolist() == [1, 0, 1]
    assert ts.resolve("a", 2).tolist() == [0, 0]
    assert ts.resolve(None, 2) is None
    with pytest.raises(UnknownTaskError, match="unknown task 'c'.*\\['a', 'b'\\]"):
        ts.resolve(["c"], 1)
    with pytest.raises(UnknownTaskError, match="task id 5 is out of range"):
        ts.resolve(torch.tensor([5]), 1)
    with pytest.raises(ValueError, match="2 task ids for a batch of 3"):
        ts.resolve(["a", "b"], 3)
    with pytest.raises(ValueError, match="duplicate task names"):
        TaskSet(["a", "a"])


# ---------------------------------------------------------------- the catalogue
from adapters import catalogue  # noqa: E402
from method_checks import check_declarations  # noqa: E402


@pytest.mark.parametrize("method", catalogue.methods())
def test_every_method_declares_what_the_tools_read(make_up, method):
    check_declarations(make_up, method)


def test_every_run_of_the_catalogue_is_a_valid_configuration():
    rows = [v.filed_under for v in catalogue.variants()]
    assert len(rows) == len(set(rows)), "two runs filed under one row"
    assert catalogue.methods() == [v.method for v in catalogue.variants()[: len(catalogue.methods())]]
    for v in catalogue.variants():
        v.config()  # parses
        assert v.summary and "\n" not in v.summary and v.learning_rate_scale > 0
        assert all(catalogue.find(a) for a in v.after), v.name
        assert catalogue.for_row(v.filed_under).name == v.name
    assert catalogue.companion_runs("fusion") == ["frozen", "extract"]
    assert catalogue.companion_runs("hra") == ["hra_addtask"] and catalogue.companion_runs("lora") == []
    assert catalogue.variant("fusion").capabilities.needs_several_tasks  # the run: A-AF attention
    assert not catalogue.method_capabilities("fusion").needs_several_tasks  # the method: stage 1 by default
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        catalogue.variant("nope")


def test_the_multitask_recipe_files_its_runs_under_the_catalogues_rows():
    """The multi-task template's stage-17 table (run|label|row, from adapters.bin.multitask_plan)
    against the catalogue: every run, its label, the row its results are filed under."""
    import shlex

    from adapters.bin.multitask_plan import shell

    text = shell(catalogue.multitask_plan(["frozen", "hra"]))
    table = shlex.split(text.split("table_runs=(", 1)[1].rsplit(")", 1)[0])
    assert {e.split("|")[0] for e in table} == set(catalogue.names())
    for entry in table:
        run, label, row = entry.split("|")
        assert label == catalogue.table_label(run)
        assert catalogue.variant(run).filed_under == (run if row == "-" else row), run