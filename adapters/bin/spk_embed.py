"""Stage 12 of spk.sh: one speaker embedding per test utterance, for every trained run.

    python -m adapters.bin.spk_embed --exp exp/spk_elp --test asv_test dump/raw/asv_test

Whole utterances, batched by length (padding is masked by the pooling), one
process for every run.  Writes ``<exp>/embed/<test>/embeddings.npz`` (utterance
id -> embedding) and the run's parameter counts; finished sets are not redone.
``--ngpu 1`` embeds on the GPU (at most one, as ESPnet's inference); the default, 0,
on the CPU.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from adapters.data.batches import audio_batches, inference_device, pending_sets
from adapters.data.kaldi import DataDirError
from adapters.fileio import replacing
from adapters.results import espnet_task, save_model_info


@torch.no_grad()
def embed(model, data_dir: Path, max_samples: int, desc: str, device="cpu") -> dict:
    out = {}
    for keys, speech, lens in audio_batches(data_dir, max_samples, desc):
        e = model(speech=speech.to(device), speech_lengths=lens.to(device), extract_embd=True).float().cpu()
        out.update({k: row.numpy().astype(np.float32) for k, row in zip(keys, e)})
    return out


def run(exp: Path, model_file: str, tests, max_samples: int, device: str = "cpu"):
    exp = Path(exp)
    ckpt, todo = pending_sets(exp, model_file, tests, "embed", "embeddings.npz")
    if not todo:
        print(f"{exp}: every test set already embedded")
        return
    model, _ = espnet_task("spk").build_model_from_file(exp / "config.yaml", ckpt, device)
    model.eval()
    save_model_info(exp, model)
    for name, data_dir in todo:
        out = exp / "embed" / name
        out.mkdir(parents=True, exist_ok=True)
        emb = embed(model, data_dir, max_samples, desc=f"{exp.name} {name}", device=device)
        with replacing(out / "embeddings.npz", tmp=out / "embeddings.tmp.npz") as tmp:  # np.savez adds .npz otherwise
            np.savez(tmp, **emb)
        print(f"{exp}: {name}: {len(emb)} embeddings -> {out / 'embeddings.npz'}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exp", action="append", required=True)
    ap.add_argument("--test", nargs=2, action="append", required=True, metavar=("NAME", "DATA_DIR"))
    ap.add_argument("--model_file", default="valid.eer.best.pth")
    ap.add_argument("--batch_sec", type=float, default=120.0)
    ap.add_argument("--ngpu", type=int, default=0, choices=[0, 1], help="1: embed on the GPU (cuda)")
    a = ap.parse_args(argv)
    device = inference_device(a.ngpu)
    try:
        for exp in a.exp:
            run(Path(exp), a.model_file, a.test, int(a.batch_sec * 16000), device=device)
    except DataDirError as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    main()
