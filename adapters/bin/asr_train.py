"""ESPnet's ASR training (``espnet2.bin.asr_train``) with our classes registered:
``frontend: s3prl_adapter``, ``model: adapter_espnet``, RNN-T via torchaudio.
Every ESPnet option works as in ESPnet (``--ngpu``, ``--num_nodes``,
``--multiprocessing_distributed``, ``--resume``, batch types, optimizers...)."""
from adapters.espnet.register import register_asr
from adapters.results import record_training


def main(cmd=None):
    register_asr()
    from adapters.espnet.tasks import AdapterASRTask

    AdapterASRTask.main(cmd=cmd)
    record_training(cmd)


if __name__ == "__main__":
    main()
