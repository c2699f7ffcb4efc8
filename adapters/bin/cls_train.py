"""ESPnet's classification training (``espnet2.bin.cls_train``) with
``frontend: s3prl_adapter`` registered; every ESPnet option works as in ESPnet. The training curves
(``images/``) are drawn once, at the end (``adapters.training_curves``).
"""
from adapters.espnet.register import register_cls
from adapters.results import record_training
from adapters.training_curves import train


def main(cmd=None):
    register_cls()
    from adapters.espnet.tasks import AdapterCLSTask

    record_training(train(AdapterCLSTask.main, cmd))


if __name__ == "__main__":
    main()
