"""Kaldi data directories: read and write the two-column files, and validate a
directory before a stage uses it (every failure names the file and utterance)."""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import soundfile as sf

from adapters.fileio import replacing


class DataDirError(ValueError):
    pass


def read_table(path, allow_empty_value=False) -> Dict[str, str]:
    """``key value...`` lines -> {key: value}; duplicate or unsorted keys are errors."""
    path = Path(path)
    if not path.is_file():
        raise DataDirError(f"{path}: missing")
    table: Dict[str, str] = {}
    first: Dict[str, int] = {}
    prev = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                raise DataDirError(f"{path}:{n}: empty line")
            key, _, value = line.partition(" ")
            value = value.strip()
            if not value and not allow_empty_value:
                raise DataDirError(f"{path}:{n}: utterance {key!r} has no value")
            if key in table:
                raise DataDirError(f"{path}:{n}: duplicate id {key!r} (first on line {first[key]})")
            if prev is not None and key < prev:
                raise DataDirError(f"{path}:{n}: ids not sorted ({key!r} after {prev!r}); "
                                   "sort with LC_ALL=C sort")
            table[key] = value
            first[key] = n
            prev = key
    return table


class Origins:
    """Where every id of one set came from (``file:line`` or a path), so that an id met
    twice, in one source file or across the files of a set, is an error naming both places."""

    def __init__(self, what: str = "utterance id"):
        self.what = what
        self.where: Dict[str, str] = {}

    def add(self, key: str, place) -> None:
        place = str(place)
        if key in self.where:
            raise DataDirError(f"{place}: duplicate {self.what} {key!r}, already at {self.where[key]}")
        self.where[key] = place

    def __contains__(self, key) -> bool:
        return key in self.where


def check_disjoint(sets: Mapping[str, Iterable[str]], what: str = "utterance",
                   key: Optional[Callable[[str], str]] = None, context: str = "",
                   allowed: Iterable[Tuple[str, str]] = (), show: int = 10) -> None:
    """Fail when two of ``sets`` (name -> ids) share an item: leakage between train, dev
    and test.  ``key`` maps an id to what must not be shared (e.g. its speaker); pairs
    of set names in ``allowed`` may share (by the protocol's design)."""
    ok = {frozenset(p) for p in allowed}
    keyed = {name: {(key(i) if key else i) for i in ids} for name, ids in sets.items()}
    names = list(keyed)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if frozenset((a, b)) in ok:
                continue
            common = sorted(keyed[a] & keyed[b])
            if common:
                more = f" ... ({len(common)} in all)" if len(common) > show else ""
                raise DataDirError(f"{context + ': ' if context else ''}{a} and {b} share "
                                   f"{len(common)} {what}(s), leakage between the sets: "
                                   f"{', '.join(common[:show])}{more}")


class LineCounts:
    """Lines read against lines used, the rest counted by reason, per corpus file kind:
    the summary a preparer prints, so that no line vanishes unnoticed."""

    def __init__(self, what: str):
        self.what = what
        self.files = 0
        self.read = 0
        self.used = 0
        self.other: Counter = Counter()
        self.first: Dict[str, str] = {}

    def count(self, reason: str, place=None) -> None:
        self.other[reason] += 1
        if place is not None:
            self.first.setdefault(reason, str(place))

    def as_dict(self) -> dict:
        return {"files": self.files, "read": self.read, "used": self.used, **dict(sorted(self.other.items()))}

    def summary(self) -> str:
        rest = ", ".join(f"{n} {r}" + (f" (first: {self.first[r]})" if r in self.first else "")
                         for r, n in sorted(self.other.items()))
        return (f"{self.what}: read {self.read} lines of {self.files} file(s), used {self.used}"
                + (f"; not used: {rest}" if rest else ""))


