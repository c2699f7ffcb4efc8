"""ESPnet's classification training (``espnet2.bin.cls_train``) with
``frontend: s3prl_adapter`` registered; every ESPnet option works as in ESPnet."""
from adapters.espnet.register import register_cls
from adapters.results import record_training


def main(cmd=None):
    register_cls()
    from adapters.espnet.tasks import AdapterCLSTask

    AdapterCLSTask.main(cmd=cmd)
    record_training(cmd)


if __name__ == "__main__":
    main()
