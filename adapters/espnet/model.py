"""ESPnet's ASR model, passing each batch's task ids to the ``s3prl_adapter`` frontend.

The batch key ``task`` comes from a data file ``utt2task_id`` (``text_int``:
one integer task index per utterance); without it the adapter's single task
is used.  In training, the adapter method's penalty on its own weights (if it has one,
e.g. AdapterFusion's value regulariser) is added to the loss and reported as
``adapter_penalty``; validation losses stay the ASR loss alone, so that choosing the best
epochs is not changed by it.
"""
from __future__ import annotations

from espnet2.asr.espnet_model import ESPnetASRModel


def route_tasks(frontend, kwargs):
    task = kwargs.pop("task", None)
    kwargs.pop("task_lengths", None)
    if task is not None and hasattr(frontend, "set_tasks"):
        frontend.set_tasks(task.view(-1))


class AdapterASRModel(ESPnetASRModel):
    def forward(self, speech, speech_lengths, text, text_lengths, **kwargs):
        route_tasks(self.frontend, kwargs)
        loss, stats, weight = super().forward(speech, speech_lengths, text, text_lengths, **kwargs)
        penalty = (self.frontend.regularization_loss()
                   if self.training and hasattr(self.frontend, "regularization_loss") else None)
        if penalty is not None:
            loss = loss + penalty
            stats["adapter_penalty"] = penalty.detach().reshape(1)
            stats["loss"] = loss.detach()
        return loss, stats, weight

    def collect_feats(self, speech, speech_lengths, text, text_lengths, **kwargs):
        route_tasks(self.frontend, kwargs)
        return super().collect_feats(speech, speech_lengths, text, text_lengths, **kwargs)
