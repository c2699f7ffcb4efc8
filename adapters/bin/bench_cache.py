"""Feature-cache benchmark: one training epoch on the fly and from the cache.

    python -m adapters.bin.bench_cache [--utts 200] [--methods frozen hra elp] --json OUT

Takes a fixed subset (the first ``--utts`` utterances by id) of the embedded
LibriSpeech's ``train-clean-100`` (synthesized when missing, in the recipe's own
``downloads`` folder), builds the LibriSpeech recipe's CTC model for each method
from its config (``egs/librispeech/asr1/conf/train_ctc_<method>.yaml``, on the
default upstream), and trains one epoch each way from the same initial weights and
random state, in the same batches (ESPnet's ``numel`` bins of the config):
reading the audio (the frozen part computed every step), and reading the cache
(built first, its time reported apart).  Both times include reading the data;
the two are alternated ``--repeats`` times and the fastest epoch of each counts
(epoch times on this 2-core machine vary by up to 40 % from one epoch to the next).
Writes ``{"upstream": ..., "methods": {"<method>": {"speedup", "loss_diff", ...}}}``
and prints a table.  ``loss_diff`` is the largest |loss difference| over the
epoch's steps.
"""
from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "egs" / "librispeech" / "asr1"
UPSTREAM = ROOT / "egs" / "upstream" / "hubert_pretrained_small.pt"


def subset(work: Path, utts: int, nj: int) -> Path:
    """The first ``utts`` utterances of the embedded train-clean-100, as a data dir."""
    from adapters.data.librispeech import prepare
    from adapters.synth.librispeech import build

    root = build(RECIPE / "downloads" / "librispeech_synth", nj=nj)
    full = work / "train_full"
    prepare(root, "train-clean-100", full)
    keys = sorted(l.split()[0] for l in (full / "wav.scp").read_text().splitlines())[:utts]
    if len(keys) < utts:
        raise SystemExit(f"the embedded train-clean-100 has {len(keys)} utterances, fewer than --utts {utts}")
    out = work / "train"
    out.mkdir(parents=True, exist_ok=True)
    import soundfile as sf

    for name in ("wav.scp", "text"):
        rows = dict(l.split(maxsplit=1) for l in (full / name).read_text().splitlines())
        (out / name).write_text("".join(f"{k} {rows[k]}\n" for k in keys))
    wav = dict(l.split(maxsplit=1) for l in (out / "wav.scp").read_text().splitlines())
    (out / "utt2num_samples").write_text("".join(f"{k} {sf.info(wav[k]).frames}\n" for k in keys))
    return out


def build_model(method: str, token_list, work: Path):
    from adapters.espnet.register import register_asr

    register_asr()
    from adapters.espnet.tasks import AdapterASRTask as ASRTask  # the recipe's training task

    cfg = yaml.safe_load((RECIPE / "conf" / f"train_ctc_{method}.yaml").read_text())
    cfg["frontend_conf"]["path_or_url"] = str(UPSTREAM)
    path = work / f"config_{method}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    args = ASRTask.get_parser().parse_args(
        ["--config", str(path), "--token_list", str(token_list), "--token_type", "char",
         "--output_dir", str(work / "out")])
    torch.manual_seed(0)
    model = ASRTask.build_model(args)
    return model, cfg


def batches(lengths: dict, bins: int):
    """ESPnet's ``numel`` batching in spirit: by length, at most ``bins`` samples a batch."""
    from adapters.data.batches import length_batches

    return list(length_batches(lengths, bins))


class Timed:
    """Seconds spent in a module's forward (the frontend: the upstream's share of a step)."""

    def __init__(self, module):
        self.seconds, self._t = 0.0, None
        module.register_forward_pre_hook(lambda *a: setattr(self, "_t", time.perf_counter()))
        module.register_forward_hook(lambda *a: setattr(self, "seconds", self.seconds + time.perf_counter() - self._t))


