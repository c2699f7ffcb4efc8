"""What every scored run records besides its metric: the method, the upstream,
parameter counts and training time, read from the run's ESPnet exp dir.

Shared by the scorers of all tasks (ASR, classification, speaker) so that the
SUPERB table reads the same fields from every ``results.json``.

Each ``results.json`` also says what made it (``provenance``, see ``provenance``):
the upstream file's SHA-256 and, for the training, validation and every test set,
the fingerprint of the data dir (``adapters.data.fingerprint``: its tables' contents,
never their mtimes, so that data prepared again byte for byte is the same data; for a
feature cache, the fingerprint of the data dir it was built from) and the SHA-256 of
the files scored against (transcripts, labels, trials), summed up in one ``id`` per
set.  The SUPERB collector compares these ids before it puts runs in one column.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import time
from pathlib import Path
from typing import Iterable, Optional

import yaml

from adapters.fileio import atomic_write, unique_tmp

# task -> (register function, ESPnet task class)
TASKS = {
    "asr": ("register_asr", "espnet2.tasks.asr", "ASRTask"),
    "cls": ("register_cls", "espnet2.tasks.cls", "CLSTask"),
    "spk": ("register_spk", "espnet2.tasks.spk", "SpeakerTask"),
}
INFO_FILE = "model_info.json"
# per-item outcomes of every test set, next to results.json (adapters.stats: CIs, paired comparisons)
PER_ITEM_FILE = "per_item.json"


def espnet_task(task: str):
    """The ESPnet task class with our classes registered in it."""
    if task not in TASKS:
        raise ValueError(f"unknown ESPnet task {task!r} (known: {', '.join(TASKS)})")
    reg, module, name = TASKS[task]
    from adapters.espnet import register

    getattr(register, reg)()
    return getattr(importlib.import_module(module), name)


def config_info(exp: Path) -> dict:
    cfg = yaml.safe_load(open(Path(exp) / "config.yaml"))
    fc = cfg.get("frontend_conf") or {}
    return {
        "method": fc.get("method", "?"),
        "method_conf": fc.get("method_conf") or {},
        "upstream": fc.get("upstream", cfg.get("frontend")),
        "upstream_path": fc.get("path_or_url"),
        "decoder": cfg.get("decoder") or "ctc",
        "encoder": cfg.get("encoder"),
    }


def param_counts(model) -> dict:
    out = {"total_params": sum(p.numel() for p in model.parameters()),
           "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    fe = getattr(model, "frontend", None)
    if fe is not None and hasattr(fe, "adapted"):
        out["adapter_params"] = fe.adapted.num_trainable()
        out["upstream_params"] = fe.adapted.num_backbone()
        out["downstream_params"] = out["trainable_params"] - out["adapter_params"]
    return out


def save_model_info(exp: Path, model) -> dict:
    """Record ``model``'s counts in ``exp`` (inference has the model loaded anyway)."""
    info = {**config_info(exp), **param_counts(model)}
    # parallel decoding jobs write it at once: whole files only
    atomic_write(Path(exp) / INFO_FILE, json.dumps(info, indent=1), tmp=Path(exp) / f".{INFO_FILE}.{os.getpid()}")
    return info


def model_info(exp: Path, task: str = "asr") -> dict:
    """Method, upstream and parameter counts of the trained model in ``exp``."""
    exp = Path(exp)
    cached = exp / INFO_FILE
    if cached.is_file() and cached.stat().st_mtime >= (exp / "config.yaml").stat().st_mtime:
        return json.loads(cached.read_text())
    info = config_info(exp)
    try:
        model, _ = espnet_task(task).build_model_from_file(exp / "config.yaml", None, "cpu")
        info.update(param_counts(model))
    except Exception as e:  # a result without counts beats no result
        info["params_error"] = f"{e.__class__.__name__}: {e}"
    return info


def train_info(exp: Path) -> dict:
    out = {}
    exp = Path(exp)
    if (exp / "train.log").is_file():
        out["train_log"] = str(exp / "train.log")
    if (exp / "train_time_s").is_file():
        out["train_time_s"] = float((exp / "train_time_s").read_text().strip() or 0)
    if (exp / "peak_mem_mb").is_file():
        out["peak_mem_mb"] = float((exp / "peak_mem_mb").read_text().strip() or 0)
    if (exp / MACHINE_FILE).is_file():
        with contextlib.suppress(ValueError, OSError):
            out["train_machine"] = json.loads((exp / MACHINE_FILE).read_text())
    return out


