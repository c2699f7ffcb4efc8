"""Stage 12 of cls.sh: classify every utterance of the test sets with each trained run.

    python -m adapters.bin.cls_inference --exp exp/cls_elp --exp exp/cls_hra \
        --test test dump/raw/test [--model_file valid.acc.best.pth]

One process serves every run and test set (ESPnet's imports cost more than a
small test set), utterances are batched by length (ESPnet's own ``cls_inference``
decodes one at a time).  Writes ``<exp>/decode/<test>/prediction`` (``utt label``)
and ``scores`` (``utt p_1 ... p_C`` in class-list order), and the run's
parameter counts (``model_info.json``).  A finished test set is not redone.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from adapters.data.batches import audio_batches, pending_sets
from adapters.data.kaldi import DataDirError, write_table
from adapters.results import espnet_task, save_model_info


@torch.no_grad()
def classify(model, data_dir: Path, max_samples: int, desc: str):
    probs = {}
    for keys, speech, lens in audio_batches(data_dir, max_samples, desc):
        enc, enc_lens = model.encode(speech, lens)
        p = model.classification_function(model.decoder(enc, enc_lens))
        probs.update({k: row.numpy() for k, row in zip(keys, p)})
    return probs


def run(exp: Path, model_file: str, tests, max_samples: int):
    exp = Path(exp)
    ckpt, todo = pending_sets(exp, model_file, tests, "decode", "prediction")
    if not todo:
        print(f"{exp}: every test set already classified")
        return
    model, _ = espnet_task("cls").build_model_from_file(exp / "config.yaml", ckpt, "cpu")
    model.eval()
    save_model_info(exp, model)
    classes = list(model.token_list)[: model.vocab_size]
    for name, data_dir in todo:
        out = exp / "decode" / name
        out.mkdir(parents=True, exist_ok=True)
        probs = classify(model, data_dir, max_samples, desc=f"{exp.name} {name}")
        write_table(out / "scores", {u: " ".join(f"{v:.5f}" for v in p) for u, p in probs.items()})
        write_table(out / "prediction", {u: classes[int(np.argmax(p))] for u, p in probs.items()})
        print(f"{exp}: {name}: {len(probs)} utterances classified -> {out / 'prediction'}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exp", action="append", required=True, help="a trained run's exp dir (repeatable)")
    ap.add_argument("--test", nargs=2, action="append", required=True, metavar=("NAME", "DATA_DIR"))
    ap.add_argument("--model_file", default="valid.acc.best.pth")
    ap.add_argument("--batch_sec", type=float, default=120.0, help="seconds of (padded) audio per batch")
    a = ap.parse_args(argv)
    try:
        for exp in a.exp:
            run(Path(exp), a.model_file, a.test, int(a.batch_sec * 16000))
    except DataDirError as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    main()
