"""Stage 13: score ASR hypotheses (jiwer WER and CER) and write ESPnet-style
``RESULTS.md`` plus a machine-readable ``results.json`` for the SUPERB table.

    python -m adapters.bin.score_asr --exp exp/asr_ctc_hra \
        --test dump/raw/test_clean exp/asr_ctc_hra/decode/test_clean/text ...
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import jiwer

from adapters.data.kaldi import DataDirError, read_table
from adapters.results import header_lines, new_results


def _pairs(ref_path, hyp_path):
    ref = read_table(ref_path, allow_empty_value=True)
    hyp = read_table(hyp_path, allow_empty_value=True)
    missing = sorted(set(ref) - set(hyp))
    if missing:
        raise DataDirError(f"{hyp_path}: no hypothesis for {len(missing)} utterance(s), e.g. {missing[0]} "
                           "(rerun the decode stage)")
    keys = sorted(ref)
    return keys, [ref[k] for k in keys], [hyp[k] for k in keys]


def score(ref_path, hyp_path) -> dict:
    keys, refs, hyps = _pairs(ref_path, hyp_path)
    w = jiwer.process_words(refs, hyps)
    c = jiwer.process_characters(refs, hyps)
    n_words = sum(len(r.split()) for r in refs)
    return {
        "wer": 100.0 * w.wer,
        "cer": 100.0 * c.cer,
        "utterances": len(keys),
        "words": n_words,
        "chars": sum(len(r) for r in refs),
        "word_errors": {"sub": w.substitutions, "del": w.deletions, "ins": w.insertions},
        "sentence_error_rate": 100.0 * sum(r != h for r, h in zip(refs, hyps)) / len(keys),
    }


def write_results(exp: Path, tests, tag: str = "") -> dict:
    exp = Path(exp)
    results = new_results(exp, "asr", "asr", "wer")
    for name, ref_dir, hyp in tests:
        results["test"][name] = score(Path(ref_dir) / "text", hyp)
    (exp / "results.json").write_text(json.dumps(results, indent=1))
    lines = header_lines(results, f"- decoder: {results['decoder']}; encoder: {results['encoder']}")
    for metric, key, unit, count in (("WER", "wer", "Wrd", "words"), ("CER", "cer", "Chr", "chars")):
        lines += [f"## {metric}", "", f"|dataset|Snt|{unit}|Err|SErr|", "|---|---|---|---|---|"]
        for name, r in results["test"].items():
            lines.append(f"|{tag}{name}|{r['utterances']}|{r[count]}|{r[key]:.1f}|"
                         f"{r['sentence_error_rate']:.1f}|")
        lines.append("")
    (exp / "RESULTS.md").write_text("\n".join(lines))
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exp", required=True)
    ap.add_argument("--test", nargs=3, action="append", metavar=("NAME", "REF_DIR", "HYP_TEXT"),
                    required=True)
    a = ap.parse_args(argv)
    try:
        r = write_results(Path(a.exp), a.test)
    except DataDirError as e:
        raise SystemExit(f"error: {e}")
    for name, s in r["test"].items():
        print(f"{a.exp} {name}: WER {s['wer']:.1f} CER {s['cer']:.1f} ({s['utterances']} utts)")


if __name__ == "__main__":
    main()
