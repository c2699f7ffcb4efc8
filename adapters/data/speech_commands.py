"""Speech Commands (v0.01 or v0.02 layout) -> labelled clip lists, SUPERB protocol.

v0.01: 12 classes, the ten commands plus ``_unknown_`` (every other word) and
``_silence_`` (one-second cuts of ``_background_noise_``).  Train is every clip in
neither list; dev is ``validation_list.txt``; test is ``testing_list.txt`` (or the
separate v0.01 test set when given).  v0.02 keeps its 35 words as classes.

Checked: every list line is a ``<word>/<file>.wav`` that exists (else ``file:line``);
a clip listed twice (in one list, or in both) is an error naming both places; an
empty list is an error; train, dev and test share no clip and no speaker (the real
lists split by speaker hash; the separate test set is compared by ``<word>/<file>`` only).
A background-noise file that is unreadable, empty or shorter than one second is an
error naming it, as is an unreadable or short ``_silence_`` cut left by an earlier run
(it is rewritten).  The printed summary gives list lines read against used.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import soundfile as sf

from adapters.data.kaldi import DataDirError, LineCounts, Origins, check_disjoint
from adapters.fileio import replacing

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN, SILENCE = "_unknown_", "_silence_"

Clip = Tuple[str, str, str]  # (utterance id, wav path, label)


def _read_list(path: Path, root: Path, lines: Optional[LineCounts] = None,
               origins: Optional[Origins] = None) -> set:
    if not path.is_file():
        raise DataDirError(f"{path}: missing (Speech Commands needs validation_list.txt and testing_list.txt)")
    lines = LineCounts(path.name) if lines is None else lines
    origins = Origins("clip") if origins is None else origins
    lines.files += 1
    out = set()
    for n, line in enumerate(path.read_text().splitlines(), 1):
        lines.read += 1
        line = line.strip()
        if not line:
            lines.count("blank")
            continue
        if line.count("/") != 1 or not line.endswith(".wav"):
            raise DataDirError(f"{path}:{n}: expected '<word>/<file>.wav', got {line!r}")
        if not (root / line).is_file():
            raise DataDirError(f"{path}:{n}: listed clip not found: {root / line}")
        origins.add(line, f"{path}:{n}")  # twice in one list, or in both lists: leakage
        out.add(line)
        lines.used += 1
    if not out:
        raise DataDirError(f"{path}: no clip listed (empty list)")
    return out


def _noise(src: Path):
    """The samples and rate of one background-noise file: an error naming it if unusable."""
    try:
        x, fs = sf.read(str(src), dtype="float32")
    except Exception as e:  # soundfile raises RuntimeError / LibsndfileError
        raise DataDirError(f"{src}: unreadable background-noise file for the _silence_ class: {e}") from None
    if len(x) < fs:
        raise DataDirError(f"{src}: background-noise file is {len(x) / fs:.2f} s long, the one-second "
                           "_silence_ cuts need at least 1 s (truncated? replace or remove it)")
    if not np.isfinite(x).all():
        raise DataDirError(f"{src}: background-noise file contains NaN or infinite samples")
    return x, fs


def _cut_ok(p: Path, fs: int) -> bool:
    try:
        info = sf.info(str(p))
    except Exception:
        return False
    return info.frames == fs and info.samplerate == fs


def silence_clips(root: Path, out_dir: Path, n: int, seed: int) -> List[str]:
    """``n`` one-second cuts of the background noise files, written to ``out_dir``."""
    noises = sorted((root / "_background_noise_").glob("*.wav"))
    if not noises:
        raise DataDirError(f"{root / '_background_noise_'}: no noise files for the _silence_ class")
    loaded = {}
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        src = noises[i % len(noises)]
        if src not in loaded:
            loaded[src] = _noise(src)
        x, fs = loaded[src]
        s = rng.randint(0, max(0, len(x) - fs))
        gain = rng.uniform(0.2, 1.0)  # drawn whether or not the cut exists: the same cuts either way
        p = out_dir / f"{src.stem}_{i:04d}.wav"
        if not _cut_ok(p, fs):  # missing, or cut short by an interrupted run
            with replacing(p, tmp=p.with_name(p.stem + ".part.wav")) as tmp:  # sf.write: format from the suffix
                sf.write(str(tmp), x[s: s + fs] * gain, fs, subtype="PCM_16")
        paths.append(str(p))
    return paths


def prepare(root, out_dir, version: str = "v0.01", test_root=None, seed: int = 0,
            summary: Optional[dict] = None) -> Dict[str, List[Clip]]:
    """The clips of every split; ``summary`` (a dict), when given, receives the list line
    counts (``lines``, ``summary``)."""
    root, out_dir = Path(root), Path(out_dir)
    if not root.is_dir():
        raise DataDirError(f"Speech Commands root not found: {root}")
    lines, origins = LineCounts("validation_list.txt + testing_list.txt"), Origins("clip")
    valid = _read_list(root / "validation_list.txt", root, lines, origins)
    test = _read_list(root / "testing_list.txt", root, lines, origins)
    if summary is not None:
        summary["lines"] = lines.as_dict()
        summary["summary"] = lines.summary()
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
    check_splits(splits, root)
    return splits


def _rel(path: str) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.name}"


def check_splits(splits: Dict[str, List[Clip]], root=None) -> None:
    """Leakage: no clip (``<word>/<file>``) in two splits, and no speaker either (the real
    lists are split by speaker; the ``_silence_`` cuts, speaker ``noise``, are exempt)."""
    speech = {name: [c for c in clips if c[2] != SILENCE] for name, clips in splits.items()}
    where = f"{root}" if root is not None else ""
    check_disjoint({n: [_rel(c[1]) for c in cs] for n, cs in speech.items()}, "clip", context=where)
    # the separate v0.01 test set (ids test_*) is compared by clip only: its file names need not carry speakers
    spk = {n: [speaker_of(c[1]) for c in cs if speaker_of(c[1]) != "noise" and not c[0].startswith("test_")]
           for n, cs in speech.items()}
    check_disjoint(spk, "speaker", context=where)


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
        s: dict = {}
        splits = prepare(a.root, a.silence_dir or Path(a.out) / "silence_audio", a.version, a.test_root,
                         a.seed, s)
        counts = write_data_dirs(splits, Path(a.out))
    except DataDirError as e:
        raise SystemExit(f"error: {e}")
    print(s["summary"])
    for split, clips in splits.items():
        c = Counter(label for _, _, label in clips)
        print(f"{split}: {counts[split]} clips, {len(c)} classes "
              f"({', '.join(f'{k} {v}' for k, v in sorted(c.items()))})")


if __name__ == "__main__":
    main()
