"""A mini-LibriSpeech in LibriSpeech's own layout, spoken by espeak-ng voices.

    <root>/LibriSpeech/<set>/<spk>/<chapter>/<spk>-<chapter>-<nnnn>.flac
    <root>/LibriSpeech/<set>/<spk>/<chapter>/<spk>-<chapter>.trans.txt

Speakers never cross sets (as in LibriSpeech); ``test-other`` speakers are
harder (faster or slower, noisy, band-limited), as the real "other" sets are.

    python -m adapters.synth.librispeech --out downloads/synth --nj 2
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

from adapters.synth.corpus import is_complete, mark_complete, random_sentence, render, vocabulary
from adapters.synth.espeak import Voice, require_tools, sample_voices, synthesize

# set -> (speakers, chapters per speaker, utterances per chapter, hard)
DEFAULT_SETS = {
    "train-clean-100": (48, 2, 16, False),
    "dev-clean": (6, 1, 10, False),
    "test-clean": (6, 1, 12, False),
    "test-other": (6, 1, 12, True),
}


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nj", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the number of utterances per chapter (tiny test runs: 0.2)")
    a = ap.parse_args(argv)
    sets = {k: (s, c, max(1, round(u * a.scale)), h) for k, (s, c, u, h) in DEFAULT_SETS.items()}
    print(build(a.out, sets, a.seed, a.nj))


if __name__ == "__main__":
    main()
