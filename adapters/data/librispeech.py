"""LibriSpeech (original layout) -> Kaldi data directory.

    <root>/<set>/<spk>/<chapter>/<spk>-<chapter>-<n>.flac
    <root>/<set>/<spk>/<chapter>/<spk>-<chapter>.trans.txt   (``<utt> TRANSCRIPT``)

``root`` may also be the folder holding ``LibriSpeech/``.  Writes wav.scp (the
flac paths: soundfile reads flac), text, utt2spk, spk2utt.  The same code
prepares the real corpus and the synthetic one.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from adapters.data.kaldi import DataDirError, spk2utt_from, write_table


def find_root(root) -> Path:
    root = Path(root)
    if (root / "LibriSpeech").is_dir():
        root = root / "LibriSpeech"
    if not root.is_dir():
        raise DataDirError(f"LibriSpeech root not found: {root}")
    return root


def prepare(root, part: str, out) -> int:
    """Prepare ``part`` (e.g. ``train-clean-100``) into ``out``; returns #utterances."""
    src = find_root(root) / part
    if not src.is_dir():
        raise DataDirError(f"LibriSpeech set not found: {src}")
    wav, text, u2s = {}, {}, {}
    for trans in sorted(src.glob("*/*/*.trans.txt")):
        spk, chapter = trans.parent.parent.name, trans.parent.name
        with open(trans, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                utt, _, words = line.strip().partition(" ")
                if not words.strip():
                    raise DataDirError(f"{trans}:{n}: utterance {utt} has an empty transcript")
                if not utt.startswith(f"{spk}-{chapter}-"):
                    raise DataDirError(f"{trans}:{n}: utterance id {utt!r} does not match "
                                       f"speaker {spk} and chapter {chapter}")
                audio = trans.parent / f"{utt}.flac"
                if not audio.is_file():
                    raise DataDirError(f"{trans}:{n}: utterance {utt}: audio file not found: {audio}")
                wav[utt] = str(audio.resolve())
                text[utt] = " ".join(words.split())
                u2s[utt] = f"{spk}-{chapter}"  # Kaldi's LibriSpeech recipe: reader-chapter
    if not wav:
        raise DataDirError(f"{src}: no <spk>/<chapter>/<spk>-<chapter>.trans.txt found")
    out = Path(out)
    write_table(out / "wav.scp", wav)
    write_table(out / "text", text)
    write_table(out / "utt2spk", u2s)
    write_table(out / "spk2utt", spk2utt_from(u2s))
    return len(wav)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("part")
    ap.add_argument("out")
    a = ap.parse_args(argv)
    try:
        n = prepare(a.root, a.part, a.out)
    except DataDirError as e:
        raise SystemExit(f"error: {e}")
    print(f"{a.out}: {n} utterances from {a.part}")


if __name__ == "__main__":
    main()
