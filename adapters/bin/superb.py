"""The SUPERB-style table: every recipe's ``results.json`` in one row per method,
so methods compare on all tasks at once, with what each costs (trainable and
stored parameters, training time, memory), the accuracy/size trade-off as
plots with the Pareto front, and a reason in every empty cell.

    python -m adapters.bin.superb --egs egs --out superb --plan bench_plan.json

Reads ``<egs>/*/*/exp/**/results.json`` (written by score_asr, score_cls,
score_spk and aggregate_folds) and writes ``<out>/superb.md``,
``<out>/superb.csv`` and ``<out>/plots/*.png`` with ``<out>/plots/index.md``.

One column per (recipe, task, decoder, test set, metric): ``ASR-CTC test_clean
WER``, ``KS acc``, ``ER acc``, ``SID acc``, ``ASV EER``, ``ASV minDCF``.  The
test set is named when the task is ASR or has several test sets; the corpus is
named when two recipes would give the same column.  Several results for one
cell: the newest (``created``) is shown and a footnote says so.  IEMOCAP's
per-fold runs (``exp/*fold<k>_*``) count only through their average
(aggregate_folds); folds without an average read ``<n> fold(s), not averaged``.

The plan (``--plan``), written by the benchmark driver, lists the runs that
were meant to happen, so that an empty cell says why it is empty::

    [{"recipe": "egs/iemocap/er1", "method": "hra", "column_hint": "ER",
      "status": "done" | "failed" | "not run", "log": "path/to/log"}]

``recipe`` is matched on its last two folders (``iemocap/er1``); ``column_hint``
(optional) picks the recipe's columns whose name starts with it (``ASV`` gives
both ASV columns) and names the columns of a recipe with no result at all.
Empty cells read ``failed (see <log>)``, ``not run``, or ``done, no
results.json (see <log>)``; a (column, method) that a plan leaves out, ``not in the plan``;
without a plan, ``not run`` (a run that needs several tasks, ``adapters.catalogue``, on a
single-task column: ``n/a (needs several tasks)``).

Uncertainty (``adapters.stats``): a cell shows ``value ± h``, h the half-width of
the 95 % confidence interval its results.json records (``<metric>_ci``: bootstrap
over utterances or trials; over folds: Student's t).  **Bold** marks the best of
a column only when it is significantly better than the runner-up: a paired
bootstrap of the difference on the same test items (the runs' ``per_item.json``);
where either run has no per-item outcomes, non-overlapping CIs, and a note under
the table says so; where either has no CI at all (older results), the best value,
also with a note.  ``≈`` marks a method not significantly different from
``frozen`` by the same tests; ``†`` an accuracy at or below the majority-class
rate.  ``superb.csv`` is tidy: one row per (method, column, metric) with the
value, its CI, ``n`` and a status, plus the cost rows (column ``cost``).

Seeds: a run of seed s > 0 lives in ``<recipe>/exp_seed<s>/`` (the benchmark driver's
``--seeds``; ``exp/`` is seed 0), ``--seeds N`` reads seeds 0 .. N-1 only (default: every
seed found).  Where a cell has results of several seeds, it shows their mean, ± the half-width
of the 95 % Student's t interval over the seeds (``n`` = the seeds, ``seeds`` in
``superb.csv``); each seed's own result is chosen as above (the newest, the fold average).
Where both cells of a comparison have two or more seeds in common, bold and ``≈`` use the
paired Student's t interval of their per-seed differences (seed s against seed s): the training's
spread, which a bootstrap over one run's test items does not see (on the embedded Euphonia, one
seed moved a cell by 10 points).  Otherwise they pair the lowest seed's runs (seed 0) on their
test items.  The costs are those of the lowest seed's run (one training).

Data: each results.json records the ids of the data its run was trained,
validated and tested on (``provenance``, ``adapters.results``).  The collector
refuses (exit status 1, naming the column, the runs and their ids) to put runs on
different data in one column unless ``--allow_mixed_data`` is given; then a note
under the table says which columns mix data.  A run its recipe filed under a row of
its own (``row``: HRA with a task added later on its own data) may have other
training data, said in a note; never other test data.  Results without a provenance record
(scored before it was recorded) are shown with a warning that their data was not
checked.  The upstream note gives each upstream file's SHA-256.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from adapters import catalogue, stats
from adapters.results import fmt_params as format_count
from adapters.results import TRAINING_SETS, data_ids, machine_label, read_per_item, upstream_sha

BENCH_HEADING = "Method cost (step time, inference time, memory)"
# results.json key -> (label, lower is better, format)
METRICS = {
    "wer": ("WER", True, "{:.1f}"),
    "accuracy": ("acc", False, "{:.1f}"),
    "eer": ("EER", True, "{:.2f}"),
    "min_dcf_0.05": ("minDCF", True, "{:.3f}"),
}
TASK_ORDER = ("asr", "ks", "ic", "er", "sid", "asv")
BASELINE = catalogue.BASELINE  # the row the others are tested against (``≈``)
SAME_AS_BASELINE, BELOW_MAJORITY = "≈", "†"
FOLD_RUN = re.compile(r"(^|_)fold\d+_")
SEED_DIR = re.compile(r"^exp_seed(\d+)$")  # <recipe>/exp_seed<s>: the runs of seed s (exp: seed 0)


def default_methods() -> str:
    """The rows by default: every method's run, in the catalogue's order."""
    return " ".join(catalogue.methods())


# ---------------------------------------------------------------- reading


@dataclass
class Run:
    path: Path
    recipe: str  # "<corpus>/<kind>"
    data: dict
    _per_item: dict | None = field(default=None, repr=False, compare=False)
    seed: int = 0  # exp_seed<s>/: s; exp/: 0

    def items(self, test: str) -> dict | None:
        """The per-item outcomes of one test set (``per_item.json`` next to results.json)."""
        if self._per_item is None:
            self._per_item = read_per_item(self.path, self.data)
        got = self._per_item.get(test)
        return got if isinstance(got, dict) else None

    @property
    def created(self) -> str:
        return str(self.data.get("created") or "")

    @property
    def method(self) -> str:
        """The row: the run's own ``row`` where a recipe has several runs of one method
        (the multi-task recipe's A-AF stages), else its method."""
        return str(self.data.get("row") or self.data.get("method") or "?")

    @property
    def fold(self) -> bool:
        """One fold of a cross-validation (counts only through the folds' average)."""
        return bool(FOLD_RUN.search(self.path.parent.name))

    @property
    def group(self) -> tuple:
        """The task this run trained a model for: what gets stored and served."""
        task = self.data["task"]
        return self.recipe, task, (self.data.get("decoder") or "ctc") if task == "asr" else None


def _check(data) -> None:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if not isinstance(data.get("task"), str):
        raise ValueError("no 'task'")
    if not isinstance(data.get("test"), dict) or not all(isinstance(s, dict) for s in data["test"].values()):
        raise ValueError("no 'test' object of test sets")


def find_results(egs: Path, seeds: int | None = None):
    """(runs, skipped): every readable results.json, and (path, reason) for the others; the runs of
    seeds 0 .. seeds - 1 only (``exp/``, ``exp_seed<s>/``) where ``seeds`` is given."""
    runs, skipped = [], []
    paths = [*Path(egs).glob("*/*/exp/**/results.json"), *Path(egs).glob("*/*/exp_seed*/**/results.json")]
    for p in sorted(paths):
        seed_dir = SEED_DIR.match(p.relative_to(egs).parts[2])
        if p.relative_to(egs).parts[2] != "exp" and not seed_dir:
            continue
        seed = int(seed_dir.group(1)) if seed_dir else 0
        if seeds is not None and seed >= seeds:
            continue
        try:
            data = json.loads(p.read_text())
            _check(data)
        except (OSError, ValueError) as e:  # JSONDecodeError is a ValueError
            skipped.append((p, f"{e.__class__.__name__}: {e}"))
            continue
        rel = p.relative_to(egs).parts
        runs.append(Run(p, f"{rel[0]}/{rel[1]}", data, seed=seed))
    return runs, skipped


def load_plan(path) -> list:
    try:
        plan = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"error: cannot read the plan {path}: {e}")
    if not isinstance(plan, list) or not all(isinstance(e, dict) and "recipe" in e and "method" in e
                                             for e in plan):
        raise SystemExit(f"error: {path}: expected a list of {{recipe, method, column_hint, status, log}}")
    return plan


