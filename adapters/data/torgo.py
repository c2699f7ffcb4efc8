"""TORGO (original layout) -> multi-task Kaldi data directories with ``utt2task``.

    <root>/[F|M|FC|MC/]<spk>/Session<N>/wav_arrayMic/<nnnn>.wav   (and wav_headMic)
    <root>/[F|M|FC|MC/]<spk>/Session<N>/prompts/<nnnn>.txt

Each speaker with impaired speech is a task (named by the speaker id); the
control speakers (``FC*``, ``MC*``) together are the task ``typical``.  Prompts
that are not speech to transcribe (image references, bracketed instructions,
``xxx``) are skipped and counted.  Transcripts are normalised by a fixed mapping
that never deletes content without saying so (``normalize_prompt``): upper case;
accents folded (NFKD: ``café`` -> ``CAFE``; ``ß ø æ œ ł đ þ`` spelled ``SS O AE OE L D TH``);
numbers spelled out as words of their own (``911`` -> ``NINE HUNDRED ELEVEN``, ``3.5`` ->
``THREE POINT FIVE``, ``2nd`` -> ``SECOND``, ``Word1`` -> ``WORD ONE``, a leading zero or
more than 9 digits: digit by digit);
``%`` ``&`` ``+`` ``@`` ``=`` read as ``PERCENT AND PLUS AT EQUALS``; typographic
apostrophes made ``'``; other punctuation (``. , ! ? ; : " ( ) -`` ...) separates
words.  A prompt with any other letter, digit or symbol (``$``, Greek, CJK, an
undecodable byte) is skipped and counted (``unmapped character``), never cut.

A speaker folder met twice (``F01/`` and ``F/F01/``), or one in another group's folder
(``FC/F01``), is an error; the sets are checked to share no utterance and every
speaker to have one role (seen, new or zero-shot).  The split keeps held-out
utterances of every task and whole tasks held out:

    train, dev, test     the seen tasks (every task: 10 % dev, 25 % test, at least one each,
                         chosen by a hash of the utterance id)
    test_zeroshot        every utterance of the ``--zeroshot`` tasks (never trained on; by
                         default the last ``--zeroshot_count`` impaired speakers by number)
    train_new, dev_new, test_new   the ``--new`` tasks, for adding a task to a trained model later

``data/tasks`` lists the seen tasks (``typical`` first), ``data/tasks_all`` the seen,
new and zero-shot tasks: the recipe's task list (``adapters.tasks.TaskSet``), which task
ids (``utt2task_id``) index and training and decoding read them through, by name (its
order is free: a model trained on the seen tasks and one that added the new tasks agree).  The same code prepares the real corpus and the synthetic one.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Optional

from adapters.data.kaldi import DataDirError, check_disjoint, spk2utt_from, write_table

MICS = {"wav_arrayMic": "array", "wav_headMic": "head"}
GROUPS = ("F", "M", "FC", "MC")  # TORGO's speaker group folders
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


_ONES = ("ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN ELEVEN TWELVE THIRTEEN FOURTEEN "
         "FIFTEEN SIXTEEN SEVENTEEN EIGHTEEN NINETEEN").split()
_TENS = "_ _ TWENTY THIRTY FORTY FIFTY SIXTY SEVENTY EIGHTY NINETY".split()
_SCALES = ((10 ** 6, "MILLION"), (1000, "THOUSAND"), (100, "HUNDRED"))
_ORDINAL = {"ONE": "FIRST", "TWO": "SECOND", "THREE": "THIRD", "FIVE": "FIFTH", "EIGHT": "EIGHTH",
            "NINE": "NINTH", "TWELVE": "TWELFTH"}
# letters that NFKD does not decompose, and symbols that are read as words
_LETTERS = {"ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L",
            "đ": "d", "Đ": "D", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D", "ı": "i"}
_SYMBOLS = {"%": " PERCENT ", "&": " AND ", "+": " PLUS ", "@": " AT ", "=": " EQUALS "}
# punctuation that only separates words (dropped); any other character outside A-Z and ' has no mapping
_SEPARATORS = set('.,!?;:"()[]{}-_\u2013\u2014\u2026\u00ab\u00bb\u201c\u201d\u201e\u201a\u00bf\u00a1')
_APOSTROPHES = "\u2019\u2018\u02bc\u0060\u00b4"
_NUMBER = re.compile(r"(\d+(?:,\d{3})*)(?:\.(\d+)(?!\d|\.\d))?(?:(st|nd|rd|th)(?![A-Za-z]))?", re.I)


def number_words(n: int) -> str:
    """``911`` -> ``NINE HUNDRED ELEVEN`` (cardinal, American: no AND), up to 999,999,999."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in _SCALES:
        if n >= size:
            head, rest = divmod(n, size)
            return f"{number_words(head)} {name}" + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError(n)