def output_dir_of(argv) -> Optional[Path]:
    """ESPnet's ``--output_dir`` of a training command line (None: not given or not made)."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    out = None
    for i, a in enumerate(argv):
        if a == "--output_dir" and i + 1 < len(argv):
            out = argv[i + 1]
        elif a.startswith("--output_dir="):
            out = a.split("=", 1)[1]
    return Path(out) if out and Path(out).is_dir() else None


def record_peak_memory(argv) -> None:
    """Write the training process's peak resident memory to ``<output_dir>/peak_mem_mb``
    (the SUPERB table's memory column; on a GPU, ESPnet's log has the GPU figure)."""
    import resource

    out = output_dir_of(argv)
    if out is not None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
        (out / "peak_mem_mb").write_text(f"{kb / 1024:.0f}\n")


MACHINE_FILE = "train_machine.json"


def machine_record() -> dict:
    """The machine a process computes on.  PyTorch picks its CPU kernels by the processor's
    vector units (``cpu_capability``: AVX2, AVX512, ...), and kernels that sum in another order
    round differently: the same inputs and seed train to other weights on another processor
    type, and on a few hundred utterances a few test items then change.  Runs compared to the
    digit must share this record."""
    import platform

    import torch

    cpu = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu or platform.processor() or None, "arch": platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def record_machine(argv) -> None:
    """Write :func:`machine_record` of the training process to ``<output_dir>/train_machine.json``."""
    out = output_dir_of(argv)
    if out is not None:
        write_json(out / MACHINE_FILE, machine_record())


def record_training(argv) -> None:
    """What a finished training leaves next to its model for ``results.json``: its peak memory
    and its machine (the ``*_train`` entry points call this once)."""
    record_peak_memory(argv)
    record_machine(argv)


def machine_label(m: dict) -> str:
    """``<cpu> (<kernel level> kernels, torch <version>)``: what decides a run's rounding."""
    return f"{m.get('cpu') or '?'} ({m.get('cpu_capability') or '?'} kernels, torch {m.get('torch') or '?'})"


def fmt_params(n) -> str:
    """A parameter count for a table: ``1.23M``, ``45.6k``; ``?`` when it is not a number."""
    if not isinstance(n, (int, float)):
        return "?"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def params_line(r: dict) -> str:
    if "trainable_params" not in r:
        return f"- parameters: unknown ({r.get('params_error')})"
    return (f"- parameters: {r['trainable_params']:,} trainable (adapter {r.get('adapter_params', '?'):,}) "
            f"of {r['total_params']:,}")


def new_results(exp: Path, task: str, espnet_task_name: str, metric: str) -> dict:
    """The fields of a run's ``results.json`` before its scores (under ``test``)."""
    exp = Path(exp)
    return {"exp": str(exp), "task": task, "metric": metric, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            **model_info(exp, espnet_task_name), **train_info(exp), "test": {}}


def header_lines(r: dict, *extra: str) -> list:
    """The top of a run's ``RESULTS.md``: what was trained, on what, with how many parameters."""
    conf = json.dumps(r["method_conf"]) if r.get("method_conf") else ""
    prov = r.get("provenance") if isinstance(r.get("provenance"), dict) else None
    return [f"# RESULTS: {Path(r['exp']).name}", "",
            f"- task: {r['task']}; method: `{r['method']}` {conf}",
            f"- upstream: `{r['upstream']}` ({r.get('upstream_path') or 'registered name'})",
            params_line(r), *extra, *([provenance_line(prov)] if prov else []),
            *([machine_line(r["train_machine"])] if isinstance(r.get("train_machine"), dict) else []),
            f"- date: {r['created']}", ""]


def machine_line(m: dict) -> str:
    extra = ", ".join(x for x in (m.get("arch"), m.get("gpu"), f"{m.get('threads') or '?'} thread(s)") if x)
    return f"- trained on: {machine_label(m)}; {extra}"


# ---------------------------------------------------------------- provenance

#: 2: a set's ``data`` is the fingerprint of its data dir's tables (1: ``audio``, of wav.scp and
#: each audio file's size and mtime, so that a dump written again counted as other data)
PROVENANCE_VERSION = 2
#: the parts of a run's data the collector compares (besides the column's test set)
TRAINING_SETS = ("train", "valid")
_AUDIO_LISTS = ("wav.scp", "feats.scp")


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def set_fingerprint(data_dir) -> tuple:
    """(fingerprint, the data dir it is of) of a data set: ``adapters.data.fingerprint`` of its
    data dir, or for a feature cache dir the fingerprint its manifest records of its source."""
    from adapters.data.fingerprint import data_fingerprint

    d = Path(data_dir)
    if (d / "wav.scp").is_file():
        return data_fingerprint(d), str(d)
    if (d / "manifest.json").is_file():
        man = json.loads((d / "manifest.json").read_text())
        if isinstance(man, dict) and man.get("data_fingerprint"):
            return man["data_fingerprint"], man.get("data_dir")
    raise FileNotFoundError(f"{d}: no wav.scp (nor a feature cache manifest)")


def set_record(data_dir, files: Iterable = ()) -> dict:
    """One data set's provenance: its dir, its data fingerprint, the SHA-256 of ``files``
    (by name) and ``id``, their digest (None when nothing could be read; ``errors`` says why)."""
    from adapters.feature_cache import file_sha256

    rec = {"dir": str(data_dir), "data": None, "files": {}}
    errors = []
    try:
        rec["data"], src = set_fingerprint(data_dir)
        if src and src != str(data_dir):
            rec["source_dir"] = src
    except Exception as e:  # a record that says what it lacks beats no result
        errors.append(f"data: {e.__class__.__name__}: {e}")
    for f in files:
        f = Path(f)
        try:
            rec["files"][f.name] = file_sha256(f)
        except OSError as e:
            errors.append(f"{f}: {e.__class__.__name__}: {e}")
    known = rec["data"] is not None or rec["files"]
    rec["id"] = _digest({"data": rec["data"], "files": rec["files"]}) if known and not errors else None
    if errors:
        rec["errors"] = errors
    return rec