def recipe_key(recipe: str) -> str:
    """``egs/iemocap/er1``, ``./egs/iemocap/er1/`` and ``iemocap/er1`` all name ``iemocap/er1``."""
    return "/".join(Path(recipe).parts[-2:])


# ---------------------------------------------------------------- columns


@dataclass
class Column:
    recipe: str
    task: str
    decoder: str | None
    test: str | None  # None: a column declared by the plan only
    metric: str
    base: str  # the name without the corpus
    name: str = ""

    @property
    def key(self) -> tuple:
        return self.recipe, self.task, self.decoder, self.test, self.metric

    @property
    def lower_better(self) -> bool:
        return METRICS[self.metric][1]

    @property
    def header(self) -> str:
        return f"{self.name}{'↓' if self.lower_better else '↑'}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")

    def order(self) -> tuple:
        t = TASK_ORDER.index(self.task) if self.task in TASK_ORDER else len(TASK_ORDER)
        return t, self.task, self.decoder or "", self.recipe, self.test or "", list(METRICS).index(self.metric)


def task_label(task: str, decoder: str | None) -> str:
    if task != "asr":
        return task.upper()
    # ESPnet calls the RNN-T decoder "transducer"; the recipes and profiles say rnnt
    return "ASR-RNNT" if decoder in ("transducer", "rnnt") else f"ASR-{(decoder or 'ctc').upper()}"


def entry_metrics(entry: dict) -> list:
    if "wer" in entry:
        return ["wer"]
    if "accuracy" in entry:
        return ["accuracy"]
    if "eer" in entry:
        return ["eer", "min_dcf_0.05"]
    return []


def _run_tests(run: Run):
    """(test name, entry) of a run; a fold run's single test set is the average's ``test``."""
    if run.fold:
        return [("test", e) for e in run.data["test"].values()]
    return list(run.data["test"].items())


def build_columns(runs):
    """(columns in table order, {(column key, method): [(run, entry, test set)]})."""
    tests: dict = {}
    for r in runs:
        for t, _ in _run_tests(r):
            tests.setdefault(r.group, set()).add(t)
    columns, cands = {}, {}
    for r in runs:
        recipe, task, dec = r.group
        for t, entry in _run_tests(r):
            named = task == "asr" or len(tests[r.group]) > 1
            for m in entry_metrics(entry):
                base = " ".join([task_label(task, dec)] + ([t] if named else []) + [METRICS[m][0]])
                col = Column(recipe, task, dec, t, m, base)
                columns.setdefault(col.key, col)
                cands.setdefault((col.key, r.method), []).append((r, entry, t))
    return list(columns.values()), cands


def hint_columns(recipe: str, hint: str) -> list:
    """The columns a plan entry names when its recipe has no result at all:
    ``ASR-CTC test WER`` as it stands, ``ASV`` -> ``ASV EER`` and ``ASV minDCF``."""
    words = hint.split() or ["?"]
    task, _, dec = words[0].lower().partition("-")
    dec = (dec or "ctc") if task == "asr" else None
    for m, (label, _, _) in METRICS.items():
        if len(words) > 1 and words[-1].lower() == label.lower():
            return [Column(recipe, task, dec, None, m, hint)]
    metrics = ["eer", "min_dcf_0.05"] if task == "asv" else ["wer"] if task == "asr" else ["accuracy"]
    return [Column(recipe, task, dec, None, m, f"{hint} {METRICS[m][0]}") for m in metrics]


def plan_columns(entry: dict, columns) -> list:
    rk, hint = recipe_key(entry["recipe"]), (entry.get("column_hint") or "").strip()
    return [c for c in columns if c.recipe == rk and c.base.lower().startswith(hint.lower())]


def name_columns(columns) -> list:
    """Sorted, with the corpus (or the whole recipe) in front where several recipes
    have the same task (two ASR corpora: ``librispeech ASR-CTC test_clean WER``)."""
    columns = sorted(columns, key=Column.order)
    recipes: dict = {}
    for c in columns:
        recipes.setdefault(task_label(c.task, c.decoder), set()).add(c.recipe)
    for c in columns:
        same = recipes[task_label(c.task, c.decoder)]
        if len(same) == 1:
            c.name = c.base
        else:
            unique_corpus = len({r.split("/")[0] for r in same}) == len(same)
            c.name = f"{c.recipe.split('/')[0] if unique_corpus else c.recipe} {c.base}"
    return columns


# ---------------------------------------------------------------- cells


