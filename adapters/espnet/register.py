"""Register our classes in ESPnet's task choices, so every ESPnet option keeps working:
``frontend: s3prl_adapter`` and ``model: adapter_espnet``; RNN-T loss via torchaudio."""
from __future__ import annotations

_done = False


def register_asr():
    global _done
    if _done:
        return
    from adapters.espnet import rnnt_loss

    rnnt_loss.install()
    from espnet2.tasks import asr

    from adapters.espnet.frontend import S3prlAdapterFrontend
    from adapters.espnet.model import AdapterASRModel

    asr.frontend_choices.classes["s3prl_adapter"] = S3prlAdapterFrontend
    asr.model_choices.classes["adapter_espnet"] = AdapterASRModel
    _done = True
