"""IEMOCAP (release layout) -> leave-one-session-out emotion folds, SUPERB protocol.

    <root>/Session<N>/dialog/EmoEvaluation/<dialog>.txt     one block per utterance
    <root>/Session<N>/sentences/wav/<dialog>/<utt>.wav

``root`` is ``IEMOCAP_full_release`` (or the folder holding it).  The label of
an utterance is the code on its ``[start - end]<tab>utt<tab>code<tab>[V, A, D]``
line; SUPERB keeps four classes, neu, hap (with exc merged into it), ang and
sad, and drops every other code (fru, sur, fea, dis, oth, xxx).  Speakers are
``Ses0N`` plus the gender letter of the utterance (``Ses01F_impro01_M003`` is
spoken by ``Ses01M``), so the ten actors are the ten speakers.

Fold k tests on Session k and trains on the other four, whose utterances also
give the dev set (a seeded, class-stratified ``valid_ratio`` share): no actor is
ever in both training and test (checked: every fold's sets share no utterance,
and its test set no speaker with train or dev).

Every EmoEvaluation line is parsed or counted by kind: utterance lines, evaluator
lines (``C-E2:``, ``A-F1:``, ...), ``%`` headers and blank lines.  A line that names
an utterance (``Ses0...``) but is not a well-formed utterance line (a lost ``[``,
a missing field) is an error with ``file:line``; any other line is counted as
``unrecognised`` and its first place printed.  An utterance labelled twice, in one
file or in two, is an error naming both places; a file with no utterance line is an
error; wavs that no EmoEvaluation file labels are counted.  The same code prepares
the real corpus and the synthetic one (``adapters.synth.iemocap``).

    python -m adapters.data.iemocap downloads/IEMOCAP_full_release data/iemocap
"""
from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from adapters.data.kaldi import DataDirError, LineCounts, Origins, check_disjoint
from adapters.data.labels import write_label_dir

RELEASE = "IEMOCAP_full_release"
SESSIONS = (1, 2, 3, 4, 5)
CLASSES = ("neu", "hap", "ang", "sad")
MERGE = {"exc": "hap"}  # SUPERB: excited counts as happy
SPLITS = ("train", "dev", "test")
# [6.2901 - 8.2357]<tab>Ses01F_impro01_F000<tab>neu<tab>[2.5000, 2.5000, 2.5000]
_NUM = r"[-+]?\d+(?:\.\d*)?"
UTT_LINE = re.compile(rf"^\[\s*{_NUM}\s*-\s*{_NUM}\s*\]\s+(\S+)\s+([A-Za-z]+)\s+"
                      rf"\[\s*{_NUM}\s*,\s*{_NUM}\s*,\s*{_NUM}\s*\]\s*$")
UTT_ID = re.compile(r"^Ses(\d\d)[FM]_\S+_([FM])\w*$")  # e.g. Ses05M_script01_1b_F000

Item = Tuple[str, str, str, str]  # (utterance id, wav path, label, speaker)


EVALUATOR_LINE = re.compile(r"^[A-Z]+-[A-Za-z]+\d*\s*:")  # C-E2:, A-E3:, C-F1:, A-M2: ...
MENTIONS_UTT = re.compile(r"Ses\d\d[FM]_")