@dataclass
class Cell:
    value: float | None = None
    std: float | None = None  # over folds, shown only where no CI was recorded
    text: str = "not run"  # why there is no value
    run: Run | None = None
    notes: list = field(default_factory=list)
    ci: tuple | None = None  # (low, high), 95 %
    n: int | None = None  # the items (or folds) behind the CI
    ci_method: str | None = None
    majority: float | None = None  # the majority-class accuracy of the test set
    test: str | None = None  # the test set's name in the run's results.json
    seeds: int = 1  # the seeds behind the value (its mean)
    seed_runs: list = field(default_factory=list)  # several seeds: each seed's run, the lowest first (run)
    run_value: float | None = None  # several seeds: run's own value (what its per-item outcomes give)
    seed_values: dict = field(default_factory=dict)  # several seeds: seed -> that seed's value
    _items: dict = field(default_factory=dict, repr=False)  # metric -> checked per-item outcomes

    @property
    def half_width(self):
        return None if self.ci is None else (self.ci[1] - self.ci[0]) / 2.0

    def items(self, metric: str) -> dict | None:
        """The run's per-item outcomes for this cell, if they give ``metric`` and give the value
        shown (outcomes left from another scoring are not used)."""
        if self.run is None or self.test is None or self.value is None:
            return None
        if metric not in self._items:
            got = self.run.items(self.test)
            own = self.value if self.run_value is None else self.run_value
            try:
                ok = got is not None and abs(stats.value(got, metric) - own) <= 1e-6 * max(1.0, abs(own))
            except (ValueError, KeyError, TypeError):
                ok = False
            self._items[metric] = got if ok else None
        return self._items[metric]

    def shown(self, fmt: str) -> str:
        if self.value is None:
            return self.text
        if self.ci is not None:
            return f"{fmt.format(self.value)} ± {fmt.format(self.half_width)}"
        return fmt.format(self.value) + (f" (sd {self.std:.1f})" if self.std is not None else "")


def _ci(v):
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        lo, hi = float(v[0]), float(v[1])
        return (lo, hi) if lo <= hi else None
    return None


def _newest(pool):
    return max(pool, key=lambda c: (c[0].created, str(c[0].path)))


def choose(col: Column, cands: list) -> Cell:
    """The cell of one (column, method): one seed's result (``choose_one``), or the mean over
    several seeds' (``combine_seeds``)."""
    by_seed: dict = {}
    for c in cands:
        by_seed.setdefault(c[0].seed, []).append(c)
    if len(by_seed) == 1:
        (seed, only), = by_seed.items()
        cell = choose_one(col, only)
        if seed and cell.value is not None:
            cell.notes.append(f"seed {seed} only")
        return cell
    return combine_seeds(col, {s: choose_one(col, cs) for s, cs in sorted(by_seed.items())})


def combine_seeds(col: Column, per_seed: dict) -> Cell:
    """The mean over the seeds with a value, its 95 % Student's t interval over them (n = seeds).
    The cell's run is the lowest seed's: its costs, provenance and per-item outcomes.  Against a
    cell with two or more of the same seeds, comparisons pair the seeds (``Tester.compare``);
    otherwise they use the lowest seed's items, not the seeds' pooled: pooling would count the
    seeds' runs as more items of one run (and adapters.stats cannot stratify EER/minDCF by
    seed)."""
    have = {s: c for s, c in per_seed.items() if c.value is not None}
    if not have:
        return per_seed[min(per_seed)]
    first = have[min(have)]
    if len(have) == 1:
        cell = first
        cell.notes.append(f"seed {min(have)} only")
    else:
        vals = [c.value for c in have.values()]
        cell = Cell(statistics.fmean(vals), run=first.run, test=first.test, ci=_ci(stats.t_interval(vals)),
                    n=len(vals), seeds=len(vals), seed_runs=[c.run for c in have.values()],
                    run_value=first.value, std=statistics.stdev(vals),
                    seed_values={s: c.value for s, c in have.items()},
                    ci_method=f"{100 * stats.CONFIDENCE:g} % Student's t interval of the mean over "
                              f"{len(vals)} seeds ({', '.join(map(str, have))})")
        majors = [c.majority for c in have.values()]
        if col.metric == "accuracy" and all(m is not None for m in majors):
            cell.majority = statistics.fmean(majors)
        for s, c in have.items():
            cell.notes += [f"seed {s}: {n}" for n in c.notes]
    for s, c in per_seed.items():
        if c.value is None:
            cell.notes.append(f"seed {s}: {c.text}; not in the mean")
    return cell


def choose_one(col: Column, cands: list) -> Cell:
    """The cell of one (column, method, seed): the fold average, else the newest result."""
    averaged = [c for c in cands if "folds" in c[1]]
    single = [c for c in cands if "folds" not in c[1] and not c[0].fold]
    folds = [c for c in cands if c[0].fold]
    pool = averaged or single
    if not pool:
        return Cell(text=f"{len(folds)} fold(s), not averaged")
    run, entry, test = _newest(pool)
    value = entry.get(col.metric)
    if not isinstance(value, (int, float)):
        return Cell(text=f"no {col.metric} in {run.path}", run=run)
    cell = Cell(float(value), run=run, test=test, ci=_ci(entry.get(f"{col.metric}_ci")))
    if col.metric == "accuracy" and isinstance(entry.get("accuracy_std"), (int, float)):
        cell.std = float(entry["accuracy_std"])
    if col.metric == "accuracy" and isinstance(entry.get("majority_accuracy"), (int, float)):
        cell.majority = float(entry["majority_accuracy"])
    if isinstance(entry.get("n"), int):
        cell.n = entry["n"]
    if isinstance(entry.get("ci_method"), str):
        cell.ci_method = entry["ci_method"]
    if len(pool) > 1:
        older = sorted((c for c in pool if c[0] is not run), key=lambda c: c[0].created, reverse=True)
        cell.notes.append(f"{len(pool)} results; the newest ({run.created or 'undated'}, {run.path}) is shown; "
                          "older: " + ", ".join(f"{c[0].created or 'undated'} ({c[0].path})" for c in older))
    return cell


def plan_reason(entry: dict) -> str:
    status, log = str(entry.get("status") or "not run"), entry.get("log")
    see = f" (see {log})" if log else ""
    if status == "not run":
        return "not run"
    if status == "done":
        return f"done, no results.json{see}"
    return f"{status}{see}"


