"""TORGO (original layout) -> multi-task Kaldi data directories with ``utt2task``.

    <root>/[F|M|FC|MC/]<spk>/Session<N>/wav_arrayMic/<nnnn>.wav   (and wav_headMic)
    <root>/[F|M|FC|MC/]<spk>/Session<N>/prompts/<nnnn>.txt

Each speaker with impaired speech is a task (named by the speaker id); the
control speakers (``FC*``, ``MC*``) together are the task ``typical``.  Prompts
that are not speech to transcribe (image references, bracketed instructions,
``xxx``) are skipped and counted.  The split keeps held-out utterances of every
task and whole tasks held out:

    train, dev, test     the seen tasks (every task: 10 % dev, 25 % test, at least one each,
                         chosen by a hash of the utterance id)
    test_zeroshot        every utterance of the ``--zeroshot`` tasks (never trained on; by
                         default the last ``--zeroshot_count`` impaired speakers by number)
    train_new, dev_new, test_new   the ``--new`` tasks, for adding a task to a trained model later

``data/tasks`` lists the seen tasks (``typical`` first), ``data/tasks_all`` the seen,
new and zero-shot tasks in that order: task indices (``utt2task_id``) index it, so a
model trained on the seen tasks and one that added the new tasks agree on them.  The same code prepares the real corpus and the synthetic one.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Optional

from adapters.data.kaldi import DataDirError, spk2utt_from, write_table

MICS = {"wav_arrayMic": "array", "wav_headMic": "head"}
TYPICAL = "typical"
_CONTROL = re.compile(r"^[FM]C\d+$")
_IMAGE = re.compile(r"\.(jpe?g|png|bmp|gif)$|/", re.I)
_KEEP = re.compile(r"[^A-Z' ]+")


def task_of(speaker: str) -> str:
    return TYPICAL if _CONTROL.match(speaker) else speaker


def non_speech_reason(prompt: str) -> Optional[str]:
    """Why a prompt is not a transcript (None: it is one)."""
    p = prompt.strip()
    if not p:
        return "empty"
    if "[" in p or "]" in p:
        return "instruction"
    if _IMAGE.search(p):
        return "image"
    if p.lower().strip(".") == "xxx":
        return "xxx"
    return None


def normalize(prompt: str) -> str:
    return " ".join(_KEEP.sub(" ", prompt.upper()).split())


def find_speakers(root) -> Dict[str, Path]:
    root = Path(root)
    if (root / "TORGO").is_dir():
        root = root / "TORGO"
    if not root.is_dir():
        raise DataDirError(f"TORGO root not found: {root}")
    spk = {}
    for sess in sorted(list(root.glob("*/Session*")) + list(root.glob("*/*/Session*"))):
        if sess.is_dir():
            spk.setdefault(sess.parent.name, sess.parent)
    if not spk:
        raise DataDirError(f"{root}: no <spk>/Session<N>/ folders (TORGO layout) found")
    return spk


def utterances(items):
    """``(wav, prompt text or None)`` pairs in TORGO's layout (``.../<spk>/Session<N>/<mic dir>/<nnnn>.wav``)
    -> every transcribable utterance ``{utt: (wav, text, spk, task)}`` and skip counts.  The
    files need not exist: the synthetic corpus's plan goes through here too (``adapters.synth.torgo.listing``)."""
    utts, skipped = {}, Counter()
    for wav, raw in items:
        wav = Path(wav)
        if raw is None:
            skipped["no prompt"] += 1
            continue
        reason = non_speech_reason(raw)
        text = normalize(raw) if reason is None else ""
        if reason is None and not text:
            reason = "empty"
        if reason:
            skipped[reason] += 1
            continue
        spk, sess, mic = wav.parent.parent.parent.name, wav.parent.parent.name, MICS[wav.parent.name]
        utts[f"{spk}-{sess}-{mic}-{wav.stem}"] = (str(wav.resolve()), text, spk, task_of(spk))
    return utts, skipped


def _listing(root):
    """``(wav, prompt text or None)`` of every recording under ``root``."""
    for spk, d in find_speakers(root).items():
        for sess in sorted(d.glob("Session*")):
            for mic_dir in MICS:
                for wav in sorted((sess / mic_dir).glob("*.wav")):
                    prompt = sess / "prompts" / f"{wav.stem}.txt"
                    yield wav, (prompt.read_text(encoding="utf-8", errors="replace") if prompt.is_file() else None)


def collect(root):
    """Every transcribable utterance: {utt: (wav, text, spk, task)}, and skip counts."""
    utts, skipped = utterances(_listing(root))
    if not utts:
        raise DataDirError(f"{root}: no utterance with a transcribable prompt")
    return utts, skipped


