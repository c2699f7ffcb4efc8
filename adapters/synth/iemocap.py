"""A mini IEMOCAP in the real release's own layout, acted by espeak-ng voices.

    <out>/IEMOCAP_full_release/Session<N>/sentences/wav/<dialog>/<utt>.wav
    <out>/IEMOCAP_full_release/Session<N>/dialog/EmoEvaluation/<dialog>.txt
    <out>/IEMOCAP_full_release/Session<N>/dialog/transcriptions/<dialog>.txt

Five sessions, each with one female and one male actor (ten voices, each its
own ``sample_voices`` voice with a variant of the actor's gender).  Dialogs are
named as in IEMOCAP (``Ses01F_impro01``, ``Ses01M_script02_1``), utterances by
the speaking actor's gender and turn (``Ses01F_impro01_M003``), and the
EmoEvaluation files use IEMOCAP's text format (a ``%`` header, one
``[start - end]<tab>utt<tab>code<tab>[V, A, D]`` line per utterance followed by
evaluator lines), so ``adapters.data.iemocap`` prepares this corpus and the real
one with the same code.

The emotion is in the audio, not only in the label: every emotion changes the
speaker's rate and pitch, loudness and timbre (angry: fast, high, loud,
overdriven; sad: slow, low, quiet, low-passed; happy and excited: high, fast,
tremolo; neutral: the actor's own voice).  About one utterance in ten carries a
code that the SUPERB protocol drops (fru, sur, xxx), as the real corpus does.

    python -m adapters.synth.iemocap --out downloads/synth --nj 2
"""
from __future__ import annotations

import argparse
import json
import math
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import soundfile as sf

from adapters.synth.corpus import (is_complete, mark_complete, random_sentence, render, spec_hash,
                                   vocabulary)
from adapters.synth.espeak import SynthesisError, Voice, require_tools, sample_voices, synthesize

RELEASE = "IEMOCAP_full_release"
SESSIONS = 5
KEPT_CYCLE = ("neu", "hap", "ang", "sad")  # hap alternates with exc (SUPERB merges them)
DROPPED_CYCLE = ("fru", "sur", "xxx")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "Annie", "Alicia", "Andrea", "belinda", "linda",
                   "anika", "steph")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "Andy", "Denis", "Gene", "Jacky",
                 "Lee", "Mario", "Michael", "Mike", "paul", "rob", "zac", "david", "john", "adam")
IMPRO = tuple(f"impro{i:02d}" for i in range(1, 9))
SCRIPT = ("script01_1", "script01_2", "script01_3", "script02_1", "script02_2", "script03_1", "script03_2")
MAX_TURNS_PER_DIALOG = 12  # utterances per actor before a new dialog starts


@dataclass(frozen=True)
class Style:
    """How an emotion changes a voice: rate factor, pitch offset, peak level (dBFS), sox effects."""
    rate: float
    pitch: int
    level_db: float
    effects: tuple = ()


STYLES: Dict[str, Style] = {
    "neu": Style(1.0, 0, -6.0),
    "hap": Style(1.12, 18, -4.0, ("tremolo", "5", "30")),
    "exc": Style(1.25, 25, -3.0, ("tremolo", "7", "40")),
    "ang": Style(1.2, 12, -1.0, ("overdrive", "12", "20")),
    "sad": Style(0.75, -15, -14.0, ("lowpass", "2000")),
    "fru": Style(0.95, -5, -4.0, ("overdrive", "5", "20")),
    "sur": Style(1.1, 30, -4.0),
    "xxx": Style(1.05, 6, -5.0, ("tremolo", "3", "20")),
}
# the categorical names the evaluators use, and typical (valence, activation, dominance)
CATEGORY = {"neu": "Neutral", "hap": "Happiness", "exc": "Excited", "ang": "Anger", "sad": "Sadness",
            "fru": "Frustration", "sur": "Surprise"}
VAD = {"neu": (3, 2.5, 2.5), "hap": (4, 3, 3), "exc": (4, 3.5, 3), "ang": (1.5, 4, 4),
       "sad": (1.5, 2, 2), "fru": (2, 3.5, 3.5), "sur": (3.5, 3.5, 3), "xxx": (2.5, 3, 3)}


@dataclass(frozen=True)
class Utt:
    utt: str
    code: str
    text: str
    wav: Path


def emotion_codes(n_kept: int, n_dropped: int, actor: int, rng: random.Random) -> List[str]:
    """One actor's codes: ``n_kept`` cycling over the four classes (hap/exc alternating),
    ``n_dropped`` over fru/sur/xxx, shuffled.  The cycle starts at ``actor`` so that even
    two utterances per actor cover every class across the ten actors."""
    codes, happy = [], actor
    for i in range(n_kept):
        c = KEPT_CYCLE[(i + actor) % 4]
        if c == "hap":
            c, happy = ("hap", "exc")[happy % 2], happy + 1
        codes.append(c)
    codes += [DROPPED_CYCLE[(i + actor) % 3] for i in range(n_dropped)]
    rng.shuffle(codes)
    return codes


