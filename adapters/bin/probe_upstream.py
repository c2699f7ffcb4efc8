"""Probe an upstream: frozen, SUPERB weighted sum of its layers, a small head
trained briefly, on the embedded keyword-spotting and ASR data; compared with the
same architecture at random initialisation.

    python -m adapters.bin.probe_upstream --upstream egs/upstream/hubert_pretrained_small.pt

Keyword spotting: Speech Commands v0.01 protocol (12 classes, every class capped at
the size of the smallest so chance is 1/12), mean-pooled weighted sum -> MLP,
accuracy on the test speakers.  ASR: mini-LibriSpeech,
weighted sum -> BiLSTM -> CTC over characters, greedy CER on test-clean.  The
upstream is frozen, so its hidden states are computed once and cached.

Every figure has its 95 % bootstrap interval over the test items, and the two
upstreams are compared on the same items (paired bootstrap): ``--baseline OTHER.pt``
compares with another checkpoint (e.g. the previous default) instead of random weights.
"""
from __future__ import annotations

import argparse
import json
import time
from itertools import groupby
from pathlib import Path

import jiwer
import numpy as np
import soundfile as sf
import torch
from torch import nn
from tqdm import tqdm

from adapters import stats


def load_upstream(path):
    from s3prl.nn import S3PRLUpstream

    return S3PRLUpstream("hubert_local", path_or_url=str(path)).eval()


@torch.no_grad()
def layer_states(up, paths, pool: bool, desc: str):
    """Per utterance: (L+1, D) mean-pooled, or (L+1, T, D) float16 frames."""
    out = []
    for p in tqdm(paths, desc=desc, unit="utt", mininterval=5.0):
        x, _ = sf.read(p, dtype="float32")
        hs, _ = up(torch.from_numpy(x)[None], torch.tensor([len(x)]))
        h = torch.stack([t[0] for t in hs])
        out.append(h.mean(1) if pool else h.half())
    return out


class WeightedSum(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(layers))

    def forward(self, h):  # (..., L, [T,] D) with L at dim 1
        w = torch.softmax(self.w, 0)
        return torch.einsum("l,bl...->b...", w, h)


