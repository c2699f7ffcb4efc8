"""ESPnet's ASR inference (``espnet2.bin.asr_inference``) with our classes registered.

Adds one option, ``--ctc_greedy true``: best-path CTC decoding (argmax per
frame, repeats merged, blanks dropped) instead of ESPnet's beam search; the
model, tokenizer, data loading and output files are ESPnet's.  Transducer
models decode with ESPnet's transducer beam search (``--beam_size``).

Multi-task models: give the utterances' task ids as data
(``--data_path_and_name_and_type dump/raw/test/utt2task_id,task,text_int
--allow_variable_data_keys true``) with ``--task_list data/tasks_all`` (the
names the ids index).  Each utterance goes to its task's adapter; a task the
model has no adapter for (zero-shot) goes to ``--fallback_task``, or is an
error naming the task.  Task-id-free models (fusion) ignore the ids.

The model's method and parameter counts go to ``<exp>/model_info.json`` (the
scorer reads them there instead of building the model again).
"""
import sys
from pathlib import Path

from adapters.espnet.register import register_asr


def _greedy_speech2text():
    # one implementation, shared with serving (adapters.serving: adapters.bin.infer)
    from adapters.serving import greedy_ctc_speech2text

    return greedy_ctc_speech2text()


def _task_routed(base, task_list, fallback):
    """``base`` (a Speech2Text class) taking each utterance's task id from the data."""
    import torch

    class TaskRoutedSpeech2Text(base):
        def __call__(self, speech, task=None, **kwargs):
            frontend = self.asr_model.frontend
            method = getattr(getattr(frontend, "adapted", None), "method", None)
            if task is not None and method is not None and method.routes_tasks:
                frontend.set_tasks([self._model_task(int(t), method.tasks) for t in torch.as_tensor(task).view(-1)])
            return super().__call__(speech, **kwargs)

        @staticmethod
        def _model_task(i, model_tasks):
            if not 0 <= i < len(task_list):
                raise ValueError(f"task id {i} is out of range of the task list ({len(task_list)} tasks)")
            name = task_list[i]
            if name in model_tasks:
                return name
            if fallback is None:
                raise ValueError(f"the model has no adapter for task {name!r} (it knows {model_tasks.names}); "
                                 "pass --fallback_task to decode it with another task's adapter")
            model_tasks.index(fallback)  # a clear error when the fallback is unknown too
            return fallback

    return TaskRoutedSpeech2Text


def _recording_model_info(base, exp):
    """``base`` (a Speech2Text class) writing the loaded model's counts to ``exp``."""
    from adapters.results import save_model_info

    class RecordingSpeech2Text(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            save_model_info(exp, self.asr_model)

    return RecordingSpeech2Text


def check_beam_size(beam_size: int, train_config) -> None:
    """ESPnet's label-synchronous beam search (CTC prefix scoring, attention) needs a beam below
    the model's vocabulary: at the vocabulary's size it expands every token, blank included, and
    decodes garbage without a word of warning (a 30-character model scored 100 % WER on
    LibriSpeech's dev set at beam 30, 47 % at beam 29); above it, it dies in ``topk``.  The
    transducer's search clamps the beam itself, so only the other models are checked."""
    if not train_config:
        return
    import yaml

    with open(train_config, encoding="utf-8") as f:
        conf = yaml.safe_load(f) or {}
    tokens = conf.get("token_list")
    if isinstance(tokens, str):  # a path, as in a hand-written config
        with open(tokens, encoding="utf-8") as f:
            tokens = [line for line in f if line.strip()]
    if conf.get("decoder") == "transducer" or not tokens:
        return
    if beam_size >= len(tokens):
        raise SystemExit(f"--beam_size {beam_size} is not below the {len(tokens)} tokens of {train_config}: "
                         f"ESPnet's beam search then expands every token and decodes garbage; "
                         f"use at most {len(tokens) - 1}")


def main(cmd=None):
    register_asr()
    from espnet2.bin import asr_inference
    from espnet2.utils.types import str2bool

    parser = asr_inference.get_parser()
    parser.add_argument("--ctc_greedy", type=str2bool, default=False,
                        help="best-path CTC decoding instead of beam search")
    parser.add_argument("--task_list", default=None,
                        help="file of task names (one per line) that the 'task' data ids index")
    parser.add_argument("--fallback_task", default=None,
                        help="task whose adapter decodes utterances of tasks the model does not know")
    args = parser.parse_args(cmd)
    print(" ".join(sys.argv), file=sys.stderr)
    kwargs = vars(args)
    kwargs.pop("config", None)
    task_list, fallback = kwargs.pop("task_list"), kwargs.pop("fallback_task")
    if kwargs.pop("ctc_greedy"):
        asr_inference.Speech2Text = _greedy_speech2text()
    else:
        check_beam_size(kwargs["beam_size"], kwargs.get("asr_train_config"))
    if task_list:
        with open(task_list, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
        asr_inference.Speech2Text = _task_routed(asr_inference.Speech2Text, names, fallback)
    if kwargs.get("asr_train_config"):
        exp = Path(kwargs["asr_train_config"]).parent
        asr_inference.Speech2Text = _recording_model_info(asr_inference.Speech2Text, exp)
    asr_inference.inference(**kwargs)


if __name__ == "__main__":
    main()
