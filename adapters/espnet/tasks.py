"""ESPnet's tasks as our training entry points run them: the same classes with
per-parameter learning-rate scales (:mod:`adapters.espnet.optim_groups`) and a cheaper CPU
dropout mask (:mod:`adapters.espnet.fast_dropout`).  Module-level
classes that register our frontend and model on import, so that a worker started by
ESPnet's multi-process launcher, which unpickles them by name, has them too."""
from espnet2.tasks.asr import ASRTask
from espnet2.tasks.cls import CLSTask
from espnet2.tasks.spk import SpeakerTask

from adapters.espnet.fast_dropout import FastDropoutModels
from adapters.espnet.optim_groups import LrScaledOptimizers
from adapters.espnet.register import register_asr, register_cls, register_spk

register_asr()
register_cls()
register_spk()


class AdapterASRTask(LrScaledOptimizers, FastDropoutModels, ASRTask):
    @classmethod
    def add_task_arguments(cls, parser):
        super().add_task_arguments(parser)
        parser.add_argument(
            "--task_list", default=None,
            help="file of task names (adapters.tasks.TaskSet) that the 'task' data ids (utt2task_id) "
                 "index; the frontend reads the ids through it (frontend_conf data_tasks)")

    @classmethod
    def build_model(cls, args):
        task_list = getattr(args, "task_list", None)
        if task_list:
            from adapters.tasks import TaskSet

            if args.frontend != "s3prl_adapter":
                raise ValueError(f"--task_list needs the frontend s3prl_adapter, got {args.frontend!r}")
            args.frontend_conf = {**(args.frontend_conf or {}), "data_tasks": TaskSet.load(task_list).names}
            # the names now live in the config (config.yaml is written after this): a model
            # built from it later needs no file
            args.task_list = None
        return super().build_model(args)


class AdapterCLSTask(LrScaledOptimizers, FastDropoutModels, CLSTask):
    pass


class AdapterSpeakerTask(LrScaledOptimizers, FastDropoutModels, SpeakerTask):
    pass
