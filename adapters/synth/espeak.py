"""Speech from espeak-ng, shaped by sox: the voices of the embedded corpora.

A ``Voice`` is one synthetic speaker: an espeak-ng voice and variant, a rate
and a pitch, and optional sox effects (noise, tempo, tremolo...).  Every
corpus synthesizer draws its speakers from ``sample_voices`` so that voices
differ in the ways real speakers do (accent, gender, speed, pitch, timbre).
"""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence
from xml.sax.saxutils import escape as xml_escape

from adapters.fileio import replacing

# espeak-ng's own (non-mbrola) English voices and its built-in variants
ENGLISH_VOICES = (
    "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)
# variant file names (case matters: an unknown name silently falls back to the plain voice)
VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "Andy", "Annie", "Denis", "Gene",
    "Jacky", "Lee", "Mario", "Michael", "Mike", "paul", "rob", "steph", "Tweaky",
    "Alicia", "Andrea", "belinda", "linda", "anika", "zac", "david", "john", "adam",
    "Alex", "max", "Hugo",
)


class SynthesisError(RuntimeError):
    pass


def require_tools():
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if missing:
        raise SynthesisError(
            f"{' and '.join(missing)} not found: the embedded corpora are synthesized with "
            "espeak-ng and sox (run `make install`, or `apt-get install espeak-ng sox "
            "libsox-fmt-all flac`)"
        )


@dataclass(frozen=True)
class Voice:
    name: str  # espeak voice, e.g. "en-us+m3"
    rate: int  # words per minute
    pitch: int  # 0..99
    effects: tuple = ()  # extra sox effects, e.g. ("tremolo", "5", "40")
    gain_db: float = 0.0
    word_gap: int = 0  # extra pause between words, in 10 ms units (espeak-ng -g)
    pitch_range: str = ""  # SSML prosody range: x-low (monotone) ... x-high; "" = the voice's own


def sample_voices(n: int, rng: random.Random, rate=(130, 200), pitch=(25, 75), avoid=()) -> List[Voice]:
    """``n`` distinct voices: every (voice, variant) pair is used before any repeats, and the
    pairs of ``avoid`` (voice names, e.g. another set's speakers) only after every other pair."""
    avoid = set(avoid)
    pairs = [(v, var) for var in VARIANTS for v in ENGLISH_VOICES]
    rng.shuffle(pairs)
    if avoid:
        pairs.sort(key=lambda p: f"{p[0]}+{p[1]}" in avoid)  # stable: the shuffle's order otherwise
    voices = []
    for i in range(n):
        v, var = pairs[i % len(pairs)]
        voices.append(
            Voice(
                name=f"{v}+{var}",
                rate=rng.randint(*rate),
                pitch=rng.randint(*pitch),
                gain_db=rng.uniform(-4.0, 2.0),
            )
        )
    return voices


def synthesize(text: str, voice: Voice, out: Path, sample_rate: int = 16000,
               extra_effects: Sequence[str] = (), seed: int = 0) -> Path:
    """Speak ``text`` with ``voice`` into ``out`` (format from its suffix: .wav, .flac),
    mono, ``sample_rate`` Hz, 16 bit.  Writes atomically."""
    if not text.strip():
        raise SynthesisError(f"{out}: empty text")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        cmd = ["espeak-ng", "-v", voice.name, "-s", str(voice.rate), "-p", str(voice.pitch), "-w", raw]
        if voice.word_gap:
            cmd += ["-g", str(voice.word_gap)]
        if voice.pitch_range:
            cmd += ["-m", "--", f'<speak><prosody range="{voice.pitch_range}">{xml_escape(text)}</prosody></speak>']
        else:
            cmd += ["--", text]
        _run(cmd, out)
        tmp_out = os.path.join(tmp, "out" + out.suffix)
        effects = ["rate", str(sample_rate), "gain", f"{voice.gain_db:.2f}"]
        effects += list(voice.effects) + list(extra_effects)
        # dither off: identical files for identical inputs
        _run(["sox", "-D", "-R", raw, "-b", "16", "-c", "1", tmp_out] + effects, out)
        with replacing(out, ".part") as part:  # first onto out's file system, then into place
            os.replace(tmp_out, part)
    return out


def _run(cmd, out):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SynthesisError(f"{out}: {cmd[0]} failed ({r.returncode}): {r.stderr.strip()[:500]}")
