"""A Euphonia-like impaired-speech corpus in TORGO's own layout, spoken by espeak-ng.

    <root>/TORGO/<spk>/Session<N>/wav_arrayMic/<nnnn>.wav
    <root>/TORGO/<spk>/Session<N>/prompts/<nnnn>.txt

Speakers are named as in TORGO: ``F01 M01 ...`` have impaired speech, ``FC01 MC01
...`` are typical (control) speakers.  Every impaired speaker has its own fixed
mix of what makes dysarthric speech hard to recognise, each at its own severity:

* slow and uneven rate (a slow espeak rate, long pauses between words, and a
  tempo that changes from utterance to utterance),
* monotone or unstable pitch (SSML prosody range x-low, or x-high with a pitch
  bend inside the utterance),
* breathiness and noise (additive noise at a low SNR),
* tremor (amplitude modulation at 4-8 Hz),
* imprecise articulation (a low-pass that removes the consonants' high band, and
  overdrive).

Every take is a recording of its own, as in TORGO, where a speaker reads a prompt again in
another session: its tempo, pitch and noise floor differ a little from every other take, so a
repeated prompt is never a sample-for-sample copy of a training utterance.

Prompts are TORGO-like: single words and short phrases over a small closed word list,
plus, as in TORGO, prompts that are not speech to transcribe (image references
and bracketed instructions), which the preparation skips.

    python -m adapters.synth.torgo --out downloads/torgo_synth --impaired 16 --nj 2
"""
from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from adapters.fileio import replacing
from adapters.synth.corpus import begin, is_complete, mark_complete, render, vocabulary
from adapters.synth.espeak import SynthesisError, Voice, require_tools, sample_voices, synthesize

DEFAULTS = dict(impaired=16, typical=4, prompts=40, sessions=2, vocab=20)
# TORGO's single-word prompts are digits, commands, the alphabet's words and everyday words that
# every speaker reads; ours are the same kind, a closed list shared by every speaker (the
# default takes the first 20: digits and commands)
WORDS = (
    "zero one two three four five six seven eight nine yes no up down left right stop go on off "
    "forward back open close help water food phone doctor nurse hello goodbye please thanks "
    "mother father house chair table window door light music book paper again morning night"
).split()
MAX_IMPAIRED = 128
FEATURES = ("rate", "pitch", "breath", "tremor", "articulation")
# prompts that TORGO has and that are not speech to transcribe
NON_SPEECH = (
    "[say 'ah-p-eee' repeatedly]", "[relax your mouth in its normal position]",
    "input/images/{n}.jpg", "[describe the picture]", "xxx",
)


def speaker_names(impaired: int, typical: int):
    if not 1 <= impaired <= MAX_IMPAIRED:
        raise ValueError(f"impaired speakers must be 1..{MAX_IMPAIRED}, got {impaired}")
    imp = [f"{'F' if i % 2 else 'M'}{i + 1:02d}" for i in range(impaired)]
    typ = [f"{'FC' if i % 2 else 'MC'}{i + 1:02d}" for i in range(typical)]
    return imp, typ


def impairment(rng: random.Random) -> dict:
    """One impaired speaker's fixed mix: 2-4 of the features, each with a severity."""
    chosen = rng.sample(FEATURES, rng.randint(2, 4))
    return {f: round(rng.uniform(0.3, 1.0), 2) for f in chosen}


def impaired_voice(base: Voice, mix: dict) -> Voice:
    rate, gap, prange, effects = base.rate, 0, "", []
    if "rate" in mix:
        s = mix["rate"]
        rate = int(base.rate - s * 70)  # 60-140 wpm
        gap = int(5 + s * 25)  # 50-300 ms between words
    if "pitch" in mix:
        prange = "x-low" if mix["pitch"] < 0.65 else "x-high"
    if "tremor" in mix:
        s = mix["tremor"]
        effects += ["tremolo", f"{4 + 4 * s:.1f}", f"{20 + 50 * s:.0f}"]
    if "articulation" in mix:
        s = mix["articulation"]
        effects += ["lowpass", str(int(3400 - 2000 * s)), "overdrive", f"{5 + 15 * s:.0f}"]
    return Voice(base.name, max(rate, 60), base.pitch, tuple(effects), base.gain_db, gap, prange)


def _prompt_text(rng: random.Random, words, n: int) -> str:
    if rng.random() < 0.08:
        return rng.choice(NON_SPEECH).format(n=rng.randint(1, 99))
    return " ".join(rng.choice(words) for _ in range(rng.choice((1, 1, 1, 2, 2, 3))))


def _render_utt(text, voice, per_utt, path):  # the output path last: render() resumes by it
    path = Path(path)
    extra = []
    if per_utt.get("tempo"):
        extra += ["tempo", f"{per_utt['tempo']:.3f}"]
    if per_utt.get("cents"):
        extra += ["pitch", f"{per_utt['cents']:.0f}"]
    if per_utt.get("bend"):
        extra += ["bend", per_utt["bend"]]
    spoken = text.strip("[]").replace("input/images/", "picture ").replace(".jpg", "")
    with tempfile.TemporaryDirectory() as tmp:
        clean = synthesize(spoken, voice, Path(tmp) / "clean.wav", extra_effects=extra)
        x, fs = sf.read(str(clean), dtype="float64")
    snr = per_utt.get("snr_db")
    if snr is not None:
        p_sig = np.mean(x ** 2) if len(x) else 0.0
        if p_sig <= 0:
            raise SynthesisError(f"{path}: silent synthesis of {text!r}")
        noise = np.random.default_rng(per_utt["noise_seed"]).standard_normal(len(x))
        x = np.clip(x + noise * np.sqrt(p_sig / 10 ** (snr / 10)), -1.0, 32767 / 32768)
    with replacing(path, ".part") as part:
        sf.write(str(part), x, fs, subtype="PCM_16", format="WAV")


