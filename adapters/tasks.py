"""Per-utterance task routing for multi-task batches.

A batch carries one task per utterance, given as task names or as indices into
the adapter's task list.  Methods receive a LongTensor of indices; methods that
need no task id (fusion) ignore it.

A recipe's data carry task ids too (``utt2task_id``, the ESPnet data file ``task``):
indices into the recipe's task list (a file of names, one a line: ``TaskSet.load``),
written from ``utt2task`` by :func:`write_task_ids` (``adapters.bin.task_ids``).  The
model reads them through the same list (``TaskSet.names_of``: the frontend's
``data_tasks``, decoding's ``--task_list``), so an id always means the task the list
names, whatever the order of the list and of the adapter's own tasks.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

import torch

from adapters.fileio import atomic_write, unique_tmp

TaskSpec = Union[None, str, int, Sequence[Union[str, int]], torch.Tensor]

DEFAULT_TASK = "default"


class UnknownTaskError(KeyError):
    def __str__(self):  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class TaskSet:
    """An ordered list of task names with name -> index lookup."""

    def __init__(self, names: Optional[Iterable[str]] = None):
        names = list(names) if names else [DEFAULT_TASK]
        for n in names:
            if not isinstance(n, str) or not n:
                raise ValueError(f"task names must be non-empty strings, got {n!r}")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"duplicate task names: {dup}")
        self.names: List[str] = names
        self._index = {n: i for i, n in enumerate(names)}

    def __len__(self):
        return len(self.names)

    def __iter__(self):
        return iter(self.names)

    def __contains__(self, name):
        return name in self._index

    @classmethod
    def load(cls, path) -> "TaskSet":
        """The task list in the file ``path`` (one name a line; blank lines skipped)."""
        text = Path(path).read_text(encoding="utf-8")
        names = [line.strip() for line in text.splitlines() if line.strip()]
        if not names:
            raise ValueError(f"{path}: no task names (one a line)")
        return cls(names)

    def names_of(self, ids) -> List[str]:
        """The names of task indices into this list (a tensor or a sequence of ints)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.flatten().tolist()
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.names):
                raise UnknownTaskError(
                    f"task id {i} is out of range of the task list {self.names} ({len(self)} tasks)")
            out.append(self.names[i])
        return out

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise UnknownTaskError(
                f"unknown task {name!r}; this adapter knows the tasks {self.names}"
            ) from None

    def add(self, name: str) -> int:
        if name in self._index:
            raise ValueError(f"task {name!r} already exists")
        self.names.append(name)
        self._index[name] = len(self.names) - 1
        return self._index[name]

    def resolve(self, task: TaskSpec, batch_size: int, device=None) -> Optional[torch.Tensor]:
        """Task indices (batch_size,) for ``task``; None means 'no task given'."""
        if task is None:
            return None
        if isinstance(task, (str, int)):
            task = [task] * batch_size
        if isinstance(task, torch.Tensor):
            ids = task.to(dtype=torch.long).flatten()
            if ids.numel() == 1 and batch_size != 1:
                ids = ids.expand(batch_size)
        else:
            task = list(task)
            ids = torch.tensor(
                [self.index(t) if isinstance(t, str) else int(t) for t in task], dtype=torch.long
            )
        if ids.numel() != batch_size:
            raise ValueError(f"got {ids.numel()} task ids for a batch of {batch_size} utterances")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= len(self)):
            bad = int(ids.max()) if int(ids.max()) >= len(self) else int(ids.min())
            raise UnknownTaskError(
                f"task id {bad} is out of range; this adapter knows {len(self)} tasks {self.names}"
            )
        return ids.to(device) if device is not None else ids


def task_id_lines(utt2task, tasks: TaskSet, where: str = "utt2task") -> List[str]:
    """``utt2task``'s lines (``<utt> <task name>``) as ``<utt> <index in tasks>`` lines."""
    out = []
    for n, line in enumerate(utt2task, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ValueError(f"{where}:{n}: expected '<utterance> <task>', got {line.rstrip()!r}")
        utt, task = parts
        if task not in tasks:
            raise UnknownTaskError(f"{where}:{n}: utterance {utt}: task {task!r} is not in the task list {tasks.names}")
        out.append(f"{utt} {tasks.index(task)}")
    return out


def write_task_ids(data_dir, tasks: TaskSet) -> bool:
    """``data_dir/utt2task_id`` from ``data_dir/utt2task``: each utterance's index in ``tasks``.
    Written aside and renamed; left alone (its mtime too) when it already says this.
    Returns whether it was written."""
    d = Path(data_dir)
    src = d / "utt2task"
    if not src.is_file() or src.stat().st_size == 0:
        raise FileNotFoundError(f"{src} missing: multi-task data name each utterance's task")
    with open(src, encoding="utf-8") as f:
        text = "".join(f"{line}\n" for line in task_id_lines(f, tasks, str(src)))
    dst = d / "utt2task_id"
    if dst.is_file() and dst.read_text(encoding="utf-8") == text:
        return False
    atomic_write(dst, text, tmp=unique_tmp(dst), encoding="utf-8")
    return True
