"""Stage 12 of cls.sh: classify every utterance of the test sets with each trained run.

    python -m adapters.bin.cls_inference --exp exp/cls_elp --exp exp/cls_hra \
        --test test dump/raw/test [--model_file valid.acc.best.pth]

One process serves every run and test set (ESPnet's imports cost more than a
small test set), utterances are batched by length (ESPnet's own ``cls_inference``
decodes one at a time).  Writes ``<exp>/decode/<test>/prediction`` (``utt label``)
and ``scores`` (``utt p_1 ... p_C`` in class-list order), and the run's
parameter counts (``model_info.json``).  A finished test set is not redone.
``--ngpu 1`` classifies on the GPU (as ESPnet's inference, at most one); the
default, 0, on the CPU.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from adapters.data.batches import (audio_batches, cached_batches, inference_device, pending_sets,
                                   run_feature_cache)
from adapters.data.kaldi import DataDirError, write_table
from adapters.results import espnet_task, save_model_info


@torch.no_grad()
def classify(model, data_dir: Path, max_samples: int, desc: str, cache_set: Path = None, device="cpu"):
    probs = {}
    batches = (cached_batches(cache_set, max_samples // model.frontend.hop_length, desc) if cache_set is not None
               else audio_batches(data_dir, max_samples, desc))
    for keys, speech, lens in batches:
        enc, enc_lens = model.encode(speech.to(device), lens.to(device))
        p = model.classification_function(model.decoder(enc, enc_lens)).float().cpu()
        probs.update({k: row.numpy() for k, row in zip(keys, p)})
    return probs


def cache_set_for(cache, data_dir: Path, data_root):
    """The cache's copy of a test set's frozen part, when the run has a cache and it holds the set."""
    if cache is None or data_root is None:
        return None
    try:
        rel = Path(data_dir).resolve().relative_to(Path(data_root).resolve())
    except ValueError:
        return None
    return cache / rel if (cache / rel / "feats.scp").is_file() else None


def run(exp: Path, model_file: str, tests, max_samples: int, use_cache: bool = True, data_root=None,
        device: str = "cpu"):
    exp = Path(exp)
    ckpt, todo = pending_sets(exp, model_file, tests, "decode", "prediction")
    if not todo:
        print(f"{exp}: every test set already classified")
        return
    model, _ = espnet_task("cls").build_model_from_file(exp / "config.yaml", ckpt, device)
    model.eval()
    save_model_info(exp, model)
    classes = list(model.token_list)[: model.vocab_size]
    cache = run_feature_cache(exp, use_cache)
    for name, data_dir in todo:
        out = exp / "decode" / name
        out.mkdir(parents=True, exist_ok=True)
        probs = classify(model, data_dir, max_samples, desc=f"{exp.name} {name}",
                         cache_set=cache_set_for(cache, data_dir, data_root), device=device)
        write_table(out / "scores", {u: " ".join(f"{v:.5f}" for v in p) for u, p in probs.items()})
        write_table(out / "prediction", {u: classes[int(np.argmax(p))] for u, p in probs.items()})
        print(f"{exp}: {name}: {len(probs)} utterances classified -> {out / 'prediction'}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exp", action="append", required=True, help="a trained run's exp dir (repeatable)")
    ap.add_argument("--test", nargs=2, action="append", required=True, metavar=("NAME", "DATA_DIR"))
    ap.add_argument("--model_file", default="valid.acc.best.pth")
    ap.add_argument("--batch_sec", type=float, default=120.0, help="seconds of (padded) audio per batch")
    ap.add_argument("--use_cache", default="true", choices=["true", "false"],
                    help="read the test sets' frozen part from the run's feature cache when it has one")
    ap.add_argument("--data_root", default=None, help="the data dirs' root the cache mirrors (dump/raw)")
    ap.add_argument("--ngpu", type=int, default=0, choices=[0, 1], help="1: classify on the GPU (cuda)")
    a = ap.parse_args(argv)
    device = inference_device(a.ngpu)
    try:
        for exp in a.exp:
            run(Path(exp), a.model_file, a.test, int(a.batch_sec * 16000), a.use_cache == "true", a.data_root,
                device=device)
    except DataDirError as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    main()