def actor_voices(rng: random.Random) -> Dict[str, Voice]:
    """``Ses01F`` .. ``Ses05M`` -> a base voice: accent, rate and pitch from sample_voices,
    the variant (timbre) and pitch range from the actor's gender."""
    base = sample_voices(2 * SESSIONS, rng, rate=(140, 190))
    fem, male = rng.sample(FEMALE_VARIANTS, SESSIONS), rng.sample(MALE_VARIANTS, SESSIONS)
    voices = {}
    for s in range(SESSIONS):
        for g, variants, pitch in (("F", fem, (50, 75)), ("M", male, (20, 45))):
            v = base[2 * s + (g == "M")]
            accent = v.name.split("+")[0]
            voices[f"Ses{s + 1:02d}{g}"] = Voice(f"{accent}+{variants[s]}", v.rate,
                                                 rng.randint(*pitch), (), v.gain_db)
    return voices


def styled(voice: Voice, code: str, rng: random.Random) -> Tuple[Voice, tuple]:
    """The actor's voice acting ``code`` (with a little take-to-take variation), and the
    final sox effects that set its loudness (peak-normalised to the emotion's level,
    shifted by the actor's own gain)."""
    st = STYLES[code]
    rate = max(80, round(voice.rate * st.rate * rng.uniform(0.95, 1.05)))
    pitch = min(99, max(0, voice.pitch + st.pitch + rng.randint(-4, 4)))
    level = min(-0.5, st.level_db + voice.gain_db / 2 + rng.uniform(-1.0, 1.0))
    return Voice(voice.name, rate, pitch, st.effects, 0.0), ("gain", "-n", f"{level:.2f}")


def _render_utt(text, voice, effects, path):  # the output path last: render() resumes by it
    synthesize(text, voice, Path(path), 16000, effects)


