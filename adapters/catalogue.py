"""The catalogue: every adapter method, every named run of one, and what the tools ask of them.

A method says what it is in its own file (``adapters/methods/<name>.py``): the class it
registers with ``@register(name)`` declares a one-line ``description``, the ``method_conf``
the recipes give it (``recipe_conf``), their learning-rate scale for it
(``recipe_lr_scale``) and its capabilities (``adapters.methods.base.Capabilities``:
trains the backbone, needs gradients inside the upstream, has its own layer summary,
needs several tasks, routes by task id, the lowest hidden state it changes, where its
frozen part ends, identity at initialisation).

A *run* is what ``--methods`` names, a config ``<prefix>_<run>.yaml`` holds, an exp dir
and a table row stand for: a registered method with its recipe defaults (the run of
its name), or one of the ``VARIANTS`` below, a method plus overrides (A-AF's stages and
compositions, HRA's add-a-task run).  A variant may take a method's own name: the run
``fusion`` is the paper's A-AF (attention), while the method ``fusion`` defaults to
stage 1's single-task adapters.

The tools (``adapters.bin.make_configs``, ``benchmark``/``benchmark_plan``, ``superb``,
``bench_methods``, ``param_growth``, the ESPnet frontend, the feature cache, the multi-task
template through ``multitask_plan``) and the generic tests read this module; none keeps a list of methods of its own, and they ask
capabilities, never names.  Adding a method is its file plus one import line in
``adapters/methods/__init__.py``: every tool picks it up from here.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from adapters.methods.base import Capabilities
from adapters.registry import get_method, registered

#: the frozen upstream (SUPERB's weighted sum of its layers): the frontend's default method,
#: the row the tables test the others against, the inference-time reference
BASELINE = "frozen"


@dataclass(frozen=True, eq=False)
class Variant:
    """A named run: the registered ``method`` with ``overrides`` over its ``recipe_conf``."""

    name: str
    method: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    #: one line; "" for the method's own
    description: str = ""
    #: the recipes' learning-rate scale for it; None for the method's ``recipe_lr_scale``
    lr_scale: Optional[float] = None
    #: training options over the recipe's base config (outside ``frontend_conf``)
    train_overrides: Mapping[str, Any] = field(default_factory=dict)
    #: the table row its results are filed under (results.json ``row``); None: its method's
    row: Optional[str] = None
    #: the runs whose trained model or adapters it starts from (a recipe trains them first)
    after: Tuple[str, ...] = ()
    #: trains only tasks added to the trained run it starts from (``frontend_conf train_tasks``)
    adds_tasks: bool = False
    #: its row in the method benchmark (``adapters.bin.bench_methods``); None: its name
    bench_name: Optional[str] = None
    #: its label in the multi-task table, as it is ("" : its method's ``table_label`` and how
    #: it treats tasks, ``table_label()``)
    label: str = ""
    #: trains only its own parameters on the model of the run it starts from: that run's
    #: downstream (encoder, CTC, layer weights) stays frozen (A-AF stage 1, a task added to HRA)
    frozen_base: bool = False

    @property
    def cls(self):
        return get_method(self.method)

    @property
    def summary(self) -> str:
        """The one-line description: the variant's, else its method's."""
        return self.description or self.cls.description or self.method

    @property
    def learning_rate_scale(self) -> float:
        return self.cls.recipe_lr_scale if self.lr_scale is None else self.lr_scale

    @property
    def filed_under(self) -> str:
        """The table row of its results."""
        return self.row or self.method

    def method_conf(self) -> dict:
        """The ``method_conf`` the recipes give this run (a fresh copy): the variant's options,
        then its method's recipe defaults it does not override."""
        conf = copy.deepcopy(dict(self.overrides))
        for k, v in dict(self.cls.recipe_conf).items():
            conf.setdefault(k, copy.deepcopy(v))
        return conf

    def config(self):
        return self.cls.make_config(self.method_conf())

    @property
    def capabilities(self) -> Capabilities:
        return self.cls.capabilities_for(self.config())


