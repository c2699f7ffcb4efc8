"""What every adapter method shares: config parsing, hook bookkeeping, task ids."""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from torch import nn
import torch.nn.functional as F

from adapters.backbones import Backbone
from adapters.tasks import TaskSet


def parse_config(config_cls, conf: dict):
    """Build ``config_cls`` from ``conf``, naming unknown keys and the valid ones."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(conf) - names)
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for {config_cls.__qualname__.split('.')[0]}; "
            f"valid options: {sorted(names)}"
        )
    return config_cls(**conf)


def check_choice(name: str, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def check_positive(name: str, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


#: a parameter attribute: its learning rate is the optimizer's times this (read by
#: ``adapters.espnet.optim_groups`` when ESPnet builds the optimizer)
LR_SCALE_ATTR = "lr_scale"


def set_lr_scale(params, scale: float) -> None:
    if not scale > 0:
        raise ValueError(f"a learning-rate scale must be > 0, got {scale!r}")
    for p in params:
        setattr(p, LR_SCALE_ATTR, float(scale))


def check_lr_scale(name: str, value) -> None:
    """A learning-rate scale option: a number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


@dataclasses.dataclass
class NoConfig:
    pass


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a method does, as the tools ask it (``adapters.catalogue``): each field is a class
    attribute of the method of the same name (defaults here), or comes from its
    ``capabilities_for(config)`` where it depends on the configuration."""

    #: fine-tunes the upstream's own transformer: a task's model is a whole copy of the upstream
    #: (BitFit trains a few of the backbone's weights, stored like an adapter: False)
    trains_backbone: bool = False
    #: gives the downstream features of its own (``layer_summary``, ``summary_dim`` wide) instead of
    #: the upstream's layers (ELP's L-adapter sum)
    has_layer_summary: bool = False
    #: works on the adapters of several tasks (a fusion): one task gives it nothing to do
    needs_several_tasks: bool = False
    #: sends each utterance through the parts of its own task (needs task ids)
    routes_tasks: bool = False
    #: the lowest hidden state it changes: 0 the transformer's input, l the output of layer l;
    #: None when it changes none (frozen; ELP with its L-adapters alone)
    lowest_adapted: Optional[int] = 1
    #: the highest point of the upstream below everything the method trains or changes
    #: (``adapters.upstream_cut.CUTS``): what lies below it can be computed once and cached.
    #: Adapters that hook into the encoder or its layers leave the encoder's input alone.
    cache_cut: str = "encoder"
    #: the adapted upstream computes the frozen one's hidden states before training
    #: (zero-initialised up-projections and the like)
    identity_at_init: bool = True

    @property
    def upstream_grad(self) -> bool:
        """Gradients flow inside the upstream (something below its hidden states trains or changes)."""
        return self.cache_cut != "hidden_states"


CAPABILITIES = tuple(f.name for f in dataclasses.fields(Capabilities))


class AdapterMethod(nn.Module):
    """Base class.  A method adds modules (as children of itself) and hooks them
    into the backbone; the backbone's own weights stay where they are.

    A method also declares what the tools need to know of it (``adapters.catalogue`` reads
    it; no tool keeps a list of methods): ``description``, the recipes' ``recipe_conf`` and
    ``recipe_lr_scale``, ``training_only_options``, and its capabilities (the fields of
    ``Capabilities``, as class attributes; ``capabilities_for`` where they depend on the
    configuration).  An instance carries the capabilities of its configuration as attributes.
    """

    method_name: str = "?"
    Config = NoConfig

    # -- what the tools know of the method ------------------------------------------
    #: one line: the generated configs' header, ``make_configs --help``, the docs
    description: str = ""
    #: a short name for tables (the multi-task table adds how it treats tasks,
    #: ``adapters.catalogue.table_label``); "" : the run's name
    table_label: str = ""
    #: the ``method_conf`` every recipe's config gives it (``adapters.bin.make_configs``; a
    #: base config's ``method_conf_overrides`` adds to it)
    recipe_conf: Mapping[str, Any] = {}
    #: the recipes train it at their base config's learning rate times this
    recipe_lr_scale: float = 1.0
    #: options that only shape training (initialisation, training-loss terms, learning rates,
    #: where the weights were first read from): a checkpoint loads under other values of them
    training_only_options: Tuple[str, ...] = ()
    #: {component: the ``Config`` option holding its learning-rate scale}: the parts of what the
    #: method trains that may learn at a rate of their own (``lr_components`` gives their
    #: parameters; ``apply_lr_scales`` marks them, and ESPnet's optimizer gives each scale a
    #: parameter group, ``adapters.espnet.optim_groups``).  The options are training-only.
    lr_scale_options: Mapping[str, str] = {}

    # -- capabilities (``Capabilities``) ---------------------------------------------
    trains_backbone: bool = Capabilities.trains_backbone
    has_layer_summary: bool = Capabilities.has_layer_summary
    needs_several_tasks: bool = Capabilities.needs_several_tasks
    #: True when the method routes utterances by task id (multi-task heads).
    routes_tasks: bool = Capabilities.routes_tasks
    lowest_adapted: Optional[int] = Capabilities.lowest_adapted
    cache_cut: str = Capabilities.cache_cut
    identity_at_init: bool = Capabilities.identity_at_init
    #: name of the ``nn.ModuleDict`` (keyed by task) holding the per-task parts, if any
    task_modules: str = ""
    #: the width of ``layer_summary``'s features (with ``has_layer_summary``)
    summary_dim: Optional[int] = None

    @classmethod
    def make_config(cls, conf: Optional[Mapping[str, Any]] = None):
        """``Config`` from a ``method_conf`` mapping (unknown or bad options: ValueError)."""
        return parse_config(cls.Config, dict(conf or {}))

    @classmethod
    def capabilities_for(cls, config) -> Capabilities:
        """The capabilities of the method configured by ``config``: the class attributes; a
        method whose capabilities depend on its configuration overrides this."""
        return Capabilities(**{name: getattr(cls, name) for name in CAPABILITIES})

    def __init__(self, backbone: Backbone, config, tasks: TaskSet):
        super().__init__()
        self.config = config
        self.tasks = tasks
        # this configuration's capabilities, as attributes (method.cache_cut, method.routes_tasks ...)
        self.caps = type(self).capabilities_for(config)
        for name in CAPABILITIES:
            setattr(self, name, getattr(self.caps, name))
        # a list, so the upstream is not registered as a child module of the method
        self._backbone = [backbone]
        self._handles: List = []
        self._task_ids: Optional[torch.Tensor] = None

    @property
    def backbone(self) -> Backbone:
        return self._backbone[0]

    # -- life cycle -------------------------------------------------------
    def install(self) -> None:
        """Register hooks on the backbone."""

    def uninstall(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def configure_trainable(self) -> None:
        """Called after the whole upstream was frozen: unfreeze what the method trains."""
        for p in self.parameters():
            p.requires_grad_(True)

    def upstream_trainable_names(self) -> List[str]:
        """Names (in the upstream) of backbone parameters the method trains."""
        return []

    # -- learning-rate scales per component (``lr_scale_options``) -----------
    def lr_components(self) -> Dict[str, List[nn.Parameter]]:
        """{component of ``lr_scale_options``: its parameters} (backbone ones included, where
        the method trains them); a component absent here has none in this configuration."""
        return {}

    def lr_scales(self) -> Dict[str, float]:
        """{component: the learning-rate scale its option holds in this configuration}."""
        return {comp: float(getattr(self.config, opt)) for comp, opt in self.lr_scale_options.items()}

    def apply_lr_scales(self) -> None:
        """Mark the parameters of every component whose scale is not 1 with it
        (``set_lr_scale``); called by ``attach`` after ``configure_trainable``.  With every
        scale 1 nothing is marked, and ESPnet builds its single parameter group as ever."""
        comps = self.lr_components()
        unknown = sorted(set(comps) - set(self.lr_scale_options))
        if unknown:
            raise ValueError(f"{self.method_name}: lr_components names {unknown}, which no option scales")
        for comp, scale in self.lr_scales().items():
            if scale != 1.0:
                set_lr_scale(comps.get(comp, ()), scale)

    def hook(self, module: nn.Module, fn) -> None:
        self._handles.append(module.register_forward_hook(fn))

    def pre_hook(self, module: nn.Module, fn, with_kwargs: bool = False) -> None:
        self._handles.append(module.register_forward_pre_hook(fn, with_kwargs=with_kwargs))

    # -- per forward --------------------------------------------------------
    #: the attributes holding one forward's state that hooks inside the layers read (task ids,
    #: the routing plan): gradient checkpointing (``AdaptedUpstream.set_gradient_checkpointing``)
    #: puts them back while it recomputes a layer in the backward pass, after ``end``
    per_forward_state: Tuple[str, ...] = ("_task_ids", "_plan")

    def forward_state(self) -> Dict[str, Any]:
        """This forward's state (``per_forward_state``), as hooks inside a layer see it now."""
        return {k: getattr(self, k, None) for k in self.per_forward_state}

    @contextlib.contextmanager
    def restored_forward_state(self, state: Mapping[str, Any]):
        """Within: the per-forward state ``state`` (a ``forward_state``); after: what it was."""
        before = self.forward_state()
        for k, v in state.items():
            setattr(self, k, v)
        try:
            yield
        finally:
            for k, v in before.items():
                setattr(self, k, v)

    def begin(self, task_ids: Optional[torch.Tensor]) -> None:
        self._task_ids = task_ids
        self._plan = None

    def end(self) -> None:
        self._task_ids = None
        self._plan = None

    def routing(self, batch_size: int, device):
        """(task indices present, per-utterance position among them), computed once per
        forward on the host, so layer hooks never synchronise with the GPU."""
        plan = getattr(self, "_plan", None)
        if plan is None or plan[1].numel() != batch_size or plan[1].device != torch.device(device):
            ids = self.task_ids(batch_size, "cpu")
            uniq, inverse = torch.unique(ids, return_inverse=True)
            plan = ([int(k) for k in uniq], inverse.to(device))
            self._plan = plan
        return plan

    def task_ids(self, batch_size: int, device) -> torch.Tensor:
        """The batch's task indices; without any, the single task if there is one."""
        ids = self._task_ids
        if ids is None:
            if len(self.tasks) != 1:
                raise ValueError(
                    f"{self.method_name}: this adapter has {len(self.tasks)} tasks "
                    f"{self.tasks.names}; pass task=... with one task per utterance"
                )
            return torch.zeros(batch_size, dtype=torch.long, device=device)
        if ids.numel() != batch_size:
            raise ValueError(f"got {ids.numel()} task ids for a batch of {batch_size}")
        return ids.to(device)

    def layer_summary(self, hidden_states, lengths):
        """Method-specific features for the downstream head, or None (ELP L-adapters)."""
        return None

    def regularization_loss(self) -> Optional[torch.Tensor]:
        """A penalty on the method's own weights that training adds to the task loss
        (AdapterFusion's value regulariser), or None."""
        return None

    def inference_context(self):
        """A context for fast inference (LoRA merges its weights in it)."""
        return contextlib.nullcontext()

    # -- checkpoints ------------------------------------------------------
    def state_for_tasks(self, tasks: Optional[List[str]]) -> Dict[str, torch.Tensor]:
        """The method's own state, restricted to ``tasks`` where it has per-task parts."""
        state = dict(self.state_dict())
        if tasks is None or not self.task_modules:
            return state
        every = f"{self.task_modules}."
        keep = tuple(f"{every}{t}." for t in tasks)
        return {k: v for k, v in state.items() if not k.startswith(every) or k.startswith(keep)}

    def _per_task(self) -> nn.ModuleDict:
        if not self.task_modules:
            raise ValueError(f"{self.method_name} has no per-task parts")
        return getattr(self, self.task_modules)

    def new_task_module(self) -> nn.Module:
        raise NotImplementedError

    def add_task(self, name: str) -> None:
        """A new task with freshly initialised per-task parts (the others untouched)."""
        if not self.task_modules:
            raise ValueError(f"{self.method_name} has no per-task parts; it cannot add task {name!r}")
        self.tasks.add(name)
        device = next(self.parameters()).device
        self._per_task()[name] = self.new_task_module().to(device)

    def train_only_tasks(self, names: List[str]) -> None:
        """Freeze everything of the method but the per-task parts of ``names``."""
        parts = self._per_task()
        for n in names:
            self.tasks.index(n)  # unknown task: a clear error
        for p in self.parameters():
            p.requires_grad_(False)
        for n in names:
            for p in parts[n].parameters():
                p.requires_grad_(True)

    def config_dict(self) -> dict:
        return dataclasses.asdict(self.config)


