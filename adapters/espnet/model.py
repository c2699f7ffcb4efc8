"""ESPnet's ASR model, passing each batch's task ids to the ``s3prl_adapter`` frontend.

The batch key ``task`` comes from a data file ``utt2task_id`` (``text_int``:
one integer task index per utterance); without it the adapter's single task
is used.
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
        return super().forward(speech, speech_lengths, text, text_lengths, **kwargs)

    def collect_feats(self, speech, speech_lengths, text, text_lengths, **kwargs):
        route_tasks(self.frontend, kwargs)
        return super().collect_feats(speech, speech_lengths, text, text_lengths, **kwargs)