_A_AF = "A-AF stage 2"
#: the named runs that are a method plus overrides (a name here that is also a method's
#: takes the place of that method's plain run)
VARIANTS: Tuple[Variant, ...] = (
    Variant("extract", "fusion", {"mode": "single"},
            "A-AF stage 1 (knowledge extraction): one bottleneck adapter per task and layer on the frozen "
            "run's model, each utterance through its task's (also the task-id routing baseline)",
            row="fusion_routing", after=("frozen",), label="single-task adapters, task-id routing",
            frozen_base=True),
    Variant("aaf_avg", "fusion", {"mode": "avg"},
            f"{_A_AF}, Avg: the mean of the frozen single-task adapters, LayerNorm",
            row="fusion_avg", after=("extract",), label="A-AF Avg (no task id)"),
    Variant("aaf_wavg", "fusion", {"mode": "wavg"},
            f"{_A_AF}, WAvg: a learned softmax weight per layer and adapter, LayerNorm",
            row="fusion_wavg", after=("extract",), label="A-AF WAvg (no task id)"),
    Variant("fusion", "fusion", {"mode": "attention"},
            f"{_A_AF} (the paper's A-AF): attention over the frozen single-task adapters, LayerNorm",
            after=("extract",), label="A-AF attention + LayerNorm (no task id)", bench_name="fusion_att4"),
    Variant("aaf_attention_noln", "fusion", {"mode": "attention", "layernorm": False},
            f"{_A_AF} ablation: attention fusion without the LayerNorm",
            row="fusion_noln", after=("extract",), label="A-AF attention, no LayerNorm"),
    Variant("aaf_attention_update", "fusion", {"mode": "attention", "train_adapters": True},
            f"{_A_AF} ablation: attention fusion, the adapters updated too",
            row="fusion_update", after=("extract",), label="A-AF attention, adapters updated"),
    Variant("aaf_attention_ownout", "fusion", {"mode": "attention", "own_adapter_dropout": 0.5},
            f"{_A_AF}, ours: attention fusion trained with each utterance's own adapter hidden half the "
            "time (as on an unseen task), LayerNorm",
            row="fusion_ownout", after=("extract",), label="A-AF attention, own adapter hidden in training (ours)"),
    Variant("aaf_attention_vreg", "fusion", {"mode": "attention", "value_regularization": 0.01},
            f"{_A_AF} with AdapterFusion's value regulariser: attention fusion, 0.01 ||I - W_value||^2 per "
            "layer added to the training loss, LayerNorm",
            row="fusion_vreg", after=("extract",), label="A-AF attention + AdapterFusion's value regulariser"),
    Variant("aaf_avg_update", "fusion", {"mode": "avg", "train_adapters": True},
            f"{_A_AF}, Avg with the paper's second learning algorithm: the mean of the single-task "
            "adapters, the adapters updated too, LayerNorm",
            row="fusion_avg_update", after=("extract",), label="A-AF Avg, adapters updated"),
    Variant("aaf_wavg_update", "fusion", {"mode": "wavg", "train_adapters": True},
            f"{_A_AF}, WAvg with the paper's second learning algorithm: a learned softmax weight per layer "
            "and adapter, the adapters updated too, LayerNorm",
            row="fusion_wavg_update", after=("extract",), label="A-AF WAvg, adapters updated"),
    # the ELP authors' predecessor code's configuration (adapters/methods/elp.py): 9.13 M trainable
    # parameters on WavLM Base (E 4,353,536 + L 4,737,036 + the backbone's LayerNorms 39,424)
    Variant("elp_wavlm_paper", "elp",
            {"e_bottleneck": 256, "l_adapter": True, "l_dim": 512, "p_adapter": False, "train_layernorms": True},
            "ELP as the authors' predecessor code counts it: E-adapters (bottleneck 256, layers 0..L-2), "
            "L-adapters of width 512, the backbone's LayerNorms trained, no P-adapter (9.13 M on WavLM Base)",
            row="elp_wavlm_paper", label="ELP, the authors' WavLM Base configuration (shared by all tasks)"),
    # adding a task keeps its one best checkpoint: ESPnet averages checkpoints as (a + a + a) / 3,
    # which moves about one frozen weight in seven by an ulp, and the old tasks must stay bit-identical
    Variant("hra_addtask", "hra", {},
            "HRA, a task added later: only the new task's head trains (controller, other heads and "
            "downstream frozen)",
            train_overrides={"keep_nbest_models": 1}, row="hra_addtask", after=("hra",), adds_tasks=True,
            label="HRA + new task head", frozen_base=True),
)


# ---------------------------------------------------------------- the methods


def methods() -> List[str]:
    """The registered methods, in the catalogue's order (``adapters/methods/__init__.py``)."""
    return list(registered())


def method_capabilities(method: str, conf: Optional[Mapping[str, Any]] = None) -> Capabilities:
    """The capabilities of ``method`` configured by ``conf`` (default: its ``Config`` defaults)."""
    cls = get_method(method)
    return cls.capabilities_for(cls.make_config(conf))


