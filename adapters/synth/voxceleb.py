"""A mini VoxCeleb1 in VoxCeleb1's own layout, spoken by espeak-ng voices.

    <root>/VoxCeleb1/wav/idNNNNN/<video>/NNNNN.wav   16 kHz mono, numbered per video
    <root>/VoxCeleb1/iden_split.txt                  ``<1|2|3> idNNNNN/<video>/NNNNN.wav``
    <root>/VoxCeleb1/veri_test2.txt                  ``<0|1> <wav> <wav>`` (1 = same speaker)

As in the real corpus, every speaker is seen through several "videos" and each
video has its own channel (band limits, an equaliser bump, some reverb, a
noise floor and level), so a model must tell the speaker from the recording;
the identification split separates videos (one video per speaker for test,
one utterance of another for dev); the verification trials cover the test
speakers only (``id10270`` upwards, as in VoxCeleb1, whose 40 test speakers
are id10270-id10309), always pair two different videos, and are half
targets.  The other speakers are ``id10001`` upwards.

    python -m adapters.synth.voxceleb --out downloads/synth --nj 2
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import random
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from adapters.fileio import replacing
from adapters.synth.corpus import is_complete, mark_complete, random_sentence, render, vocabulary
from adapters.synth.espeak import SynthesisError, require_tools, sample_voices, synthesize

FIRST_TEST_ID, REAL_TEST_SPEAKERS = 10270, 40
# 5 videos of 2 utterances: SID tests on one video, so with 3 the models saw only 2 recording channels a
# speaker and learnt the channel (test accuracy 35-41 % against validation 70-80 %, egs/voxceleb/spk1/RESULTS.md)
DEFAULTS = dict(speakers=40, test_speakers=10, videos=5, utts_per_video=2, trials=300)


def speaker_ids(speakers: int, test_speakers: int):
    """(identification-only ids, test ids): id10001... skipping VoxCeleb1's test range."""
    test = [f"id{FIRST_TEST_ID + i}" for i in range(test_speakers)]
    skip = range(FIRST_TEST_ID, FIRST_TEST_ID + max(test_speakers, REAL_TEST_SPEAKERS))
    ids = (n for n in itertools.count(10001) if n not in skip)
    return [f"id{n}" for n in itertools.islice(ids, speakers - test_speakers)], test


def video_id(seed: int, spk: str, n: int) -> str:
    """An 11-character YouTube-like id (letters, digits, ``-`` and ``_``)."""
    digest = hashlib.sha1(f"voxceleb-{seed}-{spk}-{n}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:11]


def channel(rng: random.Random) -> dict:
    """One video's recording conditions."""
    effects = ["highpass", str(rng.randint(60, 350)), "lowpass", str(rng.randint(3000, 7500)),
               "equalizer", str(rng.randint(300, 3000)), "1q", f"{rng.uniform(-8, 8):.1f}"]
    if rng.random() < 0.5:
        effects += ["reverb", str(rng.randint(10, 50)), "50", str(rng.randint(20, 60))]
    effects += ["gain", "-n", f"{rng.uniform(-12, -3):.1f}"]  # peak level of the video
    return {"effects": tuple(effects), "snr_db": round(rng.uniform(12, 35), 1),
            "noise_color": round(rng.uniform(0.0, 0.95), 2)}


def _render_utt(text, voice, chan, noise_seed, path):  # the output path last: render() resumes by it
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        clean = synthesize(text, voice, Path(tmp) / "clean.wav", extra_effects=chan["effects"])
        x, fs = sf.read(str(clean), dtype="float64")
    g = np.random.default_rng(noise_seed)
    noise = lfilter([1.0], [1.0, -chan["noise_color"]], g.standard_normal(len(x)))  # coloured noise
    p_sig = np.mean(x ** 2) if len(x) else 0.0
    if p_sig <= 0:
        raise SynthesisError(f"{path}: silent synthesis of {text!r}")
    noise *= np.sqrt(p_sig / (np.mean(noise ** 2) * 10 ** (chan["snr_db"] / 10)))
    y = np.clip(x + noise, -1.0, 32767 / 32768)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, ".part") as part:
        sf.write(str(part), y, fs, subtype="PCM_16", format="WAV")


def _split(rng: random.Random, spk: str, videos: dict):
    """SID split of one speaker: one video to test, one utterance of another to dev."""
    names = list(videos)
    rng.shuffle(names)
    codes = {}
    for v in names:
        for rel in videos[v]:
            codes[rel] = 1
    for rel in videos[names[0]]:
        codes[rel] = 3
    codes[rng.choice(videos[names[1]])] = 2
    return codes


