"""sentencepiece's ``spm_train``, for the ASR template's token stage (``--token_type bpe``).

    python -m adapters.bin.spm_train --input=text --vocab_size=300 --model_type=unigram \
        --model_prefix=data/token_list/bpe_unigram300/bpe --character_coverage=1.0

ESPnet's recipes call the ``spm_train`` program that its ``tools/`` build compiles; the
sentencepiece wheel from PyPI has the same trainer only as a library.  This takes the program's
``--flag=value`` options and hands them to ``SentencePieceTrainer`` unchanged (as a map, so a
value may hold spaces); sentencepiece itself checks their names and values.
"""
from __future__ import annotations

import sys
from pathlib import Path


def parse_flags(argv) -> dict:
    flags = {}
    for a in argv:
        key, eq, value = a.partition("=")
        if not key.startswith("--") or not eq or len(key) < 3:
            raise ValueError(f"expected --flag=value, got {a!r}")
        flags[key[2:]] = value
    return flags


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    try:
        flags = parse_flags(argv)
    except ValueError as e:
        sys.exit(f"spm_train: {e}")
    text = flags.get("input")
    if not text:
        sys.exit("spm_train: --input=FILE is required")
    for f in text.split(","):
        if not Path(f).is_file() or Path(f).stat().st_size == 0:
            sys.exit(f"spm_train: no text to train on in {f} (missing or empty)")
    import sentencepiece as spm

    try:
        spm.SentencePieceTrainer.train(**flags)
    except (RuntimeError, OSError, ValueError) as e:
        # e.g. "Vocabulary size is too high (300). Please set it to a value <= 120."
        sys.exit(f"spm_train: sentencepiece could not train on {text}: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
