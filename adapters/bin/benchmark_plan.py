"""Check a benchmark plan before anything runs: a bad plan must fail in seconds,
naming the option, not after an hour of other runs.

``check(entries, egs)`` returns (errors, notes).  It reads the recipes and runs
nothing; every check is about the commands the driver would run
(``Entry.prep_command`` and ``Entry.run_command``):

* every entry's recipe exists (``<egs>/<recipe>/run.sh``, executable);
* every option given to ``run.sh`` is one it takes: its own variables when it parses
  its options with ``tools/parse_options.sh`` (the multi-task recipe), else the options
  it handles itself (``--folds)`` ...) and those of every template it hands the rest
  to (``./asr.sh``, ``./cls.sh``, ``./spk.sh``); a number or a boolean where the
  default is one; the same for ``--local_data_opts`` against ``local/data.sh``;
* every method has its config (``conf/train_<decoder>_<method>.yaml`` for ``asr.sh``,
  ``conf/<conf_prefix>_<method>.yaml`` for ``cls.sh``/``spk.sh``), or, in a recipe
  whose structure is not one of these, is a known method (``adapters.catalogue``);
* per recipe (``RULES``): the multi-task recipe's speakers (zero-shot speakers fewer
  than the impaired ones, a new-task speaker left when HRA adds a task, the configs of
  the runs the asked ones bring along (``adapters.catalogue.companion_runs``: A-AF's
  stage 1 and the frozen run it starts from, HRA's add-a-task run) and of the
  compositions; the split itself is planned with ``adapters.data.torgo`` on
  the synthetic corpus's prompts, without audio), IEMOCAP's folds (5 sessions) and
  VoxCeleb's speakers and trials (planned the same way);
* ``--seeds N`` (``check(..., seeds=N)``): N a positive integer, and for N > 1 every
  entry has a training-args option (``TRAIN_ARGS``) to pass ESPnet's ``--seed`` through
  (``seed_options``), checked with the other options on its seed-1 commands.

Recipes whose structure it cannot read (no template, no parse_options.sh) get the
checks it can make: the recipe exists, known methods.
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

TEMPLATES = ("asr.sh", "cls.sh", "spk.sh")
# the options through which a recipe hands extra arguments to ESPnet's trainer (``--seed``)
TRAIN_ARGS = ("asr_args", "cls_args", "spk_args")
_ASSIGN = re.compile(r"""^([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s#;]*)""")
_CASE_OPTS = re.compile(r"^\s*((?:--[A-Za-z0-9_-]+\|?)+)\)")
_TEMPLATE_CALL = re.compile(r"\./(asr|cls|spk|multitask)\.sh\b")
# the line of a template that sets the options every template has (egs/TEMPLATE/common/lib.sh)
_TEMPLATE_OPTIONS = re.compile(r"^\s*template_options\b")


def _code_lines(path: Path) -> List[str]:
    return [ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#")]


def _unquote(v: str) -> str:
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'" else v


def assignments(path: Path) -> Dict[str, str]:
    """Top-level ``name=value`` lines of a shell script (the first of each name)."""
    out = {}
    for ln in _code_lines(path):
        m = _ASSIGN.match(ln)
        if m:
            out.setdefault(m.group(1), _unquote(m.group(2)))
    return out


def template_options(path: Path) -> Dict[str, str]:
    """The options (with defaults) that lib.sh's ``template_options`` sets for a template at
    ``path`` (egs/TEMPLATE/<dir>/<template>.sh, or a recipe's link to it)."""
    lib = Path(path).resolve().parents[1] / "common" / "lib.sh"
    out, inside = {}, False
    for ln in _code_lines(lib) if lib.is_file() else []:
        if re.match(r"^template_options\(\)\s*\{", ln):
            inside = True
        elif inside and ln.startswith("}"):
            break
        elif inside:
            m = _ASSIGN.match(ln.strip())
            if m:
                out.setdefault(m.group(1), _unquote(m.group(2)))
    return out


def parse_options_vars(path: Path) -> Optional[Dict[str, str]]:
    """The options of a script that sources tools/parse_options.sh (the variables it sets
    before that line, with their defaults; a template's ``template_options`` line stands for
    lib.sh's, which its own assignments override); None when it does not source it."""
    out, shared = {}, {}
    for ln in _code_lines(path):
        if "parse_options.sh" in ln:
            return {**shared, **out}
        if _TEMPLATE_OPTIONS.match(ln):
            shared = template_options(path)
            continue
        m = _ASSIGN.match(ln)
        if m:
            out.setdefault(m.group(1), _unquote(m.group(2)))
    return None


def option_name(token: str) -> str:
    return token[2:].split("=", 1)[0].replace("-", "_")


def parse_tokens(tokens) -> tuple:
    """``--name value`` / ``--name=value`` tokens (as parse_options.sh reads them) ->
    ([(name, value)], [problem])."""
    opts, problems, i = [], [], 0
    tokens = list(tokens)
    while i < len(tokens):
        t = tokens[i]
        if not t.startswith("--"):
            problems.append(f"unexpected argument {t!r} (options are --name value)")
            i += 1
            continue
        if "=" in t:
            opts.append((option_name(t), t.split("=", 1)[1]))
            i += 1
        elif i + 1 < len(tokens):
            opts.append((option_name(t), tokens[i + 1]))
            i += 2
        else:
            problems.append(f"--{option_name(t)} needs a value")
            i += 1
    return opts, problems


def value_problem(name: str, value: str, default: Optional[str]) -> Optional[str]:
    """A value of the wrong kind for its default (an integer, a number, true/false)."""
    if default is None or default == "":
        return None
    if re.fullmatch(r"-?\d+", default):
        if not re.fullmatch(r"-?\d+", value.strip()):
            return f"--{name} {value!r}: not an integer (default {default})"
    elif re.fullmatch(r"-?\d*\.\d+", default):
        try:
            float(value)
        except ValueError:
            return f"--{name} {value!r}: not a number (default {default})"
    elif default in ("true", "false") and value not in ("true", "false"):
        return f"--{name} {value!r}: true or false (default {default})"
    return None


def _unknown(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f" (did you mean {', '.join('--' + c for c in close)}?)" if close else ""
    return f"--{name}{hint}"


@dataclass
class Recipe:
    """What run.sh (and the templates and local/data.sh it calls) take."""
    dir: Path
    closed: Optional[Dict[str, str]] = None  # run.sh's own parse_options variables (then nothing else)
    own: Dict[str, str] = field(default_factory=dict)  # options run.sh handles itself (case style)
    templates: Dict[str, Dict[str, str]] = field(default_factory=dict)  # template -> its options
    data_opts: Optional[Dict[str, str]] = None  # local/data.sh's options
    text: str = ""
    task_prefixes: Dict[str, str] = field(default_factory=dict)  # case label -> --conf_prefix (voxceleb: sid, asv)

    @classmethod
    def read(cls, d: Path) -> "Recipe":
        run = d / "run.sh"
        r = cls(d, text="\n".join(_code_lines(run)))
        r.closed = parse_options_vars(run)
        if r.closed is None:
            defaults = assignments(run)
            for ln in _code_lines(run):
                m = _CASE_OPTS.match(ln)
                if m:
                    for o in m.group(1).split("|"):
                        r.own[option_name(o)] = defaults.get(option_name(o), "")
        for ln in _code_lines(run):
            m = _TEMPLATE_CALL.search(ln)
            if not m:
                continue
            name = f"{m.group(1)}.sh"
            path = d / name
            if name not in r.templates and path.is_file():
                r.templates[name] = parse_options_vars(path) or {}
            label, prefix = re.match(r"^\s*(\w+)\)", ln), re.search(r"--conf_prefix\s+(\S+)", ln)
            if label and prefix:
                r.task_prefixes[label.group(1)] = prefix.group(1)
        data = d / "local" / "data.sh"
        r.data_opts = parse_options_vars(data) if data.is_file() else None
        return r

    @property
    def known_structure(self) -> bool:
        return self.closed is not None or bool(self.templates)

    def takes(self, name: str) -> bool:
        if self.closed is not None:
            return name in self.closed or name == "config"
        if name in self.own:
            return True
        return bool(self.templates) and all(name in t for t in self.templates.values())

    def options(self) -> List[str]:
        if self.closed is not None:
            return sorted(self.closed)
        common = set.intersection(*(set(t) for t in self.templates.values())) if self.templates else set()
        return sorted(set(self.own) | common)

    def default(self, name: str) -> Optional[str]:
        """What run.sh uses for --name when the plan does not give it."""
        if self.closed is not None:
            return self.closed.get(name)
        if name in self.own:
            return self.own[name]
        lit = re.findall(rf"--{name}\s+(\"[^\"]*\"|'[^']*'|[^\s\\]+)", self.text)
        if lit:
            return _unquote(lit[0])
        for t in self.templates.values():
            if name in t:
                return t[name]
        return None


@dataclass
class Context:
    """One entry's checks: its recipe, its options (last wins) and what they found."""
    entry: object
    recipe: Recipe
    opts: Dict[str, str]
    env: Dict[str, str]
    errors: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.entry.name} ({self.entry.recipe})"

    def error(self, msg: str) -> None:
        self.errors.append(f"{self.where}: {msg}")

    def note(self, msg: str) -> None:
        self.notes.append(f"{self.where}: {msg}")

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        if name in self.opts:
            return self.opts[name]
        d = self.recipe.default(name)
        return d if d is not None else default

    def data_opts(self) -> Dict[str, str]:
        """local/data.sh's options: its defaults, then --local_data_opts."""
        out = dict(self.recipe.data_opts or {})
        out.update(parse_tokens(self.get("local_data_opts", "").split())[0])
        return out

    def corpus(self, var: str) -> str:
        return self.env.get(var, os.environ.get(var, ""))

    def methods(self) -> List[str]:
        return list(self.entry.methods)


def _int(ctx: Context, opts: Dict[str, str], name: str, where: str = "--local_data_opts ") -> Optional[int]:
    try:
        return int(opts.get(name, ""))
    except ValueError:
        ctx.error(f"{where}--{name} {opts.get(name)!r}: not an integer")
        return None


# ---------------------------------------------------------------- the generic checks


def check_options(ctx: Context) -> None:
    e, r = ctx.entry, ctx.recipe
    commands = [e.prep_command()[1:]] + [e.run_command(m)[1:] for m in e.methods]
    seen = set()
    for cmd in commands:
        opts, problems = parse_tokens(cmd)
        for p in problems:
            ctx.error(f"run.sh: {p}")
        for name, value in opts:
            if (name, value) in seen:
                continue
            seen.add((name, value))
            if not r.known_structure:
                continue
            if not r.takes(name):
                ctx.error(f"run.sh does not take {_unknown(name, r.options())}")
                continue
            p = value_problem(name, value, r.default(name))
            if p:
                ctx.error(f"run.sh {p}")
    lopts = ctx.get("local_data_opts", "")
    if lopts and r.data_opts is not None:
        opts, problems = parse_tokens(lopts.split())
        for p in problems:
            ctx.error(f"--local_data_opts {lopts!r}: {p}")
        for name, value in opts:
            if name not in r.data_opts and name != "config":
                ctx.error(f"--local_data_opts: local/data.sh does not take {_unknown(name, r.data_opts)}")
                continue
            p = value_problem(name, value, r.data_opts.get(name))
            if p:
                ctx.error(f"--local_data_opts: local/data.sh {p}")


def config_patterns(ctx: Context) -> Optional[List[str]]:
    """conf/... patterns ({m}: the method) every method needs; None: no config naming known."""
    r = ctx.recipe
    if "asr.sh" in r.templates:
        if ctx.get("asr_config"):
            return []
        return [f"conf/train_{ctx.get('decoder', 'ctc')}_{{m}}.yaml"]
    if "cls.sh" in r.templates or "spk.sh" in r.templates:
        if ctx.get("cls_config") or ctx.get("spk_config"):
            return []
        if "conf_prefix" in ctx.opts:
            return [f"conf/{ctx.opts['conf_prefix']}_{{m}}.yaml"]
        if r.task_prefixes:  # one template run per task (voxceleb: sid -> train_sid)
            tasks = (ctx.get("tasks") or " ".join(r.task_prefixes)).split()
            return [f"conf/{r.task_prefixes[t]}_{{m}}.yaml" for t in tasks if t in r.task_prefixes]
        return ["conf/train_{m}.yaml"]
    return None


def check_methods(ctx: Context, methods=None) -> None:
    pats = config_patterns(ctx)
    for m in ctx.methods() if methods is None else methods:
        if pats is None:
            from adapters import catalogue

            known = catalogue.names()
            if m not in known:
                ctx.error(f"method {m!r}: not a known method ({', '.join(sorted(known))})")
            continue
        for p in pats:
            c = p.format(m=m)
            if not (ctx.recipe.dir / c).is_file():
                head = Path(p.split("{m}")[0]).name
                have = sorted(x.name[len(head):-len(".yaml")] for x in ctx.recipe.dir.glob(p.format(m="*")))
                ctx.error(f"method {m!r}: no {c} (methods with a config: {' '.join(have) or 'none'})")


def check_tasks(ctx: Context) -> None:
    r = ctx.recipe
    if r.task_prefixes and "tasks" in ctx.opts:
        for t in ctx.opts["tasks"].split() or [""]:
            if t not in r.task_prefixes:
                ctx.error(f"--tasks {ctx.opts['tasks']!r}: no task {t!r} (tasks: {' '.join(r.task_prefixes)})")


# ---------------------------------------------------------------- per recipe


def check_euphonia(ctx: Context) -> None:
    """The multi-task recipe: who is seen, held out for zero-shot and added later."""
    from adapters import catalogue
    from adapters.data import torgo
    from adapters.data.kaldi import DataDirError

    methods = ctx.methods()
    # the runs an asked one brings along (adapters.catalogue): what it starts from (A-AF: stage 1
    # on the frozen run's model), with a fusion the --aaf_methods compositions of that stage, and
    # the runs that add a task to it (HRA's, with --new_task true)
    adders = catalogue.task_adding_runs(methods)
    new_task = ctx.get("new_task", "true") == "true" and bool(adders)
    extra = catalogue.prerequisites(methods)
    if any(catalogue.needs_several_tasks(m) for m in methods):
        extra += ctx.get("aaf_methods", "").split()
    if new_task:
        extra += adders
    bad_aaf = [m for m in ctx.get("aaf_methods", "").split()
               if not (ctx.recipe.dir / f"conf/train_ctc_{m}.yaml").is_file()]
    if bad_aaf:
        ctx.error(f"--aaf_methods {ctx.get('aaf_methods')!r}: no conf/train_ctc_{bad_aaf[0]}.yaml")
    check_methods(ctx, [m for m in dict.fromkeys(extra) if m not in methods and m not in bad_aaf])

    d = ctx.data_opts()
    zeroshot = d.get("zeroshot", "").split() or None
    new = d.get("new", "").split() or None
    real = ctx.corpus("TORGO")
    if real:
        root = Path(real) if Path(real).is_absolute() else ctx.recipe.dir / real
        try:
            speakers = torgo.find_speakers(root)
        except DataDirError as e:
            ctx.error(f"TORGO={real}: {e}")
            return
        impaired = [s for s in speakers if torgo.task_of(s) != torgo.TYPICAL]
        what = f"TORGO={real} ({len(impaired)} impaired speakers)"
        count = _int(ctx, {**d, "zeroshot_count": d.get("zeroshot_count") or "1"}, "zeroshot_count")
    else:
        from adapters.synth import torgo as synth

        n_imp, n_typ = _int(ctx, d, "synth_impaired"), _int(ctx, d, "synth_typical")
        prompts, vocab = _int(ctx, d, "synth_prompts"), _int(ctx, d, "synth_vocab")
        count = _int(ctx, {**d, "zeroshot_count": d.get("zeroshot_count") or "4"}, "zeroshot_count")
        if None in (n_imp, n_typ, prompts, vocab, count):
            return
        if n_typ < 1:
            ctx.error(f"--local_data_opts --synth_typical {n_typ}: the recipe needs typical speech "
                      "(the task 'typical', the zero-shot fallback)")
            return
        try:
            impaired = synth.speaker_names(n_imp, n_typ)[0]
        except ValueError as e:
            ctx.error(f"--local_data_opts --synth_impaired {n_imp}: {e}")
            return
        what = f"--synth_impaired {n_imp}"
        if prompts < 1 or vocab < 1:
            ctx.error(f"--local_data_opts --synth_prompts {prompts} --synth_vocab {vocab}: at least 1 each")
            return
    if count is None:
        return
    given = (f"--zeroshot {' '.join(zeroshot)}" if zeroshot else f"--zeroshot_count {count}"
             + ("" if d.get("zeroshot_count") else " (local/data.sh's default)"))
    try:
        zs, nw = torgo.held_out(impaired, zeroshot, new, count)
    except DataDirError as e:
        ctx.error(f"--local_data_opts {given} (with {what}): {e}")
        return
    seen = [t for t in sorted(impaired, key=torgo.speaker_order) if t not in zs + nw]
    if new_task and not nw:
        ctx.error(f"--local_data_opts {given} (with {what}) leaves no new-task speaker, and HRA adds one "
                  f"(hra in --methods, --new_task true; stage 16): the seen impaired speakers are {seen}; "
                  "hold out fewer, synthesize more, name one with --new, or give --new_task false")
        return
    if not real:  # the split itself, on the prompts the synthesis would write (no audio)
        try:
            utts = torgo.utterances(synth.listing(Path("/nonexistent/torgo_plan"), n_imp, n_typ, prompts,
                                                  vocab=vocab))[0]
            seen_tasks, zs, nw, sets = torgo.plan(utts, zeroshot, new, count)
        except (DataDirError, ValueError) as e:
            ctx.error(f"--local_data_opts {ctx.get('local_data_opts')!r}: {e}")
            return
        sizes = ", ".join(f"{k} {len(v)}" for k, v in sorted(sets.items()))
        ctx.note(f"{len(seen_tasks)} seen tasks ({','.join(seen_tasks)}), new {','.join(nw) or 'none'}, "
                 f"zero-shot {','.join(zs)}; utterances: {sizes}")
    else:
        ctx.note(f"seen impaired speakers {','.join(seen)}, new {','.join(nw) or 'none'}, zero-shot {','.join(zs)}")


def check_iemocap(ctx: Context) -> None:
    """Leave-one-session-out: folds 1-5 (IEMOCAP has 5 sessions); the results path names their number."""
    from adapters.data.iemocap import SESSIONS

    folds_given = ctx.get("folds", " ".join(map(str, SESSIONS)))
    folds = folds_given.split()
    bad = [k for k in folds if not k.isdigit() or int(k) not in SESSIONS]
    if not folds or bad:
        ctx.error(f"--folds {folds_given!r}: folds are IEMOCAP's sessions {SESSIONS[0]}-{SESSIONS[-1]}"
                  + (f" (no fold {bad[0]!r})" if bad else ""))
        return
    if len(set(folds)) != len(folds):
        ctx.error(f"--folds {folds_given!r}: a fold given twice")
        return
    m = re.search(r"_(\d+)fold_", ctx.entry.results)
    if m and int(m.group(1)) != len(folds):
        ctx.error(f"--folds {folds_given!r}: {len(folds)} fold(s), but the entry's results "
                  f"{ctx.entry.results!r} name {m.group(1)} (run.sh writes cls_{len(folds)}fold_<method>)")
    if not ctx.corpus("IEMOCAP"):
        d = ctx.data_opts()
        n = _int(ctx, d, "synth_utts_per_actor")
        if n is not None and n < 4:
            ctx.error(f"--local_data_opts --synth_utts_per_actor {n}: at least 4 (one per class)")


def check_voxceleb(ctx: Context) -> None:
    """The synthetic corpus's speakers and trials, planned as the synthesis and preparation would."""
    check_tasks(ctx)
    if ctx.corpus("VOXCELEB1"):
        return
    from adapters.data import voxceleb as data
    from adapters.data.kaldi import DataDirError
    from adapters.synth import voxceleb as synth

    d = ctx.data_opts()
    n, t, dev = _int(ctx, d, "synth_speakers"), _int(ctx, d, "synth_test_speakers"), _int(ctx, d, "dev_trials")
    videos, per_video = _int(ctx, d, "synth_videos"), _int(ctx, d, "synth_utts_per_video")
    if None in (n, t, dev, videos, per_video):
        return
    speakers = f"--synth_speakers {n} --synth_test_speakers {t}"
    given = f"--local_data_opts {speakers} --synth_videos {videos} --synth_utts_per_video {per_video}"
    try:
        jobs, split, trials = synth.plan(Path("/nonexistent/vox_plan"), n, t, videos, per_video,
                                         synth.DEFAULTS["trials"])
    except ValueError as e:
        ctx.error(f"{given}: {e}")
        return
    missing = [c for c in (1, 2, 3) if c not in set(split.values())]
    if missing:
        ctx.error(f"{given}: no utterance in the identification split {missing[0]}")
    if dev > 0:
        test_spks = {data.speaker_of(r) for _, a, b in trials for r in (a, b)}
        train = [r for r in split if data.speaker_of(r) not in test_spks]
        try:
            data.draw_dev_trials(train, dev)
        except DataDirError as e:
            ctx.error(f"--local_data_opts --dev_trials {dev} (with {speakers}): {e}")


def data_options(entry, egs: Path) -> Dict[str, str]:
    """local/data.sh's options in an entry's runs: its defaults, then the entry's --local_data_opts."""
    r = Recipe.read(Path(egs) / entry.recipe)
    return Context(entry, r, dict(parse_tokens(entry.args)[0]), dict(entry.env)).data_opts()


def seed_options(args, recipe_dir: Path) -> List[str]:
    """The training-args options (``TRAIN_ARGS``, without ``--``) that get ``--seed s``: those
    the entry's arguments give, else those its recipe takes (voxceleb: cls_args and spk_args);
    [] when neither says (a recipe whose structure is not known, without one in its arguments)."""
    given = [o for o in TRAIN_ARGS if f"--{o}" in list(args)]
    if given:
        return given
    d = Path(recipe_dir)
    if not (d / "run.sh").is_file():
        return []
    try:
        r = Recipe.read(d)
    except OSError:
        return []
    return [o for o in TRAIN_ARGS if r.known_structure and r.takes(o)]


def check_seeds(seeds) -> List[str]:
    """``--seeds``: a positive integer (seeds 0 .. N-1 per run)."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        return [f"--seeds {seeds!r}: the number of seeds per run must be a positive integer (1: seed 0 only)"]
    return []


RULES = {"euphonia/asr1": check_euphonia, "iemocap/er1": check_iemocap, "voxceleb/spk1": check_voxceleb}


def check(entries, egs: Path, seeds=1) -> tuple:
    """(errors, notes) of a plan: every entry's recipe, options and methods; ``seeds``: the number
    of seeds per run (entries with a ``seed`` above 0 are the driver's seeded copies: they need a
    ``seed_options`` option to pass ``--seed`` through)."""
    errors, notes = check_seeds(seeds), []
    recipes: Dict[str, Recipe] = {}
    for e in entries:
        d = Path(egs) / e.recipe
        run = d / "run.sh"
        if not run.is_file():
            errors.append(f"{e.name} ({e.recipe}): no recipe {d} (no run.sh)")
            continue
        if not os.access(run, os.X_OK):
            errors.append(f"{e.name} ({e.recipe}): {run} is not executable")
            continue
        try:
            e.results.format(expdir="exp", method="m")
        except (KeyError, IndexError, ValueError) as x:
            errors.append(f"{e.name} ({e.recipe}): results {e.results!r}: only {{expdir}} and {{method}} ({x!r})")
        if e.recipe not in recipes:
            recipes[e.recipe] = Recipe.read(d)
        r = recipes[e.recipe]
        opts = dict(parse_tokens(e.args)[0])
        ctx = Context(e, r, opts, dict(e.env))
        check_options(ctx)
        check_methods(ctx)
        rule = RULES.get(e.recipe)
        if rule:
            rule(ctx)
        else:
            check_tasks(ctx)
        if getattr(e, "seed", 0) and not getattr(e, "seed_options", None):
            ctx.error(f"--seeds {seeds}: cannot tell how run.sh passes --seed {e.seed} to the trainer: "
                      f"give one of {', '.join('--' + o for o in TRAIN_ARGS)} in the entry's args")
        errors += ctx.errors
        notes += ctx.notes
    return list(dict.fromkeys(errors)), list(dict.fromkeys(notes))
