"""Adapter-only checkpoints out of a trained ESPnet ASR model (``s3prl_adapter`` frontend).

    python -m adapters.bin.export_adapters --config exp/asr_ctc_extract/config.yaml \\
        --model exp/asr_ctc_extract/valid.loss.ave.pth --out exp/asr_ctc_extract/adapters [--per_task true]

Writes ``<out>/adapter.pt`` (every task) and, with ``--per_task true``, one file
per task ``<out>/<task>.pt`` (the single-task adapters that A-AF composes, or an
HRA head to ship alone).  Prints the files and their parameter counts.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def export(config, model_file, out, per_task: bool = False) -> dict:
    from adapters.espnet.register import register_asr

    register_asr()
    from espnet2.tasks.asr import ASRTask

    from adapters.checkpoint import read_manifest, save_adapter

    for p in (config, model_file):
        if not Path(p).is_file():
            raise SystemExit(f"error: {p} not found (train the run first)")
    model, _ = ASRTask.build_model_from_file(config, model_file, "cpu")
    adapted = getattr(model.frontend, "adapted", None)
    if adapted is None:
        raise SystemExit(f"error: {config}: the frontend is not s3prl_adapter; there is no adapter to export")
    out = Path(out)
    files = {"all": save_adapter(adapted, out / "adapter.pt")}
    if per_task:
        for t in adapted.tasks:
            files[t] = save_adapter(adapted, out / f"{t}.pt", tasks=[t])
    report = {k: {"path": str(p), "num_params": read_manifest(p)["num_params"]} for k, p in files.items()}
    (out / "adapters.json").write_text(json.dumps(report, indent=1))
    return report


def main(argv=None):
    from espnet2.utils.types import str2bool

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per_task", type=str2bool, default=False)
    a = ap.parse_args(argv)
    for name, r in export(a.config, a.model, a.out, a.per_task).items():
        print(f"{name}: {r['path']} ({r['num_params']:,} parameters)")


if __name__ == "__main__":
    main()
