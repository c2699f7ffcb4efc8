"""ESPnet's ASR training (``espnet2.bin.asr_train``) with our classes registered:
``frontend: s3prl_adapter``, ``model: adapter_espnet``, RNN-T via torchaudio.
Every ESPnet option works as in ESPnet (``--ngpu``, ``--num_nodes``,
``--multiprocessing_distributed``, ``--resume``, batch types, optimizers...). The training curves
(``images/``) are drawn once, at the end (``adapters.training_curves``).
"""
from adapters.espnet.register import register_asr
from adapters.results import record_training
from adapters.training_curves import train


def main(cmd=None):
    register_asr()
    from adapters.espnet.tasks import AdapterASRTask

    record_training(train(AdapterASRTask.main, cmd))


if __name__ == "__main__":
    main()
