"""Per-utterance task routing for multi-task batches.

A batch carries one task per utterance, given as task names or as indices into
the adapter's task list.  Methods receive a LongTensor of indices; methods that
need no task id (fusion) ignore it.
"""
from __future__ import annotations

from typing import Iterable, List, Optional, Sequence, Union

import torch

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
