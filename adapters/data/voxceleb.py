"""VoxCeleb1 (real or synthetic, same code) -> the SUPERB SID and ASV data dirs.

    <root>/wav/idNNNNN/<video>/NNNNN.wav    16 kHz utterances, one folder per YouTube video
    <root>/iden_split.txt                   ``<1|2|3> idNNNNN/<video>/NNNNN.wav`` (train/dev/test)
    <root>/veri_test2.txt                   ``<0|1> <wav> <wav>`` (1 = same speaker); else veri_test.txt

``root`` may also be the folder holding ``VoxCeleb1/``.  Writes, with
``write_label_dir`` (label = utt2spk = the speaker id):

    sid_train, sid_dev, sid_test   speaker identification over iden_split.txt (SUPERB SID)
    asv_train                      every utterance of a speaker absent from the trial list
    asv_dev (+ trials)             a held-out validation trial list drawn from asv_train's
                                   speakers; its utterances are taken out of asv_train
    asv_test (+ trials)            every utterance of the trial list, the official trials

so verification trains and tests on disjoint speakers, as SUPERB ASV does.  The
``trials`` files hold ``<0|1> <utt1> <utt2>`` in utterance ids
(``id10270-<video>-00001``).  Every list line is checked; a bad one is named
``file:line``, a file listed twice in iden_split.txt or a trial listed twice (either
order) is an error naming both lines, blank lines are counted in the printed summary.
Leakage is checked on what is written: the SID sets share no utterance (they share
speakers by design: identification tests the training speakers), the ASV sets share
no utterance, and asv_test shares no speaker with asv_train or asv_dev.

    python -m adapters.data.voxceleb downloads/synth/VoxCeleb1 data [--trials FILE]
"""
from __future__ import annotations

import argparse
import itertools
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from adapters.data.kaldi import DataDirError, LineCounts, check_disjoint
from adapters.data.labels import write_label_dir
from adapters.fileio import atomic_write

SPLITS = {1: "train", 2: "dev", 3: "test"}
TRIAL_LISTS = ("veri_test2.txt", "veri_test.txt")
REL = re.compile(r"(id\d{5})/([^/\s]+)/(\d{5})\.wav")

Trial = Tuple[int, str, str]  # (1 target / 0 non-target, wav, wav) relative to wav/


def find_root(root) -> Path:
    """The folder holding ``wav/`` (``root`` itself or ``root/VoxCeleb1``)."""
    root = Path(root)
    if not (root / "wav").is_dir() and (root / "VoxCeleb1" / "wav").is_dir():
        root = root / "VoxCeleb1"
    if not (root / "wav").is_dir():
        raise DataDirError(f"VoxCeleb1 root not found: no wav/ folder in {root} (nor in {root / 'VoxCeleb1'})")
    return root


def utt_id(rel: str) -> str:
    """``id10001/1zcIwhmdeo4/00001.wav`` -> ``id10001-1zcIwhmdeo4-00001``."""
    return rel[: -len(".wav")].replace("/", "-")


def speaker_of(rel: str) -> str:
    return rel.split("/", 1)[0]


def _check_rel(path: Path, n: int, rel: str, wav_root: Path, seen_files: Dict[str, bool]):
    if not REL.fullmatch(rel):
        raise DataDirError(f"{path}:{n}: expected 'idNNNNN/<video>/NNNNN.wav', got {rel!r}")
    if rel not in seen_files:
        seen_files[rel] = (wav_root / rel).is_file()
    if not seen_files[rel]:
        raise DataDirError(f"{path}:{n}: listed file not found: {wav_root / rel}")


def _lines(path: Path, what: str, counts: Optional[LineCounts] = None):
    """``(line number, fields)`` of every non-blank line; every line read is counted into
    ``counts`` (the caller counts the ones it uses)."""
    if not path.is_file():
        raise DataDirError(f"{path}: missing ({what})")
    if counts is not None:
        counts.files += 1
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if counts is not None:
                counts.read += 1
            if line.strip():
                yield n, line.split()
            elif counts is not None:
                counts.count("blank")


def read_iden_split(path, wav_root, counts: Optional[LineCounts] = None) -> List[Tuple[int, str]]:
    """``(split code, wav path relative to wav_root)`` for every line of iden_split.txt."""
    path, wav_root = Path(path), Path(wav_root)
    counts = LineCounts(path.name) if counts is None else counts
    out, first_line, seen = [], {}, {}
    for n, fields in _lines(path, "the VoxCeleb1 identification split, iden_split.txt", counts):
        if len(fields) != 2:
            raise DataDirError(f"{path}:{n}: expected '<1|2|3> idNNNNN/<video>/NNNNN.wav', "
                               f"got {' '.join(fields)!r}")
        code, rel = fields
        if code not in ("1", "2", "3"):
            raise DataDirError(f"{path}:{n}: unknown split code {code!r} (1 = train, 2 = dev, 3 = test)")
        _check_rel(path, n, rel, wav_root, seen)
        if rel in first_line:
            raise DataDirError(f"{path}:{n}: {rel} already listed on line {first_line[rel]}")
        first_line[rel] = n
        out.append((int(code), rel))
        counts.used += 1
    if not out:
        raise DataDirError(f"{path}: empty")
    return out