def _trials(rng: random.Random, test_utts: dict, n: int):
    """``n`` trials (rounded down to even, fewer if the speakers run out), half of them
    targets, over the test speakers, always across two videos."""
    utts = [(spk, rel.split("/")[1], rel) for spk in sorted(test_utts) for rel in test_utts[spk]]
    target, nontarget = [], []
    for (s1, v1, a), (s2, v2, b) in itertools.combinations(utts, 2):
        if v1 != v2:
            (target if s1 == s2 else nontarget).append((a, b))
    half = min(n // 2, len(target), len(nontarget))
    trials = [(1, *p) for p in rng.sample(target, half)] + [(0, *p) for p in rng.sample(nontarget, half)]
    trials = [(y, a, b) if rng.random() < 0.5 else (y, b, a) for y, a, b in trials]
    rng.shuffle(trials)
    trials.sort(key=lambda t: t[1])  # grouped by enrolment utterance, as the official lists are
    return trials


def plan(root: Path, speakers: int, test_speakers: int, videos: int, utts_per_video: int,
         trials: int, seed: int = 0):
    """The jobs (_render_utt, (..., path)), iden_split lines and trials, all from ``seed``."""
    if not 2 <= test_speakers < speakers:
        raise ValueError(f"need 2 <= test_speakers < speakers, got {test_speakers} of {speakers}")
    if videos < 2 or utts_per_video < 1:
        raise ValueError(f"need at least 2 videos of 1 utterance per speaker, got {videos} x {utts_per_video}")
    if (videos - 1) * utts_per_video < 2:
        raise ValueError(f"{videos} videos x {utts_per_video} utterances leave no training utterance "
                         "(one video goes to test, one utterance of another to dev)")
    rng = random.Random(seed)
    words = vocabulary()
    train_ids, test_ids = speaker_ids(speakers, test_speakers)
    voices = sample_voices(speakers, rng)
    wav = root / "VoxCeleb1" / "wav"
    jobs, split, test_utts = [], {}, {}
    for spk, voice in zip(train_ids + test_ids, voices):
        by_video = {}
        for v in range(videos):
            vid = video_id(seed, spk, v)
            chan = channel(rng)
            by_video[vid] = []
            for u in range(1, utts_per_video + 1):
                rel = f"{spk}/{vid}/{u:05d}.wav"
                text = random_sentence(rng, words, 6, 12)
                jobs.append((_render_utt, (text, voice, chan, rng.randrange(2 ** 31), wav / rel)))
                by_video[vid].append(rel)
        split.update(_split(rng, spk, by_video))
        if spk in test_ids:
            test_utts[spk] = [r for rels in by_video.values() for r in rels]
    return jobs, split, _trials(rng, test_utts, trials)


def build(root, speakers: int = DEFAULTS["speakers"], test_speakers: int = DEFAULTS["test_speakers"],
          videos: int = DEFAULTS["videos"], utts_per_video: int = DEFAULTS["utts_per_video"],
          trials: int = DEFAULTS["trials"], seed: int = 0, nj: int = 2) -> Path:
    """Synthesize (or find cached) the corpus under ``root``; returns ``root/VoxCeleb1``."""
    root = Path(root)
    spec = {"corpus": "voxceleb1", "version": 1, "speakers": speakers, "test_speakers": test_speakers,
            "videos": videos, "utts_per_video": utts_per_video, "trials": trials, "seed": seed}
    out = root / "VoxCeleb1"
    if is_complete(root, spec):
        return out
    jobs, split, trial_list = plan(root, speakers, test_speakers, videos, utts_per_video, trials, seed)
    require_tools()
    render(jobs, nj, desc="synthesizing mini VoxCeleb1")
    (out / "iden_split.txt").write_text("".join(f"{split[r]} {r}\n" for r in sorted(split)))
    (out / "veri_test2.txt").write_text("".join(f"{y} {a} {b}\n" for y, a, b in trial_list))
    mark_complete(root, spec, {"utterances": len(jobs), "trials": len(trial_list),
                               "targets": sum(t[0] for t in trial_list)})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    for name, default in DEFAULTS.items():
        ap.add_argument(f"--{name}", type=int, default=default)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nj", type=int, default=2)
    a = ap.parse_args(argv)
    try:
        root = build(a.out, a.speakers, a.test_speakers, a.videos, a.utts_per_video, a.trials, a.seed, a.nj)
    except (ValueError, SynthesisError) as e:
        raise SystemExit(f"error: {e}")
    print(root)


if __name__ == "__main__":
    main()
