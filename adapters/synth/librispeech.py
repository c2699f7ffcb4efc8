"""A mini-LibriSpeech in LibriSpeech's own layout, spoken by espeak-ng voices.

    <root>/LibriSpeech/<set>/<spk>/<chapter>/<spk>-<chapter>-<nnnn>.flac
    <root>/LibriSpeech/<set>/<spk>/<chapter>/<spk>-<chapter>.trans.txt

Speakers never cross sets (as in LibriSpeech); ``test-other`` speakers are
harder (faster or slower, noisy, band-limited), as the real "other" sets are.

Beside it, as OpenSLR 11 ships it next to the audio, the language-model text:

    <root>/librispeech-lm-norm.txt.gz   one upper-case sentence a line, no ids

drawn from the same vocabulary as the transcripts but from its own seed, so it shares
their words and not their sentences (the real one is 800 M words of other books).

    python -m adapters.synth.librispeech --out downloads/synth --nj 2
"""
from __future__ import annotations

import argparse
import gzip
import random
from pathlib import Path

from adapters.synth.corpus import is_complete, mark_complete, random_sentence, render, spec_hash, vocabulary
from adapters.synth.espeak import Voice, require_tools, sample_voices, synthesize
from adapters.fileio import replacing

LM_TEXT = "librispeech-lm-norm.txt.gz"
LM_SENTENCES = 20000

# set -> (speakers, chapters per speaker, utterances per chapter, hard)
DEFAULT_SETS = {
    "train-clean-100": (48, 2, 16, False),
    "dev-clean": (6, 1, 10, False),
    "test-clean": (6, 1, 12, False),
    "test-other": (6, 1, 12, True),
}


def scaled_sets(scale: float = 1.0, test_scale: float | None = None, test_other_scale: float | None = None) -> dict:
    """DEFAULT_SETS with the utterances per chapter times ``scale`` (the test sets: ``test_scale``,
    default ``scale``; test-other alone: ``test_other_scale``, default ``test_scale``).  The
    training and dev sets come first in the plan, then test-clean, so a test scale changes none of
    their sentences or voices, and test-other's scale none of test-clean's."""
    test_scale = scale if test_scale is None else test_scale
    other_scale = test_scale if test_other_scale is None else test_other_scale
    if min(scale, test_scale, other_scale) <= 0:
        raise SystemExit(f"--scale {scale} / --test_scale {test_scale} / --test_other_scale {other_scale}: "
                         "each must be positive")
    factor = {"test-clean": test_scale, "test-other": other_scale}
    return {k: (s, c, max(1, round(u * factor.get(k, scale))), h) for k, (s, c, u, h) in DEFAULT_SETS.items()}


def _hard(voice: Voice, rng: random.Random) -> Voice:
    effects = rng.choice([
        ("lowpass", "3000"),
        ("highpass", "400", "lowpass", "3400"),
        ("tremolo", "6", "30"),
        ("reverb", "40"),
    ])
    rate = voice.rate + rng.choice([-40, 40])
    return Voice(voice.name, rate, voice.pitch, effects, voice.gain_db)


def plan(root: Path, sets=None, seed: int = 0):
    """The jobs (synthesize, (text, voice, path)) and transcripts, all from ``seed``."""
    sets = sets or DEFAULT_SETS
    rng = random.Random(seed)
    words = vocabulary()
    n_spk = sum(s[0] for s in sets.values())
    voices = sample_voices(n_spk, rng)
    jobs, transcripts = [], {}
    spk_id = 100
    for name, (n, chapters, per_chapter, hard) in sets.items():
        for _ in range(n):
            voice = voices[spk_id - 100]
            if hard:
                voice = _hard(voice, rng)
            spk = str(spk_id)
            spk_id += 1
            for c in range(chapters):
                chapter = str(1000 + rng.randint(0, 8999))
                d = root / "LibriSpeech" / name / spk / chapter
                lines = []
                for u in range(per_chapter):
                    uid = f"{spk}-{chapter}-{u:04d}"
                    text = random_sentence(rng, words)
                    lines.append(f"{uid} {text.upper()}")
                    jobs.append((synthesize, (text, voice, d / f"{uid}.flac")))
                transcripts[d / f"{spk}-{chapter}.trans.txt"] = "\n".join(lines) + "\n"
    return jobs, transcripts


def build(root, sets=None, seed: int = 0, nj: int = 2) -> Path:
    """Synthesize (or find cached) the corpus under ``root``; returns ``root/LibriSpeech``."""
    root = Path(root)
    sets = sets or DEFAULT_SETS
    spec = {"corpus": "librispeech", "version": 2, "seed": seed,
            "sets": {k: list(v) for k, v in sets.items()}}
    if is_complete(root, spec):
        return root / "LibriSpeech"
    require_tools()
    jobs, transcripts = plan(root, sets, seed)
    for path, text in transcripts.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    render(jobs, nj, desc="synthesizing mini-LibriSpeech")
    mark_complete(root, spec, {"utterances": len(jobs)})
    return root / "LibriSpeech"


def build_lm_text(root, sentences: int = LM_SENTENCES, seed: int = 1) -> Path:
    """Write (or find) ``root/librispeech-lm-norm.txt.gz``: ``sentences`` random sentences of the
    corpus vocabulary.  Its seed is the corpus seed + 1: the transcripts' sentences are not in it."""
    root = Path(root)
    spec = {"corpus": "librispeech-lm-norm", "version": 1, "seed": seed, "sentences": sentences}
    out = root / LM_TEXT
    stamp = root / ".lm_text_complete.json"
    if out.is_file() and stamp.is_file() and stamp.read_text() == spec_hash(spec):
        return out
    rng = random.Random(f"lm-{seed}")
    words = vocabulary()
    root.mkdir(parents=True, exist_ok=True)
    with replacing(out, ".part") as part:
        # mtime=0: the same text gives the same bytes (the recipe fingerprints the file)
        with gzip.GzipFile(part, "wb", mtime=0) as f:
            for _ in range(sentences):
                f.write((random_sentence(rng, words).upper() + "\n").encode())
    stamp.write_text(spec_hash(spec))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nj", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the number of utterances per chapter (tiny test runs: 0.2)")
    ap.add_argument("--test_scale", type=float, default=None,
                    help="the same for the test sets only (default: --scale); more test utterances "
                         "narrow the confidence intervals without changing what is trained on")
    ap.add_argument("--test_other_scale", type=float, default=None,
                    help="the same for test-other only (default: --test_scale); its utterances are "
                         "drawn after test-clean's, so it leaves test-clean as it was")
    ap.add_argument("--lm_sentences", type=int, default=LM_SENTENCES,
                    help=f"sentences of the language-model text {LM_TEXT} (0: none)")
    a = ap.parse_args(argv)
    root = build(a.out, scaled_sets(a.scale, a.test_scale, a.test_other_scale), a.seed, a.nj)
    if a.lm_sentences > 0:
        build_lm_text(a.out, a.lm_sentences, a.seed + 1)
    print(root)


if __name__ == "__main__":
    main()
