"""Each data dir's ``utt2task_id`` from its ``utt2task``: the utterance's index in the task list.

    python -m adapters.bin.task_ids --task_list data/tasks_all dump/raw/train dump/raw/dev

One mapping (``adapters.tasks.TaskSet``) for the data files, training (the frontend's
``data_tasks``, given by ``asr_train --task_list``) and decoding (``asr_inference
--task_list``): an id means the task the list names at that line, whatever the order.
A file that already says this is left alone (its mtime too); a task outside the list
is an error naming the utterance.
"""
from __future__ import annotations

import argparse
import sys

from adapters.tasks import TaskSet, UnknownTaskError, write_task_ids


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task_list", required=True, help="file of task names, one a line: ids index it")
    ap.add_argument("dirs", nargs="+", help="data dirs with a utt2task file")
    a = ap.parse_args(argv)
    try:
        tasks = TaskSet.load(a.task_list)
        for d in a.dirs:
            write_task_ids(d, tasks)
    except (OSError, ValueError, UnknownTaskError) as e:
        sys.exit(f"task_ids: {e}")


if __name__ == "__main__":
    main()
