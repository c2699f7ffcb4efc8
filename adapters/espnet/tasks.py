"""ESPnet's tasks as our training entry points run them: the same classes with
per-parameter learning-rate scales (:mod:`adapters.espnet.optim_groups`).  Module-level
classes that register our frontend and model on import, so that a worker started by
ESPnet's multi-process launcher, which unpickles them by name, has them too."""
from espnet2.tasks.asr import ASRTask
from espnet2.tasks.cls import CLSTask
from espnet2.tasks.spk import SpeakerTask

from adapters.espnet.optim_groups import LrScaledOptimizers
from adapters.espnet.register import register_asr, register_cls, register_spk

register_asr()
register_cls()
register_spk()


class AdapterASRTask(LrScaledOptimizers, ASRTask):
    pass


class AdapterCLSTask(LrScaledOptimizers, CLSTask):
    pass


class AdapterSpeakerTask(LrScaledOptimizers, SpeakerTask):
    pass
