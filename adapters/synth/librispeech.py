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

from adapters.synth.corpus import begin, is_complete, mark_complete, random_sentence, render, spec_hash, vocabulary
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


TRAIN_SET = "train-clean-100"


def plan(root: Path, sets=None, seed: int = 0, train_speakers: int | None = None,
         train_chapters: int | None = None):
    """The jobs (synthesize, (text, voice, path)) and transcripts, all from ``seed``.

    ``train_chapters``: each training speaker reads this many chapters (by default the set's two):
    the first ones exactly as without it, the others drawn from a random stream of their own, so
    the training set grows as a superset and the held-out sets stay exactly as they were.

    ``train_speakers``: the training set's utterances spread over that many speakers, one chapter
    each (by default its speakers read two chapters each).  The held-out sets stay exactly as
    without it (same sentences, voices and ids), so results with and without it compare on the
    same test items; the training set is then drawn from its own random stream, its voices from
    the (voice, variant) pairs no held-out speaker uses."""
    sets = sets or DEFAULT_SETS
    jobs, transcripts = _plan_sets(root, sets, seed)
    if train_chapters is not None and TRAIN_SET in sets:
        if train_speakers is not None:
            raise SystemExit("--train_chapters and --train_speakers: give one of them, not both")
        _more_chapters(root, sets, seed, train_chapters, jobs, transcripts)
    if train_speakers is None or TRAIN_SET not in sets:
        return jobs, transcripts
    if train_speakers < 1:
        raise SystemExit(f"--train_speakers {train_speakers}: must be at least 1")
    train_dir = root / "LibriSpeech" / TRAIN_SET
    held_out = {a[1].name for _, a in jobs if train_dir not in a[2].parents}
    jobs = [j for j in jobs if train_dir not in j[1][2].parents]
    transcripts = {p: t for p, t in transcripts.items() if train_dir not in p.parents}
    n, chapters, per_chapter, hard = sets[TRAIN_SET]
    per_speaker = max(1, round(n * chapters * per_chapter / train_speakers))
    rng = random.Random(f"{seed}-{TRAIN_SET}-{train_speakers}")
    words = vocabulary()
    voices = sample_voices(train_speakers, rng, avoid=held_out)
    # ids after every id the sets' plan gives (100 + a speaker's place in it): never a held-out one
    first = 100 + sum(spec[0] for spec in sets.values())
    for i, voice in enumerate(voices):
        _add_chapter(root, TRAIN_SET, str(first + i), voice, per_speaker, rng, words, jobs, transcripts)
    return jobs, transcripts


def _more_chapters(root, sets, seed, train_chapters, jobs, transcripts):
    _, chapters, per_chapter, _ = sets[TRAIN_SET]
    if train_chapters < chapters:
        raise SystemExit(f"--train_chapters {train_chapters}: must be at least the training set's "
                         f"{chapters} chapters a speaker")
    train_dir = root / "LibriSpeech" / TRAIN_SET
    voices = {}  # the speaker's own voice, as the plan gave it (a job's path names its speaker)
    for _, (_, voice, path) in jobs:
        if train_dir in path.parents:
            voices.setdefault(path.parent.parent.name, voice)
    taken = {p.parent.name for p in transcripts if train_dir in p.parents}
    rng = random.Random(f"{seed}-{TRAIN_SET}-chapters-{train_chapters}")
    words = vocabulary()
    for spk, voice in voices.items():
        for _ in range(train_chapters - chapters):
            _add_chapter(root, TRAIN_SET, spk, voice, per_chapter, rng, words, jobs, transcripts, taken)


def _add_chapter(root, set_name, spk, voice, per_chapter, rng, words, jobs, transcripts, taken=None):
    chapter = str(1000 + rng.randint(0, 8999))
    while taken is not None and chapter in taken:  # a speaker's new chapter never merges into an old one
        chapter = str(1000 + rng.randint(0, 8999))
    if taken is not None:
        taken.add(chapter)
    d = root / "LibriSpeech" / set_name / spk / chapter
    lines = []
    for u in range(per_chapter):
        uid = f"{spk}-{chapter}-{u:04d}"
        text = random_sentence(rng, words)
        lines.append(f"{uid} {text.upper()}")
        jobs.append((synthesize, (text, voice, d / f"{uid}.flac")))
    transcripts[d / f"{spk}-{chapter}.trans.txt"] = "\n".join(lines) + "\n"


def _plan_sets(root: Path, sets, seed: int):
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
                _add_chapter(root, name, spk, voice, per_chapter, rng, words, jobs, transcripts)
    return jobs, transcripts


def build(root, sets=None, seed: int = 0, nj: int = 2, train_speakers: int | None = None,
          train_chapters: int | None = None) -> Path:
    """Synthesize (or find cached) the corpus under ``root``; returns ``root/LibriSpeech``."""
    root = Path(root)
    sets = sets or DEFAULT_SETS
    spec = {"corpus": "librispeech", "version": 2, "seed": seed,
            "sets": {k: list(v) for k, v in sets.items()}}
    if train_speakers is not None:  # absent otherwise: corpora synthesized before it stay valid
        spec["train_speakers"] = train_speakers
    if train_chapters is not None:
        spec["train_chapters"] = train_chapters
    if is_complete(root, spec):
        return root / "LibriSpeech"
    require_tools()
    # another spec's files go first: its speakers' transcripts would otherwise join the data
    begin(root, spec)
    jobs, transcripts = plan(root, sets, seed, train_speakers, train_chapters)
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
    ap.add_argument("--train_speakers", type=int, default=None,
                    help="spread the training set's utterances over this many speakers, one chapter "
                         "each (default: 48 speakers, two chapters each); the dev and test sets stay "
                         "the same")
    ap.add_argument("--train_chapters", type=int, default=None,
                    help="chapters each training speaker reads (default: 2); the first two as without "
                         "it, the dev and test sets the same: more training data, the same test items")
    ap.add_argument("--lm_sentences", type=int, default=LM_SENTENCES,
                    help=f"sentences of the language-model text {LM_TEXT} (0: none)")
    a = ap.parse_args(argv)
    root = build(a.out, scaled_sets(a.scale, a.test_scale, a.test_other_scale), a.seed, a.nj, a.train_speakers,
                 a.train_chapters)
    if a.lm_sentences > 0:
        build_lm_text(a.out, a.lm_sentences, a.seed + 1)
    print(root)


if __name__ == "__main__":
    main()
