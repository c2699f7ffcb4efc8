"""One task list (adapters.tasks.TaskSet) for the data files, training and decoding: a task id
in utt2task_id means the task that list names, whatever the order of seen and unseen tasks
in it and of the adapter's own tasks (there is no ordering rule to keep)."""
import os

import pytest
import torch

from adapters.tasks import TaskSet, UnknownTaskError, write_task_ids
from conftest import perturb

SEEN = ["typical", "F01", "M02"]           # the adapter's tasks (frontend_conf tasks), in this order
UNSEEN = ["F04", "M03"]                    # a task added later, a zero-shot task
UTT2TASK = {"u1": "M02", "u2": "typical", "u3": "F01"}  # one training batch, one utterance a task
ORDERS = {
    "seen_first": SEEN + UNSEEN,           # what the Euphonia recipe writes (data/tasks_all)
    "unseen_first": UNSEEN + SEEN,
    "shuffled": ["M03", "F01", "typical", "F04", "M02"],
}


def _data(tmp_path, names):
    (tmp_path / "tasks_all").write_text("".join(f"{t}\n" for t in names))
    d = tmp_path / "train"
    d.mkdir()
    (d / "utt2task").write_text("".join(f"{u} {t}\n" for u, t in UTT2TASK.items()))
    from adapters.bin.task_ids import main

    main(["--task_list", str(tmp_path / "tasks_all"), str(d)])
    ids = [int(line.split()[1]) for line in (d / "utt2task_id").read_text().splitlines()]
    return tmp_path / "tasks_all", ids


def _frontend(ckpt_dir, **kw):
    from adapters.espnet.frontend import S3prlAdapterFrontend

    torch.manual_seed(0)
    fe = S3prlAdapterFrontend(upstream="hubert_local", path_or_url=str(ckpt_dir / "hubert.pt"),
                              method="hra", tasks=list(SEEN), **kw).eval()
    perturb(fe.adapted.method, std=0.2)  # every task's head different
    return fe


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_task_ids_mean_the_same_task_in_training_and_decoding(tmp_path, ckpt_dir, wavs, order):
    from adapters.bin.asr_inference import _task_routed
    from adapters.espnet.model import route_tasks

    task_list, ids = _data(tmp_path, ORDERS[order])
    names = TaskSet.load(task_list)
    assert ids == [ORDERS[order].index(t) for t in UTT2TASK.values()]  # indices into the list
    x, lens = wavs
    by_name = _frontend(ckpt_dir)
    by_name.set_tasks(list(UTT2TASK.values()))
    want = by_name(x, lens)[0]

    # training: the model hands the batch's ids to the frontend, which reads them through the list
    fe = _frontend(ckpt_dir, data_tasks=names.names)
    route_tasks(fe, {"task": torch.tensor([[i] for i in ids]), "task_lengths": torch.ones(3, dtype=torch.long)})
    assert torch.equal(fe(x, lens)[0], want)

    # decoding (asr_inference --task_list): the same ids, the same list, the same adapters
    model_task = _task_routed(object, names.names, "typical")._model_task
    assert [model_task(i, fe.adapted.method.tasks) for i in ids] == list(UTT2TASK.values())
    assert model_task(names.index("M03"), fe.adapted.method.tasks) == "typical"  # zero-shot: fallback


def test_the_order_of_the_list_changes_the_ids_not_the_tasks(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    seen_first, ids_a = _data(tmp_path / "a", ORDERS["seen_first"])
    unseen_first, ids_b = _data(tmp_path / "b", ORDERS["unseen_first"])
    assert ids_a != ids_b
    assert TaskSet.load(seen_first).names_of(ids_a) == TaskSet.load(unseen_first).names_of(ids_b) \
        == list(UTT2TASK.values())


def test_write_task_ids_checks_and_keeps_an_up_to_date_file(tmp_path):
    tasks = TaskSet(["a", "b"])
    (tmp_path / "utt2task").write_text("u1 b\nu2 a\n")
    assert write_task_ids(tmp_path, tasks)
    assert (tmp_path / "utt2task_id").read_text() == "u1 1\nu2 0\n"
    os.utime(tmp_path / "utt2task_id", (1, 1))
    assert not write_task_ids(tmp_path, tasks)  # unchanged: left alone, its mtime too
    assert (tmp_path / "utt2task_id").stat().st_mtime == 1
    (tmp_path / "utt2task").write_text("u1 b\nu2 c\n")
    with pytest.raises(UnknownTaskError, match="utterance u2: task 'c' is not in the task list"):
        write_task_ids(tmp_path, tasks)
    with pytest.raises(UnknownTaskError, match="task id 2 is out of range"):
        tasks.names_of([2])


def test_frontend_without_a_data_list_reads_ids_as_its_own_tasks(ckpt_dir, wavs):
    fe = _frontend(ckpt_dir)
    fe.set_tasks(torch.tensor([2, 0, 1]))
    a = fe(*wavs)[0]
    fe.set_tasks(["M02", "typical", "F01"])
    assert torch.equal(a, fe(*wavs)[0])