def fill_cells(columns, cands, methods, plan):
    """{(column key, method): Cell} for every row and column, with the plan's reasons."""
    cells = {(c.key, m): choose(c, cands[(c.key, m)]) if (c.key, m) in cands else Cell()
             for c in columns for m in methods}
    # runs that fuse the adapters of several tasks: a single-task column has nothing for them
    several = [m for m in methods if catalogue.needs_several_tasks(m)]
    for c in columns:
        for m in several:
            if cells[(c.key, m)].value is None and not c.task.startswith("mt-"):
                cells[(c.key, m)].text = "n/a (needs several tasks)"
    # the lowest seed last: an empty cell reads the reason of its seed 0
    for entry in sorted(plan, key=lambda e: -_plan_seed(e)):
        m, seed = entry["method"], _plan_seed(entry)
        if m not in methods:
            continue
        for c in plan_columns(entry, columns):
            cell = cells[(c.key, m)]
            if cell.value is None:
                cell.text = plan_reason(entry)
            elif entry.get("status") not in (None, "done"):
                shown = next((r for r in cell.seed_runs or [cell.run] if r.seed == seed), None)
                what = (f"the planned run{f' of seed {seed}' if seed else ''} is '{entry['status']}'"
                        + (f" (see {entry['log']})" if entry.get("log") else ""))
                cell.notes.append(f"{what}; shown: an earlier result ({shown.created}, {shown.path})" if shown
                                  else f"{what}: not in the cell")
    # a profile may leave a method out of a column (the full profile's RNN-T runs 4 of its methods):
    # "not run" would read as a run that went missing
    planned = {(c.key, e["method"]) for e in plan for c in plan_columns(e, columns)}
    for (key, m), cell in cells.items():
        if plan and cell.value is None and cell.text == Cell().text and (key, m) not in planned:
            cell.text = "not in the plan"
    return cells


def _plan_seed(entry: dict) -> int:
    try:
        return int(entry.get("seed") or 0)
    except (TypeError, ValueError):
        return 0


def best_methods(col: Column, cells, methods) -> set:
    """The methods with the best shown value (ties on the printed digits all win)."""
    fmt = METRICS[col.metric][2]
    vals = {m: float(fmt.format(cells[(col.key, m)].value)) for m in methods
            if cells[(col.key, m)].value is not None}
    if not vals:
        return set()
    best = min(vals.values()) if col.lower_better else max(vals.values())
    return {m for m, v in vals.items() if v == best}


# ---------------------------------------------------------------- significance

NO_ITEMS = "no per-item outcomes"


@dataclass
class Verdict:
    """How two cells of a column compare: ``how`` is ``seeds`` (paired Student's t over the
    seeds both cells have), ``paired`` (paired bootstrap on the same items), ``ci``
    (non-overlapping CIs, no per-item outcomes to pair) or ``value`` (no CI at all: nothing to
    test, ``significant`` None); ``why`` says why pairing was not possible."""
    how: str
    significant: bool | None
    diff: float  # a - b
    ci: tuple | None = None  # of the difference: seeds and paired only
    why: str = ""


class Tester:
    """Comparisons of the cells of a column, each pair of runs computed once."""

    def __init__(self, n_resamples: int = stats.N_RESAMPLES, seed: int = stats.SEED):
        self.n_resamples, self.seed = n_resamples, seed
        self._paired: dict = {}

    def _pair(self, a: Cell, b: Cell, metric: str):
        ia, ib = a.items(metric), b.items(metric)
        if ia is None or ib is None:
            return None, NO_ITEMS
        group = [m for m in (stats.VERIFICATION if metric in stats.VERIFICATION else stats.RATIOS)
                 if m in METRICS and m in stats.metrics_of(ia) and m in stats.metrics_of(ib)]
        key = (str(a.run.path), a.test, str(b.run.path), b.test, tuple(group))
        if key not in self._paired:
            try:
                self._paired[key] = stats.paired_bootstraps(ia, ib, group, n_resamples=self.n_resamples,
                                                            seed=self.seed)
            except ValueError as e:
                self._paired[key] = str(e)
        got = self._paired[key]
        return (None, got) if isinstance(got, str) else (got[metric], "")

    def compare(self, col: Column, a: Cell, b: Cell) -> Verdict:
        diff = a.value - b.value
        common = sorted(set(a.seed_values) & set(b.seed_values))
        if len(common) >= 2:  # the seeds' spread decides, not one run's test items
            d = [a.seed_values[s] - b.seed_values[s] for s in common]
            lo, hi = stats.t_interval(d)
            return Verdict("seeds", not lo <= 0.0 <= hi, statistics.fmean(d), (lo, hi))
        res, why = self._pair(a, b, col.metric)
        if res is not None:
            return Verdict("paired", res["significant"], res["diff"], tuple(res["ci"]) if res["ci"] else None)
        if a.ci is not None and b.ci is not None:
            return Verdict("ci", not stats.ci_overlap(a.ci, b.ci), diff, why=why)
        return Verdict("value", None, diff, why=why)


@dataclass
class Judgement:
    """A column's marks: the bold methods, the methods not different from the baseline, the
    accuracies at or below the majority class, and how the comparisons were made."""
    best: set = field(default_factory=set)
    best_how: str = ""  # paired / seeds / ci / value / only / "" (no value)
    runner_up: str | None = None
    same_as_baseline: set = field(default_factory=set)
    vs_baseline: dict = field(default_factory=dict)  # method -> "not significant" / "better" / "worse"
    below_majority: set = field(default_factory=set)
    unpaired: dict = field(default_factory=dict)  # method -> why its comparisons used CIs
    no_ci: set = field(default_factory=set)  # methods compared without any CI