def write_table(path, table: Dict[str, str]):
    """Write sorted (C locale: Python's default string order) ``key value`` lines atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for k in sorted(table):
            f.write(f"{k} {table[k]}\n")


def spk2utt_from(utt2spk: Dict[str, str]) -> Dict[str, str]:
    groups: Dict[str, List[str]] = defaultdict(list)
    for u in sorted(utt2spk):
        groups[utt2spk[u]].append(u)
    return {s: " ".join(us) for s, us in groups.items()}


def audio_path(entry: str) -> Optional[str]:
    """The file of a wav.scp entry, or None for a pipe (``cmd |``)."""
    entry = entry.strip()
    return None if entry.endswith("|") else entry


def check_audio(utt: str, entry: str, fs: Optional[int], read: bool = False) -> Tuple[int, int]:
    """(sample rate, samples) of one wav.scp entry; a clear error if it is unusable."""
    path = audio_path(entry)
    if path is None:
        raise DataDirError(f"utterance {utt}: pipes in wav.scp are not supported here ({entry!r}); "
                           "run the format stage, which writes plain audio files")
    if not Path(path).is_file():
        raise DataDirError(f"utterance {utt}: audio file not found: {path}")
    try:
        if read:
            data, rate = sf.read(path, dtype="int16", always_2d=True)
            frames = data.shape[0]
        else:
            info = sf.info(path)
            rate, frames = info.samplerate, info.frames
    except Exception as e:  # soundfile raises RuntimeError / LibsndfileError
        raise DataDirError(f"utterance {utt}: unreadable audio {path}: {e}") from None
    if fs is not None and rate != fs:
        raise DataDirError(f"utterance {utt}: {path} has sample rate {rate} Hz, expected {fs} Hz")
    if frames == 0:
        raise DataDirError(f"utterance {utt}: {path} is empty (0 samples)")
    return rate, frames


def validate_data_dir(d, label: str = "text", fs: Optional[int] = 16000,
                      check_audio_files: bool = True, extra: Iterable[str] = ()) -> int:
    """Check ``d`` is a usable Kaldi data dir; returns the number of utterances.

    wav.scp, ``label`` and utt2spk must be sorted, unique and cover the same
    utterances; labels must be non-empty; every audio file must exist and be
    readable at ``fs`` (header check).  ``extra`` files (utt2task, ...) must
    cover the same utterances too.
    """
    d = Path(d)
    if not d.is_dir():
        raise DataDirError(f"data directory not found: {d}")
    wav = read_table(d / "wav.scp")
    lab = read_table(d / label, allow_empty_value=True)
    for utt, v in lab.items():
        if not v.strip():
            raise DataDirError(f"{d / label}: utterance {utt} has an empty {label}")
    u2s = read_table(d / "utt2spk")
    tables = {"wav.scp": wav, label: lab, "utt2spk": u2s}
    for name in extra:
        tables[name] = read_table(d / name)
    ref = set(wav)
    for name, t in tables.items():
        missing = sorted(ref - set(t))
        surplus = sorted(set(t) - ref)
        if missing:
            raise DataDirError(f"{d / name}: no entry for {len(missing)} utterance(s) of wav.scp, "
                               f"e.g. {missing[0]}")
        if surplus:
            raise DataDirError(f"{d / name}: {len(surplus)} utterance(s) not in wav.scp, e.g. {surplus[0]}")
    if (d / "spk2utt").is_file():
        s2u = read_table(d / "spk2utt")
        if s2u != spk2utt_from(u2s):
            raise DataDirError(f"{d / 'spk2utt'}: does not match utt2spk (regenerate it from utt2spk)")
    if check_audio_files:
        for utt, entry in wav.items():
            check_audio(utt, entry, fs)
    return len(wav)


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description="Validate a Kaldi data directory.")
    ap.add_argument("data_dir")
    ap.add_argument("--label", default="text")
    ap.add_argument("--fs", type=int, default=16000)
    ap.add_argument("--no_audio", action="store_true", help="skip the audio header checks")
    ap.add_argument("--extra", nargs="*", default=[])
    a = ap.parse_args(argv)
    try:
        n = validate_data_dir(a.data_dir, a.label, a.fs, not a.no_audio, a.extra)
    except DataDirError as e:
        raise SystemExit(f"invalid data directory: {e}")
    print(f"{a.data_dir}: {n} utterances OK")


if __name__ == "__main__":
    main()
