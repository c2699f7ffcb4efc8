"""What every scored run records besides its metric: the method, the upstream,
parameter counts and training time, read from the run's ESPnet exp dir.

Shared by the scorers of all tasks (ASR, classification, speaker) so that the
SUPERB table reads the same fields from every ``results.json``.
"""
from __future__ import annotations

import importlib
import json
import os
import time
from pathlib import Path

import yaml

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
    tmp = Path(exp) / f".{INFO_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(info, indent=1))
    os.replace(tmp, Path(exp) / INFO_FILE)
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
    return out


def record_peak_memory(argv) -> None:
    """Write the training process's peak resident memory to ``<output_dir>/peak_mem_mb``
    (the SUPERB table's memory column; on a GPU, ESPnet's log has the GPU figure)."""
    import resource
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    out = None
    for i, a in enumerate(argv):
        if a == "--output_dir" and i + 1 < len(argv):
            out = argv[i + 1]
        elif a.startswith("--output_dir="):
            out = a.split("=", 1)[1]
    if out and Path(out).is_dir():
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
        (Path(out) / "peak_mem_mb").write_text(f"{kb / 1024:.0f}\n")


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
    return [f"# RESULTS: {Path(r['exp']).name}", "",
            f"- task: {r['task']}; method: `{r['method']}` {conf}",
            f"- upstream: `{r['upstream']}` ({r.get('upstream_path') or 'registered name'})",
            params_line(r), *extra, f"- date: {r['created']}", ""]


def write_json(path: Path, data, indent=1) -> None:
    """Whole files only: other jobs (the benchmark's collector) may read it at any time."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=indent))
    os.replace(tmp, path)


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
