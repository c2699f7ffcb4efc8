"""Pretrain the offline default upstream: HuBERT's two iterations on synthetic speech.

    python -m adapters.bin.pretrain_upstream --out egs/upstream/hubert_pretrained_small.pt

Synthesizes (or reuses, cached) a pretraining set of varied espeak-ng voices in
LibriSpeech's layout, then iteration 1: MFCC -> k-means -> masked prediction with s3prl's
``HubertModel`` (see ``adapters.pretrain.hubert``); with ``--iterations 2``, iteration 2:
k-means on layer ``--it2_layer`` of the iteration-1 model -> masked prediction again,
starting from the iteration-1 weights; and writes a checkpoint that
``S3PRLUpstream('hubert_local', path_or_url=OUT)`` loads (weights stored in
float16 to keep the file small; s3prl loads them into its float32 model), plus
``report.json`` and ``loss.png`` in the work dir.  Interrupt and rerun: it
resumes from its last checkpoint.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from adapters.fileio import replacing
from adapters.pretrain.hubert import PretrainConfig, UpstreamCheckpointError, load_checked, pretrain

# the pretraining corpus: speakers x utterances, in its own set (seed differs from the recipes')
DEFAULT_SPEAKERS = 160
DEFAULT_UTTS = 8
DEFAULT_ITERATIONS = 1


def synthesize_corpus(cache: Path, speakers: int, utts: int, seed: int, nj: int):
    from adapters.synth import librispeech

    root = librispeech.build(cache, {"pretrain": (speakers, 1, utts, False)}, seed=seed, nj=nj)
    return sorted(str(p) for p in (root / "pretrain").glob("*/*/*.flac"))


def export_half(src: Path, out: Path):
    st = load_checked(src)
    st["model_weight"] = {k: v.half() if v.is_floating_point() else v for k, v in st["model_weight"].items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(out) as tmp:
        torch.save(st, tmp)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="the exported s3prl checkpoint")
    ap.add_argument("--work_dir", default=None, help="labels, training state, report (default: OUT's name + _work)")
    ap.add_argument("--corpus_cache", default="cache/pretrain_corpus")
    ap.add_argument("--wav_list", default=None, help="a file of audio paths to use instead of synthesizing")
    ap.add_argument("--speakers", type=int, default=DEFAULT_SPEAKERS)
    ap.add_argument("--utts_per_speaker", type=int, default=DEFAULT_UTTS)
    ap.add_argument("--nj", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS, choices=(1, 2))
    ap.add_argument("--it2_layer", type=int, default=3, help="iteration 2's targets: this layer's k-means")
    ap.add_argument("--it2_clusters", type=int, default=200)
    ap.add_argument("--it2_steps", type=int, default=700)
    ap.add_argument("--it2_warmup_steps", type=int, default=50)
    for f, v in PretrainConfig().__dict__.items():
        if f not in ("iteration", "init_from", "target_layer"):  # set by --iterations / --it2_*
            ap.add_argument(f"--{f}", type=type(v), default=v)
    a = ap.parse_args(argv)
    cfg = PretrainConfig(**{f: getattr(a, f) for f in PretrainConfig().__dict__ if hasattr(a, f)})
    out = Path(a.out)
    work = Path(a.work_dir) if a.work_dir else out.with_name(out.stem + "_work")
    try:
        if a.wav_list:
            if not Path(a.wav_list).is_file():
                raise UpstreamCheckpointError(f"--wav_list {a.wav_list}: file not found")
            paths = [l.split()[-1] for l in Path(a.wav_list).read_text().splitlines() if l.strip()]
            if not paths:
                raise UpstreamCheckpointError(f"--wav_list {a.wav_list}: no audio paths in it")
        else:
            paths = synthesize_corpus(Path(a.corpus_cache), a.speakers, a.utts_per_speaker, 1000 + cfg.seed, a.nj)
        if a.iterations == 1:
            report = pretrain(paths, work, cfg)
        else:
            first = pretrain(paths, work / "iteration1", cfg)
            it1 = work / "iteration1" / "hubert_it1.pt"
            export_half(Path(first["checkpoint"]), it1)
            cfg2 = PretrainConfig(**{**cfg.__dict__, "iteration": 2, "init_from": str(it1),
                                     "target_layer": a.it2_layer, "num_clusters": a.it2_clusters,
                                     "max_steps": a.it2_steps, "warmup_steps": a.it2_warmup_steps})
            report = pretrain(paths, work / "iteration2", cfg2)
            report["iteration1"] = {k: first[k] for k in ("clusters", "steps", "final_masked_ce",
                                                          "final_masked_acc", "wall_time_s_this_run")}
        export_half(Path(report["checkpoint"]), out)
    except UpstreamCheckpointError as e:
        raise SystemExit(f"error: {e}")
    report["exported"] = str(out)
    report["exported_bytes"] = out.stat().st_size
    (work / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("exported", "exported_bytes", "hours", "clusters", "steps",
                                             "first_masked_ce", "final_masked_ce", "final_masked_acc",
                                             "wall_time_s_this_run")}, indent=1))


if __name__ == "__main__":
    main()
