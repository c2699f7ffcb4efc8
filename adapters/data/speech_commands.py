"""Speech Commands (v0.01 or v0.02 layout) -> labelled clip lists, SUPERB protocol.

v0.01: 12 classes, the ten commands plus ``_unknown_`` (every other word) and
``_silence_`` (one-second cuts of ``_background_noise_``).  Train is every clip in
neither list; dev is ``validation_list.txt``; test is ``testing_list.txt`` (or the
separate v0.01 test set when given).  v0.02 keeps its 35 words as classes.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import soundfile as sf

from adapters.data.kaldi import DataDirError

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN, SILENCE = "_unknown_", "_silence_"

Clip = Tuple[str, str, str]  # (utterance id, wav path, label)


def _read_list(path: Path, root: Path) -> set:
    if not path.is_file():
        raise DataDirError(f"{path}: missing (Speech Commands needs validation_list.txt and testing_list.txt)")
    out = set()
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.count("/") != 1 or not line.endswith(".wav"):
            raise DataDirError(f"{path}:{n}: expected '<word>/<file>.wav', got {line!r}")
        if not (root / line).is_file():
            raise DataDirError(f"{path}:{n}: listed clip not found: {root / line}")
        out.add(line)
    return out


def silence_clips(root: Path, out_dir: Path, n: int, seed: int) -> List[str]:
    """``n`` one-second cuts of the background noise files, written to ``out_dir``."""
    noises = sorted((root / "_background_noise_").glob("*.wav"))
    if not noises:
        raise DataDirError(f"{root / '_background_noise_'}: no noise files for the _silence_ class")
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        src = noises[i % len(noises)]
        x, fs = sf.read(str(src), dtype="float32")
        s = rng.randint(0, max(0, len(x) - fs))
        p = out_dir / f"{src.stem}_{i:04d}.wav"
        if not p.is_file():
            sf.write(str(p), x[s: s + fs] * rng.uniform(0.2, 1.0), fs, subtype="PCM_16")
        paths.append(str(p))
    return paths


def prepare(root, out_dir, version: str = "v0.01", test_root=None, seed: int = 0) -> Dict[str, List[Clip]]:
    root, out_dir = Path(root), Path(out_dir)
    if not root.is_dir():
        raise DataDirError(f"Speech Commands root not found: {root}")
    valid = _read_list(root / "validation_list.txt", root)
    test = _read_list(root / "testing_list.txt", root)
    splits: Dict[str, List[Clip]] = {"train": [], "dev": [], "test": []}
    words = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("_"))
    for w in words:
        label = w if (version != "v0.01" or w in COMMANDS) else UNKNOWN
        for f in sorted((root / w).glob("*.wav")):
            rel = f"{w}/{f.name}"
            split = "dev" if rel in valid else "test" if rel in test else "train"
            if split == "test" and test_root is not None:
                continue
            splits[split].append((f"{w}_{f.stem}", str(f), label))
    if test_root is not None:  # the separate v0.01 test set: <label>/<file>.wav, labels as folders
        for d in sorted(Path(test_root).iterdir()):
            if d.is_dir():
                splits["test"] += [(f"test_{d.name}_{f.stem}", str(f), d.name) for f in sorted(d.glob("*.wav"))]
    if version == "v0.01":
        for i, split in enumerate(("train", "dev") + (("test",) if test_root is None else ())):
            n = max(1, len(splits[split]) // 11)  # about one class's share
            splits[split] += [(f"{SILENCE}_{split}_{Path(p).stem}", p, SILENCE)
                              for p in silence_clips(root, out_dir / SILENCE / split, n, seed + i)]
    for split, clips in splits.items():
        if not clips:
            raise DataDirError(f"{root}: the {split} split is empty")
    return splits


def speaker_of(utt_path: str) -> str:
    """The speaker of a clip: the hash before ``_nohash_`` (noise cuts: ``noise``)."""
    name = Path(utt_path).name
    return name.split("_nohash_")[0] if "_nohash_" in name else "noise"


def write_data_dirs(splits: Dict[str, List[Clip]], out: Path) -> Dict[str, int]:
    from adapters.data.labels import write_label_dir

    counts = {}
    for split, clips in splits.items():
        items = [(f"{speaker_of(p)}-{utt}", p, label, speaker_of(p)) for utt, p, label in clips]
        counts[split] = write_label_dir(Path(out) / split, items)
    return counts


def main(argv=None):
    import argparse
    from collections import Counter

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", help="the Speech Commands folder (word folders, the two lists, _background_noise_)")
    ap.add_argument("out", help="writes <out>/train, <out>/dev, <out>/test")
    ap.add_argument("--version", default="v0.01", choices=("v0.01", "v0.02"))
    ap.add_argument("--test_root", default=None, help="the separate v0.01 test set (label folders)")
    ap.add_argument("--silence_dir", default=None, help="where the _silence_ cuts are written "
                    "(default: <out>/silence_audio)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    try:
        splits = prepare(a.root, a.silence_dir or Path(a.out) / "silence_audio", a.version, a.test_root, a.seed)
        counts = write_data_dirs(splits, Path(a.out))
    except DataDirError as e:
        raise SystemExit(f"error: {e}")
    for split, clips in splits.items():
        c = Counter(label for _, _, label in clips)
        print(f"{split}: {counts[split]} clips, {len(c)} classes "
              f"({', '.join(f'{k} {v}' for k, v in sorted(c.items()))})")


if __name__ == "__main__":
    main()