def judge(col: Column, cells, methods, tester: Tester) -> Judgement:
    j = Judgement()
    have = [m for m in methods if cells[(col.key, m)].value is not None]
    sign = 1.0 if col.lower_better else -1.0
    ranked = sorted(have, key=lambda m: sign * cells[(col.key, m)].value)
    for m in have:
        c = cells[(col.key, m)]
        if col.metric == "accuracy" and c.majority is not None and c.value <= c.majority + 1e-9:
            j.below_majority.add(m)

    def note(m, v: Verdict):
        cell = cells[(col.key, m)]
        if v.how == "ci" and (v.why != NO_ITEMS or cell.items(col.metric) is None):
            j.unpaired[m] = v.why
        elif v.how == "value" and cell.ci is None:
            j.no_ci.add(m)

    if len(ranked) == 1:
        j.best, j.best_how = {ranked[0]}, "only"
    elif ranked:
        top, j.runner_up = ranked[0], ranked[1]
        v = tester.compare(col, cells[(col.key, top)], cells[(col.key, j.runner_up)])
        j.best_how = v.how
        for m in (top, j.runner_up):
            note(m, v)
        if v.how == "value":  # nothing to test: the best printed value, ties all bold (as before CIs)
            j.best = best_methods(col, cells, have)
        elif v.significant and sign * v.diff < 0:
            j.best = {top}
    base = cells.get((col.key, BASELINE))
    if base is not None and base.value is not None:
        for m in have:
            if m == BASELINE:
                continue
            v = tester.compare(col, cells[(col.key, m)], base)
            note(m, v)
            note(BASELINE, v)
            if v.how == "value":
                continue
            if not v.significant:
                j.same_as_baseline.add(m)
                j.vs_baseline[m] = "not significant"
            else:
                j.vs_baseline[m] = "better" if sign * v.diff < 0 else "worse"
    return j


def judgement_notes(col: Column, j: Judgement) -> list:
    out = []
    if j.unpaired:
        whys = sorted(set(j.unpaired.values()))
        out.append(f"{col.name}: {', '.join(sorted(j.unpaired))} compared by non-overlapping 95 % CIs, "
                   f"not by a paired test ({'; '.join(whys)})")
    if j.no_ci:
        out.append(f"{col.name}: no confidence interval recorded for {', '.join(sorted(j.no_ci))}: "
                   "the best by value only, no significance test")
    return out


# ---------------------------------------------------------------- data provenance

DATA_PARTS = TRAINING_SETS + ("test",)


class MixedDataError(ValueError):
    """Runs on different data would share a column."""


def data_check(columns, cells, methods):
    """(mixed, variants, unchecked): per column, the data parts (train, valid, test) on which
    its shown runs differ, as [(column, part, {id: [(method, run path)]})]; the same for the
    training data of runs their recipe filed under a row of their own (results.json ``row``:
    a deliberate variant, such as a task added later on its own data; their test data must
    still agree); and the runs whose data cannot be checked, as {run path: why}."""
    mixed, variants, unchecked = [], [], {}
    for c in columns:
        ids = {}  # (method, run path) -> (run, data ids): every seed's run of a cell (runs are unhashable)
        for m in methods:
            cell = cells[(c.key, m)]
            if cell.value is None or cell.run is None:
                continue
            for run in cell.seed_runs or [cell.run]:
                got = data_ids(run.data, cell.test)
                if got is None:
                    unchecked[str(run.path)] = "no provenance recorded (scored before it was recorded)"
                    continue
                ids[(m, str(run.path))] = (run, got)
                if got["test"] is None:
                    unchecked.setdefault(str(run.path), f"no data id for test set {cell.test!r}")
        for part in DATA_PARTS:
            groups: dict = {}
            for (m, path), (run, got) in ids.items():
                if got[part] is not None:
                    groups.setdefault(got[part], []).append((m, path))
            own_row = {m for (m, _), (run, _) in ids.items() if part != "test" and run.data.get("row")}
            plain = {i: runs for i, runs in groups.items() if any(m not in own_row for m, _ in runs)}
            if len(plain) > 1:
                mixed.append((c, part, groups))
            elif len(groups) > len(plain):
                variants.append((c, part, groups))
    return mixed, variants, unchecked


def mixed_lines(mixed) -> list:
    return [f"{c.name}: the runs differ in their {part} data: "
            + "; ".join(f"{i} ({', '.join(f'{m} {p}' for m, p in runs)})" for i, runs in groups.items())
            for c, part, groups in mixed]


# ---------------------------------------------------------------- costs


def method_runs(method, columns, cells) -> list:
    """One run per task group (the newest shown), the runs whose cost the row reports."""
    per_group: dict = {}
    for c in columns:
        run = cells[(c.key, method)].run
        if run is not None and cells[(c.key, method)].value is not None:
            g = run.group
            if g not in per_group or run.created > per_group[g].created:
                per_group[g] = run
    return list(per_group.values())


def _num(d: dict, key: str):
    v = d.get(key)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def stored_params(run: Run, method: str):
    """Parameters to keep on disk for this task next to one shared frozen upstream (a run that
    fine-tunes the backbone itself: its whole model)."""
    d = run.data
    if catalogue.trains_backbone(method):
        return _num(d, "total_params")
    a, ds = _num(d, "adapter_params"), _num(d, "downstream_params")
    return a + ds if a is not None and ds is not None else _num(d, "trainable_params")


def _total(values):
    """(sum of the known values, whether all were known); (None, False) when none was."""
    known = [v for v in values if v is not None]
    return (sum(known) if known else None), len(known) == len(values)


def costs(method: str, runs: list) -> dict:
    def median(key):
        vs = [_num(r.data, key) for r in runs if _num(r.data, key) is not None]
        return statistics.median(vs) if vs else None

    mems = [_num(r.data, "peak_mem_mb") for r in runs if _num(r.data, "peak_mem_mb") is not None]
    return {
        "trainable": median("trainable_params"),
        "adapter": median("adapter_params"),
        "stored": _total([stored_params(r, method) for r in runs]),
        "time": _total([_num(r.data, "train_time_s") for r in runs]),
        "mem": max(mems) if mems else None,
        "runs": len(runs),
    }


def fmt_params(n) -> str:
    return "0" if n == 0 else format_count(n)


def fmt_time(s) -> str:
    if s is None:
        return "?"
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.1f} min"


def fmt_mem(mb) -> str:
    if mb is None:
        return "?"
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def _partial(total, fmt) -> str:
    value, complete = total
    if value is None:
        return "?"
    return fmt(value) + ("" if complete else "+?")


COST_HEADERS = ["trainable/task", "adapter/task", "stored (all tasks)", "train time", "peak mem"]


def cost_cells(c: dict) -> list:
    if not c["runs"]:
        return ["?"] * len(COST_HEADERS)
    return [fmt_params(c["trainable"]) if c["trainable"] is not None else "?",
            fmt_params(c["adapter"]) if c["adapter"] is not None else "?",
            _partial(c["stored"], fmt_params), _partial(c["time"], fmt_time), fmt_mem(c["mem"])]


# ---------------------------------------------------------------- Pareto front and plots