def _entries(v) -> list:
    """ESPnet's ``*_data_path_and_name_and_type`` (lists, or "path,name,type" strings) as paths."""
    out = []
    for e in v or []:
        if isinstance(e, str):
            e = e.split(",")
        if isinstance(e, (list, tuple)) and e:
            out.append(Path(str(e[0])))
    return out


def training_sets(exp: Path) -> dict:
    """{"train"|"valid": set_record} of the sets in ``<exp>/config.yaml`` (paths as ESPnet
    was given them: relative to the recipe, where the scorers run)."""
    cfg_path = Path(exp) / "config.yaml"
    if not cfg_path.is_file():
        return {}
    cfg = yaml.safe_load(cfg_path.read_text()) or {}
    out = {}
    for split in TRAINING_SETS:
        paths = _entries(cfg.get(f"{split}_data_path_and_name_and_type"))
        if not paths:
            continue
        audio = [p for p in paths if p.name in _AUDIO_LISTS]
        d = audio[0].parent if audio else paths[0].parent
        out[split] = set_record(d, [p for p in paths if p.name not in _AUDIO_LISTS])
    return out


def upstream_record(name, path) -> dict:
    """The upstream by name, path and the SHA-256 of its file (None: a registered name or gone)."""
    from adapters.feature_cache import file_sha256

    sha = file_sha256(path) if path and Path(path).is_file() else None
    return {"name": name, "path": str(path) if path else None, "sha256": sha}


def provenance(exp: Path, results: dict, tests: dict) -> dict:
    """What made a run's results: ``tests`` maps each test set's name to (data dir, the files
    scored against), the training and validation sets come from the exp's config.yaml."""
    return {"version": PROVENANCE_VERSION,
            "upstream": upstream_record(results.get("upstream"), results.get("upstream_path")),
            **training_sets(exp),
            "test": {name: set_record(d, files) for name, (d, files) in tests.items()}}


def combined_record(records: dict) -> dict:
    """Several sets as one (a fold average: each fold's set): their ids and one digest of them.
    The digest is of the ids alone: the parts' names are exp dirs (``cls_fold1_<method>``), and
    two methods on the same folds must get the same id."""
    ids = {k: (r or {}).get("id") for k, r in records.items()}
    return {"parts": ids, "id": _digest(sorted(ids.values())) if ids and all(ids.values()) else None}


def data_ids(results: dict, test: str) -> Optional[dict]:
    """{"train", "valid", "test": id or None} of a run's results for one test set; None when
    the results record no provenance (scored before it was recorded)."""
    prov = results.get("provenance")
    if not isinstance(prov, dict):
        return None

    def rid(rec):
        return rec.get("id") if isinstance(rec, dict) and isinstance(rec.get("id"), str) else None

    tests = prov.get("test") if isinstance(prov.get("test"), dict) else {}
    return {**{k: rid(prov.get(k)) for k in TRAINING_SETS}, "test": rid(tests.get(test))}


def upstream_sha(results: dict) -> Optional[str]:
    prov = results.get("provenance")
    up = prov.get("upstream") if isinstance(prov, dict) else None
    return up.get("sha256") if isinstance(up, dict) and isinstance(up.get("sha256"), str) else None


def provenance_line(prov: dict) -> str:
    sha = (prov.get("upstream") or {}).get("sha256")
    sets = [f"{k} {(prov.get(k) or {}).get('id') or '?'}" for k in TRAINING_SETS if k in prov]
    sets += [f"{k} {(r or {}).get('id') or '?'}" for k, r in (prov.get("test") or {}).items()]
    return (f"- provenance: upstream sha256 {sha[:12] if sha else '? (registered name)'}; data ids "
            + (", ".join(sets) or "none") + " (results.json: provenance)")


def write_json(path: Path, data, indent=1) -> None:
    """Whole files only: other jobs (the benchmark's collector) may read it at any time."""
    atomic_write(path, json.dumps(data, indent=indent), tmp=unique_tmp(path))


def write_per_item(exp: Path, per_item: dict, results: dict | None = None) -> Path:
    """``<exp>/per_item.json``: {test set: per-item outcomes} (see ``adapters.stats``), compact;
    ``results`` (the run's results.json dict) gets ``"per_item": "per_item.json"``."""
    path = Path(exp) / PER_ITEM_FILE
    write_json(path, per_item, indent=None)
    if results is not None:
        results["per_item"] = PER_ITEM_FILE
    return path


def read_per_item(results_path: Path, results: dict | None = None) -> dict:
    """The per-item outcomes next to a results.json ({} when there are none or they are unreadable)."""
    results_path = Path(results_path)
    name = (results or {}).get("per_item") or PER_ITEM_FILE
    path = results_path.parent / name if results_path.suffix == ".json" else results_path / name
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