def _bucket(utt: str) -> float:
    return int(hashlib.sha1(utt.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def split(utts, zeroshot: List[str], new: List[str], dev=0.10, test=0.25):
    tasks = sorted({u[3] for u in utts.values()})
    for t in zeroshot + new:
        if t not in tasks:
            raise DataDirError(f"held-out task {t!r} is not a task of this corpus (tasks: {tasks})")
        if t == TYPICAL:
            raise DataDirError("the typical task cannot be held out")
    if set(zeroshot) & set(new):
        raise DataDirError(f"tasks {sorted(set(zeroshot) & set(new))} are both zero-shot and new")
    by_task: Dict[str, List[str]] = defaultdict(list)
    for utt in sorted(utts, key=_bucket):  # a fixed pseudo-random order
        by_task[utts[utt][3]].append(utt)
    sets: Dict[str, List[str]] = defaultdict(list)
    for t, ids in sorted(by_task.items()):
        if t in zeroshot:
            sets["test_zeroshot"] += ids
            continue
        n_test, n_dev = max(1, round(len(ids) * test)), max(1, round(len(ids) * dev))
        if len(ids) < n_test + n_dev + 1:
            raise DataDirError(f"task {t!r} has {len(ids)} utterances: too few to keep "
                               "test, dev and training utterances")
        suffix = "_new" if t in new else ""
        sets["test" + suffix] += ids[:n_test]
        sets["dev" + suffix] += ids[n_test:n_test + n_dev]
        sets["train" + suffix] += ids[n_test + n_dev:]
    seen = [TYPICAL] * (TYPICAL in tasks) + [t for t in tasks if t != TYPICAL and t not in zeroshot + new]
    for name in ("train", "dev", "test"):
        missing = sorted(set(seen) - {utts[u][3] for u in sets[name]})
        if missing:
            raise DataDirError(f"{name}: no utterances of task(s) {missing}; the corpus is too small to split")
    return seen, sets


def write_dir(out: Path, utts, ids):
    out.mkdir(parents=True, exist_ok=True)
    cols = {"wav.scp": 0, "text": 1, "utt2spk": 2, "utt2task": 3}
    for name, c in cols.items():
        write_table(out / name, {u: utts[u][c] for u in ids})
    write_table(out / "spk2utt", spk2utt_from({u: utts[u][2] for u in ids}))


def speaker_order(speaker: str):
    """By speaker number, then name: TORGO's F01 M01 M02 F03 ..., and the synthetic
    corpus's order of synthesis (its F and M alternate), so held-out tasks mix both."""
    digits = re.sub(r"\D", "", speaker)
    return (int(digits) if digits else -1, speaker)


def held_out(impaired: List[str], zeroshot=None, new=None, zeroshot_count: int = 1):
    """(zero-shot tasks, new tasks) of a corpus with these impaired speakers: ``zeroshot``
    defaults to the last ``zeroshot_count`` impaired speakers (in ``speaker_order``), ``new``
    to the one before them (none when that would leave no impaired speaker seen)."""
    impaired = sorted(impaired, key=speaker_order)
    if zeroshot is None:
        if not 1 <= zeroshot_count < len(impaired):
            raise DataDirError(f"cannot hold out {zeroshot_count} of the {len(impaired)} impaired "
                               f"speakers {impaired} for zero-shot: at least one must be seen")
        zeroshot = impaired[-zeroshot_count:]
    if new is None:
        rest = [t for t in impaired if t not in zeroshot]
        new = rest[-1:] if len(rest) > 1 else []
    return list(zeroshot), list(new)


def plan(utts, zeroshot=None, new=None, zeroshot_count: int = 1):
    """What ``prepare`` writes, without writing it: (seen tasks, zero-shot, new, {set: utterance ids})."""
    impaired = sorted({u[3] for u in utts.values()} - {TYPICAL}, key=speaker_order)
    zeroshot, new = held_out(impaired, zeroshot, new, zeroshot_count)
    seen, sets = split(utts, zeroshot, new)
    return seen, zeroshot, new, sets


def prepare(root, out, zeroshot=None, new=None, zeroshot_count: int = 1) -> dict:
    """Prepare every set under ``out``.  ``zeroshot`` defaults to the last
    ``zeroshot_count`` impaired speakers (in ``speaker_order``), ``new`` to the one
    before them."""
    utts, skipped = collect(root)
    seen, zeroshot, new, sets = plan(utts, zeroshot, new, zeroshot_count)
    out = Path(out)
    for name, ids in sets.items():
        write_dir(out / name, utts, ids)
    (out / "tasks").write_text("".join(f"{t}\n" for t in seen))
    (out / "tasks_all").write_text("".join(f"{t}\n" for t in seen + new + zeroshot))
    summary = {"utterances": {k: len(v) for k, v in sorted(sets.items())}, "tasks": seen,
               "zeroshot": zeroshot, "new": new, "skipped_prompts": dict(skipped)}
    (out / "torgo_summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("out", help="the recipe's data/ folder")
    ap.add_argument("--zeroshot", nargs="*", default=None,
                    help="tasks held out whole (default: the last --zeroshot_count impaired speakers)")
    ap.add_argument("--zeroshot_count", type=int, default=1,
                    help="without --zeroshot: how many impaired speakers to hold out whole")
    ap.add_argument("--new", nargs="*", default=None,
                    help="tasks added later (default: the impaired speaker before the zero-shot ones)")
    a = ap.parse_args(argv)
    try:
        s = prepare(a.root, a.out, a.zeroshot, a.new, a.zeroshot_count)
    except DataDirError as e:
        raise SystemExit(f"error: {e}")
    n_skip = sum(s["skipped_prompts"].values())
    print(f"{a.out}: {len(s['tasks'])} seen tasks {s['tasks']}; zero-shot {s['zeroshot']}, new {s['new']}; "
          f"utterances {s['utterances']}; skipped {n_skip} prompts that are not speech "
          f"{s['skipped_prompts'] or ''}")


if __name__ == "__main__":
    main()