def _parse(path: Path, lines: Optional[LineCounts] = None) -> List[Tuple[str, str, int]]:
    """(utterance, code, line number) of every utterance line; every other line is counted by
    kind into ``lines`` (header, blank, evaluator, unrecognised) or rejected with ``file:line``."""
    lines = LineCounts(str(path)) if lines is None else lines
    lines.files += 1
    out, seen = [], {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            lines.read += 1
            line = line.strip()
            if not line:
                lines.count("blank")
                continue
            if line.startswith("%"):
                lines.count("header")
                continue
            if EVALUATOR_LINE.match(line):
                lines.count("evaluator")
                continue
            m = UTT_LINE.match(line)
            if m is None:
                if line.startswith("[") or MENTIONS_UTT.search(line):
                    raise DataDirError(f"{path}:{n}: expected '[start - end]<tab>utterance<tab>code"
                                       f"<tab>[V, A, D]', got {line!r}")
                lines.count("unrecognised", f"{path}:{n}")
                continue
            utt, code = m.group(1), m.group(2).lower()
            if utt in seen:
                raise DataDirError(f"{path}:{n}: utterance {utt} already labelled on line {seen[utt]}")
            seen[utt] = n
            lines.used += 1
            out.append((utt, code, n))
    if not out:
        raise DataDirError(f"{path}: no utterance line (empty or truncated EmoEvaluation file)")
    return out


def parse_emo_evaluation(path) -> List[Tuple[str, str]]:
    """The (utterance id, emotion code) pairs of one EmoEvaluation file, in file order."""
    path = Path(path)
    if not path.is_file():
        raise DataDirError(f"{path}: missing")
    return [(utt, code) for utt, code, _ in _parse(path)]


def to_class(code: str):
    """The SUPERB 4-class label of an IEMOCAP code, or None when the code is dropped."""
    code = MERGE.get(code, code)
    return code if code in CLASSES else None


def find_root(root) -> Path:
    root = Path(root)
    if (root / RELEASE).is_dir():
        root = root / RELEASE
    if not root.is_dir():
        raise DataDirError(f"IEMOCAP root not found: {root}")
    for s in SESSIONS:
        if not (root / f"Session{s}").is_dir():
            raise DataDirError(f"{root / f'Session{s}'}: missing (IEMOCAP needs Session1..Session5)")
    return root


def session_items(root: Path, session: int, dropped: Counter, lines: Optional[LineCounts] = None,
                  origins: Optional[Origins] = None, unlabelled: Optional[List[str]] = None) -> List[Item]:
    """The kept utterances of one session (dropped codes are counted into ``dropped``, the
    EmoEvaluation lines into ``lines``, wavs with no label listed in ``unlabelled``).
    ``origins`` (shared by the sessions) catches an utterance labelled in two files."""
    lines = LineCounts("EmoEvaluation") if lines is None else lines
    origins = Origins("utterance label") if origins is None else origins
    ses = root / f"Session{session}"
    evals = ses / "dialog" / "EmoEvaluation"
    # only the top-level files: Categorical/, Attribute/, Self-evaluation/ hold per-evaluator copies
    files = sorted(p for p in evals.glob("*.txt") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DataDirError(f"{evals}: no EmoEvaluation <dialog>.txt files")
    items = []
    labelled = set()
    for path in files:
        for utt, code, n in _parse(path, lines):
            origins.add(utt, f"{path}:{n}")
            labelled.add(utt)
            m = UTT_ID.match(utt)
            if m is None or int(m.group(1)) != session:
                raise DataDirError(f"{path}:{n}: utterance id {utt!r} is not a Session{session} "
                                   "utterance (Ses0<session><F|M>_<dialog>_<F|M><nnn>)")
            label = to_class(code)
            if label is None:
                dropped[code] += 1
                continue
            wav = ses / "sentences" / "wav" / utt.rsplit("_", 1)[0] / f"{utt}.wav"
            if not wav.is_file():
                raise DataDirError(f"{path}:{n}: utterance {utt}: audio file not found: {wav}")
            items.append((utt, str(wav.resolve()), label, f"Ses{session:02d}{m.group(2)}"))
    if unlabelled is not None:
        unlabelled += sorted(str(w) for w in (ses / "sentences" / "wav").glob("*/*.wav") if w.stem not in labelled)
    return items


def dev_split(items: List[Item], valid_ratio: float, seed) -> Tuple[List[Item], List[Item]]:
    """(train, dev): a seeded ``valid_ratio`` share of every class goes to dev."""
    rng = random.Random(seed)
    train, dev = [], []
    for c in CLASSES:
        group = sorted(i for i in items if i[2] == c)
        rng.shuffle(group)
        k = round(len(group) * valid_ratio)
        dev += group[:k]
        train += group[k:]
    return sorted(train), sorted(dev)


def _counts(items: List[Item]) -> Dict[str, int]:
    c = Counter(i[2] for i in items)
    return {k: c[k] for k in CLASSES}


def prepare(root, out_dir, valid_ratio: float = 0.2, seed: int = 0) -> dict:
    """Write ``out_dir/fold{1..5}/{train,dev,test}`` (label dirs); returns a summary:
    ``kept`` and ``dropped`` counts per code, ``sessions`` sizes and ``folds`` sizes
    per split and class."""
    if not 0 < valid_ratio < 1:
        raise DataDirError(f"valid_ratio must be between 0 and 1, got {valid_ratio}")
    root, out_dir = find_root(root), Path(out_dir)
    dropped: Counter = Counter()
    lines, origins, unlabelled = LineCounts("EmoEvaluation"), Origins("utterance label"), []
    by_session = {s: session_items(root, s, dropped, lines, origins, unlabelled) for s in SESSIONS}
    for s, items in by_session.items():
        if not items:
            raise DataDirError(f"{root / f'Session{s}'}: no utterance of the classes {', '.join(CLASSES)}")
    folds = {}
    for k in SESSIONS:
        pool = [i for s in SESSIONS if s != k for i in by_session[s]]
        train, dev = dev_split(pool, valid_ratio, f"{seed}-fold{k}")
        splits = {"train": train, "dev": dev, "test": sorted(by_session[k])}
        ids = {name: [i[0] for i in items] for name, items in splits.items()}
        check_disjoint(ids, "utterance", context=f"fold{k}")
        spk = {name: [i[3] for i in items] for name, items in splits.items()}
        check_disjoint(spk, "speaker", context=f"fold{k}", allowed=[("train", "dev")])
        for name, items in splits.items():
            if not items:
                raise DataDirError(f"fold{k}: the {name} split is empty (too few utterances)")
            write_label_dir(out_dir / f"fold{k}" / name, items)
        folds[f"fold{k}"] = {name: _counts(items) for name, items in splits.items()}
    kept = [i for items in by_session.values() for i in items]
    return {"root": str(root), "kept": _counts(kept), "dropped": dict(sorted(dropped.items())),
            "sessions": {f"Session{s}": len(by_session[s]) for s in SESSIONS}, "folds": folds,
            "lines": lines.as_dict(), "lines_summary": lines.summary(),
            "unlabelled_audio": len(unlabelled), "unlabelled_first": unlabelled[0] if unlabelled else None}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", help="IEMOCAP_full_release, or the folder holding it")
    ap.add_argument("out_dir")
    ap.add_argument("--valid_ratio", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    try:
        s = prepare(a.root, a.out_dir, a.valid_ratio, a.seed)
    except DataDirError as e:
        raise SystemExit(f"error: {e}")
    print(s["lines_summary"])
    if s["unlabelled_audio"]:
        print(f"warning: {s['unlabelled_audio']} wav file(s) have no EmoEvaluation label, not used "
              f"(first: {s['unlabelled_first']})")
    kept = ", ".join(f"{c} {n}" for c, n in s["kept"].items())
    dropped = ", ".join(f"{c} {n}" for c, n in s["dropped"].items()) or "none"
    print(f"IEMOCAP {s['root']}: kept {sum(s['kept'].values())} ({kept}); "
          f"dropped {sum(s['dropped'].values())} ({dropped})")
    for fold, splits in s["folds"].items():
        sizes = ", ".join(f"{name} {sum(c.values())}" for name, c in splits.items())
        print(f"{a.out_dir}/{fold}: {sizes}")


if __name__ == "__main__":
    main()
