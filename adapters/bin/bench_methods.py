"""Method benchmark: trainable parameters, training step time, inference time and
training memory of every method on one upstream, measured in one run.

Ratios: training step and peak memory against full fine-tuning, inference
against the frozen backbone.  Every method trains the same small SUPERB-style
downstream (weighted sum of layers + linear frame classifier), so the frozen
row measures the downstream alone.

The rows: every method of the catalogue (``adapters.catalogue``) as its recipes' run
(``--methods``: some runs of it), a run that needs several tasks over
``FUSION_ADAPTERS`` of them; the run that fine-tunes the backbone is measured too, the
ratios' reference.

Peak memory: on CUDA, torch.cuda.max_memory_allocated around one training step.
On CPU there is no allocator statistic, so it is the bytes autograd saves for
the backward pass plus gradients and AdamW's two moments of the trainable
parameters (labelled "saved+optimizer" in the output); with
``--gradient_checkpointing`` the layers' saved tensors are not kept but recomputed
one layer at a time in the backward pass, so it is the most the backward pass holds
at once ("saved+recompute+optimizer"): what is saved when it starts, or, when a
layer is recomputed, what is still saved then (the backward of the layers after it
has freed theirs; followed as autograd frees it) plus what that layer saves,
whichever is more.  ``peak_bytes_bound`` keeps the looser count of before (all that
is saved plus the largest recomputed layer).  Each method's step is also timed
alternately with its own step without checkpointing (``step_ratio_vs_own_plain``).

The floor: a frozen backbone whose transformer input requires grad, training the same
downstream, so its step is the forward plus the input-gradient half of the backward
through every layer: what any method with adapters inside every layer must at least
do.  ``step/floor`` is each method's step time against it.

``--amp bf16`` (or ``fp16``, CUDA) measures every row under ``torch.autocast``;
``--gradient_checkpointing`` recomputes the transformer layers in the backward pass
(``AdaptedUpstream.set_gradient_checkpointing``, the frontend's ``gradient_checkpointing``)
for every row; ``--size large`` the published Large configuration (~316 M parameters).

    python -m adapters.bin.bench_methods --family hubert --size base --device cuda --json bench.json
    python -m adapters.bin.bench_methods --size tiny --methods lora hra --repeat 1
    python -m adapters.bin.bench_methods --size large --device cuda --amp bf16 --gradient_checkpointing
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import statistics
import tempfile
import time
import weakref
from pathlib import Path

import torch
from torch import nn

import adapters
from adapters import catalogue
from adapters.upstreams import SIZES, make_upstream

FUSION_ADAPTERS = 4  # the tasks of a run that needs several
AMP = {"bf16": torch.bfloat16, "fp16": torch.float16}
FLOOR = "floor"  # the row of the frozen backbone with its transformer input requiring grad
# the run measured with a mixed-task batch against single-task batches (``hra_mixed``)
MIXED_TASK_RUN = "hra"


def plan_rows(methods=None) -> list:
    """[(row name, run, tasks)]: the runs ``methods`` (default: every method's, in the
    catalogue's order), with the run that fine-tunes the backbone (the ratios' reference) first
    when they leave it out; a run that needs several tasks over ``FUSION_ADAPTERS`` of them."""
    names = list(methods) if methods else catalogue.methods()
    runs = [catalogue.variant(n) for n in names]
    if not any(v.capabilities.trains_backbone for v in runs):
        runs.insert(0, next(v for v in map(catalogue.variant, catalogue.methods())
                            if v.capabilities.trains_backbone))
    out = []
    for v in runs:
        several = v.capabilities.needs_several_tasks
        out.append((v.bench_name or v.name, v, [f"task{i}" for i in range(FUSION_ADAPTERS)] if several else None))
    return out


class Downstream(nn.Module):
    """Weighted sum of hidden states + linear frame classifier."""

    def __init__(self, num_layers: int, dim: int, classes: int = 32):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(num_layers))
        self.out = nn.Linear(dim, classes)

    def forward(self, hs):
        w = torch.softmax(self.w, 0)
        return self.out(sum(wi * h for wi, h in zip(w, hs)))


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn, device, repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


@contextlib.contextmanager
def _count_saved_bytes(counter: list):
    seen = set()

    def pack(t):
        # a tensor saved by several ops (or views of one storage) is stored once
        key = (t.untyped_storage().data_ptr(), t.device)
        if key not in seen:
            seen.add(key)
            counter[0] += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield


def build(upstream_path, family, method, conf, tasks, device, checkpointing=False):
    """``checkpointing``: False, or k (True = 1): every k-th layer recomputed in the backward pass."""
    from s3prl.nn import S3PRLUpstream

    up = S3PRLUpstream(f"{family}_local", path_or_url=str(upstream_path))
    a = adapters.attach(up, method, tasks=tasks, **conf).to(device)
    return a.set_gradient_checkpointing(bool(checkpointing), every=int(checkpointing) if checkpointing else 1)


def build_floor(upstream_path, family, device, checkpointing=False):
    """The frozen backbone with the transformer's input requiring grad (``FLOOR``)."""
    base = catalogue.variant(catalogue.BASELINE)
    a = build(upstream_path, family, base.method, base.method_conf(), None, device, checkpointing)

    def input_requires_grad(mod, args):
        if torch.is_grad_enabled():  # a copy: the encoder zeroes the padding in place
            return (args[0].detach().requires_grad_().clone(),) + tuple(args[1:])

    a.backbone.encoder.register_forward_pre_hook(input_requires_grad)
    return a


