"""A mini Speech Commands (v0.01 layout) spoken by espeak-ng voices.

    <root>/<word>/<hash>_nohash_<n>.wav          one-second 16 kHz clips
    <root>/validation_list.txt, testing_list.txt  ``<word>/<file>`` lines
    <root>/_background_noise_/*.wav               long noise recordings (sox synth)

As in the real corpus, a speaker is a hash, the lists split by speaker, and
each clip is padded or cut to exactly one second.
"""
from __future__ import annotations

import hashlib
import random
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from adapters.synth.corpus import is_complete, mark_complete, render
from adapters.synth.espeak import require_tools, sample_voices, synthesize

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
# v0.01's other words (the ``_unknown_`` class of the SUPERB protocol)
AUXILIARY = ("bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin",
             "nine", "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero")
NOISES = ("white", "pink", "brown")


def _one_second(path: Path, text, voice):
    synthesize(text, voice, path)
    x, fs = sf.read(str(path), dtype="int16")
    # centre the word in exactly one second, as the real clips are
    nz = np.flatnonzero(np.abs(x) > 300)
    if len(nz):
        x = x[max(0, nz[0] - 800): nz[-1] + 800]
    out = np.zeros(fs, dtype=np.int16)
    x = x[:fs]
    s = (fs - len(x)) // 2
    out[s: s + len(x)] = x
    sf.write(str(path), out, fs, subtype="PCM_16")


def plan(root: Path, speakers: int, takes: int, seed: int, words=COMMANDS + AUXILIARY,
         aux_per_speaker=None):
    """Clips to render and the two lists.  ``aux_per_speaker``: each speaker says every
    command but only that many of the other words (None: all), which keeps the
    ``_unknown_`` class from outnumbering the commands in a small corpus."""
    rng = random.Random(seed)
    voices = sample_voices(speakers, rng, rate=(120, 210))
    jobs, lists = [], {"validation": [], "testing": []}
    for i, voice in enumerate(voices):
        h = hashlib.sha1(f"{seed}-{i}".encode()).hexdigest()[:8]
        # speakers, not clips, are split (the real lists do the same by hash)
        split = "testing" if i % 10 == 0 else "validation" if i % 10 == 1 else "train"
        said = words
        if aux_per_speaker is not None:
            said = [w for w in words if w in COMMANDS] + rng.sample(
                [w for w in words if w not in COMMANDS], aux_per_speaker)
        for w in said:
            for n in range(takes):
                rel = f"{w}/{h}_nohash_{n}.wav"
                jobs.append((_render_clip, (w, voice, root / rel)))
                if split != "train":
                    lists[split].append(rel)
    return jobs, lists


def _render_clip(text, voice, path):  # the output path last: render() resumes by it
    _one_second(Path(path), text, voice)


def build(root, speakers: int = 60, takes: int = 1, seed: int = 0, nj: int = 2,
          noise_sec: int = 30, aux_per_speaker=None) -> Path:
    root = Path(root)
    spec = {"corpus": "speech_commands", "version": 1, "speakers": speakers, "takes": takes,
            "seed": seed, "noise_sec": noise_sec}
    if aux_per_speaker is not None:
        spec["aux_per_speaker"] = aux_per_speaker
    if is_complete(root, spec):
        return root
    require_tools()
    jobs, lists = plan(root, speakers, takes, seed, aux_per_speaker=aux_per_speaker)
    render(jobs, nj, desc="synthesizing mini Speech Commands")
    for split, rels in lists.items():
        (root / f"{split}_list.txt").write_text("\n".join(sorted(rels)) + "\n")
    noise_dir = root / "_background_noise_"
    noise_dir.mkdir(parents=True, exist_ok=True)
    for i, kind in enumerate(NOISES):
        out = noise_dir / f"{kind}_noise.wav"
        if not out.is_file():
            subprocess.run(["sox", "-D", "-R", "-n", "-r", "16000", "-b", "16", "-c", "1", str(out),
                            "synth", str(noise_sec), f"{kind}noise", "vol", "0.3"], check=True)
    mark_complete(root, spec, {"clips": len(jobs)})
    return root


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--speakers", type=int, default=120)
    ap.add_argument("--takes", type=int, default=1, help="repetitions of each word per speaker")
    ap.add_argument("--aux_per_speaker", type=int, default=3,
                    help="non-command words per speaker (-1: all twenty)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nj", type=int, default=2)
    a = ap.parse_args(argv)
    aux = None if a.aux_per_speaker < 0 else a.aux_per_speaker
    print(build(a.out, a.speakers, a.takes, a.seed, a.nj, aux_per_speaker=aux))


if __name__ == "__main__":
    main()
