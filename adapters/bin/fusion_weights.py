"""Where an A-AF attention fusion looks: its attention weights over the task adapters,
per layer, on the utterances of some data sets.

    python -m adapters.bin.fusion_weights exp/asr_ctc_fusion \\
        --data dump/raw/test dump/raw/test_zeroshot --out exp/multitask/fusion_weights

For every set and layer it reports the adapter with the largest mean weight, the mean
largest weight of a frame, the mean entropy of a frame's weights (log K when uniform,
0 when one adapter takes all), on a seen task's utterances the share of frames whose
largest weight is the utterance's own task's adapter, and how many adapters are the top
one of some utterance.  An attention that picks adapters by their input shows a high
own-adapter share and many top adapters; one that has collapsed onto a fixed adapter
shows a largest weight near 1 and one top adapter for every utterance, seen or not.
Writes ``<out>.json`` and ``<out>.md``.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

import soundfile as sf
import torch

from adapters.data.kaldi import DataDirError, audio_path, check_audio, read_table


def summarize(per_utt: Dict[str, List[torch.Tensor]], tasks: List[str],
              utt2task: Dict[str, str]) -> List[dict]:
    """Per layer, the statistics above from ``per_utt`` {utt: [(frames, K) weights per layer]}."""
    if not per_utt:
        raise ValueError("no utterances to summarize")
    layers = len(next(iter(per_utt.values())))
    K = len(tasks)
    out = []
    for layer in range(layers):
        mean_w = torch.zeros(K, dtype=torch.float64)
        frames = top_share = own_frames = own_top = 0
        max_sum = ent_sum = 0.0
        tops = Counter()
        for utt, ws in per_utt.items():
            w = ws[layer].to(torch.float64).reshape(-1, K)
            mean_w += w.mean(0)
            max_sum += float(w.max(-1).values.sum())
            ent_sum += float(-(w * w.clamp_min(1e-30).log()).sum(-1).sum())
            frames += w.size(0)
            tops[tasks[int(w.mean(0).argmax())]] += 1
            own = utt2task.get(utt)
            if own in tasks:
                own_frames += w.size(0)
                own_top += int((w.argmax(-1) == tasks.index(own)).sum())
        mean_w /= len(per_utt)
        best = int(mean_w.argmax())
        out.append({
            "layer": layer,
            "top_adapter": tasks[best],
            "top_adapter_mean_weight": float(mean_w[best]),
            "mean_max_weight": max_sum / frames,
            "mean_entropy": ent_sum / frames,
            "uniform_entropy": math.log(K),
            "own_adapter_top_share": own_top / own_frames if own_frames else None,
            "utterance_top_adapters": dict(tops.most_common()),
            "mean_weight": {t: float(mean_w[k]) for k, t in enumerate(tasks)},
        })
    return out


def load_fusion_model(exp: Path, model_file: str):
    from adapters.results import espnet_task

    config, ckpt = exp / "config.yaml", exp / model_file
    for f in (config, ckpt):
        if not f.is_file():
            raise FileNotFoundError(f"{f} not found: train the run first")
    model, _ = espnet_task("asr").build_model_from_file(config, ckpt, "cpu")
    method = getattr(getattr(model.frontend, "adapted", None), "method", None)
    mode = getattr(getattr(method, "config", None), "mode", None)
    # the attention fusion records its weights per layer (``last_scores``); the other modes'
    # weights do not depend on the input
    if not hasattr(method, "last_scores") or mode != "attention":
        found = getattr(method, "method_name", None)
        raise ValueError(f"{exp}: not an attention fusion (method {found!r}, mode {mode!r}); "
                         "only mode attention has input-dependent weights")
    return model.eval(), method


def weights_on(model, method, data_dir: Path, max_utts: Optional[int] = None) -> Dict[str, List[torch.Tensor]]:
    """{utt: [(frames, K) attention weights per layer]}, one utterance at a time (no padding)."""
    if not (data_dir / "wav.scp").is_file():
        raise DataDirError(f"{data_dir}/wav.scp not found")
    wav = read_table(data_dir / "wav.scp")
    if not wav:
        raise DataDirError(f"{data_dir}/wav.scp lists no utterances")
    utts = sorted(wav)[:max_utts] if max_utts else sorted(wav)
    out = {}
    for i, utt in enumerate(utts, 1):
        check_audio(utt, wav[utt], 16000)  # missing, wrong rate, empty: named by utterance
        try:
            x, _ = sf.read(audio_path(wav[utt]), dtype="float32", always_2d=True)
        except Exception as e:  # a header that reads but data that does not
            raise DataDirError(f"utterance {utt}: unreadable audio {audio_path(wav[utt])}: {e}") from None
        x = torch.from_numpy(x[:, 0].copy())[None]
        with torch.no_grad():
            model.frontend(x, torch.tensor([x.size(1)]))
        out[utt] = [s.reshape(-1, s.size(-1)).clone() for s in method.last_scores]
        if i % 50 == 0 or i == len(utts):
            logging.info(f"{data_dir}: {i}/{len(utts)} utterances")
    return out


def markdown(run: str, sets: Dict[str, List[dict]]) -> str:
    lines = [f"# Attention fusion weights: {run}", "",
             "| set | layer | top adapter (mean weight) | mean largest weight | mean entropy (uniform) "
             "| own adapter largest | top adapters of utterances |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, layers in sets.items():
        for r in layers:
            own = "–" if r["own_adapter_top_share"] is None else f"{100 * r['own_adapter_top_share']:.1f} %"
            tops = ", ".join(f"{t} {n}" for t, n in list(r["utterance_top_adapters"].items())[:3])
            lines.append(
                f"| {name} | {r['layer']} | {r['top_adapter']} ({r['top_adapter_mean_weight']:.3f}) "
                f"| {r['mean_max_weight']:.3f} | {r['mean_entropy']:.3f} ({r['uniform_entropy']:.3f}) "
                f"| {own} | {tops} ({len(r['utterance_top_adapters'])} distinct) |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("exp", type=Path, help="a trained attention-fusion run (config.yaml and the model file)")
    ap.add_argument("--data", type=Path, nargs="+", required=True,
                    help="Kaldi data dirs (wav.scp; utt2task for the own-adapter share)")
    ap.add_argument("--model_file", default="valid.loss.ave.pth")
    ap.add_argument("--max_utts", type=int, default=None, help="at most this many utterances a set")
    ap.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.md")
    ap.add_argument("--skip_other", action="store_true",
                    help="a run that is not an attention fusion: say so and exit 0 (the multi-task "
                         "template asks this of whichever composition it was given)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s fusion_weights: %(message)s")
    try:
        model, method = load_fusion_model(a.exp, a.model_file)
    except ValueError as e:
        if a.skip_other and "not an attention fusion" in str(e):
            print(f"fusion_weights: skipped: {e}")
            return 0
        raise
    tasks = list(method.tasks.names)
    sets = {}
    for d in a.data:
        u2t = read_table(d / "utt2task") if (d / "utt2task").is_file() else {}
        sets[d.name] = summarize(weights_on(model, method, d, a.max_utts), tasks, u2t)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps({"run": str(a.exp), "tasks": tasks, "sets": sets}, indent=1))
    md = markdown(str(a.exp), sets)
    a.out.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