def read_trials(path, wav_root, counts: Optional[LineCounts] = None) -> List[Trial]:
    """``(label, enrolment wav, test wav)`` for every line of a VoxCeleb trial list."""
    path, wav_root = Path(path), Path(wav_root)
    counts = LineCounts(path.name) if counts is None else counts
    out, seen, first_line = [], {}, {}
    for n, fields in _lines(path, "the verification trial list", counts):
        if len(fields) != 3:
            raise DataDirError(f"{path}:{n}: expected '<0|1> <wav> <wav>', got {' '.join(fields)!r}")
        label, a, b = fields
        if label not in ("0", "1"):
            raise DataDirError(f"{path}:{n}: unknown trial label {label!r} (1 = same speaker, 0 = different)")
        _check_rel(path, n, a, wav_root, seen)
        _check_rel(path, n, b, wav_root, seen)
        if a == b:
            raise DataDirError(f"{path}:{n}: a trial of {a} against itself")
        if (label == "1") != (speaker_of(a) == speaker_of(b)):
            kind = "target" if label == "1" else "non-target"
            raise DataDirError(f"{path}:{n}: a {kind} trial between {speaker_of(a)} and {speaker_of(b)}")
        pair = (a, b) if a < b else (b, a)
        if pair in first_line:
            raise DataDirError(f"{path}:{n}: the trial {a} {b} is already on line {first_line[pair]}")
        first_line[pair] = n
        out.append((int(label), a, b))
        counts.used += 1
    if not out:
        raise DataDirError(f"{path}: empty")
    return out


def list_wavs(wav_root: Path) -> List[str]:
    """Every ``idNNNNN/<video>/NNNNN.wav`` under ``wav_root`` (other files are ignored)."""
    rels = (p.relative_to(wav_root).as_posix() for p in wav_root.glob("id*/*/*.wav"))
    return sorted(r for r in rels if REL.fullmatch(r))


def _items(rels: Sequence[str], wav_root: Path):
    return [(utt_id(r), str((wav_root / r).resolve()), speaker_of(r), speaker_of(r)) for r in rels]


