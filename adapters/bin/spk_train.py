"""ESPnet's speaker-embedding training (``espnet2.bin.spk_train``) with
``frontend: s3prl_adapter`` registered; ESPnet validates on trials (EER, minDCF)."""
from adapters.espnet.register import register_spk
from adapters.results import record_training


def main(cmd=None):
    register_spk()
    from adapters.espnet.tasks import AdapterSpeakerTask

    AdapterSpeakerTask.main(cmd=cmd)
    record_training(cmd)


if __name__ == "__main__":
    main()
