"""ASR scoring helpers shared by the scorers (``adapters.bin.score_asr``,
``adapters.bin.score_multitask``): hypotheses aligned to their references, and the
errors of each utterance from a jiwer alignment."""
from __future__ import annotations

from adapters.data.kaldi import DataDirError, read_table


def ref_hyp_pairs(ref_path, hyp_path):
    """(utterance ids sorted, their references, their hypotheses); a reference without
    a hypothesis is a ``DataDirError`` naming it."""
    ref = read_table(ref_path, allow_empty_value=True)
    hyp = read_table(hyp_path, allow_empty_value=True)
    missing = sorted(set(ref) - set(hyp))
    if missing:
        raise DataDirError(f"{hyp_path}: no hypothesis for {len(missing)} utterance(s), e.g. {missing[0]} "
                           "(rerun the decode stage)")
    keys = sorted(ref)
    return keys, [ref[k] for k in keys], [hyp[k] for k in keys]


def utterance_errors(out) -> list:
    """Errors (substitutions + deletions + insertions) of each sentence of a jiwer
    ``process_words`` / ``process_characters`` output; they sum to its error count."""
    errs = []
    for chunks in out.alignments:
        e = 0
        for c in chunks:
            if c.type in ("substitute", "delete"):
                e += c.ref_end_idx - c.ref_start_idx
            elif c.type == "insert":
                e += c.hyp_end_idx - c.hyp_start_idx
        errs.append(e)
    return errs
