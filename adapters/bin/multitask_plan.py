"""The multi-task template's plan, as shell assignments (``eval`` in ``egs/TEMPLATE/asr1/multitask.sh``).

The template asks the catalogue (``adapters.catalogue.multitask_plan``) which runs each of its
stages trains, so it knows no method by name::

    scratch_runs='frozen hra'       # stages 11-13, one call
    adapt_runs='extract:frozen'     # stages 11-13 after them: run:base, the base's downstream frozen
    compose_runs='fusion aaf_avg'   # stage 15: compositions of compose_base's per-task adapters
    compose_base='extract'
    export_runs='extract:true hra:false'  # stage 14: run:per_task adapter-only files
    addtask_runs='hra_addtask:hra'  # stage 16: run:base, a task added to a trained run
    table_runs=('frozen|frozen + weighted sum|-' ...)  # stage 17: run|label|row, every known run

    python -m adapters.bin.multitask_plan --methods "frozen hra fusion" --compositions aaf_avg --new_task true
"""
from __future__ import annotations

import argparse
import shlex
import sys

from adapters import catalogue


def table_runs():
    """Every known run, the methods' own first, then the multi-task runs (the table's order)."""
    multi = catalogue.multi_task_runs()
    return [n for n in catalogue.names() if n not in multi] + multi


def shell(plan: catalogue.MultiTaskPlan) -> str:
    def words(xs):
        return shlex.quote(" ".join(xs))

    table = " ".join(shlex.quote(f"{r}|{catalogue.table_label(r)}|{catalogue.variant(r).row or '-'}")
                     for r in table_runs())
    return "\n".join([
        f"scratch_runs={words(plan.scratch)}",
        f"adapt_runs={words(f'{r}:{b}' for r, b in plan.adapt)}",
        f"compose_runs={words(plan.compose)}",
        f"compose_base={shlex.quote(plan.compose_base)}",
        f"export_runs={words(f'{r}:{str(p).lower()}' for r, p in plan.export)}",
        f"addtask_runs={words(f'{r}:{b}' for r, b in plan.add_task)}",
        f"table_runs=({table})",
    ]) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", required=True, help="the runs asked for (space-separated)")
    ap.add_argument("--compositions", default="", help="more compositions of the same adapters (space-separated)")
    ap.add_argument("--new_task", default="true", choices=["true", "false"])
    a = ap.parse_args(argv)
    try:
        plan = catalogue.multitask_plan(a.methods.split(), a.compositions.split(), a.new_task == "true")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(shell(plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
