"""The contract every adapter method keeps, as checks on one method: the generic tests
run them for every method of the catalogue (parametrized from ``adapters.catalogue``, so
a new method is picked up), and ``test_new_method.py`` runs them on a method defined in
a test.  What a check expects comes from the method's declared capabilities
(``adapters.methods.base.Capabilities``), never from its name."""
from __future__ import annotations

import torch

import adapters
from adapters import catalogue
from adapters.registry import get_method
from adapters.upstream_cut import CUTS


def caps(method, **conf):
    return catalogue.method_capabilities(method, conf)


def methods_where(predicate) -> list:
    """The catalogue's methods whose default capabilities satisfy ``predicate``."""
    return [m for m in catalogue.methods() if predicate(caps(m))]


def perturb_trainable(adapted, std=0.2, seed=0):
    """Move every trainable parameter away from its (identity) initialisation."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in adapted.trainable_parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)


def max_diff(xs, ys):
    return max((x - y).abs().max().item() for x, y in zip(xs, ys))


def check_declarations(make_up, method, **conf):
    """What the tools read is there and agrees with an attached instance."""
    cls = get_method(method)
    c = caps(method, **conf)
    assert c.cache_cut in CUTS
    assert c.upstream_grad == (c.cache_cut != "hidden_states")
    assert isinstance(cls.description, str) and cls.description.strip(), f"{method}: no description"
    assert "\n" not in cls.description
    cls.make_config(dict(cls.recipe_conf))  # the recipes' options are valid ones
    assert cls.recipe_lr_scale > 0
    config_fields = set(cls.make_config({}).__dict__)
    assert set(cls.training_only_options) <= config_fields, f"{method}: training-only options it does not take"
    # learning-rate scales per component: options of its own, training-only ones
    assert set(cls.lr_scale_options.values()) <= config_fields & set(cls.training_only_options), (
        f"{method}: lr_scale_options must name training-only options it takes")
    a = adapters.attach(make_up(), method, **conf)
    assert a.method.caps == c and a.cache_cut == c.cache_cut and a.method.routes_tasks == c.routes_tasks
    if c.has_layer_summary:
        assert isinstance(a.method.summary_dim, int) and a.method.summary_dim > 0
    if c.lowest_adapted is not None:
        assert 0 <= c.lowest_adapted <= a.num_layers


def check_identity_at_init(up, wavs, method, **conf):
    """Where promised (``identity_at_init``): the adapted upstream is the frozen one before training."""
    assert caps(method, **conf).identity_at_init
    with torch.no_grad():
        ref, _ = up(*wavs)
    a = adapters.attach(up, method, **conf)
    with torch.no_grad():
        hs, _ = a(*wavs)
    assert max_diff(hs, ref) < 1e-5


def check_hidden_states_reflect_the_adapter(up, wavs, method, **conf):
    """Away from the initialisation, the hidden states below ``lowest_adapted`` are the frozen
    upstream's and the last one differs; the shapes never change."""
    c = caps(method, **conf)
    with torch.no_grad():
        ref, _ = up(*wavs)
    a = adapters.attach(up, method, **conf)
    perturb_trainable(a)
    with torch.no_grad():
        hs, _ = a(*wavs)
    assert [h.shape for h in hs] == [r.shape for r in ref]
    low = len(hs) if c.lowest_adapted is None else c.lowest_adapted
    for i in range(low):
        assert (hs[i] - ref[i]).abs().max() < 1e-5, f"hidden state {i} changed, below the lowest adapted {low}"
    if c.lowest_adapted is not None:
        assert (hs[-1] - ref[-1]).abs().max() > 1e-3