def pareto_front(points, lower_is_better: bool = True) -> list:
    """The points (label, params, value) that no other point beats, by params.

    q beats p when q has no more parameters and a metric at least as good, and
    is strictly better on one of the two.
    """
    def as_good(a, b):
        return a <= b if lower_is_better else a >= b

    def beats(q, p):
        return q[1] <= p[1] and as_good(q[2], p[2]) and (q[1] < p[1] or q[2] != p[2])

    front = [p for p in points if not any(beats(q, p) for q in points if q is not p)]
    return sorted(front, key=lambda p: (p[1], p[2] if lower_is_better else -p[2]))


def column_points(col: Column, cells, methods):
    """(points for the plot, methods left out for want of a parameter count)."""
    points, left = [], []
    for m in methods:
        cell = cells[(col.key, m)]
        if cell.value is None:
            continue
        n = _num(cell.run.data, "trainable_params")
        if n is None or n <= 0:
            left.append(m)
        else:
            points.append((m, n, cell.value))
    return points, left


def spaced_ticks(xs, margin: float = 0.0, min_gap: float = 0.05) -> list:
    """The sorted sizes ``xs`` thinned so that labelled ticks on a log axis stay ``min_gap`` of the
    axis apart (the axis: their span plus ``margin`` of it each side): methods that differ by a few
    thousand parameters beside a 1.6 M downstream printed their labels over one another."""
    if len(xs) < 2:
        return list(xs)
    logs = [math.log10(x) for x in xs]
    gap = min_gap * max(logs[-1] - logs[0], 0.1) * (1 + 2 * margin)
    kept = [0]
    for i in range(1, len(xs)):
        if logs[i] - logs[kept[-1]] >= gap:
            kept.append(i)
        elif i == len(xs) - 1 and len(kept) > 1:  # the largest size keeps its label, its neighbour gives way
            kept[-1] = i
    return [xs[i] for i in kept]


def label_offsets(at, names, char_w: float = 4.8, line_h: float = 9.0) -> list:
    """Offsets (points) of each name's label from its point, ``at`` the points' positions in points:
    up and to the right, or a line below, a line above, two below, two above, the first that covers
    no marker and no label already placed (methods of nearly the same size and score printed their
    names over one another); where every place is taken, the last."""
    placed, out = [(px - 3.5, py - 3.5, 7.0, 7.0) for px, py in at], []  # the markers, 7 points across
    for (px, py), name in zip(at, names):
        w = char_w * len(name)
        for dy in (4, -4 - line_h, 4 + line_h, -4 - 2 * line_h, 4 + 2 * line_h):
            x0, y0 = px + 4, py + dy
            if not any(x0 < bx + bw and bx < x0 + w and y0 < by + bh and by < y0 + line_h
                       for bx, by, bw, bh in placed):
                break
        placed.append((x0, y0, w, line_h))
        out.append((4, dy))
    return out


def plot_column(col: Column, points, path: Path, cis: dict | None = None) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    front = pareto_front(points, col.lower_better)
    fig, ax = plt.subplots(figsize=(5.5, 4), dpi=100)
    ax.scatter([p[1] for p in points], [p[2] for p in points], color="tab:blue", zorder=2)
    bars = [(x, y, (cis or {}).get(m)) for m, x, y in points if (cis or {}).get(m)]
    if bars:  # the 95 % confidence intervals
        ax.errorbar([b[0] for b in bars], [b[1] for b in bars],
                    yerr=[[max(0.0, b[1] - b[2][0]) for b in bars], [max(0.0, b[2][1] - b[1]) for b in bars]],
                    fmt="none", ecolor="tab:blue", elinewidth=1, capsize=3, alpha=0.7, zorder=1,
                    label="95 % CI")
    ax.plot([p[1] for p in front], [p[2] for p in front], "o--", color="tab:red", zorder=3,
            label="Pareto front")
    ax.set_xscale("log")
    ax.margins(x=0.15, y=0.12)  # room for the labels
    fig.canvas.draw()  # fixes the axes' limits, so that the labels can be placed in points
    at = [ax.transData.transform((x, y)) * 72.0 / fig.dpi for _, x, y in points]
    for (m, x, y), off in zip(points, label_offsets(at, [p[0] for p in points])):
        ax.annotate(m, (x, y), textcoords="offset points", xytext=off, fontsize=8)
    xs = spaced_ticks(sorted({p[1] for p in points}), margin=0.15)  # at the methods' sizes, not powers of ten
    ax.set_xticks(xs, [fmt_params(x) for x in xs], rotation=30, fontsize=8)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("trainable parameters per task (log)")
    ax.set_ylabel(f"{METRICS[col.metric][0]} ({'lower' if col.lower_better else 'higher'} is better)")
    ax.set_title(col.name, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return front


def write_plots(columns, cells, methods, plots: Path, judgements: dict | None = None) -> list:
    """One PNG per column with at least one point; returns the paths, writes index.md.  The front is
    drawn on the point estimates; its list marks the members the table marks ``≈`` (no different
    from the baseline), so a front made of noise reads as such."""
    lines, written = ["# SUPERB plots: metric against trainable parameters", "",
                      f"The fronts are drawn on point estimates; {SAME_AS_BASELINE}: not significantly different "
                      f"from `{BASELINE}` (the table's test); bars: 95 % confidence intervals.", ""], []
    for col in columns:
        points, left = column_points(col, cells, methods)
        lines.append(f"## {col.header}")
        lines.append("")
        if not points:
            lines += ["no result with a parameter count: no plot", ""]
            continue
        png = plots / f"{col.slug}.png"
        cis = {m: cells[(col.key, m)].ci for m, _, _ in points if cells[(col.key, m)].ci is not None}
        front = plot_column(col, points, png, cis)
        same = ((judgements or {}).get(col.key) or Judgement()).same_as_baseline
        written.append(png)
        lines += [f"![{col.name}]({png.name})", "",
                  "Pareto front (no other method has both fewer parameters and a better metric): "
                  + ", ".join(p[0] + (f" {SAME_AS_BASELINE}" if p[0] in same else "") for p in front)]
        if left:
            lines.append(f"not plotted (no trainable parameter count): {', '.join(left)}")
        lines.append("")
    plots.mkdir(parents=True, exist_ok=True)
    (plots / "index.md").write_text("\n".join(lines))
    return written


# ---------------------------------------------------------------- method benchmark


def _md_tables(text: str) -> list:
    """The fenced blocks and pipe tables of a markdown file, verbatim."""
    blocks = re.findall(r"^```.*?^```[ \t]*$", text, flags=re.M | re.S)
    pipes = re.findall(r"(?:^\|.*\|[ \t]*\n?)+", re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.M | re.S),
                       flags=re.M)
    return [b.rstrip("\n") for b in blocks + pipes]


