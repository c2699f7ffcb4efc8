"""Serving benchmark: utterances per second and memory for mixed-task batches over N tasks
on one frozen upstream.

    python -m adapters.bin.bench_serving [--family hubert --size pretrained] \\
        --tasks 1 16 128 [--batch 16 --seconds 2 --batches 5 --threads 1] --json OUT

Methods (each batch mixes tasks: utterance i of batch b has task (b * batch + i) mod N):
  hra      one HRA (shared controller, a linear head per task), one forward per batch;
  houlsby  per-task Houlsby adapters, one forward per batch (routed bottlenecks);
  lora     one upstream, unmerged LoRA per task: the batch is split by task and each
           sub-batch runs with its task's low-rank update (PEFT's mixed-batch LoRA);
  merged   N separate models with their LoRA merged into the weights, each sub-batch on
           its task's model.
N = 1 is the single-task figure of each.  ``utt_per_s`` is of the adapted upstream's
forward (the part that serving shares; downstreams are per task either way).  ``mem_mb``
is what the served weights take (upstream once plus every task's parameters, or N
models for ``merged``), plus, on a GPU, the activations' peak (max allocated); with
``merged`` above ``--merged_max_mb`` the copies are reused and its memory is N times
one model's (``mem_estimated``).  JSON: ``{"methods": {m: {N: {"utt_per_s", "mem_mb",
"adapter_params", ...}}}, "setup": {...}, "targets": {...}}``; a table is printed.

``--size pretrained`` is the offline default upstream (egs/upstream/hubert_pretrained_small.pt);
tiny / small / base are random-initialised upstreams of that size (``adapters.upstreams``).
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_UPSTREAM = ROOT / "egs" / "upstream" / "hubert_pretrained_small.pt"
METHODS = ("hra", "houlsby", "lora", "merged")


def tensor_mb(*modules_or_tensors) -> float:
    seen, total = set(), 0
    for m in modules_or_tensors:
        ts = list(m.parameters()) + list(m.buffers()) if isinstance(m, torch.nn.Module) else [m]
        for t in ts:
            key = (t.data_ptr(), t.numel())
            if key in seen:
                continue
            seen.add(key)
            total += t.numel() * t.element_size()
    return total / 2 ** 20


def _perturb(module, std=0.02, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g).to(p.device) * std)


class Bench:
    def __init__(self, upstream_file, family, device, batch, samples, batches, warmup):
        self.file, self.name, self.device = str(upstream_file), f"{family}_local", device
        self.batch, self.samples, self.batches, self.warmup = batch, samples, batches, warmup
        g = torch.Generator().manual_seed(0)
        self.wavs = (torch.randn(batch, samples, generator=g) * 0.1).to(device)
        self.lens = torch.full((batch,), samples, dtype=torch.long, device=device)

    def upstream(self):
        from s3prl.nn import S3PRLUpstream

        up = S3PRLUpstream(self.name, path_or_url=self.file)
        for p in up.parameters():
            p.requires_grad_(False)
        return up.to(self.device).eval()

    def task_ids(self, b, n):
        return [(b * self.batch + i) % n for i in range(self.batch)]

    @torch.no_grad()
    def timed(self, step, warmup=None):
        """utt/s of ``step(batch index)`` over the timed batches (after the warm-up ones)."""
        for b in range(self.warmup if warmup is None else warmup):
            step(b)
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for b in range(self.warmup, self.warmup + self.batches):
            step(b)
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        return self.batch * self.batches / (time.perf_counter() - t0)

    # -- the methods -------------------------------------------------------------
    def routed(self, method, n):
        """HRA or per-task Houlsby: one forward per mixed batch."""
        import adapters

        up = self.upstream()
        ad = adapters.attach(up, method, tasks=[f"t{i}" for i in range(n)]).to(self.device).eval()
        _perturb(ad.method)
        own = sum(p.numel() for p in ad.method.parameters())

        def step(b):
            with ad.inference():
                ad(self.wavs, self.lens, task=self.task_ids(b, n))

        return step, tensor_mb(up, ad.method), own, {}

    def lora(self, n):
        """One upstream, per-task LoRA left unmerged: sub-batches by task."""
        import adapters

        up = self.upstream()
        ad = adapters.attach(up, "lora").to(self.device).eval()
        deltas = ad.method.deltas
        sets = []
        for i in range(n):
            _perturb(ad.method, seed=i)
            sets.append({k: (d.A.detach().clone(), d.B.detach().clone()) for k, d in deltas.items()})
        own = sum(a.numel() + b.numel() for s in sets for a, b in s.values())

        def step(b):
            ids = torch.tensor(self.task_ids(b, n))
            for k in torch.unique(ids).tolist():
                sel = (ids == k).nonzero().flatten().to(self.device)
                for key, (A, B) in sets[k].items():
                    deltas[key].A.copy_(A)
                    deltas[key].B.copy_(B)
                ad(self.wavs[sel], self.lens[sel])

        return step, tensor_mb(up, ad.method, *[t for s in sets for ab in s.values() for t in ab]), own, {}

    def merged(self, n, max_mb):
        """N models with their LoRA merged: sub-batches by task, each on its own model."""
        base = self.upstream()
        one_mb = tensor_mb(base)
        copies = max(1, min(n, int(max_mb // max(one_mb, 1e-9))))
        models = []
        from adapters.backbones import Backbone

        for i in range(copies):
            m = base if i == 0 else self.upstream()  # a model of its own (s3prl's hooks do not deep-copy)
            bb = Backbone(m)
            g = torch.Generator().manual_seed(i)
            with torch.no_grad():
                for layer in range(bb.num_layers):
                    for t in ("q", "v"):
                        lin = getattr(bb.attention(layer), f"{t}_proj")
                        A = torch.randn(8, lin.in_features, generator=g) * 0.02
                        B = torch.randn(lin.out_features, 8, generator=g) * 0.02
                        lin.weight.add_((2.0 * B @ A).to(lin.weight.device))
            models.append(m)

        def step(b):
            ids = torch.tensor(self.task_ids(b, n))
            for k in torch.unique(ids).tolist():
                sel = (ids == k).nonzero().flatten().to(self.device)
                models[k % copies](self.wavs[sel], self.lens[sel])

        mem = tensor_mb(*models) if copies == n else one_mb * n
        # each task's own parameters: a whole model (its merged LoRA matrices differ, the rest is copied)
        extra = {"mem_estimated": True, "models_built": copies} if copies < n else {}
        return step, mem, sum(p.numel() for p in models[0].parameters()) * n, extra

    def build(self, method, n, merged_max_mb):
        """(step(batch index), weights MB, the tasks' own parameters, extra fields)."""
        from adapters.catalogue import method_capabilities

        # rows are serving strategies: "merged" (N whole models) and "lora" (one delta set
        # per task, swapped per sub-batch) are strategies; any method that routes tasks
        # itself is served in mixed batches
        if method == "merged":
            return self.merged(n, merged_max_mb)
        if method == "lora":
            return self.lora(n)
        if method_capabilities(method).routes_tasks:
            return self.routed(method, n)
        raise SystemExit(f"error: {method} does not route tasks within a batch: serve it as 'merged'")

    def method_rows(self, method, ns, merged_max_mb, repeats):
        """Every N of ``method`` built, then timed ``repeats`` times in turn (the median
        kept): a machine whose load drifts does not favour the N measured first."""
        cuda = self.device.startswith("cuda")
        built, rows, times = {}, {}, {n: [] for n in ns}
        for n in ns:
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            step, mem, own, extra = self.build(method, n, merged_max_mb)
            rows[n] = {"mem_mb": round(mem, 3), "adapter_params": int(own), **extra}
            if cuda:  # weights and the first batches' activations
                self.timed(step)
                rows[n]["weights_mb"] = rows[n]["mem_mb"]
                rows[n]["mem_mb"] = round(max(mem, torch.cuda.max_memory_allocated() / 2 ** 20), 3)
            built[n] = step
            if method == "merged" or cuda:  # N models, or a GPU's memory: one configuration at a time
                times[n] += [self.timed(step, warmup=None if r == 0 and not cuda else 0) for r in range(repeats)]
                built.pop(n)
        for r in range(repeats):
            for n, step in built.items():
                times[n].append(self.timed(step, warmup=None if r == 0 else 0))
        for n in ns:
            rows[n] = {"utt_per_s": round(sorted(times[n])[len(times[n]) // 2], 3), **rows[n]}
        return rows


def targets(res: dict) -> dict:
    """The issue's targets where the numbers allow: HRA's mixed-batch throughput at the largest
    N against its single-task figure (>= 0.85), and memory growth per task against the
    task's own parameters (fp32)."""
    out = {}
    hra = res.get("hra", {})
    ns = sorted(int(n) for n in hra)
    if len(ns) > 1 and ns[0] == 1:
        top = str(ns[-1])
        ratio = hra[top]["utt_per_s"] / hra["1"]["utt_per_s"]
        out["hra_throughput_ratio"] = {"n": ns[-1], "ratio": round(ratio, 3), "target": 0.85, "met": ratio >= 0.85}
    for m, by_n in res.items():
        ns = sorted(int(n) for n in by_n)
        if len(ns) < 2 or m == "merged":
            continue
        a, b = by_n[str(ns[0])], by_n[str(ns[-1])]
        grow = (b["mem_mb"] - a["mem_mb"]) / (ns[-1] - ns[0])
        own = (b["adapter_params"] - a["adapter_params"]) / (ns[-1] - ns[0]) * 4 / 2 ** 20
        out[f"{m}_mem_per_task_mb"] = {"growth": round(grow, 4), "task_params_mb": round(own, 4),
                                       "met": grow <= own * 1.01 + 1e-6}
    return out


def table(res: dict) -> str:
    lines = ["| method | tasks | utt/s | vs 1 task | mem MB | adapter params |", "|---|---:|---:|---:|---:|---:|"]
    for m, by_n in res.items():
        one = by_n.get("1", {}).get("utt_per_s")
        for n, r in sorted(by_n.items(), key=lambda x: int(x[0])):
            rel = f"{r['utt_per_s'] / one:.2f}" if one else "-"
            est = " (est.)" if r.get("mem_estimated") else ""
            lines.append(f"| {m} | {n} | {r['utt_per_s']:.2f} | {rel} | {r['mem_mb']:.1f}{est} "
                         f"| {r['adapter_params']:,} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default="hubert", choices=["hubert", "wav2vec2", "wavlm"])
    ap.add_argument("--size", default="pretrained", choices=["pretrained", "tiny", "small", "base"])
    ap.add_argument("--upstream", default=None, help="an upstream checkpoint (overrides --size)")
    ap.add_argument("--tasks", type=int, nargs="+", default=[1, 16, 128])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--batch", type=int, default=16, help="utterances per batch")
    ap.add_argument("--seconds", type=float, default=2.0, help="seconds per utterance")
    ap.add_argument("--batches", type=int, default=4, help="timed batches per configuration")
    ap.add_argument("--warmup", type=int, default=1, help="untimed batches before a configuration's first timing")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timings per configuration, taken in turn; the median is kept")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--merged_max_mb", type=float, default=2048.0,
                    help="memory for the separate merged models; beyond it copies are reused and memory estimated")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    if any(n < 1 for n in a.tasks):
        raise SystemExit("error: --tasks must be positive")
    if a.threads:
        torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as d:
        if a.upstream:
            up = Path(a.upstream)
        elif a.size == "pretrained":
            if a.family != "hubert":
                raise SystemExit("error: the pretrained offline upstream is a HuBERT; pass --size tiny|small|base")
            up = DEFAULT_UPSTREAM
        else:
            from adapters.upstreams import make_upstream

            up = make_upstream(a.family, a.size, Path(d) / "up.pt", seed=0)
        if not up.is_file():
            raise SystemExit(f"error: upstream {up} not found")
        bench = Bench(up, a.family, a.device, a.batch, int(a.seconds * 16000), a.batches, a.warmup)
        warm = bench.upstream()  # the first configuration is not timed against a cold start
        with torch.no_grad():
            for _ in range(2):
                warm(bench.wavs, bench.lens)
        del warm
        res = {}
        for m in a.methods:
            rows = bench.method_rows(m, a.tasks, a.merged_max_mb, a.repeats)
            res[m] = {str(n): rows[n] for n in a.tasks}
            for n in a.tasks:
                print(f"{m} N={n}: {res[m][str(n)]}", flush=True)
    out = {"methods": res, "targets": targets(res),
           "setup": {"upstream": str(a.upstream or (a.size if a.size != "pretrained" else DEFAULT_UPSTREAM.name)),
                     "family": a.family, "batch": a.batch, "seconds": a.seconds, "batches": a.batches,
                     "repeats": a.repeats,
                     "threads": torch.get_num_threads(), "device": a.device,
                     "cpu": platform.processor() or platform.machine(), "torch": torch.__version__}}
    print(table(res))
    for k, v in out["targets"].items():
        print(f"{k}: {v}")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
