"""Stage 3 (format/dump) and stage 4 (filter) of the recipes.

format: read every utterance of a data dir, check it, resample to ``--fs`` when
needed (torchaudio), write it as 16-bit ``--audio_format`` under ``dump`` and a
data dir pointing at the dumped files, plus ``utt2num_samples`` and ``utt2audio_sha1``
(the SHA-1 of the dumped 16-bit samples: ``adapters.data.overlap`` compares the held-out
sets with the training set by it).  Files already dumped by an interrupted run are kept.  A bad utterance stops the stage with
its id and file named; ``--skip_bad`` drops it instead and lists it in
``bad_utts``.

filter: keep utterances between ``--min_sec`` and ``--max_sec`` with a
non-empty label (ESPnet's stage 4).
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import soundfile as sf
from tqdm import tqdm

from adapters.data.kaldi import DataDirError, audio_path, read_table, spk2utt_from, write_table
from adapters.fileio import replacing
from adapters.parallel import parallel_map

# files copied along with wav.scp, filtered to the kept utterances
SIDE_FILES = ("text", "label", "utt2spk", "utt2task", "utt2category", "utt2lang")


def _up_to_date(out: Path, src) -> bool:
    if src is None or not out.is_file() or out.stat().st_size == 0:
        return False
    try:
        return out.stat().st_mtime >= Path(src).stat().st_mtime
    except OSError:
        return False


def dumped_digest(out: Path) -> Tuple[int, str]:
    """(samples, SHA-1 of the 16-bit samples) of a dumped file, as every later reader decodes it
    (read back: libsndfile's float-to-16-bit rounding differs between FLAC and WAV)."""
    pcm, _ = sf.read(str(out), dtype="int16")
    return len(pcm), hashlib.sha1(pcm.tobytes()).hexdigest()


def _dump_one(job) -> Tuple[str, int, str, str]:
    utt, entry, out, fs, fmt = job
    out = Path(out)
    path = audio_path(entry)
    if _up_to_date(out, path):  # dumped by an earlier (interrupted) run from this same file
        try:
            return (utt, *dumped_digest(out), "")
        except Exception:  # noqa: BLE001 - unreadable (cut short, a disk error): dumped again below
            pass
    try:
        if path is None:
            raise DataDirError(f"pipes are not supported ({entry!r})")
        if not Path(path).is_file():
            raise DataDirError(f"audio file not found: {path}")
        try:
            data, rate = sf.read(path, dtype="float32", always_2d=True)
        except Exception as e:
            raise DataDirError(f"unreadable audio {path}: {e}") from None
        if data.shape[0] == 0:
            raise DataDirError(f"{path} is empty (0 samples)")
        data = data.mean(axis=1)
        if rate != fs:
            import torch
            import torchaudio.functional as AF

            data = AF.resample(torch.from_numpy(data), rate, fs).numpy()
        if not np.isfinite(data).all():
            raise DataDirError(f"{path} contains NaN or infinite samples")
        with replacing(out, ".part") as tmp:
            sf.write(str(tmp), np.clip(data, -1.0, 1.0), fs, subtype="PCM_16", format=fmt.upper())
        return (utt, *dumped_digest(out), "")
    except DataDirError as e:
        return utt, 0, "", f"utterance {utt}: {e}"


def format_data_dir(src, dst, dump_dir, fs=16000, audio_format="flac", nj=2, skip_bad=False) -> int:
    src, dst, dump_dir = Path(src), Path(dst), Path(dump_dir)
    wav = read_table(src / "wav.scp")
    dump_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(u, e, str(dump_dir / f"{u}.{audio_format}"), fs, audio_format) for u, e in wav.items()]
    results: Dict[str, int] = {}
    digests: Dict[str, str] = {}
    bad: Dict[str, str] = {}
    bar = tqdm(total=len(jobs), desc=f"format {src.name}", unit="utt", mininterval=2.0)
    for utt, n, digest, err in parallel_map(_dump_one, jobs, nj):
        bar.update()
        if err:
            bad[utt] = err
        else:
            results[utt], digests[utt] = n, digest
    bar.close()
    if bad and not skip_bad:
        first = next(iter(bad.values()))
        raise DataDirError(f"{len(bad)} bad utterance(s) in {src / 'wav.scp'}; first: {first} "
                           "(fix the corpus, or pass --skip_bad true to drop them; the dumped "
                           "audio so far is kept)")
    keep = set(results)
    dst.mkdir(parents=True, exist_ok=True)
    write_table(dst / "wav.scp", {u: str((dump_dir / f"{u}.{audio_format}").resolve()) for u in keep})
    write_table(dst / "utt2num_samples", {u: str(n) for u, n in results.items()})
    write_table(dst / "utt2audio_sha1", digests)
    _copy_side_files(src, dst, keep)
    if bad:
        write_table(dst / "bad_utts", bad)
        print(f"dropped {len(bad)} bad utterance(s), listed in {dst / 'bad_utts'}")
    return len(keep)


def _copy_side_files(src: Path, dst: Path, keep):
    for name in SIDE_FILES:
        if (src / name).is_file():
            t = read_table(src / name, allow_empty_value=True)
            write_table(dst / name, {u: v for u, v in t.items() if u in keep})
    if (dst / "utt2spk").is_file():
        write_table(dst / "spk2utt", spk2utt_from(read_table(dst / "utt2spk")))


def filter_data_dir(src, dst, fs=16000, min_sec=0.0, max_sec=float("inf"), label="text") -> int:
    src, dst = Path(src), Path(dst)
    n = read_table(src / "utt2num_samples")
    lab = read_table(src / label, allow_empty_value=True)
    keep = {u for u, v in n.items() if min_sec * fs <= int(v) <= max_sec * fs and lab.get(u, "").strip()}
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("wav.scp", "utt2num_samples", "utt2audio_sha1"):
        if name == "utt2audio_sha1" and not (src / name).is_file():  # formatted before it was written
            continue
        t = read_table(src / name)
        write_table(dst / name, {u: v for u, v in t.items() if u in keep})
    _copy_side_files(src, dst, keep)
    dropped = len(n) - len(keep)
    if dropped:
        print(f"{dst}: dropped {dropped} of {len(n)} utterances outside [{min_sec}, {max_sec}] s "
              "or with an empty label")
    if not keep:
        raise DataDirError(f"{dst}: no utterance left after filtering {src}")
    return len(keep)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("format")
    f.add_argument("src")
    f.add_argument("dst")
    f.add_argument("--dump_dir", required=True)
    f.add_argument("--fs", type=int, default=16000)
    f.add_argument("--audio_format", default="flac", choices=["flac", "wav"])
    f.add_argument("--nj", type=int, default=2)
    f.add_argument("--skip_bad", default="false", choices=["true", "false"])
    g = sub.add_parser("filter")
    g.add_argument("src")
    g.add_argument("dst")
    g.add_argument("--fs", type=int, default=16000)
    g.add_argument("--min_sec", type=float, default=0.0)
    g.add_argument("--max_sec", type=float, default=float("inf"))
    g.add_argument("--label", default="text")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "format":
            n = format_data_dir(a.src, a.dst, a.dump_dir, a.fs, a.audio_format, a.nj, a.skip_bad == "true")
        else:
            n = filter_data_dir(a.src, a.dst, a.fs, a.min_sec, a.max_sec, a.label)
    except DataDirError as e:
        raise SystemExit(f"error: {e}")
    print(f"{a.dst}: {n} utterances")


if __name__ == "__main__":
    main()