def ordinal_words(n: int) -> str:
    words = number_words(n).split()
    last = words[-1]
    if last in _ORDINAL:
        words[-1] = _ORDINAL[last]
    elif last.endswith("Y"):
        words[-1] = last[:-1] + "IETH"
    else:
        words[-1] = last + "TH"
    return " ".join(words)


def _digits(s: str) -> str:
    return " ".join(_ONES[int(c)] for c in s)


def _spell(m: "re.Match") -> str:
    whole, frac, suffix = m.group(1), m.group(2), m.group(3)
    digits = whole.replace(",", "")
    if (len(digits) > 1 and digits.startswith("0")) or len(digits) > 9:
        words = _digits(digits)  # 007, phone numbers: digit by digit
    elif suffix and frac is None:
        words = ordinal_words(int(digits))
        suffix = None
    else:
        words = number_words(int(digits))
    if frac is not None:
        words += " POINT " + _digits(frac)
    return f" {words} " + (suffix.upper() + " " if suffix else "")


def normalize_prompt(prompt: str, mapped: Optional[Counter] = None):
    """``(transcript, None)``, or ``("", reason)`` when the prompt holds a character the
    documented mapping (module doc) has no words for.  ``mapped`` counts the mappings used."""
    used: Counter = Counter()  # added to ``mapped`` only when the prompt is used
    text = prompt
    for a in _APOSTROPHES:
        text = text.replace(a, "'")
    folded = []
    accents = False
    for ch in text:
        if ch in _LETTERS:
            folded.append(_LETTERS[ch])
            accents = True
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if base != ch and base.isascii() and base.isalpha():
            accents = True
        folded.append(base)
    if accents:
        used["accents folded"] += 1
    text = "".join(folded)
    if _NUMBER.search(text):
        used["numbers spelled out"] += 1
        text = _NUMBER.sub(_spell, text)
    symbols = [c for c in text if c in _SYMBOLS]
    if symbols:
        used["symbols read as words"] += 1
        for c in set(symbols):
            text = text.replace(c, _SYMBOLS[c])
    text = text.upper()
    for ch in text:
        if ch == "'" or "A" <= ch <= "Z" or ch.isspace() or ch in _SEPARATORS:
            continue
        return "", "unmapped character"  # a letter, digit or symbol with no words: never dropped
    if mapped is not None:
        mapped.update(used)
    return " ".join(_KEEP.sub(" ", text).split()), None


def normalize(prompt: str) -> str:
    """The transcript of ``prompt`` (``normalize_prompt``); a ``ValueError`` when a character has no mapping."""
    text, reason = normalize_prompt(prompt)
    if reason:
        raise ValueError(f"{prompt!r}: {reason}")
    return text


def find_speakers(root) -> Dict[str, Path]:
    root = Path(root)
    if (root / "TORGO").is_dir():
        root = root / "TORGO"
    if not root.is_dir():
        raise DataDirError(f"TORGO root not found: {root}")
    spk: Dict[str, Path] = {}
    for sess in sorted(list(root.glob("*/Session*")) + list(root.glob("*/*/Session*"))):
        if not sess.is_dir():
            continue
        d, name = sess.parent, sess.parent.name
        if name in spk and spk[name] != d:
            raise DataDirError(f"speaker {name} is in two folders, {spk[name]} and {d}: "
                               "keep one (a speaker twice would leak between tasks and sets)")
        group = d.parent.name
        if d.parent != root and group in GROUPS and re.sub(r"\d+$", "", name) != group:
            raise DataDirError(f"{d}: speaker {name} is in the folder of group {group} "
                               f"({'control' if group.endswith('C') else 'impaired'} speakers): "
                               "its role would be ambiguous")
        spk[name] = d
    if not spk:
        raise DataDirError(f"{root}: no <spk>/Session<N>/ folders (TORGO layout) found")
    return spk