def has_options(method: str) -> bool:
    """Whether ``method`` takes any ``method_conf`` option."""
    cfg = get_method(method).Config
    return dataclasses.is_dataclass(cfg) and bool(dataclasses.fields(cfg))


def cache_cut(method: str, conf: Optional[Mapping[str, Any]] = None) -> str:
    """Where ``method``'s frozen part ends under ``conf``, from the configuration alone (no upstream)."""
    return method_capabilities(method, conf).cache_cut


# ---------------------------------------------------------------- the runs


def variants() -> List[Variant]:
    """Every run: each method's (its plain run, or the variant of its name), then the other variants."""
    table = {v.name: v for v in VARIANTS}
    ms = methods()
    return [table.get(m) or Variant(m, m) for m in ms] + [v for v in VARIANTS if v.name not in ms]


def names() -> List[str]:
    return [v.name for v in variants()]


def find(name: str) -> Optional[Variant]:
    """The run called ``name``, or None."""
    return next((v for v in variants() if v.name == name), None)


def variant(name: str) -> Variant:
    """The run called ``name`` (ValueError naming the known ones)."""
    v = find(name)
    if v is None:
        raise ValueError(f"unknown method {name!r} (known: {', '.join(names())})")
    return v


def single_task_runs() -> List[str]:
    """The methods' runs that need no more than one task: what every recipe trains (the
    configs ``adapters.bin.make_configs`` writes by default)."""
    return [v.name for v in variants()[: len(methods())] if not v.capabilities.needs_several_tasks]


def multi_task_runs() -> List[str]:
    """The runs of the multi-task recipe (``egs/euphonia/asr1``) beyond the methods' own, the
    table's order: those that need several tasks, start from another run or add tasks (a
    variant that is only a method with other options, ``elp_wavlm_paper``, is none of them)."""
    single = set(single_task_runs())

    def multi(v):
        return v.name not in single and bool(v.after or v.adds_tasks or v.capabilities.needs_several_tasks)

    table = [v.name for v in VARIANTS if multi(v)]
    return table + [v.name for v in variants() if multi(v) and v.name not in table]


def for_row(row: str) -> Optional[Variant]:
    """The run whose results are filed under the table row ``row`` (results.json ``row``, else
    the method), or None."""
    for v in VARIANTS:
        if v.row == row:
            return v
    v = find(row)
    return v if v is not None and v.row is None else None


def needs_several_tasks(name: str) -> bool:
    """Whether the run ``name`` (a run or a row; unknown: False) needs the adapters of several tasks."""
    v = find(name) or for_row(name)
    return v is not None and v.capabilities.needs_several_tasks


def trains_backbone(name: str) -> bool:
    """Whether the run ``name`` (a run or a row; unknown: False) fine-tunes the backbone itself."""
    v = find(name) or for_row(name)
    return v is not None and v.capabilities.trains_backbone


def prerequisites(runs: Iterable[str]) -> List[str]:
    """The runs that ``runs`` start from (``Variant.after``, transitively), each before the runs
    that need it: ``fusion`` -> ``frozen``, ``extract``.  Unknown names have none."""
    out: List[str] = []

    def visit(name, seen):
        v = find(name)
        for a in v.after if v is not None else ():
            if a not in seen:
                visit(a, seen | {a})
                if a not in out:
                    out.append(a)

    for r in runs:
        visit(r, {r})
    return out


def task_adding_runs(runs: Iterable[str]) -> List[str]:
    """The runs that add a task to one of ``runs`` (``Variant.adds_tasks``): ``hra`` -> ``hra_addtask``."""
    runs = list(runs)
    return [v.name for r in runs for v in VARIANTS if v.adds_tasks and r in v.after]


def companion_runs(name: str) -> List[str]:
    """The runs a recipe trains because ``name`` is asked for: what it starts from and the
    runs that add a task to it."""
    return prerequisites([name]) + task_adding_runs([name])


def table_label(name: str) -> str:
    """The run's label in the multi-task table: the variant's own, else its method's
    ``table_label`` with how it treats tasks (task id, no task id, shared by all tasks; nothing
    for the baseline and for fine-tuning, which adapt no part per task)."""
    v = variant(name)
    if v.label:
        return v.label
    caps = v.capabilities
    base = v.cls.table_label or v.name
    if v.name == BASELINE or caps.trains_backbone:
        return base
    if caps.routes_tasks:
        return f"{base} (task id)"
    if caps.needs_several_tasks:
        return f"{base} (no task id)"
    return f"{base} (shared by all tasks)"


