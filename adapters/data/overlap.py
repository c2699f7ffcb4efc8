"""Held-out utterances with a training utterance's very samples: stage 3's check.

Stage 3 (``adapters.data.format``) writes ``utt2audio_sha1`` beside ``utt2num_samples``: the
SHA-1 of each dumped utterance's 16-bit samples.  A dev or test utterance whose samples are a
training utterance's is not held out: its score measures memory, not generalisation.  The
synthetic TORGO-like corpus did this before 9200691 (a speaker's repeated prompt rendered to the
same samples in every session, 5 of the quick profile's 27 test utterances), and real corpora
can ship duplicates too.  It is a warning, never a stop: a corpus's own split is its user's to
judge, and the warning names the count and the first pairs so that they can.

    python -m adapters.data.overlap TRAIN_DIR OTHER_DIR...

prints one line per set (stdout), and ``warning: ...`` (stderr) for a set with copies.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from adapters.data.kaldi import read_table

DIGESTS = "utt2audio_sha1"
SHOWN = 3  # pairs named in a warning


def read_digests(data_dir) -> Optional[Dict[str, str]]:
    """utterance -> digest, or None where the data dir has no (readable) digests: formatted
    before stage 3 wrote them."""
    try:
        return read_table(Path(data_dir) / DIGESTS)
    except (OSError, ValueError):
        return None


def shared_audio(train: Dict[str, str], other: Dict[str, str]) -> List[Tuple[str, str]]:
    """``(utterance, training utterance)`` for every utterance of ``other`` whose digest is a
    training utterance's, in utterance order."""
    first = {}
    for u, d in sorted(train.items()):
        first.setdefault(d, u)
    return [(u, first[d]) for u, d in sorted(other.items()) if d in first]


def check(train_dir, other_dirs, out=print, warn=None) -> int:
    """Compare each of ``other_dirs`` with ``train_dir``; the number of utterances with a
    training utterance's samples.  Sets without digests are named and passed over."""
    warn = warn or (lambda m: print(m, file=sys.stderr))
    train_dir = Path(train_dir)
    train = read_digests(train_dir)
    if train is None:
        out(f"{train_dir}: no readable {DIGESTS} (formatted before stage 3 wrote it?): held-out sets not checked")
        return 0
    total = 0
    for d in map(Path, other_dirs):
        other = read_digests(d)
        if other is None:
            out(f"{d}: no readable {DIGESTS}: not checked against {train_dir.name}")
            continue
        pairs = shared_audio(train, other)
        total += len(pairs)
        if not pairs:
            out(f"{d.name}: none of its {len(other)} utterances has the samples of a training utterance")
            continue
        shown = ", ".join(f"{u} = {t}" for u, t in pairs[:SHOWN])
        warn(f"warning: {len(pairs)} of {len(other)} utterances of {d.name} have the same samples as a "
             f"training utterance of {train_dir.name} ({shown}{', ...' if len(pairs) > SHOWN else ''}): "
             "their scores measure memory, not generalisation")
    return total


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train_dir")
    ap.add_argument("other_dirs", nargs="+")
    a = ap.parse_args(argv)
    check(a.train_dir, a.other_dirs)


if __name__ == "__main__":
    main()