def check_frozen_weights_stay_frozen(up, wavs, method, **conf):
    """Optimizer steps (with weight decay) leave every frozen weight bit-identical and move the
    trainable ones; a method that trains nothing changes nothing."""
    c = caps(method, **conf)
    a = adapters.attach(up, method, **conf)
    a.train()
    frozen = {n: p.detach().clone() for n, p in a.named_parameters() if not p.requires_grad}
    trainable = {n: p.detach().clone() for n, p in a.named_parameters() if p.requires_grad}
    if not trainable:  # nothing to train: it adapts nothing
        assert c.lowest_adapted is None and not c.has_layer_summary, f"{method} trains nothing"
        return
    opt = torch.optim.AdamW(a.trainable_parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(2):
        hs, lens = a(*wavs)
        summary = a.layer_summary(hs, lens)
        loss = hs[-1].pow(2).mean() + (summary[0].pow(2).mean() if summary else 0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for n, p in a.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), f"{n} changed"
    changed = [n for n, p in a.named_parameters() if n in trainable and not torch.equal(p, trainable[n])]
    assert changed, "no trainable parameter moved"


def check_save_load_round_trip(make_up, wavs, path, method, family="hubert", **conf):
    """An adapter-only file loaded onto a fresh upstream gives bit-identical outputs."""
    a = adapters.attach(make_up(family), method, **conf)
    with torch.no_grad():
        for p in a.trainable_parameters():  # exactly what the checkpoint must carry
            p.add_(0.1 * torch.randn_like(p))
    with torch.no_grad():
        ref, _ = a(*wavs)
    adapters.save_adapter(a, path)
    b = adapters.load_adapter(make_up(family), path)
    with torch.no_grad():
        got, _ = b(*wavs)
    assert all(torch.equal(x, y) for x, y in zip(ref, got))
    assert b.method.config == a.method.config


def check_mixed_task_batch(up, same_len_wavs, method, **conf):
    """A method that routes by task id (``routes_tasks``): a mixed-task batch gives each
    utterance what a batch of its task alone gives it, and different tasks differ."""
    assert caps(method, **conf).routes_tasks
    a = adapters.attach(up, method, tasks=["a", "b", "c"], **conf)
    perturb_trainable(a)
    wav, lens = same_len_wavs
    tasks = ["b", "a", "c", "b"]
    with torch.no_grad():
        mixed, _ = a(wav, lens, task=tasks)
        for t in set(tasks):
            idx = [i for i, x in enumerate(tasks) if x == t]
            alone, _ = a(wav[idx], lens[idx], task=t)
            for m, s in zip(mixed, alone):
                # batched vs single matmul kernels round differently; a wrong head is off by ~0.1
                torch.testing.assert_close(m[idx], s, atol=1e-4, rtol=1e-3)
    with torch.no_grad():
        outs = [a(wav[:1], lens[:1], task=t)[0][-1] for t in "abc"]
    assert (outs[0] - outs[1]).abs().max() > 1e-4


# ---------------------------------------------------------------- precision and memory

#: the task ids of a batch of three for a run that routes by task or fuses several tasks
MIXED_TASKS = ["b", "a", "c"]


def _attached(make_up, family, run, tasks_needed):
    """The run's method attached to a fresh upstream, its trainable parameters moved away from
    their initialisation (so an identity-at-init adapter is not trivially exact)."""
    v = catalogue.variant(run)
    a = adapters.attach(make_up(family), v.method, tasks=["a", "b", "c"] if tasks_needed else None,
                        **v.method_conf())
    perturb_trainable(a, std=0.05)
    return a


def needs_task_ids(run) -> bool:
    c = catalogue.variant(run).capabilities
    return c.routes_tasks or c.needs_several_tasks


def task_loss(a, wavs, task=None, seed=0):
    """A frame-classification loss on the run's features (its layer summary, else a fixed
    weighted sum of the layers), against fixed random labels through a fixed random head."""
    torch.manual_seed(seed)
    hs, lens = a(*wavs, task=task)
    summary = a.layer_summary(hs, lens)
    if summary is not None:
        x = summary[0]
    else:
        w = torch.linspace(1.0, 2.0, len(hs))
        x = sum(wi * h for wi, h in zip(w / w.sum(), hs))
    g = torch.Generator().manual_seed(7)
    head = torch.randn(x.size(-1), 16, generator=g) / x.size(-1) ** 0.5
    labels = torch.randint(0, 16, x.shape[:2], generator=g)
    logits = x.float() @ head
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels)


def check_bf16_autocast(make_up, wavs, run, family="hubert", rtol=0.01):
    """Training under CPU bf16 autocast: the loss and every gradient are finite and the loss is
    within ``rtol`` (relative) of float32's.  Returns (float32 loss, bf16 loss)."""
    task = MIXED_TASKS if needs_task_ids(run) else None
    a = _attached(make_up, family, run, task is not None)
    a.train()
    a.upstream.eval()  # the backbone's dropout off, as the frontend has it for adapters
    ref = task_loss(a, wavs, task)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = task_loss(a, wavs, task)
    assert torch.isfinite(got), f"{run}: bf16 loss {got}"
    if got.requires_grad:  # the frozen upstream trains nothing of its own
        got.backward()
    params = a.trainable_parameters()
    for p in params:
        assert p.grad is None or torch.isfinite(p.grad).all(), f"{run}: a non-finite bf16 gradient"
    if params:
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params), f"{run}: no gradient"
    assert abs(got.item() - ref.item()) <= rtol * abs(ref.item()), (
        f"{run}: bf16 loss {got.item():.6f} vs float32 {ref.item():.6f}")
    return ref.item(), got.item()


def check_gradient_checkpointing(make_up, wavs, run, family="hubert", tol=1e-6):
    """With the layers recomputed in the backward pass the loss and every gradient (the
    trainable parameters' and the input's) are those without, to ``tol``; dropout on."""
    task = MIXED_TASKS if needs_task_ids(run) else None
    outs = []
    for on in (False, True):
        a = _attached(make_up, family, run, task is not None)
        a.set_gradient_checkpointing(on)
        assert a.gradient_checkpointing == on
        a.train()  # the backbone's dropout too: the recomputation must draw the same masks
        loss = task_loss(a, wavs, task)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in a.named_parameters() if p.requires_grad and p.grad is not None}
        outs.append((loss.detach(), grads))
        a.set_gradient_checkpointing(False)
        assert "forward" not in a.backbone.layers[0].__dict__
    (l0, g0), (l1, g1) = outs
    assert g0 and g0.keys() == g1.keys(), f"{run}: gradients differ in which parameters get one"
    torch.testing.assert_close(l1, l0, atol=tol, rtol=tol)
    for n in g0:
        torch.testing.assert_close(g1[n], g0[n], atol=tol, rtol=tol, msg=lambda m: f"{run} {n}: {m}")
