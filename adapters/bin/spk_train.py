"""ESPnet's speaker-embedding training (``espnet2.bin.spk_train``) with
``frontend: s3prl_adapter`` registered; ESPnet validates on trials (EER, minDCF). The training curves
(``images/``) are drawn once, at the end (``adapters.training_curves``).
"""
from adapters.espnet.register import register_spk
from adapters.results import record_training
from adapters.training_curves import train


def main(cmd=None):
    register_spk()
    from adapters.espnet.tasks import AdapterSpeakerTask

    record_training(train(AdapterSpeakerTask.main, cmd))


if __name__ == "__main__":
    main()