def plan(root: Path, impaired: int, typical: int, prompts: int, sessions: int, vocab: int, seed: int):
    rng = random.Random(seed)
    words = (list(WORDS) + [w for w in vocabulary() if w not in WORDS])[:vocab]
    imp, typ = speaker_names(impaired, typical)
    voices = sample_voices(impaired + typical, rng, rate=(140, 190))
    jobs, prompt_files, speakers = [], {}, {}
    for k, spk in enumerate(imp + typ):
        mix = impairment(rng) if spk in imp else {}
        voice = impaired_voice(voices[k], mix) if mix else voices[k]
        speakers[spk] = {"voice": voice.name, "impairment": mix}
        for n in range(prompts):
            sess = 1 + n * sessions // prompts
            d = root / "TORGO" / spk / f"Session{sess}"
            num = f"{n + 1:04d}"
            text = _prompt_text(rng, words, n)
            # every take differs from the speaker's other takes of the same prompt (a copy in
            # the test set of a training utterance would score memory, not recognition)
            per_utt = {"tempo": rng.uniform(0.95, 1.05), "cents": rng.uniform(-60, 60),
                       "snr_db": rng.uniform(35, 45)}
            if "rate" in mix:  # uneven: the tempo changes from one utterance to the next
                per_utt["tempo"] = rng.uniform(1 - 0.3 * mix["rate"], 1 + 0.15 * mix["rate"])
            if mix.get("pitch", 0) >= 0.65:
                per_utt["bend"] = f"0.1,{rng.choice((-1, 1)) * int(200 * mix['pitch'])},0.3"
            if "breath" in mix:
                per_utt["snr_db"] = 25 - 20 * mix["breath"]
            per_utt["noise_seed"] = rng.randint(0, 2 ** 31)
            prompt_files[d / "prompts" / f"{num}.txt"] = text + "\n"
            jobs.append((_render_utt, (text, voice, per_utt, d / "wav_arrayMic" / f"{num}.wav")))
    return jobs, prompt_files, speakers


def listing(root, impaired=DEFAULTS["impaired"], typical=DEFAULTS["typical"], prompts=DEFAULTS["prompts"],
            sessions=DEFAULTS["sessions"], vocab=DEFAULTS["vocab"], seed: int = 0):
    """``(wav path, prompt text)`` of every recording ``build`` would write under ``root``,
    without synthesizing anything (``adapters.data.torgo.utterances`` prepares them)."""
    jobs, prompt_files, _ = plan(Path(root), impaired, typical, prompts, sessions, vocab, seed)
    wavs = [args[-1] for _, args in jobs]
    return [(w, prompt_files[w.parent.parent / "prompts" / f"{w.stem}.txt"]) for w in wavs]


def build(root, impaired=DEFAULTS["impaired"], typical=DEFAULTS["typical"], prompts=DEFAULTS["prompts"],
          sessions=DEFAULTS["sessions"], vocab=DEFAULTS["vocab"], seed: int = 0, nj: int = 2) -> Path:
    """Synthesize (or find cached) the corpus under ``root``; returns ``root/TORGO``."""
    root = Path(root)
    spec = {"corpus": "torgo", "version": 4, "seed": seed, "impaired": impaired, "typical": typical,
            "prompts": prompts, "sessions": sessions, "vocab": vocab}
    if is_complete(root, spec):
        return root / "TORGO"
    require_tools()
    begin(root, spec)
    jobs, prompt_files, speakers = plan(root, impaired, typical, prompts, sessions, vocab, seed)
    for path, text in prompt_files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for _, args in jobs:
        args[-1].parent.mkdir(parents=True, exist_ok=True)
    render(jobs, nj, desc="synthesizing TORGO-like impaired speech")
    mark_complete(root, spec, {"utterances": len(jobs), "speakers": speakers})
    return root / "TORGO"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--impaired", type=int, default=DEFAULTS["impaired"],
                    help=f"impaired speakers (each a task), 1..{MAX_IMPAIRED}")
    ap.add_argument("--typical", type=int, default=DEFAULTS["typical"], help="typical (control) speakers")
    ap.add_argument("--prompts", type=int, default=DEFAULTS["prompts"], help="prompts per speaker")
    ap.add_argument("--sessions", type=int, default=DEFAULTS["sessions"])
    ap.add_argument("--vocab", type=int, default=DEFAULTS["vocab"], help="words the prompts draw from")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nj", type=int, default=2)
    a = ap.parse_args(argv)
    print(build(a.out, a.impaired, a.typical, a.prompts, a.sessions, a.vocab, a.seed, a.nj))


if __name__ == "__main__":
    main()
