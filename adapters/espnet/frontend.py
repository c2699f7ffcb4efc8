"""The ``s3prl_adapter`` frontend: an s3prl upstream with one adapter method
attached, reduced to one feature sequence for ESPnet's encoder or head.

    frontend: s3prl_adapter
    frontend_conf:
        upstream: hubert_local          # any S3PRLUpstream name (wavlm_base_plus ...)
        path_or_url: /path/to/ckpt.pt   # for *_local names
        method: hra                     # adapters.available_methods() (default: frozen)
        method_conf: {controller_dim: 256}
        tasks: [default]
        features: weighted_sum          # auto | weighted_sum | last | layer | l_adapter
        layer: -1                       # for features: layer
        adapter_init: null              # an adapter-only checkpoint to start from: its method and
                                        # configuration must be these (adapters.checkpoint)
        train_tasks: null               # train only these tasks' parts (adding a task to a
                                        # trained multi-task adapter; the rest stays frozen)
        data_tasks: null                # the task list the data's ids index (utt2task_id;
                                        # asr_train --task_list FILE sets it from the file)
        gradient_checkpointing: false   # recompute the transformer layers in the backward pass
                                        # (less training memory, one more forward through them;
                                        # the same numbers: AdaptedUpstream.set_gradient_checkpointing)
        checkpoint_every: 1             # with it: recompute every k-th layer only (less of the
                                        # extra forward, more memory kept)

The input is either waveforms (batch, samples) or the upstream's frozen part read
from a feature cache (batch, frames, dim; ``adapters.feature_cache``): the part
below the method's ``cache_cut`` is computed one utterance at a time either way,
so the two give the same numbers and no utterance depends on its batch.

``features: auto`` (the default) is the method's own layer summary where it has one
(the capability ``has_layer_summary``: ELP with its L-adapters on; ``features:
l_adapter`` asks for it), else the SUPERB weighted sum.  The frontend asks the method's
capabilities (``adapters.catalogue``), never its name.  Task ids reach the adapter
through ``set_tasks`` (the model passes each batch's ``utt2task_id``).  With ``data_tasks``
those ids index that list (a recipe's task list, ``adapters.tasks.TaskSet``) and are read
as names, so the adapter's ``tasks`` may be in any order; without it they index ``tasks``.
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import List, Optional, Tuple, Union

import humanfriendly
import torch
from typeguard import typechecked

from espnet2.asr.frontend.abs_frontend import AbsFrontend

from adapters.catalogue import BASELINE
from adapters.tasks import TaskSet

FEATURES = ("auto", "weighted_sum", "last", "layer", "l_adapter")


class S3prlAdapterFrontend(AbsFrontend):
    @typechecked
    def __init__(
        self,
        fs: Union[int, str] = 16000,
        upstream: str = "hubert_local",
        path_or_url: Optional[str] = None,
        method: str = BASELINE,
        method_conf: Optional[dict] = None,
        tasks: Optional[List[str]] = None,
        features: str = "auto",
        layer: int = -1,
        adapter_init: Optional[str] = None,
        upstream_conf: Optional[dict] = None,
        train_tasks: Optional[List[str]] = None,
        data_tasks: Optional[List[str]] = None,
        gradient_checkpointing: bool = False,
        checkpoint_every: int = 1,
    ):
        super().__init__()
        from s3prl.nn import Featurizer, S3PRLUpstream

        import adapters
        from adapters.checkpoint import CheckpointError, load_state_into

        if isinstance(fs, str):
            fs = humanfriendly.parse_size(fs)
        if fs != 16000:
            raise ValueError(f"s3prl upstreams take 16 kHz audio; this model was configured for fs={fs}")
        if features not in FEATURES:
            raise ValueError(f"features must be one of {FEATURES}, got {features!r}")
        if upstream not in S3PRLUpstream.available_names():
            raise ValueError(f"unknown s3prl upstream {upstream!r} (see S3PRLUpstream.available_names())")
        if upstream.endswith("_local") and not path_or_url:
            raise ValueError(f"upstream {upstream!r} needs path_or_url (a local checkpoint)")
        try:
            up = S3PRLUpstream(upstream, path_or_url=path_or_url, **(upstream_conf or {}))
        except Exception as e:
            if path_or_url and not path_or_url.startswith(("http://", "https://")):
                raise ValueError(
                    f"cannot load upstream {upstream!r} from {path_or_url}: "
                    + ("file not found" if not Path(path_or_url).exists()
                       else f"corrupt, truncated or not a {upstream} checkpoint ({e.__class__.__name__}: {str(e)[:200]})")
                ) from None
            raise
        model = getattr(up.upstream, "model", None)
        if getattr(model, "feature_grad_mult", None) is not None:
            model.feature_grad_mult = 1.0
        self.adapted = adapters.attach(up, method, tasks=tasks, **(method_conf or {}))
        if adapter_init:
            # the checkpoint may hold fewer tasks than ``tasks`` (a task added later); another
            # method, backbone or configuration is an error naming what differs
            try:
                load_state_into(self.adapted, adapter_init)
            except CheckpointError as e:
                raise CheckpointError(f"frontend_conf adapter_init: {e}") from None
        if train_tasks:
            self.adapted.method.train_only_tasks(list(train_tasks))
        self.adapted.set_gradient_checkpointing(gradient_checkpointing, every=checkpoint_every)
        self.method = method
        own_summary = self.adapted.method.has_layer_summary
        if features == "auto":
            features = "l_adapter" if own_summary else "weighted_sum"
        if features == "l_adapter" and not own_summary:
            raise ValueError(f"features: l_adapter needs a method with a layer summary of its own ({method!r} "
                             "has none): method: elp with l_adapter: true")
        n_states = len(self.adapted.hidden_sizes)
        if features == "layer" and not -n_states <= layer < n_states:
            raise ValueError(f"layer {layer} is out of range: {upstream} reports {n_states} hidden states "
                             f"(layer: 0 .. {n_states - 1}, or -1 for the last)")
        self.features = features
        self.layer = layer
        if features == "weighted_sum":
            self.featurizer = Featurizer(self.adapted)
            self._size = self.featurizer.output_size
        elif features == "l_adapter":
            self.featurizer = None
            self._size = self.adapted.method.summary_dim
        else:
            self.featurizer = None
            self._size = self.adapted.hidden_sizes[-1]
        self._tasks = None
        self.data_tasks = TaskSet(data_tasks) if data_tasks else None
        # a training penalty of the method's (AdapterFusion's value regulariser) is added to the
        # loss by the ASR model; any other model would silently train without it
        self._has_penalty = self.adapted.method.regularization_loss() is not None
        self._penalty_unclaimed = False
        # ESPnet's --init re-initialises every parameter; reload_pretrained_parameters puts
        # the upstream and the adapter's own initialisation (identity at step 0) back.
        self.pretrained_params = copy.deepcopy(self.state_dict())
        self.frontend_type = "s3prl_adapter"
        self.hop_length = self.adapted.downsample_rates[-1]
        logging.info(
            f"s3prl_adapter: {upstream} + {method}: {self.adapted.num_trainable():,} trainable of "
            f"{self.adapted.num_backbone():,} backbone parameters; features={features}"
        )

    def output_size(self) -> int:
        return self._size

    def set_tasks(self, tasks):
        """Task ids for the next forward: names, or indices (into ``data_tasks`` when it is
        given, else into ``tasks``); None for the default."""
        if self.data_tasks is not None and tasks is not None and not isinstance(tasks, str):
            if isinstance(tasks, torch.Tensor) or any(not isinstance(t, str) for t in tasks):
                tasks = self.data_tasks.names_of(tasks)
        self._tasks = tasks

    def regularization_loss(self) -> Optional[torch.Tensor]:
        """The adapter method's penalty on its own weights for this training step, or None."""
        self._penalty_unclaimed = False
        return self.adapted.method.regularization_loss()

    def train(self, mode: bool = True):
        super().train(mode)
        # The backbone's dropout and layer drop stay off unless the backbone itself trains:
        # adapters learn against the deterministic frozen network.
        if not self.adapted.method.upstream_trainable_names():
            self.adapted.upstream.eval()
        return self

    def forward(self, input: torch.Tensor, input_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        tasks, self._tasks = self._tasks, None
        if self._has_penalty and self.training and torch.is_grad_enabled():
            if self._penalty_unclaimed:
                raise RuntimeError(
                    f"s3prl_adapter: method {self.method!r} has a training penalty "
                    f"({self.adapted.method.config}) that only the ASR model 'adapter_espnet' adds to "
                    "its loss; use that model, or turn the penalty off"
                )
            self._penalty_unclaimed = True
        if input.dim() == 2:  # waveforms: the frozen part now, one utterance at a time
            feats, lens = self.adapted.frozen_part(input, input_lengths)
        else:  # the frozen part read from the feature cache (adapters.feature_cache)
            feats, lens = input, input_lengths
        hs, hs_len = self.adapted.forward_from(feats, lens, task=tasks)
        if self.features == "weighted_sum":
            return self.featurizer(hs, hs_len)
        if self.features == "l_adapter":
            return self.adapted.layer_summary(hs, hs_len)
        i = -1 if self.features == "last" else self.layer
        return hs[i], hs_len[i]

    def reload_pretrained_parameters(self):
        self.load_state_dict(self.pretrained_params)
        logging.info("s3prl_adapter: upstream, adapter and layer-weight initialisation reloaded after --init")
