"""Serve many tasks from one frozen upstream: every pack attached to it at once, each
utterance routed to its task's adapter and downstream within one batch.

    python -m adapters.bin.infer --upstream egs/upstream/hubert_pretrained_small.pt \\
        --packs hra.zip ks.zip (--task T | --utt2task utt2task) [--output_dir out] \\
        a.wav b.flac ... | data/test/wav.scp

Inputs are audio files (the utterance id is the file name without its extension) or
Kaldi ``wav.scp`` files.  ``--utt2task`` lines are ``<utt> <task>``.  Prints one line per
utterance: ASR ``utt text``; classification ``utt label score``; speaker embedding
``utt embedding <dim> <norm>``.  With ``--output_dir`` writes ``text`` (ASR), ``prediction``
and ``scores`` (classification), ``embeddings.npz`` (speaker embeddings), as the recipe's
stage 12 does, and ``errors``.  An unknown task or a pack made on another upstream stops before any
work (exit 2); an unreadable file is reported and the others' results are still printed
and written (exit 1).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def read_table(path) -> dict:
    """``key value`` lines in any order (a duplicate key or a key without value is an error)."""
    out = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, _, value = line.strip().partition(" ")
        if not value.strip():
            raise SystemExit(f"error: {path}:{n}: {key!r} has no value")
        if key in out:
            raise SystemExit(f"error: {path}:{n}: duplicate id {key!r}")
        out[key] = value.strip()
    return out


def read_inputs(paths):
    """{utt: audio file} from audio files and wav.scp files, in order."""
    out = {}
    for p in paths:
        p = Path(p)
        if p.suffix == ".scp":
            if not p.is_file():
                raise SystemExit(f"error: {p} not found")
            items = read_table(p).items()
        else:
            items = [(p.stem, str(p))]
        for k, v in items:
            if k in out:
                raise SystemExit(f"error: utterance id {k} appears twice in the inputs")
            out[k] = v
    return out


def load(utts, fs=16000):
    """({utt: waveform}, {utt: error}): every file read and checked, failures kept apart."""
    from adapters.data.batches import load_audio
    from adapters.data.kaldi import DataDirError, check_audio

    wavs, errors = {}, {}
    for k, entry in utts.items():
        try:
            check_audio(k, entry, fs)
            wavs[k] = load_audio(k, entry)
        except DataDirError as e:
            errors[k] = str(e)
    return wavs, errors


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="the frozen upstream checkpoint the packs were trained on")
    ap.add_argument("--upstream_name", default=None, help="its s3prl name (default: the packs' own, e.g. hubert_local)")
    ap.add_argument("--packs", nargs="+", required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--task", help="every utterance's task")
    g.add_argument("--utt2task", help="file of '<utt> <task>' lines")
    ap.add_argument("--output_dir", default=None)
    ap.add_argument("--batch_sec", type=float, default=60.0, help="seconds of (padded) audio per batch")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("inputs", nargs="+", help="audio files or wav.scp files")
    a = ap.parse_args(argv)

    from adapters.data.kaldi import write_table
    from adapters.serving import PackError, Server

    utts = read_inputs(a.inputs)
    if a.utt2task:
        if not Path(a.utt2task).is_file():
            raise SystemExit(f"error: {a.utt2task} not found")
        u2t = read_table(a.utt2task)
        lack = [k for k in utts if k not in u2t]
        if lack:
            raise SystemExit(f"error: {a.utt2task} gives no task for utterance(s) {lack[:5]}")
    else:
        u2t = {k: a.task for k in utts}
    try:
        server = Server(a.upstream, a.upstream_name, a.device)
        for p in a.packs:
            print(f"{p}: serves {', '.join(server.add_pack(p))}", file=sys.stderr)
        for k in utts:
            server.route(u2t[k])  # an unknown task stops before any work
    except PackError as e:
        raise SystemExit(f"error: {e}")
    wavs, errors = load(utts)
    keys = [k for k in utts if k in wavs]
    results, failed = server.infer([(k, wavs[k]) for k in keys], [u2t[k] for k in keys], int(a.batch_sec * 16000))
    errors.update(failed)
    for k in utts:
        if k in results:
            r = results[k]
            if r.kind == "asr":
                print(f"{k} {r.text}")
            elif r.kind == "spk":
                print(f"{k} embedding {r.embedding.size} {float((r.embedding ** 2).sum()) ** 0.5:.4f}")
            else:
                print(f"{k} {r.label} {max(r.scores):.4f}")
    for k in utts:
        if k in errors:
            print(f"error: {errors[k]}" if k in errors[k] else f"error: utterance {k}: {errors[k]}", file=sys.stderr)
    if a.output_dir:
        out = Path(a.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        asr = {k: r.text for k, r in results.items() if r.kind == "asr"}
        cls = {k: r for k, r in results.items() if r.kind == "cls"}
        if asr:
            write_table(out / "text", asr)
        if cls:
            write_table(out / "prediction", {k: r.label for k, r in cls.items()})
            write_table(out / "scores", {k: " ".join(f"{v:.5f}" for v in r.scores) for k, r in cls.items()})
        emb = {k: r.embedding for k, r in results.items() if r.kind == "spk"}
        if emb:
            import numpy as np

            from adapters.fileio import replacing

            with replacing(out / "embeddings.npz", tmp=out / "embeddings.tmp.npz") as tmp:
                np.savez(tmp, **emb)
        write_table(out / "errors", errors)
    server.close()
    if errors:
        print(f"{len(errors)} of {len(utts)} utterances failed (listed above); the others' results are written",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