def bench_section(sources) -> tuple:
    """(markdown lines, problems) for the method benchmark files that exist."""
    lines, problems = [], []
    for src in sources:
        src = Path(src)
        try:
            if src.suffix == ".json":
                from adapters.bin.bench_methods import format_table

                parts = ["```\n" + format_table(json.loads(src.read_text())) + "\n```"]
            else:
                text = src.read_text()
                parts = _md_tables(text) or [text.rstrip("\n")]
        except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
            problems.append((src, f"{e.__class__.__name__}: {e}"))
            continue
        lines += [f"From `{src}`:", ""]
        for p in parts:
            lines += [p, ""]
    if lines:
        lines = [f"## {BENCH_HEADING}", ""] + lines
    return lines, problems


# ---------------------------------------------------------------- output


@dataclass
class Summary:
    columns: list
    methods: list
    cells: dict
    costs: dict
    skipped: list
    notes: list  # general notes under the table
    judgements: dict = field(default_factory=dict)  # column key -> Judgement
    warnings: list = field(default_factory=list)  # printed to stderr too


def machine_notes(runs) -> list:
    """Where the runs trained (``adapters.results.machine_record``): another processor type
    rounds differently, so cells compared with another table's to the digit need the same one."""
    seen, unknown = {}, 0
    for r in runs:
        m = r.data.get("train_machine")
        if not isinstance(m, dict):
            unknown += 1
            continue
        key = machine_label(m)
        seen[key] = seen.get(key, 0) + 1
    if not seen:
        return []
    line = "trained on: " + "; ".join(f"{k}: {n} run(s)" if len(seen) > 1 else k for k, n in sorted(seen.items()))
    if len(seen) > 1:
        line += " -- several processor types: runs repeated on another may differ by a few test items"
    if unknown:
        line += f" ({unknown} result(s) without the record: fold averages, or runs trained before it was kept)"
    return [line]


def summarize(egs: Path, methods, plan=(), tester: Tester | None = None, allow_mixed_data: bool = False,
              seeds: int | None = None) -> Summary:
    """The table's contents; a ``MixedDataError`` where runs on different data would share a
    column, unless ``allow_mixed_data`` (then a note says so); ``seeds``: read seeds 0 .. seeds - 1
    only (default: every seed found)."""
    runs, skipped = find_results(egs, seeds)
    left_out = sorted({r.method for r in runs} - set(methods))
    runs = [r for r in runs if r.method in methods]
    columns, cands = build_columns(runs)
    have = {c.key for c in columns}
    for entry in plan:
        if not plan_columns(entry, columns):
            for c in hint_columns(recipe_key(entry["recipe"]), (entry.get("column_hint") or "?").strip()):
                if c.key not in have:
                    columns.append(c)
                    have.add(c.key)
    columns = name_columns(columns)
    cells = fill_cells(columns, cands, methods, plan)
    mixed, variants, unchecked = data_check(columns, cells, methods)
    if mixed and not allow_mixed_data:
        raise MixedDataError(
            "runs on different data would share a column (rerun them on the same data, or pass "
            "--allow_mixed_data to show them all the same):\n  " + "\n  ".join(mixed_lines(mixed)))
    notes, warns = [], []
    if left_out:
        notes.append(f"results of methods not in --methods are left out: {', '.join(left_out)}")
    ups = sorted({f"{r.data.get('upstream')} ({r.data.get('upstream_path') or 'registered name'}"
                  + (f", sha256 {upstream_sha(r.data)[:12]})" if upstream_sha(r.data) else ")") for r in runs})
    if ups:
        notes.append("upstream: " + "; ".join(ups)
                     + (" -- several upstreams: compare with care" if len(ups) > 1 else ""))
    notes += machine_notes(runs)
    notes += [f"mixed data (--allow_mixed_data): {line}" for line in mixed_lines(mixed)]
    notes += [f"runs filed under a row of their own: {line}" for line in mixed_lines(variants)]
    if unchecked:
        warns.append(f"the data of {len(unchecked)} result(s) could not be checked: "
                     + "; ".join(f"{p} ({why})" for p, why in sorted(unchecked.items())))
        notes += warns
    several = sorted({c.seeds for c in cells.values() if c.value is not None and c.seeds > 1})
    if several:
        notes.append(f"seeds: cells with {' or '.join(map(str, several))} seeds show the mean over them ± the"
                     " half-width of the 95 % Student's t interval over the seeds; bold and"
                     f" {SAME_AS_BASELINE} compare each method's lowest seed's run (seed 0) on the same test"
                     " items; the costs are that run's (one training)")
    tester = tester or Tester()
    judgements = {c.key: judge(c, cells, methods, tester) for c in columns}
    for c in columns:
        notes += judgement_notes(c, judgements[c.key])
    return Summary(columns, list(methods), cells,
                   {m: costs(m, method_runs(m, columns, cells)) for m in methods}, skipped, notes, judgements,
                   warns)


def markdown_table(s: Summary) -> list:
    """The table lines and the footnote lines."""
    head = ["method"] + [c.header for c in s.columns] + COST_HEADERS
    rows, footnotes = [head, ["---"] * len(head)], []
    for m in s.methods:
        row = [m]
        for c in s.columns:
            cell, j = s.cells[(c.key, m)], s.judgements.get(c.key) or Judgement()
            text = cell.shown(METRICS[c.metric][2])
            if m in j.best:
                text = f"**{text}**"
            if m in j.same_as_baseline:
                text += f" {SAME_AS_BASELINE}"
            if m in j.below_majority:
                text += f" {BELOW_MAJORITY}"
            for n in cell.notes:
                footnotes.append(f"[^{len(footnotes) + 1}]: {c.name}, {m}: {n}")
                text += f"[^{len(footnotes)}]"
            row.append(text)
        rows.append(row + cost_cells(s.costs[m]))
    return ["| " + " | ".join(r) + " |" for r in rows], footnotes