def draw_dev_trials(rels: Sequence[str], n_trials: int, seed: int = 0) -> Tuple[List[Trial], List[str]]:
    """A balanced validation trial list over ``rels`` and the utterances it uses.

    A few utterances are taken per speaker (spread over videos; at least one
    stays behind for training), just enough to make ``n_trials // 2`` target
    pairs (across videos where possible, as in the official lists); the
    non-targets pair those same utterances across speakers.
    """
    rng = random.Random(seed)
    by_spk: Dict[str, Dict[str, List[str]]] = defaultdict(lambda: defaultdict(list))
    for r in sorted(rels):
        spk, video, _ = r.split("/")
        by_spk[spk][video].append(r)
    spks = [s for s in sorted(by_spk) if sum(map(len, by_spk[s].values())) >= 3]
    rng.shuffle(spks)
    n_target = n_trials // 2
    if len(spks) < 2 or n_target < 1:
        raise DataDirError(f"cannot draw {n_trials} validation trials: need at least 2 training speakers "
                           f"with 3 or more utterances, found {len(spks)}")
    # the smallest number of utterances per speaker that gives enough target pairs
    k = 2
    while len(spks) * (k * (k - 1) // 2) < n_target and k < 6:
        k += 1
    held: Dict[str, List[str]] = {}
    pairs = []
    for s in spks:
        if len(pairs) >= n_target and len(held) >= 2:
            break
        videos = [list(v) for _, v in sorted(by_spk[s].items())]
        rng.shuffle(videos)
        for v in videos:
            rng.shuffle(v)
        n_utts = sum(map(len, videos))
        # round-robin over videos, so held-out utterances come from different videos
        order = [u for group in itertools.zip_longest(*videos) for u in group if u is not None]
        held[s] = order[: min(k, n_utts - 1)]
        pairs += itertools.combinations(held[s], 2)
    pairs.sort(key=lambda p: p[0].split("/")[1] == p[1].split("/")[1])  # cross-video first
    targets = [(1, a, b) for a, b in pairs[:n_target]]
    used = [u for us in held.values() for u in us]
    nontarget_cands = [(a, b) for a, b in itertools.combinations(used, 2) if speaker_of(a) != speaker_of(b)]
    rng.shuffle(nontarget_cands)
    n = min(len(targets), len(nontarget_cands))
    trials = targets[:n] + [(0, a, b) for a, b in nontarget_cands[:n]]
    rng.shuffle(trials)
    trials = [(y, a, b) if rng.random() < 0.5 else (y, b, a) for y, a, b in trials]
    used_in_trials = sorted({u for _, a, b in trials for u in (a, b)})
    return trials, used_in_trials


def _write_trials(path: Path, trials: Sequence[Trial]):
    atomic_write(path, "".join(f"{y} {utt_id(a)} {utt_id(b)}\n" for y, a, b in trials))


def _trial_file(root: Path, trials) -> Path:
    if trials is not None:
        p = Path(trials)
        if not p.is_file() and (root / p).is_file():
            p = root / p
        if not p.is_file():
            raise DataDirError(f"trial list not found: {trials}")
        return p
    for name in TRIAL_LISTS:
        if (root / name).is_file():
            return root / name
    raise DataDirError(f"no trial list in {root}: expected {' or '.join(TRIAL_LISTS)} (or pass --trials)")


def _summary(rels: Sequence[str], trials: Optional[Sequence[Trial]] = None) -> dict:
    s = {"speakers": len({speaker_of(r) for r in rels}), "utterances": len(rels)}
    if trials is not None:
        s["trials"] = len(trials)
        s["targets"] = sum(y for y, _, _ in trials)
    return s


def prepare(root, out_dir, trials=None, dev_trials: int = 100, seed: int = 0) -> dict:
    """Write the SID and ASV data dirs of ``root`` under ``out_dir``; returns a summary
    ``{"root", "trial_list", "sets": {name: {speakers, utterances[, trials, targets]}}}``.
    ``dev_trials=0`` writes no asv_dev."""
    root, out_dir = find_root(root), Path(out_dir)
    wav_root = root / "wav"
    sets: Dict[str, dict] = {}

    lines = {"iden_split": LineCounts("iden_split.txt")}
    split = read_iden_split(root / "iden_split.txt", wav_root, lines["iden_split"])
    sid = {name: [utt_id(r) for c, r in split if c == code] for code, name in SPLITS.items()}
    check_disjoint(sid, "utterance", context="SID")  # speakers shared by design
    for code, name in SPLITS.items():
        rels = [r for c, r in split if c == code]
        if not rels:
            raise DataDirError(f"{root / 'iden_split.txt'}: no line with split code {code} ({name})")
        write_label_dir(out_dir / f"sid_{name}", _items(rels, wav_root))
        sets[f"sid_{name}"] = _summary(rels)

    trial_path = _trial_file(root, trials)
    lines["trials"] = LineCounts(trial_path.name)
    test_trials = read_trials(trial_path, wav_root, lines["trials"])
    test_rels = sorted({u for _, a, b in test_trials for u in (a, b)})
    test_spks = {speaker_of(r) for r in test_rels}
    train_rels = [r for r in list_wavs(wav_root) if speaker_of(r) not in test_spks]
    if not train_rels:
        raise DataDirError(f"{wav_root}: no utterance of a speaker outside {trial_path.name} "
                           "to train speaker verification on")
    dev_rels: List[str] = []
    if dev_trials > 0:
        dev, dev_rels = draw_dev_trials(train_rels, dev_trials, seed)
        held = set(dev_rels)
        train_rels = [r for r in train_rels if r not in held]
    asv = {"asv_train": train_rels, "asv_dev": dev_rels, "asv_test": test_rels}
    check_disjoint(asv, "utterance", key=utt_id, context="ASV")
    check_disjoint(asv, "speaker", key=speaker_of, context="ASV", allowed=[("asv_train", "asv_dev")])
    if dev_trials > 0:
        write_label_dir(out_dir / "asv_dev", _items(dev_rels, wav_root))
        _write_trials(out_dir / "asv_dev" / "trials", dev)
        sets["asv_dev"] = _summary(dev_rels, dev)
    write_label_dir(out_dir / "asv_train", _items(train_rels, wav_root))
    sets["asv_train"] = _summary(train_rels)
    write_label_dir(out_dir / "asv_test", _items(test_rels, wav_root))
    _write_trials(out_dir / "asv_test" / "trials", test_trials)
    sets["asv_test"] = _summary(test_rels, test_trials)
    order = ("sid_train", "sid_dev", "sid_test", "asv_train", "asv_dev", "asv_test")
    return {"root": str(root), "trial_list": str(trial_path),
            "sets": {k: sets[k] for k in order if k in sets},
            "lines": {k: v.as_dict() for k, v in lines.items()},
            "lines_summary": [v.summary() for v in lines.values()]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", help="the VoxCeleb1 folder (holding wav/), or its parent")
    ap.add_argument("out_dir")
    ap.add_argument("--trials", default=None, help="trial list (default: veri_test2.txt, else veri_test.txt)")
    ap.add_argument("--dev_trials", type=int, default=100, help="validation trials for asv_dev (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    try:
        s = prepare(a.root, a.out_dir, a.trials, a.dev_trials, a.seed)
    except DataDirError as e:
        raise SystemExit(f"error: {e}")
    print(f"{s['root']}: trials from {Path(s['trial_list']).name}")
    for line in s["lines_summary"]:
        print(line)
    for name, v in s["sets"].items():
        line = f"{a.out_dir}/{name}: {v['speakers']} speakers, {v['utterances']} utterances"
        if "trials" in v:
            line += f", {v['trials']} trials ({v['targets']} target)"
        print(line)


if __name__ == "__main__":
    main()
