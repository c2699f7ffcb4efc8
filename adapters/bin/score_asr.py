"""Stage 13: score ASR hypotheses (jiwer WER and CER) and write ESPnet-style
``RESULTS.md`` plus a machine-readable ``results.json`` for the SUPERB table.

Every WER and CER has its 95 % confidence interval (``wer_ci``, ``cer_ci``: a
bootstrap over utterances, ``adapters.stats``) and ``n`` (utterances); each
utterance's errors and reference length go to ``<exp>/per_item.json`` for paired
comparisons with other runs on the same utterances.

    python -m adapters.bin.score_asr --exp exp/asr_ctc_hra \
        --test dump/raw/test_clean exp/asr_ctc_hra/decode/test_clean/text ...
"""
from __future__ import annotations

import argparse
from pathlib import Path

import jiwer

from adapters.data.kaldi import DataDirError
from adapters.results import header_lines, new_results, provenance, write_json, write_per_item
from adapters.scoring import ref_hyp_pairs, utterance_errors
from adapters.stats import ci_fields, fmt_ci


def items(keys, w, c) -> dict:
    """Per-utterance outcomes: errors and reference length, in words and in characters."""
    return {"ids": list(keys), "word_errors": utterance_errors(w), "words": [len(r) for r in w.references],
            "char_errors": utterance_errors(c), "chars": [len(r) for r in c.references]}


def score_with_items(ref_path, hyp_path):
    """(the test set's scores with their CIs, its per-utterance outcomes)."""
    keys, refs, hyps = ref_hyp_pairs(ref_path, hyp_path)
    w = jiwer.process_words(refs, hyps)
    c = jiwer.process_characters(refs, hyps)
    n_words = sum(len(r.split()) for r in refs)
    per = items(keys, w, c)
    out = {
        "wer": 100.0 * w.wer,
        "cer": 100.0 * c.cer,
        "utterances": len(keys),
        "words": n_words,
        "chars": sum(len(r) for r in refs),
        "word_errors": {"sub": w.substitutions, "del": w.deletions, "ins": w.insertions},
        "sentence_error_rate": 100.0 * sum(r != h for r, h in zip(refs, hyps)) / len(keys),
        **ci_fields(per, ["wer", "cer"]),
    }
    return out, per


def score(ref_path, hyp_path) -> dict:
    return score_with_items(ref_path, hyp_path)[0]


def decoding_info(inference_config=None, lm=None) -> dict:
    """How stage 12 decoded: its config's options and the language model fused in (None: none)."""
    import yaml

    opts = {}
    if inference_config:
        opts = yaml.safe_load(Path(inference_config).read_text()) or {}
    return {"config": str(inference_config) if inference_config else None, "lm": str(lm) if lm else None,
            **{k: opts[k] for k in ("ctc_greedy", "beam_size", "lm_weight", "penalty") if k in opts}}


def write_results(exp: Path, tests, tag: str = "", decoding: dict = None) -> dict:
    exp = Path(exp)
    results = new_results(exp, "asr", "asr", "wer")
    if decoding is not None:
        results["decoding"] = decoding
    per_item = {}
    for name, ref_dir, hyp in tests:
        results["test"][name], per_item[name] = score_with_items(Path(ref_dir) / "text", hyp)
    results["provenance"] = provenance(exp, results, {name: (ref_dir, [Path(ref_dir) / "text"])
                                                      for name, ref_dir, _ in tests})
    write_per_item(exp, per_item, results)
    write_json(exp / "results.json", results)
    dec = results.get("decoding")
    dec_line = [] if dec is None else [
        f"- decoding: {dec['config']}" + (f", language model {dec['lm']} (weight {dec.get('lm_weight')})" if dec["lm"] else "")]
    lines = header_lines(results, f"- decoder: {results['decoder']}; encoder: {results['encoder']}", *dec_line,
                         "- 95 % CI: bootstrap over utterances (per-utterance errors in per_item.json)")
    for metric, key, unit, count in (("WER", "wer", "Wrd", "words"), ("CER", "cer", "Chr", "chars")):
        lines += [f"## {metric}", "", f"|dataset|Snt|{unit}|Err|SErr|95% CI|", "|---|---|---|---|---|---|"]
        for name, r in results["test"].items():
            lines.append(f"|{tag}{name}|{r['utterances']}|{r[count]}|{r[key]:.1f}|"
                         f"{r['sentence_error_rate']:.1f}|{fmt_ci(r.get(key + '_ci'))}|")
        lines.append("")
    (exp / "RESULTS.md").write_text("\n".join(lines))
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exp", required=True)
    ap.add_argument("--test", nargs=3, action="append", metavar=("NAME", "REF_DIR", "HYP_TEXT"),
                    required=True)
    ap.add_argument("--inference_config", default=None, help="stage 12's decoding config (recorded in results.json)")
    ap.add_argument("--lm", default=None, help="the language model stage 12 fused in, if any (recorded)")
    a = ap.parse_args(argv)
    decoding = decoding_info(a.inference_config, a.lm) if a.inference_config or a.lm else None
    try:
        r = write_results(Path(a.exp), a.test, decoding=decoding)
    except DataDirError as e:
        raise SystemExit(f"error: {e}")
    for name, s in r["test"].items():
        print(f"{a.exp} {name}: WER {s['wer']:.1f} {fmt_ci(s.get('wer_ci'))} CER {s['cer']:.1f} "
              f"{fmt_ci(s.get('cer_ci'))} ({s['utterances']} utts; 95 % CIs)")


if __name__ == "__main__":
    main()