def markdown(s: Summary, egs: Path, bench_lines=()) -> str:
    table, footnotes = markdown_table(s)
    lines = [f"# SUPERB-style summary: {egs}", "",
             f"Collected {time.strftime('%Y-%m-%d %H:%M:%S')} from `{egs}/*/*/exp/**/results.json`.", ""]
    lines += table + [""]
    lines += [
        "- value ± h: the value and the half-width h of its 95 % confidence interval (bootstrap over"
        " utterances or trials; a fold average: Student's t over the folds; `superb.csv` has the bounds"
        " and n); (sd x): standard deviation over folds, where no interval was recorded.",
        "- **bold**: the best of the column (arrows: ↓ lower is better, ↑ higher is better), only where it is"
        " significantly better than the runner-up (paired bootstrap of the difference on the same test"
        " items, 95 %; where both have several seeds: the paired Student's t interval of their per-seed"
        " differences); a column without bold has no clear winner.",
        f"- {SAME_AS_BASELINE}: not significantly different from `{BASELINE}` (the same test);"
        f" {BELOW_MAJORITY}: accuracy at or below the majority-class rate (always answering the most"
        " frequent class).",
        "- trainable/task, adapter/task: the median over the method's tasks (one run per task);"
        " stored (all tasks): the sum over tasks of adapter + downstream parameters, what one shared"
        " frozen upstream needs next to it to serve every task (fine-tuning: the whole model per task);"
        " train time: the sum of train_time_s; peak mem: the largest peak_mem_mb; `+?`: some runs did not"
        " record the number.",
    ]
    lines += [f"- {n}" for n in s.notes]
    if footnotes:
        lines += [""] + footnotes
    if s.skipped:
        lines += ["", "## Skipped results", ""] + [f"- `{p}`: {why}" for p, why in s.skipped]
    if bench_lines:
        lines += [""] + list(bench_lines)
    return "\n".join(lines).rstrip("\n") + "\n"


CSV_FIELDS = ["method", "column", "metric", "value", "ci_low", "ci_high", "n", "status", "seeds", "best", "vs_frozen",
              "below_majority", "majority", "std", "ci_method", "run"]
CSV_COSTS = [("trainable_params", "trainable"), ("adapter_params", "adapter"), ("stored_params", "stored"),
             ("train_time_s", "time"), ("peak_mem_mb", "mem")]


def csv_rows(s: Summary) -> list:
    """Tidy rows: one per (method, column, metric), unrounded, then each method's cost rows
    (column ``cost``; status ``incomplete`` where some of its runs did not record the number)."""
    rows = []
    for m in s.methods:
        for c in s.columns:
            cell, j = s.cells[(c.key, m)], s.judgements.get(c.key) or Judgement()
            ok = cell.value is not None
            rows.append({
                "method": m, "column": c.name, "metric": c.metric,
                "value": cell.value if ok else "",
                "ci_low": cell.ci[0] if ok and cell.ci else "", "ci_high": cell.ci[1] if ok and cell.ci else "",
                "n": cell.n if ok and cell.n is not None else "",
                "status": "ok" if ok else cell.text,
                "seeds": cell.seeds if ok else "",
                "best": int(m in j.best) if ok else "",
                "vs_frozen": j.vs_baseline.get(m, "baseline" if m == BASELINE and ok else ""),
                "below_majority": int(m in j.below_majority) if ok and cell.majority is not None else "",
                "majority": cell.majority if ok and cell.majority is not None else "",
                "std": cell.std if ok and cell.std is not None else "",
                "ci_method": (cell.ci_method or "") if ok else "",
                "run": str(cell.run.path) if ok else "",
            })
        cost = s.costs[m]
        for metric, key in CSV_COSTS:
            v = cost[key]
            value, complete = v if isinstance(v, tuple) else (v, True)
            status = "unknown" if value is None else "ok" if complete else "incomplete"
            rows.append({**{f: "" for f in CSV_FIELDS}, "method": m, "column": "cost", "metric": metric,
                         "value": "" if value is None else value, "n": cost["runs"], "status": status})
    return rows


def csv_text(s: Summary) -> str:
    """The table as tidy rows (``CSV_FIELDS``), metric values and CI bounds unrounded."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(csv_rows(s))
    return buf.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--egs", default="egs")
    ap.add_argument("--out", default="superb")
    ap.add_argument("--methods", default=None,
                    help="the rows, in order (space separated; default: every method's run, in the order "
                         "of adapters.catalogue.methods())")
    ap.add_argument("--plan", default=None, help="the benchmark driver's list of planned runs (JSON)")
    ap.add_argument("--bench", action="append", default=None,
                    help="a bench_methods --json file (or a RESULTS.md); repeatable; "
                         "default: <egs>/bench_methods/RESULTS.md when it exists")
    ap.add_argument("--seeds", type=int, default=None,
                    help="read the runs of seeds 0 .. N-1 only (exp/, exp_seed<s>/); default: every seed found")
    ap.add_argument("--allow_mixed_data", action="store_true",
                    help="put runs on different data (their results.json provenance) in one column, "
                         "with a note, instead of refusing")
    a = ap.parse_args(argv)
    if a.seeds is not None and a.seeds < 1:
        ap.error(f"--seeds {a.seeds}: a positive integer")
    egs, out = Path(a.egs), Path(a.out)
    if not egs.is_dir():
        raise SystemExit(f"error: {egs}: no such directory")
    methods = (a.methods or default_methods()).split()
    try:
        s = summarize(egs, methods, load_plan(a.plan) if a.plan else [], allow_mixed_data=a.allow_mixed_data,
                      seeds=a.seeds)
    except MixedDataError as e:
        raise SystemExit(f"error: {e}")
    for w in s.warnings:
        print(f"warning: {w}", file=sys.stderr)
    default_bench = egs / "bench_methods" / "RESULTS.md"
    bench_lines, bench_problems = bench_section(a.bench or ([default_bench] if default_bench.is_file() else []))
    s.skipped += bench_problems
    for p, why in s.skipped:
        print(f"warning: skipped {p}: {why}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    md, csv_path = out / "superb.md", out / "superb.csv"
    md.write_text(markdown(s, egs, bench_lines))
    csv_path.write_text(csv_text(s))
    pngs = write_plots(s.columns, s.cells, s.methods, out / "plots", s.judgements)
    table, footnotes = markdown_table(s)
    print("\n".join(table + ([""] + footnotes if footnotes else [])))
    if s.skipped:
        print("\nskipped: " + "; ".join(f"{p} ({why})" for p, why in s.skipped))
    print()
    for p in [md, csv_path, out / "plots" / "index.md"] + pngs:
        print(f"wrote {p}")
    return s


if __name__ == "__main__":
    main()