@contextlib.contextmanager
def _count_saved_bytes_per_layer(a, counts: list):
    """counts[i] += the bytes autograd saves inside layer i's forward (its hooks' included,
    the hooks on its output not), each storage once per layer."""
    current, seen = [None], [set()]
    handles = []
    for i, layer in enumerate(a.backbone.layers):
        def enter(mod, args, _i=i):
            current[0], seen[0] = _i, set()

        def leave(mod, args, out):
            current[0] = None

        handles.append(layer.register_forward_pre_hook(enter))
        handles.append(layer.register_forward_hook(leave, prepend=True))

    def pack(t):
        key = (t.untyped_storage().data_ptr(), t.device)
        if current[0] is not None and key not in seen[0]:
            seen[0].add(key)
            counts[current[0]] += t.untyped_storage().nbytes()
        return t

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            yield
    finally:
        for h in handles:
            h.remove()


class _LiveSaved:
    """The bytes autograd holds for the backward pass, as it holds them: counted when a
    tensor is saved, released when autograd frees the last reference to it (after the
    backward of the op that saved it); each storage once."""

    def __init__(self):
        self.live, self.refs = 0, {}

    def pack(self, t):
        key = (t.untyped_storage().data_ptr(), t.device)
        n, nbytes = self.refs.get(key, (0, t.untyped_storage().nbytes()))
        if n == 0:
            self.live += nbytes
        self.refs[key] = (n + 1, nbytes)
        holder = _Held(t)
        weakref.finalize(holder, self._release, key)
        return holder

    def _release(self, key):
        n, nbytes = self.refs[key]
        if n == 1:
            del self.refs[key]
            self.live -= nbytes
        else:
            self.refs[key] = (n - 1, nbytes)

    @staticmethod
    def unpack(holder):
        return holder.t


class _Held:
    __slots__ = ("t", "__weakref__")

    def __init__(self, t):
        self.t = t


def _recompute_peak(a, run_step, per_layer) -> int:
    """The most the backward pass holds while it recomputes a layer: for each recomputed
    layer, what is still saved when its recomputation starts (the backward of the layers
    after it has freed theirs) plus what the layer saves (``per_layer``, measured without
    checkpointing), and at least what is saved when the backward pass starts."""
    live = _LiveSaved()
    in_backward, at_recompute = [False], {}
    layers = a.backbone.layers
    recomputed = a.checkpointed_layers
    every = a.checkpoint_every
    a.set_gradient_checkpointing(False)
    try:
        # an instance forward is what the checkpoint wraps, so it runs again in the recomputation
        own = {i: layers[i].__dict__.get("forward") for i in recomputed}  # a method's own, if any
        for i in recomputed:
            f = own[i] if own[i] is not None else functools.partial(type(layers[i]).forward, layers[i])

            def noted(*args, _i=i, _f=f, **kw):
                if in_backward[0] and _i not in at_recompute:
                    at_recompute[_i] = live.live
                return _f(*args, **kw)

            layers[i].forward = noted
        a.set_gradient_checkpointing(True, every=every)
        with torch.autograd.graph.saved_tensors_hooks(live.pack, live.unpack):
            loss = run_step()
        at_start = live.live
        in_backward[0] = True
        loss.backward()
        del loss
    finally:
        a.set_gradient_checkpointing(False)
        for i in recomputed:
            if own[i] is None:
                layers[i].__dict__.pop("forward", None)
            else:
                layers[i].forward = own[i]
        a.set_gradient_checkpointing(True, every=every)
    # a layer the backward pass does not go through (nothing in or below it trains: HRA's
    # first layer) is not recomputed; it counts as if recomputed first
    return max([at_start] + [at_recompute.get(i, at_start) + per_layer[i] for i in recomputed])


