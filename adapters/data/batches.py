"""Batches of a data dir's audio for inference: whole utterances grouped by
length (little padding), with a progress bar; every file checked as it is read
so a bad one is named with its utterance."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from adapters.data.kaldi import DataDirError, check_audio, read_table


def inference_device(ngpu: int) -> str:
    """Stage 12's device from its ``--ngpu`` (0 or 1, as ESPnet's inference): "cuda" for 1
    (an error naming the option when CUDA is not available), "cpu" for 0."""
    if ngpu and not torch.cuda.is_available():
        raise SystemExit(f"error: --ngpu {ngpu}, but torch.cuda is not available (use --ngpu 0)")
    return "cuda" if ngpu else "cpu"


def length_batches(lengths: Dict[str, int], max_samples: int) -> Iterator[List[str]]:
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


def load_audio(utt: str, entry: str) -> np.ndarray:
    """The first channel of an utterance whose header ``check_audio`` has passed."""
    try:
        x, _ = sf.read(entry.strip(), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises RuntimeError / LibsndfileError
        raise DataDirError(f"utterance {utt}: unreadable audio {entry.strip()}: {e}") from None
    return x[:, 0]


def audio_batches(data_dir, max_samples: int, desc: str, fs: int = 16000
                  ) -> Iterator[Tuple[List[str], torch.Tensor, torch.Tensor]]:
    """(utterance ids, padded speech (B, T), lengths (B,)) for every utterance of ``data_dir``.
    Every header is checked (rate, length) before the first batch, so a bad file stops
    the set before any work is spent on it."""
    wav = read_table(Path(data_dir) / "wav.scp")
    lengths = {u: check_audio(u, e, fs)[1] for u, e in wav.items()}
    bar = tqdm(total=len(wav), desc=desc, unit="utt", mininterval=5.0, file=sys.stderr)
    for keys in length_batches(lengths, max_samples):
        xs = [torch.from_numpy(load_audio(k, wav[k])) for k in keys]
        yield keys, torch.nn.utils.rnn.pad_sequence(xs, batch_first=True), torch.tensor([len(x) for x in xs])
        bar.update(len(keys))
    bar.close()


def cached_batches(cache_set: Path, max_frames: int, desc: str
                   ) -> Iterator[Tuple[List[str], torch.Tensor, torch.Tensor]]:
    """(utterance ids, padded frozen-part features (B, T, D), frame lengths (B,)) for every
    utterance of a feature-cache set (``adapters.feature_cache``), batched by length."""
    import kaldiio

    cache_set = Path(cache_set)
    lengths = {u: int(n) for u, n in read_table(cache_set / "utt2num_frames").items()}
    feats = kaldiio.load_scp(str(cache_set / "feats.scp"))
    bar = tqdm(total=len(lengths), desc=desc, unit="utt", mininterval=5.0, file=sys.stderr)
    missing = sorted(set(lengths) - set(feats.keys()))
    if missing:
        raise DataDirError(f"{cache_set}/feats.scp: no features for utterance(s) {missing[:5]}: rebuild the cache (stage 9)")

    def load(k):
        try:
            return torch.from_numpy(np.asarray(feats[k], dtype=np.float32))
        except Exception as e:  # kaldiio raises several kinds on a truncated or corrupt ark
            raise DataDirError(f"utterance {k}: unreadable cached features in {cache_set}/feats.scp: {e}") from None

    for keys in length_batches(lengths, max_frames):
        xs = [load(k) for k in keys]
        yield keys, torch.nn.utils.rnn.pad_sequence(xs, batch_first=True), torch.tensor([len(x) for x in xs])
        bar.update(len(keys))
    bar.close()


def run_feature_cache(exp: Path, use_cache: bool = True):
    """The feature cache a run was trained from (``<exp>/feature_cache``, written by the
    templates' stage 11), or None."""
    f = Path(exp) / "feature_cache"
    if not use_cache or not f.is_file():
        return None
    where = f.read_text().strip()
    return Path(where) if where else None


def pending_sets(exp: Path, model_file: str, tests, out_sub: str, out_name: str):
    """The model checkpoint of ``exp`` and the (name, data dir) test sets whose
    ``<exp>/<out_sub>/<name>/<out_name>`` is missing or older than it."""
    ckpt = Path(exp) / model_file
    if not ckpt.is_file():
        raise DataDirError(f"{ckpt}: not found (train the run first)")

    def done(name):
        out = Path(exp) / out_sub / name / out_name
        return out.is_file() and out.stat().st_mtime > ckpt.stat().st_mtime

    return ckpt, [(n, Path(d)) for n, d in tests if not done(n)]