def dialog_names(session: int, n: int) -> List[str]:
    """``n`` IEMOCAP-style dialog names of a session: improvisations and scripts in turn,
    the marker-wearing actor (the letter after ``Ses0N``) alternating."""
    names, impro, script = [], list(IMPRO), list(SCRIPT)
    for k in range(n):
        pool = impro if (k % 2 == 0 and impro) or not script else script
        if not pool:
            raise SynthesisError(f"more than {len(IMPRO) + len(SCRIPT)} dialogs per session")
        g = "FM"[(k + k // 2) % 2]
        names.append(f"Ses{session:02d}{g}_{pool.pop(0)}")
    return names


def plan(release: Path, utts_per_actor: int, dropped_ratio: float, seed: int):
    """The render jobs and, per dialog, its utterances in spoken order (all from ``seed``)."""
    rng = random.Random(seed)
    words = vocabulary()
    voices = actor_voices(rng)
    n_dropped = max(1, round(utts_per_actor * dropped_ratio)) if dropped_ratio > 0 else 0
    per_actor = utts_per_actor + n_dropped
    n_dialogs = min(len(IMPRO) + len(SCRIPT), math.ceil(per_actor / MAX_TURNS_PER_DIALOG))
    jobs, dialogs = [], {}
    for s in range(1, SESSIONS + 1):
        names = dialog_names(s, n_dialogs)
        # each actor's codes, dealt out over the session's dialogs
        turns = {g: [[] for _ in names] for g in "FM"}
        for g in "FM":
            actor = 2 * (s - 1) + (g == "M")
            for i, code in enumerate(emotion_codes(utts_per_actor, n_dropped, actor, rng)):
                turns[g][i * n_dialogs // per_actor].append(code)
        for d, name in enumerate(names):
            queue = {g: list(turns[g][d]) for g in "FM"}
            count = {"F": 0, "M": 0}
            g = rng.choice("FM")
            utts = []
            while queue["F"] or queue["M"]:
                other = "M" if g == "F" else "F"
                if not queue[g] or (queue[other] and rng.random() < 0.75):
                    g = other  # mostly turn-taking, sometimes two in a row
                code = queue[g].pop(0)
                utt = f"{name}_{g}{count[g]:03d}"
                count[g] += 1
                text = random_sentence(rng, words, 3, 8)
                wav = release / f"Session{s}" / "sentences" / "wav" / name / f"{utt}.wav"
                voice, effects = styled(voices[f"Ses{s:02d}{g}"], code, rng)
                jobs.append((_render_utt, (text, voice, effects, wav)))
                utts.append(Utt(utt, code, text, wav))
            dialogs[(s, name)] = utts
    return jobs, dialogs


def _evaluators(code: str, rng: random.Random) -> Tuple[List[str], Tuple[float, float, float]]:
    """Evaluator lines (categorical C-*, dimensional A-*) and their mean V, A, D."""
    others = [c for c in CATEGORY.values() if c != CATEGORY.get(code)]
    if code == "xxx":  # no majority: every evaluator says something else
        cats = rng.sample(others, 3)
    else:
        cats = [CATEGORY[code]] * 2 + [rng.choice([CATEGORY[code], rng.choice(others)])]
    who = sorted(rng.sample(("E1", "E2", "E3", "E4", "E5", "E6"), 3))
    lines = [f"C-{e}:\t{c};\t()" for e, c in zip(who, cats)]
    dims = []
    for e in who[:2]:
        vad = [min(5, max(1, round(m + rng.uniform(-1, 1)))) for m in VAD[code]]
        dims.append(vad)
        lines.append(f"A-{e}:\tval {vad[0]}; act {vad[1]}; dom  {vad[2]};\t()")
    mean = tuple(sum(d[i] for d in dims) / len(dims) for i in range(3))
    return lines, mean


def write_annotations(release: Path, dialogs, rng: random.Random):
    """EmoEvaluation and transcription files, timed by the rendered audio's durations."""
    for (s, name), utts in dialogs.items():
        t = rng.uniform(2.0, 8.0)
        blocks, trans = [], []
        for u in utts:
            start, end = t, t + sf.info(str(u.wav)).duration
            t = end + rng.uniform(0.3, 2.0)
            lines, (v, a, d) = _evaluators(u.code, rng)
            blocks.append("\n".join([f"[{start:.4f} - {end:.4f}]\t{u.utt}\t{u.code}\t"
                                     f"[{v:.4f}, {a:.4f}, {d:.4f}]"] + lines))
            trans.append(f"{u.utt} [{start:08.4f}-{end:08.4f}]: {u.text.capitalize()}.")
        dialog = release / f"Session{s}" / "dialog"
        (dialog / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
        (dialog / "transcriptions").mkdir(parents=True, exist_ok=True)
        header = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
        (dialog / "EmoEvaluation" / f"{name}.txt").write_text(header + "\n\n".join(blocks) + "\n\n")
        (dialog / "transcriptions" / f"{name}.txt").write_text("\n".join(trans) + "\n")


def _claim(root: Path, spec: dict):
    """Start (or resume) a synthesis into ``root``.  A release folder left by a run with
    another spec is removed; one this synthesizer did not write (the real corpus?) is
    never touched."""
    release, marker = root / RELEASE, root / ".synth_iemocap_spec.json"
    if release.exists():
        if not marker.is_file():
            raise SynthesisError(f"{release} exists but was not written by this synthesizer "
                                 f"(no {marker.name}); choose another output folder")
        try:
            same = json.loads(marker.read_text()).get("hash") == spec_hash(spec)
        except ValueError:
            same = False
        if not same:
            shutil.rmtree(release)
    root.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"hash": spec_hash(spec), "spec": spec}))


def build(root, utts_per_actor: int = 40, seed: int = 0, nj: int = 2, scale: float = 1.0,
          dropped_ratio: float = 0.1) -> Path:
    """Synthesize (or find cached) the corpus under ``root``; returns ``root/IEMOCAP_full_release``.

    Each of the ten actors speaks ``round(utts_per_actor * scale)`` utterances of the four
    SUPERB classes (neu, hap/exc, ang, sad in equal shares) plus ``dropped_ratio`` as many
    (at least one) labelled fru, sur or xxx.
    """
    root = Path(root)
    n = max(1, round(utts_per_actor * scale))
    spec = {"corpus": "iemocap", "version": 1, "utts_per_actor": n, "dropped_ratio": dropped_ratio,
            "seed": seed}
    release = root / RELEASE
    if is_complete(root, spec):
        return release
    require_tools()
    _claim(root, spec)
    jobs, dialogs = plan(release, n, dropped_ratio, seed)
    render(jobs, nj, desc="synthesizing mini IEMOCAP")
    write_annotations(release, dialogs, random.Random(f"{seed}-annotations"))
    codes: Dict[str, int] = {}
    for utts in dialogs.values():
        for u in utts:
            codes[u.code] = codes.get(u.code, 0) + 1
    mark_complete(root, spec, {"utterances": len(jobs), "dialogs": len(dialogs), "codes": codes})
    return release


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--utts_per_actor", type=int, default=40,
                    help="4-class utterances per actor (ten actors); about 10%% more with dropped codes")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply --utts_per_actor (tiny test runs: 0.1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nj", type=int, default=2)
    a = ap.parse_args(argv)
    print(build(a.out, a.utts_per_actor, a.seed, a.nj, a.scale))


if __name__ == "__main__":
    main()
