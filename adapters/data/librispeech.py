"""LibriSpeech (original layout) -> Kaldi data directory.

    <root>/<set>/<spk>/<chapter>/<spk>-<chapter>-<n>.flac
    <root>/<set>/<spk>/<chapter>/<spk>-<chapter>.trans.txt   (``<utt> TRANSCRIPT``)

``root`` may also be the folder holding ``LibriSpeech/``.  Writes wav.scp (the
flac paths: soundfile reads flac), text, utt2spk, spk2utt.  The same code
prepares the real corpus and the synthetic one.

Every transcript line is used or rejected with ``file:line``: an utterance id met
twice (in one trans.txt or across the files of a set) is an error naming both
places, an empty trans.txt is an error, blank lines and flac files that no
transcript lists are counted in the printed summary.  ``--check_disjoint DIR...``
fails when prepared sets share an utterance or a reader (LibriSpeech's sets are
speaker-disjoint).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from typing import Iterable, Optional

from adapters.data.kaldi import (DataDirError, LineCounts, Origins, check_disjoint, read_table,
                                 spk2utt_from, write_table)


def find_root(root) -> Path:
    root = Path(root)
    if (root / "LibriSpeech").is_dir():
        root = root / "LibriSpeech"
    if not root.is_dir():
        raise DataDirError(f"LibriSpeech root not found: {root}")
    return root


def prepare(root, part: str, out, summary: Optional[dict] = None) -> int:
    """Prepare ``part`` (e.g. ``train-clean-100``) into ``out``; returns #utterances.
    ``summary`` (a dict), when given, receives the line counts (``lines``) and the
    number of flac files no transcript lists (``unlisted_audio``)."""
    src = find_root(root) / part
    if not src.is_dir():
        raise DataDirError(f"LibriSpeech set not found: {src}")
    wav, text, u2s = {}, {}, {}
    origins = Origins("utterance id")
    lines = LineCounts(f"{part} transcripts")
    for trans in sorted(src.glob("*/*/*.trans.txt")):
        spk, chapter = trans.parent.parent.name, trans.parent.name
        lines.files += 1
        used_before = lines.used
        with open(trans, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                lines.read += 1
                if not line.strip():
                    lines.count("blank", f"{trans}:{n}")
                    continue
                utt, _, words = line.strip().partition(" ")
                if not words.strip():
                    raise DataDirError(f"{trans}:{n}: utterance {utt} has an empty transcript")
                if not utt.startswith(f"{spk}-{chapter}-"):
                    raise DataDirError(f"{trans}:{n}: utterance id {utt!r} does not match "
                                       f"speaker {spk} and chapter {chapter}")
                origins.add(utt, f"{trans}:{n}")
                audio = trans.parent / f"{utt}.flac"
                if not audio.is_file():
                    raise DataDirError(f"{trans}:{n}: utterance {utt}: audio file not found: {audio}")
                wav[utt] = str(audio.resolve())
                text[utt] = " ".join(words.split())
                u2s[utt] = f"{spk}-{chapter}"  # Kaldi's LibriSpeech recipe: reader-chapter
                lines.used += 1
        if lines.used == used_before:
            raise DataDirError(f"{trans}: no transcript line (empty or truncated file)")
    if not wav:
        raise DataDirError(f"{src}: no <spk>/<chapter>/<spk>-<chapter>.trans.txt found")
    unlisted = sorted(p for p in src.glob("*/*/*.flac") if p.stem not in wav)
    if summary is not None:
        summary["lines"] = lines.as_dict()
        summary["unlisted_audio"] = len(unlisted)
        summary["summary"] = lines.summary() + (
            f"; {len(unlisted)} flac file(s) in no transcript, not used (first: {unlisted[0]})" if unlisted else "")
    out = Path(out)
    write_table(out / "wav.scp", wav)
    write_table(out / "text", text)
    write_table(out / "utt2spk", u2s)
    write_table(out / "spk2utt", spk2utt_from(u2s))
    return len(wav)


def reader(utt: str) -> str:
    """The reader (LibriSpeech's speaker) of ``<reader>-<chapter>-<n>``."""
    return utt.split("-", 1)[0]


def check_sets(dirs: Iterable) -> int:
    """Prepared data dirs of one corpus must share no utterance and no reader (every
    LibriSpeech set has speakers of its own); returns the number of dirs checked."""
    sets = {str(d): list(read_table(Path(d) / "utt2spk")) for d in dirs}
    check_disjoint(sets, "utterance")
    check_disjoint(sets, "speaker", key=reader)
    return len(sets)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", nargs="?")
    ap.add_argument("part", nargs="?")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--check_disjoint", nargs="+", metavar="DIR", default=None,
                    help="check that these prepared data dirs share no utterance and no speaker")
    a = ap.parse_args(argv)
    if a.check_disjoint is None and a.out is None:
        ap.error("give ROOT PART OUT (prepare a set), or --check_disjoint DIR...")
    try:
        if a.out is not None:
            s: dict = {}
            n = prepare(a.root, a.part, a.out, s)
            print(s["summary"])
            print(f"{a.out}: {n} utterances from {a.part}")
        if a.check_disjoint is not None:
            k = check_sets(a.check_disjoint)
            print(f"{k} sets share no utterance and no speaker")
    except DataDirError as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    main()
