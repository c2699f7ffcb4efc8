"""The fingerprint of a prepared Kaldi data dir: one digest of its tables' names and contents.

This is the one implementation of it.  The stage stamps of the recipes' templates
(``egs/TEMPLATE/common/lib.sh``: ``data_sig``, which runs this file as a script), the
feature cache's manifest (``adapters.feature_cache``) and each ``results.json``'s
provenance (``adapters.results``) all record it.

It reads the contents of the tables (``TABLES``: small text files), never their
modification times: a data dir prepared again byte for byte (stage 1 run anew, a
dump written again) has the same fingerprint, and any edit of any table changes it.
The audio the tables point to is not read: it is covered by the stamp of the stage
that wrote the tables (stage 1: the corpus fingerprint, its files' list, sizes and
mtimes; stage 3: the data dir it dumped) and by ``utt2num_samples``, a table.

The value is the MD5 of the lines ``<table> <MD5 of its bytes>`` of the tables
present, in ``TABLES`` order: what ``data_sig`` computed in shell before, so that
the stamps written then still match.

As a script (``python adapters/data/fingerprint.py DIR...``) it imports nothing
outside the standard library, so a stamp costs a bare interpreter start; it prints
each dir's fingerprint, or ``missing`` for a dir that is not there.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

#: the tables of a data dir that the stages read (not utt2task_id: asr.sh derives it in place
#: from utt2task and --task_list, which the stamps record)
TABLES = ("wav.scp", "segments", "reco2file_and_channel", "text", "label", "utt2spk", "spk2utt", "utt2task",
          "utt2category", "utt2lang", "utt2num_samples", "utt2dur", "trials")


def _md5(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def data_fingerprint(data_dir) -> str:
    """The fingerprint of ``data_dir``'s tables (see the module docstring); a dir that is
    not there is a ``FileNotFoundError``."""
    d = Path(data_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: no such data dir")
    lines = "".join(f"{name} {_md5(d / name)}\n" for name in TABLES if (d / name).is_file())
    return hashlib.md5(lines.encode()).hexdigest()


def main(argv=None) -> None:
    for d in sys.argv[1:] if argv is None else argv:
        print(data_fingerprint(d) if Path(d).is_dir() else "missing")


if __name__ == "__main__":
    main()
