"""Register our classes in ESPnet's task choices, so every ESPnet option keeps working:
``frontend: s3prl_adapter`` in the ASR, classification and speaker tasks,
``model: adapter_espnet`` for ASR, and the RNN-T loss via torchaudio."""
from __future__ import annotations

_done = set()


def register_asr():
    if "asr" in _done:
        return
    from adapters.espnet import rnnt_loss

    rnnt_loss.install()
    from espnet2.tasks import asr

    from adapters.espnet.frontend import S3prlAdapterFrontend
    from adapters.espnet.model import AdapterASRModel

    asr.frontend_choices.classes["s3prl_adapter"] = S3prlAdapterFrontend
    asr.model_choices.classes["adapter_espnet"] = AdapterASRModel
    _done.add("asr")


def register_cls():
    """ESPnet's classification task (keyword spotting, emotion, speaker identification)."""
    if "cls" in _done:
        return
    from espnet2.asr.encoder.linear_encoder import LinearEncoder
    from espnet2.tasks import cls

    from adapters.espnet.frontend import S3prlAdapterFrontend

    cls.frontend_choices.classes["s3prl_adapter"] = S3prlAdapterFrontend
    # SUPERB's utterance-level downstream is a projection, pooling and a linear layer:
    # ESPnet's linear encoder is that projection
    cls.encoder_choices.classes.setdefault("linear", LinearEncoder)
    _done.add("cls")


def register_spk():
    """ESPnet's speaker task (embeddings trained with a speaker loss, scored on trials)."""
    if "spk" in _done:
        return
    from espnet2.tasks import spk

    from adapters.espnet.frontend import S3prlAdapterFrontend
    from adapters.espnet.spk_preprocessor import SpkCropPreprocessor

    spk.frontend_choices.classes["s3prl_adapter"] = S3prlAdapterFrontend
    # ESPnet's own "spk" preprocessor, with its training crop fixed for NumPy 2
    spk.preprocessor_choices.classes["spk"] = SpkCropPreprocessor
    _done.add("spk")
