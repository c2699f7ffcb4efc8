"""Trial lists of a speaker-verification data dir: ``trials`` lines
``<1|0> <utt1> <utt2>`` (1 = same speaker) over the dir's own utterances.

    python -m adapters.data.trials data/asv_test                    # validate
    python -m adapters.data.trials dump/raw/asv_dev --espnet_out DIR # ESPnet's validation files

ESPnet's speaker trainer validates on pairs: ``trial.scp`` and ``trial2.scp``
(the two utterances' audio) and ``trial_label``, all keyed ``utt1*utt2``.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Set, Tuple

from adapters.data.kaldi import DataDirError, read_table, write_table

Trial = Tuple[int, str, str]


def read_trials(path, utts: Set[str], where: str = "the data dir") -> List[Trial]:
    """The trials of ``path``; every utterance must be in ``utts`` (``where`` names them)."""
    path = Path(path)
    if not path.is_file():
        raise DataDirError(f"{path}: missing (a verification set needs a trial list)")
    trials, first = [], {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        f = line.split()
        if not f:
            continue  # blank: carries nothing
        if len(f) != 3 or f[0] not in ("0", "1"):
            raise DataDirError(f"{path}:{n}: expected '<1|0> <utt1> <utt2>', got {line!r}")
        for u in f[1:]:
            if u not in utts:
                raise DataDirError(f"{path}:{n}: utterance {u} is not in {where}")
        if f[1] == f[2]:
            raise DataDirError(f"{path}:{n}: a trial of {f[1]} against itself")
        pair = tuple(sorted(f[1:]))
        if pair in first:
            raise DataDirError(f"{path}:{n}: the trial {f[1]} {f[2]} is already on line {first[pair]}")
        first[pair] = n
        trials.append((int(f[0]), f[1], f[2]))
    if not trials:
        raise DataDirError(f"{path}: no trials")
    kinds = {t[0] for t in trials}
    if kinds != {0, 1}:
        raise DataDirError(f"{path}: needs both target (1) and non-target (0) trials for an EER")
    return trials


def read_dir_trials(data_dir) -> List[Trial]:
    """``<data_dir>/trials``, over the utterances of ``<data_dir>/wav.scp``."""
    d = Path(data_dir)
    return read_trials(d / "trials", set(read_table(d / "wav.scp")), str(d / "wav.scp"))


def write_espnet_trials(data_dir, out) -> int:
    d, out = Path(data_dir), Path(out)
    trials = read_dir_trials(d)
    wav = read_table(d / "wav.scp")
    n = read_table(d / "utt2num_samples") if (d / "utt2num_samples").is_file() else {}
    key = {t: f"{t[1]}*{t[2]}" for t in trials}
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "trial.scp", {key[t]: wav[t[1]] for t in trials})
    write_table(out / "trial2.scp", {key[t]: wav[t[2]] for t in trials})
    write_table(out / "trial_label", {key[t]: str(t[0]) for t in trials})
    write_table(out / "speech_shape", {key[t]: n.get(t[1], "16000") for t in trials})
    return len(trials)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dir")
    ap.add_argument("--espnet_out", default=None, help="write ESPnet's trial.scp/trial2.scp/trial_label here")
    a = ap.parse_args(argv)
    try:
        if a.espnet_out:
            n = write_espnet_trials(a.data_dir, a.espnet_out)
            print(f"{a.espnet_out}: {n} validation trials")
        else:
            t = read_dir_trials(a.data_dir)
            print(f"{a.data_dir}/trials: {len(t)} trials ({sum(x[0] for x in t)} target) OK")
    except DataDirError as e:
        raise SystemExit(f"invalid trial list: {e}")


if __name__ == "__main__":
    main()