def _time_pair(fn, ref_fn, device, repeat: int, warmup: int = 2):
    """Median times of fn and ref_fn, run alternately so clock drift hits both alike."""
    for _ in range(warmup):
        fn()
        ref_fn()
    ts, rs = [], []
    for _ in range(repeat):
        for f, out in ((fn, ts), (ref_fn, rs)):
            _sync(device)
            t = time.perf_counter()
            f()
            _sync(device)
            out.append(time.perf_counter() - t)
    return statistics.median(ts), statistics.median(rs)


def measure(a, batch, device, repeat, task=None, ref=None, amp=None):
    wavs, lens = batch
    autocast = (lambda: torch.autocast(device.type, dtype=AMP[amp])) if amp else contextlib.nullcontext
    ds = Downstream(a.num_layers, a.hidden_sizes[-1]).to(device)
    params = a.trainable_parameters() + list(ds.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4)
    T = len(range(0, int(lens.max()), a.downsample_rates[-1]))
    labels = torch.randint(0, 32, (wavs.size(0), T), device=device)
    loss_fn = nn.CrossEntropyLoss()

    scaler = torch.amp.GradScaler(device.type) if amp == "fp16" else None

    def train_step():
        with autocast():
            hs, _ = a(wavs, lens, task=task)
            loss = loss_fn(ds(hs).transpose(1, 2), labels)
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

    a.train()
    ds.train()
    plain_step = None
    if a.gradient_checkpointing:
        # the same method without checkpointing, timed alternately in this process: the ratio
        # is then free of the drift between processes (about 5 % on a CPU)
        every = a.checkpoint_every

        def plain_train_step():
            a.set_gradient_checkpointing(False)
            try:
                train_step()
            finally:
                a.set_gradient_checkpointing(True, every=every)

        step, plain_step = _time_pair(train_step, plain_train_step, device, repeat)
    else:
        step = _time(train_step, device, repeat)

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        train_step()
        _sync(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        mem_kind = "cuda peak"
    else:
        saved = [0]
        with _count_saved_bytes(saved), autocast():
            hs, _ = a(wavs, lens, task=task)
            loss = loss_fn(ds(hs).transpose(1, 2), labels)
        loss.backward()
        opt.zero_grad(set_to_none=True)
        train_bytes = sum(p.numel() * p.element_size() for p in params)
        peak = saved[0] + 3 * train_bytes
        mem_kind = "saved+optimizer"
        if a.gradient_checkpointing:
            # what the checkpoints keep is counted above (the layers' own saved tensors are not:
            # checkpointing's hooks take them); the backward pass recomputes one layer at a time
            # and holds what it saves until that layer's backward is done, by when the layers
            # after it have freed theirs
            per_layer = [0] * a.num_layers
            recomputed = a.checkpointed_layers
            every = a.checkpoint_every
            a.set_gradient_checkpointing(False)
            try:
                with _count_saved_bytes_per_layer(a, per_layer), autocast():
                    hs, _ = a(wavs, lens, task=task)
                    loss = loss_fn(ds(hs).transpose(1, 2), labels)
                del hs, loss
            finally:
                a.set_gradient_checkpointing(True, every=every)

            def forward_loss():
                with autocast():
                    hs, _ = a(wavs, lens, task=task)
                    return loss_fn(ds(hs).transpose(1, 2), labels)

            held = _recompute_peak(a, forward_loss, per_layer)
            opt.zero_grad(set_to_none=True)
            # the bound before the order was measured: everything saved, plus the largest layer
            bound = peak + max(per_layer[i] for i in recomputed)
            peak = held + 3 * train_bytes
            mem_kind = "saved+recompute+optimizer"

    a.eval()

    @torch.no_grad()
    def infer():
        with a.inference(), autocast():
            a(wavs, lens, task=task)

    if ref is None:
        inf = ref_inf = _time(infer, device, repeat)
    else:
        ref.eval()

        @torch.no_grad()
        def infer_ref():
            with autocast():
                ref(wavs, lens)

        inf, ref_inf = _time_pair(infer, infer_ref, device, repeat)
    out = dict(step_s=step, infer_s=inf, frozen_infer_s=ref_inf, peak_bytes=int(peak), memory_kind=mem_kind)
    if plain_step is not None:
        out.update(plain_step_s=plain_step, step_ratio_vs_own_plain=step / plain_step)
    if a.gradient_checkpointing and device.type != "cuda":
        out.update(peak_bytes_bound=int(bound))
    return out


def run(family, size, device, batch_size, seconds, repeat, seed=0, upstream=None, methods=None,
        amp=None, checkpointing=False):
    device = torch.device(device)
    if amp is not None and amp not in AMP:
        raise ValueError(f"amp must be one of {tuple(AMP)} or None, got {amp!r}")
    plan = plan_rows(methods)
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = upstream or make_upstream(family, size, Path(tmp) / f"{family}_{size}.pt", seed=seed)
        n = int(seconds * 16000)
        wavs = torch.randn(batch_size, n, device=device)
        lens = torch.full((batch_size,), n, dtype=torch.long, device=device)
        rows = []
        # the frozen backbone, timed alternately with every method's inference
        base = catalogue.variant(catalogue.BASELINE)
        ref = build(path, family, base.method, base.method_conf(), None, device)
        for name, v, tasks in plan:
            a = build(path, family, v.method, v.method_conf(), tasks, device, checkpointing)
            r = measure(a, (wavs, lens), device, repeat, ref=ref, amp=amp)
            r.update(name=name, method=v.method, trainable=a.num_trainable(), backbone=a.num_backbone())
            rows.append(r)
            print(f"  measured {name}: step {r['step_s'] * 1e3:.1f} ms, inference {r['infer_s'] * 1e3:.1f} ms", flush=True)
            del a
        # the floor after the methods: measured first, it paid for the process's warm-up
        floor_a = build_floor(path, family, device, checkpointing)
        floor = measure(floor_a, (wavs, lens), device, repeat, ref=ref, amp=amp)
        floor.update(name=FLOOR)
        print(f"  measured {FLOOR}: step {floor['step_s'] * 1e3:.1f} ms", flush=True)
        del floor_a
        # HRA with 4 task heads: a mixed-task batch against a single-task batch of the same size
        tasks = [f"task{i}" for i in range(4)]
        mixed_run = catalogue.variant(MIXED_TASK_RUN)
        a = build(path, family, mixed_run.method, mixed_run.method_conf(), tasks, device, checkpointing)
        single = measure(a, (wavs, lens), device, repeat, task="task0", amp=amp)
        mixed = measure(a, (wavs, lens), device, repeat, task=[tasks[i % 4] for i in range(batch_size)], amp=amp)
    ft = next(r for r, (_, v, _) in zip(rows, plan) if v.capabilities.trains_backbone)
    for r in rows:
        r["share"] = r["trainable"] / r["backbone"]
        r["step_ratio_vs_finetune"] = r["step_s"] / ft["step_s"]
        r["memory_ratio_vs_finetune"] = r["peak_bytes"] / ft["peak_bytes"]
        r["inference_ratio_vs_frozen"] = r["infer_s"] / r["frozen_infer_s"]
        r["step_ratio_vs_floor"] = r["step_s"] / floor["step_s"]
    floor["step_ratio_vs_finetune"] = floor["step_s"] / ft["step_s"]
    floor["memory_ratio_vs_finetune"] = floor["peak_bytes"] / ft["peak_bytes"]
    return dict(
        family=family, size=size, device=str(device), batch_size=batch_size, seconds=seconds,
        repeat=repeat, torch=torch.__version__, amp=amp, gradient_checkpointing=bool(checkpointing),
        checkpoint_every=int(checkpointing) if checkpointing else None,
        rows=rows, floor=floor,
        hra_mixed=dict(
            single_step_s=single["step_s"], mixed_step_s=mixed["step_s"],
            single_infer_s=single["infer_s"], mixed_infer_s=mixed["infer_s"],
            train_speed_ratio=single["step_s"] / mixed["step_s"],
            infer_speed_ratio=single["infer_s"] / mixed["infer_s"],
        ),
    )


def format_table(res) -> str:
    floor = res.get("floor")  # results from before the floor row have none
    # with checkpointing: each method's step against its own without, timed alternately
    own = all("step_ratio_vs_own_plain" in r for r in res["rows"])
    extras = [s for s in (f"autocast {res['amp']}" if res.get("amp") else "",
                          ("gradient checkpointing" + (f" of every {res['checkpoint_every']}. layer"
                                                       if (res.get("checkpoint_every") or 1) > 1 else ""))
                          if res.get("gradient_checkpointing") else "") if s]
    lines = [
        f"method benchmark: {res['family']} {res['size']} on {res['device']}, batch {res['batch_size']} x "
        f"{res['seconds']} s, median of {res['repeat']} (memory: {res['rows'][0]['memory_kind']})"
        + "".join(f", {s}" for s in extras),
        f"{'method':<12} {'trainable':>11} {'share':>8} {'step/ft':>8} {'mem/ft':>7} {'infer/frozen':>13}"
        + (f" {'step/floor':>10}" if floor else "") + (f" {'step/own plain':>14}" if own else ""),
    ]
    for r in res["rows"]:
        lines.append(
            f"{r['name']:<12} {r['trainable']:>11,} {100 * r['share']:>7.2f}% {r['step_ratio_vs_finetune']:>8.3f} "
            f"{r['memory_ratio_vs_finetune']:>7.3f} {r['inference_ratio_vs_frozen']:>13.3f}"
            + (f" {r['step_ratio_vs_floor']:>10.3f}" if floor else "")
            + (f" {r['step_ratio_vs_own_plain']:>14.3f}" if own else "")
        )
    if floor:
        lines.append(
            f"{FLOOR:<12} {0:>11,} {0:>7.2f}% {floor['step_ratio_vs_finetune']:>8.3f} "
            f"{floor['memory_ratio_vs_finetune']:>7.3f} {'':>13} {1:>10.3f}"
        )
    m = res["hra_mixed"]
    lines.append(
        f"hra mixed-task batch (4 heads) speed vs single-task: training {m['train_speed_ratio']:.3f}, "
        f"inference {m['infer_speed_ratio']:.3f}"
    )
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", choices=("wav2vec2", "hubert", "wavlm"), default="hubert")
    p.add_argument("--size", choices=tuple(SIZES), default="tiny")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seconds", type=float, default=None, help="audio length per utterance")
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--upstream", default=None, help="an existing checkpoint instead of a random one")
    p.add_argument("--methods", nargs="+", default=None,
                   help="these runs (adapters.catalogue; default: every method's)")
    p.add_argument("--amp", choices=tuple(AMP), default=None,
                   help="measure every row under torch.autocast with this dtype (fp16: CUDA)")
    p.add_argument("--gradient_checkpointing", action="store_true",
                   help="recompute the transformer layers in the backward pass (every row)")
    p.add_argument("--checkpoint_every", type=int, default=1, metavar="K",
                   help="with --gradient_checkpointing: recompute every K-th layer only (the frontend's checkpoint_every)")
    p.add_argument("--json", default=None, help="write the results here")
    a = p.parse_args(argv)
    if a.checkpoint_every < 1:
        p.error("--checkpoint_every must be at least 1")
    if a.amp == "fp16" and not a.device.startswith("cuda"):
        p.error("--amp fp16 needs a CUDA device (CPU autocast: --amp bf16)")
    gpu = a.device.startswith("cuda")
    bs = a.batch_size or (8 if gpu else 4)
    sec = a.seconds or (8.0 if gpu else 2.0)
    res = run(a.family, a.size, a.device, bs, sec, a.repeat, upstream=a.upstream, methods=a.methods,
              amp=a.amp, checkpointing=a.checkpoint_every if a.gradient_checkpointing else False)
    print(format_table(res))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