@dataclass
class MultiTaskPlan:
    """What the multi-task template (``egs/TEMPLATE/asr1/multitask.sh``) trains, in its stages,
    for the runs asked for: from the catalogue's ``after`` / ``adds_tasks`` / ``frozen_base``,
    never from names."""

    #: stages 11-13, one call: the runs that start from nothing
    scratch: List[str] = field(default_factory=list)
    #: stages 11-13 after them, each (run, base): trains on the base run's model, its
    #: downstream frozen (A-AF stage 1: extract on frozen)
    adapt: List[Tuple[str, str]] = field(default_factory=list)
    #: stage 15, one call: the runs composing the per-task adapters of ``compose_base``
    compose: List[str] = field(default_factory=list)
    compose_base: str = ""
    #: stage 14: (run, per task) whose adapter-only files later runs start from
    export: List[Tuple[str, bool]] = field(default_factory=list)
    #: stage 16: (run, base) adding a task to a trained run
    add_task: List[Tuple[str, str]] = field(default_factory=list)


def multitask_plan(runs: Iterable[str], compositions: Iterable[str] = (), new_task: bool = True) -> MultiTaskPlan:
    """The multi-task recipe's plan for ``runs`` (``--methods``) and ``compositions``
    (``--aaf_methods``: more runs composing the same adapters, trained only when a run asked
    for composes; ``fusion`` -> A-AF stage 1 ``extract`` on ``frozen``, then ``fusion`` and the
    compositions).  ValueError for an unknown run or compositions of different adapters."""
    runs = list(runs)
    for r in [*runs, *compositions]:
        variant(r)
    wanted = prerequisites(runs) + [r for r in runs if r not in prerequisites(runs)]
    wanted = list(dict.fromkeys(wanted))

    def base(r):
        v = variant(r)
        return v.after[0] if v.after else ""

    def depth(r):
        d, seen = 0, {r}
        while base(r):
            r = base(r)
            if r in seen:
                raise ValueError(f"the runs start from each other: {sorted(seen)}")
            seen.add(r)
            d += 1
        return d

    plan = MultiTaskPlan()
    plan.scratch = [r for r in wanted if not base(r) and not variant(r).adds_tasks]
    plan.adapt = [(r, base(r)) for r in wanted if depth(r) == 1 and variant(r).frozen_base and not variant(r).adds_tasks]
    compose = [r for r in wanted if depth(r) == 2 and not variant(r).adds_tasks]
    if compose:
        compose += [c for c in compositions if c not in compose]
        for c in compose:
            if depth(c) != 2:
                raise ValueError(f"{c} does not compose adapters of a trained run (it starts from {base(c) or 'nothing'})")
        bases = sorted({base(c) for c in compose})
        if len(bases) > 1:
            raise ValueError(f"the compositions {compose} start from different runs: {bases}")
        plan.compose, plan.compose_base = compose, bases[0]
    left = [r for r in wanted if r not in plan.scratch and r not in dict(plan.adapt) and r not in compose
            and not variant(r).adds_tasks]
    if left:
        raise ValueError(f"the multi-task recipe has no stage for {left}")
    if new_task:
        plan.add_task = [(r, base(r)) for r in task_adding_runs(plan.scratch) if r]
        plan.add_task += [(r, base(r)) for r in wanted if variant(r).adds_tasks and (r, base(r)) not in plan.add_task]
        for r, b in plan.add_task:
            if b not in plan.scratch:
                raise ValueError(f"{r} adds a task to {b}, which is not trained: add {b} to --methods")
    if plan.compose:
        plan.export.append((plan.compose_base, True))
    plan.export += [(b, False) for _, b in plan.add_task if (b, False) not in plan.export]
    return plan


def capability_table() -> Dict[str, Dict[str, Any]]:
    """{run: its description, method, learning-rate scale, the options scaling its components'
    rates and capabilities} (for the docs and tests)."""
    out = {}
    for v in variants():
        caps = v.capabilities
        out[v.name] = {"method": v.method, "description": v.summary, "lr_scale": v.learning_rate_scale,
                       "lr_scale_options": dict(v.cls.lr_scale_options),
                       **dataclasses.asdict(caps), "upstream_grad": caps.upstream_grad}
    return out


__all__ = ["BASELINE", "Variant", "VARIANTS", "Capabilities", "methods", "method_capabilities",
           "has_options", "cache_cut", "variants", "names", "find", "variant", "single_task_runs",
           "multi_task_runs", "for_row", "needs_several_tasks", "trains_backbone", "prerequisites",
           "task_adding_runs", "companion_runs", "table_label", "MultiTaskPlan", "multitask_plan",
           "capability_table"]