def epoch(model, cfg, batch_keys, load, text):
    """One training epoch; returns (seconds, per-step losses)."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], **cfg.get("optim_conf", {}))
    torch.manual_seed(1)
    model.train()
    losses, start, cpu = [], time.perf_counter(), time.process_time()
    for keys in batch_keys:
        speech, lens = load(keys)
        ys = [torch.tensor(text[k]) for k in keys]
        ylen = torch.tensor([len(y) for y in ys])
        ys = torch.nn.utils.rnn.pad_sequence(ys, batch_first=True, padding_value=-1)
        loss, _, _ = model(speech, lens, ys, ylen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return time.perf_counter() - start, losses, time.process_time() - cpu


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--utts", type=int, default=200)
    ap.add_argument("--methods", nargs="+", default=["frozen", "hra", "elp"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    ap.add_argument("--work_dir", default="exp/bench_cache")
    ap.add_argument("--nj", type=int, default=2, help="synthesis jobs")
    ap.add_argument("--repeats", type=int, default=2, help="epochs each way (alternated; the fastest counts)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)

    import kaldiio
    import soundfile as sf

    from adapters.feature_cache import build, load_upstream

    work = Path(a.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    data = subset(work, a.utts, a.nj)
    wav = dict(l.split(maxsplit=1) for l in (data / "wav.scp").read_text().splitlines())
    lengths = {k: int(v) for k, v in (l.split() for l in (data / "utt2num_samples").read_text().splitlines())}
    words = dict(l.split(maxsplit=1) for l in (data / "text").read_text().splitlines())
    tokens = ["<blank>", "<unk>", "<space>"] + sorted(set("".join(words.values())) - {" "}) + ["<sos/eos>"]
    (work / "tokens.txt").write_text("\n".join(tokens) + "\n")
    index = {t: i for i, t in enumerate(tokens)}
    text = {k: [index["<space>"] if c == " " else index.get(c, 1) for c in t] for k, t in words.items()}
    hours = sum(lengths.values()) / 16000 / 3600
    print(f"bench_cache: {len(wav)} utterances ({hours * 60:.1f} min of audio), upstream {UPSTREAM.name}, "
          f"{torch.get_num_threads()} threads")

    def load_audio(keys):
        xs = [torch.from_numpy(sf.read(wav[k], dtype="float32")[0]) for k in keys]
        return torch.nn.utils.rnn.pad_sequence(xs, batch_first=True), torch.tensor([len(x) for x in xs])

    up = load_upstream("hubert_local", str(UPSTREAM))
    results, caches = {}, {}
    for method in a.methods:
        model, cfg = build_model(method, work / "tokens.txt", work)
        init = copy.deepcopy(model.state_dict())
        cut = model.frontend.adapted.cache_cut
        if cut not in caches:
            t0 = time.perf_counter()
            shutil.rmtree(work / "cache" / cut, ignore_errors=True)
            build(up, "hubert_local", str(UPSTREAM), cut, data, work / "cache" / cut, a.dtype, log=lambda *x: None)
            caches[cut] = time.perf_counter() - t0
        feats = kaldiio.load_scp(str(work / "cache" / cut / "feats.scp"))

        def load_cache(keys):
            xs = [torch.from_numpy(feats[k].astype(np.float32)) for k in keys]
            return torch.nn.utils.rnn.pad_sequence(xs, batch_first=True), torch.tensor([len(x) for x in xs])

        plan = batches(lengths, int(cfg.get("batch_bins", 400000)))
        timer = Timed(model.frontend)
        runs = {"fly": [], "cache": []}
        for _ in range(a.repeats):  # alternated, each from the same start; the fastest of each kept
            for mode, load in (("fly", load_audio), ("cache", load_cache)):
                model.load_state_dict(init)
                timer.seconds = 0.0
                t, losses, cpu = epoch(model, cfg, plan, load, text)
                runs[mode].append((t, losses, timer.seconds, cpu))
        (t_fly, l_fly, fe_fly, c_fly), (t_cache, l_cache, fe_cache, c_cache) = (
            min(runs[m], key=lambda r: r[0]) for m in runs)
        cpu_fly, cpu_cache = (min(r[3] for r in runs[m]) for m in runs)
        l_fly, l_cache = runs["fly"][0][1], runs["cache"][0][1]
        diff = max(abs(x - y) for x, y in zip(l_fly, l_cache))
        results[method] = {
            "cut": cut, "steps": len(plan), "on_the_fly_s": round(t_fly, 2), "cached_s": round(t_cache, 2),
            "speedup": round(t_fly / t_cache, 2), "loss_diff": diff,
            # CPU seconds of the process: steadier than wall time on a shared machine
            "cpu_s": {"on_the_fly": round(cpu_fly, 2), "cached": round(cpu_cache, 2)},
            "cpu_speedup": round(cpu_fly / cpu_cache, 2),
            "cache_build_s": round(caches[cut], 2), "final_loss": round(l_cache[-1], 4),
            "frontend_forward_s": {"on_the_fly": round(fe_fly, 2), "cached": round(fe_cache, 2)},
        }
        r = results[method]
        print(f"  {method}: cut {cut}, {r['steps']} steps: on the fly {t_fly:.1f} s, cached {t_cache:.1f} s "
              f"-> {r['speedup']:.2f}x; max |loss diff| {diff:.2e}; frontend forward {fe_fly:.1f} -> "
              f"{fe_cache:.1f} s", flush=True)
    out = {"upstream": str(UPSTREAM.relative_to(ROOT)), "utterances": len(wav), "audio_hours": round(hours, 4),
           "dtype": a.dtype, "threads": torch.get_num_threads(), "methods": results}
    print("\n| method | cut | epoch on the fly (s) | epoch cached (s) | speedup | max loss diff | "
          "frontend forward (s): on the fly -> cached | CPU-time speedup | cache build (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for m, r in results.items():
        fe = r["frontend_forward_s"]
        print(f"| {m} | {r['cut']} | {r['on_the_fly_s']} | {r['cached_s']} | {r['speedup']:.2f}x | "
              f"{r['loss_diff']:.1e} | {fe['on_the_fly']} -> {fe['cached']} | {r['cpu_speedup']:.2f}x | "
              f"{r['cache_build_s']} |")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    sys.exit(main() and 0)
