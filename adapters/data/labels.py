"""Utterance-level (classification) Kaldi data dirs: ``wav.scp``, ``label``,
``utt2spk``, ``spk2utt`` (+ optional side files such as ``utt2task``).

Every corpus preparer for a classification recipe (Speech Commands, IEMOCAP,
VoxCeleb SID) ends here, so the directories all look alike to cls.sh.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

from adapters.data.kaldi import DataDirError, spk2utt_from, write_table

Item = Tuple[str, str, str, str]  # (utterance id, wav path, label, speaker)


def write_label_dir(out, items: Iterable[Item], extra: Optional[Dict[str, Dict[str, str]]] = None) -> int:
    """Write one data dir from ``items``; returns the number of utterances.

    Utterance ids must be unique and free of whitespace; labels must be one
    token (ESPnet's classification task reads them as words).
    """
    out = Path(out)
    wav, lab, u2s = {}, {}, {}
    for utt, path, label, spk in items:
        if not utt or any(c.isspace() for c in utt):
            raise DataDirError(f"{out}: utterance id {utt!r} is empty or contains whitespace")
        if utt in wav:
            raise DataDirError(f"{out}: duplicate utterance id {utt!r} ({wav[utt]} and {path})")
        if not label or any(c.isspace() for c in label):
            raise DataDirError(f"{out}: utterance {utt}: label {label!r} must be one non-empty token")
        wav[utt], lab[utt], u2s[utt] = str(path), label, spk
    if not wav:
        raise DataDirError(f"{out}: no utterances to write")
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "wav.scp", wav)
    write_table(out / "label", lab)
    write_table(out / "utt2spk", u2s)
    write_table(out / "spk2utt", spk2utt_from(u2s))
    for name, table in (extra or {}).items():
        missing = set(wav) - set(table)
        if missing:
            raise DataDirError(f"{out / name}: no entry for utterance {sorted(missing)[0]}")
        write_table(out / name, {u: table[u] for u in wav})
    return len(wav)
