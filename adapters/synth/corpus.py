"""What every synthetic corpus shares: seeded texts, parallel rendering with a
progress bar, and a cache stamp so a finished corpus is never rebuilt."""
from __future__ import annotations

import hashlib
import json
import random
import shutil
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, List, Sequence, Tuple

from tqdm import tqdm

from adapters.parallel import parallel_map

STAMP = ".synth_complete.json"


def vocabulary() -> List[str]:
    """2,000 frequent English words (wordfreq's top list, filtered to plain lowercase words)."""
    text = resources.files("adapters.synth").joinpath("words_en.txt").read_text()
    return [w for w in text.split() if w]


def random_sentence(rng: random.Random, words: Sequence[str], n_min=4, n_max=12) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(n_min, n_max)))


def spec_hash(spec: dict) -> str:
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def is_complete(root: Path, spec: dict) -> bool:
    stamp = Path(root) / STAMP
    if not stamp.is_file():
        return False
    try:
        return json.loads(stamp.read_text()).get("hash") == spec_hash(spec)
    except ValueError:
        return False


STARTED = ".synth_started.json"


def begin(root: Path, spec: dict) -> None:
    """Before rendering into ``root``: files of another spec (an earlier corpus with other
    options, complete or interrupted) are removed, so that resuming never mixes them in."""
    root = Path(root)
    for name in (STAMP, STARTED):
        p = root / name
        if p.is_file():
            try:
                same = json.loads(p.read_text()).get("hash") == spec_hash(spec)
            except ValueError:
                same = False
            if not same:
                shutil.rmtree(root)
                break
    root.mkdir(parents=True, exist_ok=True)
    (root / STARTED).write_text(json.dumps({"hash": spec_hash(spec), "spec": spec}))


def mark_complete(root: Path, spec: dict, summary: dict):
    Path(root, STAMP).write_text(json.dumps({"hash": spec_hash(spec), "spec": spec, **summary}, indent=1))


def _render_one(job):
    fn, args = job
    out = args[-1] if isinstance(args, tuple) else None
    if out is not None and Path(out).is_file() and Path(out).stat().st_size > 0:
        return  # finished by an earlier, interrupted run
    fn(*args)


def render(jobs: Sequence[Tuple[Callable, tuple]], nj: int, desc: str):
    """Run ``fn(*args)`` for every job (the last arg is the output path; existing
    outputs are skipped, so an interrupted synthesis resumes)."""
    bar = tqdm(total=len(jobs), desc=desc, unit="utt", mininterval=2.0)
    for _ in parallel_map(_render_one, jobs, nj):
        bar.update()
    bar.close()
