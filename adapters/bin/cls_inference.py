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
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from adapters.data.kaldi import DataDirError, check_audio, read_table, write_table
from adapters.results import espnet_task, save_model_info


def batches(lengths: dict, max_samples: int):
    """Utterance ids in batches of similar length, at most ``max_samples`` padded samples each."""
    keys = sorted(lengths, key=lambda k: lengths[k])
    batch, longest = [], 0
    for k in keys:
        if batch and max(longest, lengths[k]) * (len(batch) + 1) > max_samples:
            yield batch
            batch, longest = [], 0
        batch.append(k)
        longest = max(longest, lengths[k])
    if batch:
        yield batch


def load_audio(utt: str, entry: str, fs: int = 16000) -> np.ndarray:
    check_audio(utt, entry, fs)
    x, _ = sf.read(entry.strip(), dtype="float32", always_2d=True)
    return x[:, 0]


@torch.no_grad()
def classify(model, data_dir: Path, max_samples: int, desc: str):
    wav = read_table(data_dir / "wav.scp")
    lengths = {u: check_audio(u, e, 16000)[1] for u, e in wav.items()}
    probs = {}
    bar = tqdm(total=len(wav), desc=desc, unit="utt", mininterval=5.0, file=sys.stderr)
    for keys in batches(lengths, max_samples):
        xs = [torch.from_numpy(load_audio(k, wav[k])) for k in keys]
        lens = torch.tensor([len(x) for x in xs])
        speech = torch.nn.utils.rnn.pad_sequence(xs, batch_first=True)
        enc, enc_lens = model.encode(speech, lens)
        p = model.classification_function(model.decoder(enc, enc_lens))
        for k, row in zip(keys, p):
            probs[k] = row.numpy()
        bar.update(len(keys))
    bar.close()
    return probs


def run(exp: Path, model_file: str, tests, max_samples: int):
    exp = Path(exp)
    ckpt = exp / model_file
    if not ckpt.is_file():
        raise DataDirError(f"{ckpt}: not found (train the run first)")
    todo = [(n, Path(d)) for n, d in tests
            if not ((exp / "decode" / n / "prediction").is_file()
                    and (exp / "decode" / n / "prediction").stat().st_mtime > ckpt.stat().st_mtime)]
    if not todo:
        print(f"{exp}: every test set already classified")
        return
    model, args = espnet_task("cls").build_model_from_file(exp / "config.yaml", ckpt, "cpu")
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
    torch.set_num_threads(max(1, torch.get_num_threads()))
    try:
        for exp in a.exp:
            run(Path(exp), a.model_file, a.test, int(a.batch_sec * 16000))
    except DataDirError as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    main()
