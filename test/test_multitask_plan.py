"""The multi-task template's plan (adapters.catalogue.multitask_plan, adapters.bin.multitask_plan):
which run each stage trains comes from the catalogue's declarations, and the template itself
names no method."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from adapters import catalogue
from adapters.catalogue import multitask_plan

ROOT = Path(__file__).resolve().parents[1]


def test_euphonia_default_plan():
    p = multitask_plan("frozen finetune houlsby hra elp fusion".split(), ["aaf_avg"])
    assert p.scratch == ["frozen", "finetune", "houlsby", "hra", "elp"]
    assert p.adapt == [("extract", "frozen")]  # A-AF stage 1 on the frozen run's model
    assert p.compose == ["fusion", "aaf_avg"] and p.compose_base == "extract"
    assert p.export == [("extract", True), ("hra", False)]
    assert p.add_task == [("hra_addtask", "hra")]


def test_a_composition_brings_the_runs_it_starts_from():
    p = multitask_plan(["hra", "fusion"], ["aaf_avg", "aaf_wavg"], new_task=False)
    assert p.scratch == ["frozen", "hra"]  # frozen: extract adapts its model, asked for or not
    assert p.adapt == [("extract", "frozen")] and p.compose == ["fusion", "aaf_avg", "aaf_wavg"]
    assert p.add_task == [] and p.export == [("extract", True)]


def test_a_task_adding_run_brings_the_run_it_adds_to():
    p = multitask_plan(["hra_addtask"])
    assert p.scratch == ["hra"] and p.add_task == [("hra_addtask", "hra")] and p.export == [("hra", False)]


def test_extra_compositions_only_with_a_composition_asked_for():
    p = multitask_plan(["frozen", "lora"], ["aaf_avg"])
    assert p.scratch == ["frozen", "lora"] and p.adapt == [] and p.compose == [] and p.add_task == []


def test_bad_plans_are_named():
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        multitask_plan(["frozen", "nope"])
    with pytest.raises(ValueError, match="does not compose"):
        multitask_plan(["fusion"], ["lora"])


def test_table_labels_say_how_a_run_treats_tasks():
    assert catalogue.table_label("hra") == "HRA (task id)"
    assert catalogue.table_label("lora") == "LoRA (shared by all tasks)"
    assert catalogue.table_label("frozen") == "frozen + weighted sum"
    assert catalogue.table_label("extract") == "single-task adapters, task-id routing"
    labels = [catalogue.table_label(n) for n in catalogue.names()]
    assert len(set(labels)) == len(labels)  # one row per run in the multi-task table


def test_the_cli_prints_shell_assignments_and_names_errors():
    r = subprocess.run([sys.executable, "-m", "adapters.bin.multitask_plan", "--methods", "frozen hra fusion",
                        "--compositions", "aaf_avg"], capture_output=True, text=True, cwd=ROOT, check=True)
    out = subprocess.run(["bash", "-c", r.stdout + '\necho "$scratch_runs|$adapt_runs|$compose_runs|$compose_base|'
                          '$export_runs|$addtask_runs|${#table_runs[@]}"'], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (f"frozen hra|extract:frozen|fusion aaf_avg|extract|extract:true hra:false|"
                                  f"hra_addtask:hra|{len(catalogue.names())}")
    bad = subprocess.run([sys.executable, "-m", "adapters.bin.multitask_plan", "--methods", "nope"],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and "unknown method 'nope'" in bad.stderr


def test_the_template_names_no_method():
    """Outside comments and help text, multitask.sh has no run's name: the plan says what runs where."""
    code = []
    for line in (ROOT / "egs/TEMPLATE/asr1/multitask.sh").read_text().splitlines():
        line = line.split("#", 1)[0] if not line.lstrip().startswith(("log ", "die ")) else ""
        code.append(line)
    text = "\n".join(code)
    text = re.sub(r'^(aaf_)?methods="[^"]*"', "", text, flags=re.M)  # the options' defaults (a user's choice)
    text = re.sub(r'"[^"]*"', lambda m: re.sub(r"(die|log) .*", "", m.group(0)), text)
    for name in catalogue.names():
        assert not re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", text), name