def per_utterance_matmul(x: torch.Tensor, weights: List[torch.Tensor], inverse: torch.Tensor):
    """y[t, b] = x[t, b] @ weights[inverse[b]].T for time-major x (T, B, in).

    One batched matmul over the batch, never a Python loop over utterances;
    with a single task it is a plain matmul.
    """
    if len(weights) == 1:
        return torch.matmul(x, weights[0].t())
    w = torch.stack(weights)[inverse]  # (B, out, in)
    return torch.bmm(x.transpose(0, 1), w.transpose(1, 2)).transpose(0, 1)


def routed_bottleneck(x: torch.Tensor, ads, inverse: torch.Tensor) -> torch.Tensor:
    """a_{k(b)}(x[:, b]) for time-major x (T, B, d): each utterance through its task's
    ``Bottleneck`` (``ads`` holds the tasks present, ``inverse`` each utterance's position)."""
    if len(ads) == 1:
        return ads[0](x)
    hid = per_utterance_matmul(x, [a.down.weight for a in ads], inverse)
    hid = hid + torch.stack([a.down.bias for a in ads])[inverse]
    out = per_utterance_matmul(F.gelu(hid), [a.up.weight for a in ads], inverse)
    return out + torch.stack([a.up.bias for a in ads])[inverse]