def utterances(items, mapped: Optional[Counter] = None):
    """``(wav, prompt text or None)`` pairs in TORGO's layout (``.../<spk>/Session<N>/<mic dir>/<nnnn>.wav``)
    -> every transcribable utterance ``{utt: (wav, text, spk, task)}`` and skip counts.  The
    files need not exist: the synthetic corpus's plan goes through here too (``adapters.synth.torgo.listing``).
    ``mapped`` counts the prompts that the normalisation mapped (numbers, accents, symbols)."""
    utts, skipped = {}, Counter()
    for wav, raw in items:
        wav = Path(wav)
        if raw is None:
            skipped["no prompt"] += 1
            continue
        reason = non_speech_reason(raw)
        text = ""
        if reason is None:
            text, reason = normalize_prompt(raw, mapped)
        if reason is None and not text:
            reason = "empty"
        if reason:
            skipped[reason] += 1
            continue
        spk, sess, mic = wav.parent.parent.parent.name, wav.parent.parent.name, MICS[wav.parent.name]
        utt = f"{spk}-{sess}-{mic}-{wav.stem}"
        if utt in utts:
            raise DataDirError(f"utterance {utt} twice: {utts[utt][0]} and {wav.resolve()}")
        utts[utt] = (str(wav.resolve()), text, spk, task_of(spk))
    return utts, skipped


def _listing(root):
    """``(wav, prompt text or None)`` of every recording under ``root``."""
    for spk, d in find_speakers(root).items():
        for sess in sorted(d.glob("Session*")):
            for mic_dir in MICS:
                for wav in sorted((sess / mic_dir).glob("*.wav")):
                    prompt = sess / "prompts" / f"{wav.stem}.txt"
                    yield wav, (prompt.read_text(encoding="utf-8", errors="replace") if prompt.is_file() else None)


def collect(root, mapped: Optional[Counter] = None):
    """Every transcribable utterance: {utt: (wav, text, spk, task)}, and skip counts."""
    utts, skipped = utterances(_listing(root), mapped)
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
    check_sets(utts, sets, zeroshot, new)
    for name in ("train", "dev", "test"):
        missing = sorted(set(seen) - {utts[u][3] for u in sets[name]})
        if missing:
            raise DataDirError(f"{name}: no utterances of task(s) {missing}; the corpus is too small to split")
    return seen, sets


def check_sets(utts, sets: Dict[str, List[str]], zeroshot: List[str], new: List[str]) -> None:
    """No utterance in two sets, and every speaker in one role: the zero-shot ones only in
    ``test_zeroshot``, the new ones only in the ``*_new`` sets, the seen ones only in
    train/dev/test (leakage otherwise)."""
    check_disjoint(sets, "utterance")
    role_of = {name: "zero-shot" if name == "test_zeroshot" else "new" if name.endswith("_new") else "seen"
               for name in sets}
    roles: Dict[str, set] = defaultdict(set)
    for name, ids in sets.items():
        for u in ids:
            roles[utts[u][2]].add(role_of[name])
    for spk in sorted(roles):
        task = task_of(spk)
        want = "zero-shot" if task in zeroshot else "new" if task in new else "seen"
        if roles[spk] != {want}:
            raise DataDirError(f"speaker {spk} (task {task}, {want}) has utterances in sets of the roles "
                               f"{sorted(roles[spk])}: a speaker must keep one role")


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
    mapped: Counter = Counter()
    utts, skipped = collect(root, mapped)
    seen, zeroshot, new, sets = plan(utts, zeroshot, new, zeroshot_count)
    out = Path(out)
    for name, ids in sets.items():
        write_dir(out / name, utts, ids)
    (out / "tasks").write_text("".join(f"{t}\n" for t in seen))
    (out / "tasks_all").write_text("".join(f"{t}\n" for t in seen + new + zeroshot))
    summary = {"utterances": {k: len(v) for k, v in sorted(sets.items())}, "tasks": seen,
               "zeroshot": zeroshot, "new": new, "skipped_prompts": dict(skipped),
               "normalised_prompts": dict(sorted(mapped.items()))}
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
    n_used = sum(s["utterances"].values())
    print(f"TORGO prompts: read {n_used + n_skip} (one per recording), used {n_used}, skipped {n_skip}")
    print(f"{a.out}: {len(s['tasks'])} seen tasks {s['tasks']}; zero-shot {s['zeroshot']}, new {s['new']}; "
          f"utterances {s['utterances']}; skipped {n_skip} prompts that are not speech or not mappable "
          f"{s['skipped_prompts'] or ''}")
    if s["normalised_prompts"]:
        print(f"normalised (see adapters/data/torgo.py): {s['normalised_prompts']}")


if __name__ == "__main__":
    main()