def probe_kws(train, test, n_classes, seed, epochs=300):
    torch.manual_seed(seed)
    (xtr, ytr), (xte, yte) = train, test
    dim = xtr.shape[-1]
    model = nn.Sequential(WeightedSum(xtr.shape[1]), nn.LayerNorm(dim), nn.Linear(dim, 256), nn.ReLU(),
                          nn.Dropout(0.1), nn.Linear(256, n_classes))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 128):
            b = perm[i: i + 128]
            loss = nn.functional.cross_entropy(model(xtr[b]), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return [int(c) for c in (model(xte).argmax(-1) == yte)]


class CTCHead(nn.Module):
    def __init__(self, layers, dim, vocab):
        super().__init__()
        self.ws = WeightedSum(layers)
        self.norm = nn.LayerNorm(dim)
        self.rnn = nn.LSTM(dim, 128, batch_first=True, bidirectional=True)
        self.out = nn.Linear(256, vocab)

    def forward(self, h):  # (B, L, T, D)
        y, _ = self.rnn(self.norm(self.ws(h)))
        return self.out(y).log_softmax(-1)


def _pad(items):
    T = max(h.shape[1] for h in items)
    return torch.stack([nn.functional.pad(h.float(), (0, 0, 0, T - h.shape[1])) for h in items])


def probe_asr(train, test, seed, epochs=40):
    torch.manual_seed(seed)
    (htr, ttr), (hte, tte) = train, test
    chars = sorted({c for t in ttr for c in t})
    vocab = {c: i + 1 for i, c in enumerate(chars)}  # 0: blank
    model = CTCHead(htr[0].shape[0], htr[0].shape[-1], len(vocab) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    ctc = nn.CTCLoss(zero_infinity=True)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(htr)).tolist()
        for i in range(0, len(perm), 16):
            b = perm[i: i + 16]
            x = _pad([htr[j] for j in b])
            lp = model(x).transpose(0, 1)
            tgt = [torch.tensor([vocab[c] for c in ttr[j]]) for j in b]
            loss = ctc(lp, torch.cat(tgt), torch.tensor([htr[j].shape[1] for j in b]),
                       torch.tensor([len(t) for t in tgt]))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
    model.eval()
    inv = {i: c for c, i in vocab.items()}
    hyps = []
    with torch.no_grad():
        for h in hte:
            best = model(h.float()[None])[0].argmax(-1).tolist()
            hyps.append("".join(inv[t] for t, _ in groupby(best) if t != 0))
    from adapters.scoring import utterance_errors

    chars = jiwer.process_characters(tte, hyps)
    words = jiwer.process_words(tte, hyps)
    return {"char_errors": utterance_errors(chars), "chars": [len(t) for t in tte],
            "word_errors": utterance_errors(words), "words": [len(t.split()) for t in tte]}


def kws_data(cache: Path, speakers: int, seed: int):
    from adapters.data.speech_commands import prepare
    from adapters.synth import speech_commands

    root = speech_commands.build(cache / "speech_commands", speakers=speakers, seed=seed)
    splits = prepare(root, cache / "speech_commands_prep", seed=seed)
    labels = sorted({c[2] for c in splits["train"]})
    # _unknown_ holds 20 words against one per command: cap every class at the size of
    # the smallest, as the real v0.01 test set is balanced (chance = 1/12)
    out = {}
    for s in ("train", "test"):
        by = {}
        for c in splits[s]:
            by.setdefault(c[2], []).append(c)
        cap = min(len(v) for v in by.values())
        rng = np.random.default_rng(seed)
        clips = [c for v in by.values() for c in (v if len(v) == cap else
                                                  [v[i] for i in sorted(rng.choice(len(v), cap, replace=False))])]
        out[s] = ([c[1] for c in clips], torch.tensor([labels.index(c[2]) for c in clips]))
    return out, len(labels)


def asr_data(cache: Path, seed: int, speakers: int):
    from adapters.data.kaldi import read_table
    from adapters.data.librispeech import prepare
    from adapters.synth import librispeech

    sets = {"train-clean-100": (speakers, 1, 12, False), "test-clean": (6, 1, 10, False)}
    root = librispeech.build(cache / "librispeech_probe", sets, seed=seed)
    out = {}
    for part, name in (("train-clean-100", "train"), ("test-clean", "test")):
        prepare(root, part, cache / f"probe_{name}")
        wav = read_table(cache / f"probe_{name}" / "wav.scp")
        text = read_table(cache / f"probe_{name}" / "text")
        out[name] = ([wav[u] for u in sorted(wav)], [text[u] for u in sorted(wav)])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="a hubert_local checkpoint (the pretrained one)")
    ap.add_argument("--baseline", default=None,
                    help="compare with this hubert_local checkpoint instead of random weights")
    ap.add_argument("--random_seed", type=int, default=0, help="seed of the random-init comparison")
    ap.add_argument("--cache", default="cache/probe")
    ap.add_argument("--kws_speakers", type=int, default=40)
    ap.add_argument("--asr_speakers", type=int, default=32)
    ap.add_argument("--epochs_kws", type=int, default=300)
    ap.add_argument("--epochs_asr", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    from adapters.pretrain.hubert import load_checked

    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    ck = load_checked(a.upstream)
    size = (ck.get("pretraining") or {}).get("config", {}).get("size", "small")
    from adapters.upstreams import make_upstream

    if a.baseline:
        other_name, other = "baseline", a.baseline
    else:
        other_name, other = "random_init", make_upstream("hubert", size, cache / f"hubert_random_{size}.pt",
                                                         seed=a.random_seed)
    kws, n_classes = kws_data(cache, a.kws_speakers, a.seed)
    asr = asr_data(cache, a.seed + 1, a.asr_speakers)
    results, items = {}, {}
    for name, path in (("pretrained", a.upstream), (other_name, other)):
        up = load_upstream(path)
        ktr = torch.stack(layer_states(up, kws["train"][0], True, f"{name}: kws train"))
        kte = torch.stack(layer_states(up, kws["test"][0], True, f"{name}: kws test"))
        k_items = {"ids": list(kws["test"][0]),
                   "correct": probe_kws((ktr, kws["train"][1]), (kte, kws["test"][1]), n_classes, a.seed,
                                        a.epochs_kws)}
        atr = layer_states(up, asr["train"][0], False, f"{name}: asr train")
        ate = layer_states(up, asr["test"][0], False, f"{name}: asr test")
        a_items = {"ids": list(asr["test"][0]),
                   **probe_asr((atr, asr["train"][1]), (ate, asr["test"][1]), a.seed, a.epochs_asr)}
        items[name] = {"kws": k_items, "asr": a_items}
        acc, cer, wer = (stats.bootstrap_ci(k_items, "accuracy"), stats.bootstrap_ci(a_items, "cer"),
                         stats.bootstrap_ci(a_items, "wer"))
        results[name] = {"upstream": str(path), "kws_accuracy": round(acc["value"], 2),
                         "kws_accuracy_ci": _r(acc["ci"]), "asr_cer": round(cer["value"], 2),
                         "asr_cer_ci": _r(cer["ci"]), "asr_wer": round(wer["value"], 2), "asr_wer_ci": _r(wer["ci"])}
        print(f"{name:12s} keyword accuracy {acc['value']:5.1f} % {stats.fmt_ci(acc['ci'])}   "
              f"ASR CER {cer['value']:5.1f} % {stats.fmt_ci(cer['ci'])}   WER {wer['value']:5.1f} %", flush=True)
    p, r = results["pretrained"], results[other_name]
    diff = {"kws_accuracy": stats.paired_bootstrap(items["pretrained"]["kws"], items[other_name]["kws"], "accuracy"),
            "asr_cer": stats.paired_bootstrap(items["pretrained"]["asr"], items[other_name]["asr"], "cer")}
    summary = {
        "upstream": str(a.upstream), "compared_with": other_name, "results": results,
        "difference": {k: {"diff": round(d["diff"], 2), "ci": _r(d["ci"]), "significant": d["significant"],
                           "method": d["method"]} for k, d in diff.items()},
        "kws_accuracy_gain_points": round(p["kws_accuracy"] - r["kws_accuracy"], 2),
        "asr_cer_ratio": round(p["asr_cer"] / max(r["asr_cer"], 1e-9), 3),
        "kws_clips": {"train": len(kws["train"][0]), "test": len(kws["test"][0]), "classes": n_classes},
        "asr_utterances": {"train": len(asr["train"][0]), "test": len(asr["test"][0])},
        "wall_time_s": round(time.time() - t0, 1),
    }
    print(json.dumps(summary, indent=1))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(summary, indent=1))


def _r(ci):
    return None if ci is None else [round(ci[0], 2), round(ci[1], 2)]


if __name__ == "__main__":
    main()
