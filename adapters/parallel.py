"""One process pool helper for the data and synthesis tools."""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, Sequence


def parallel_map(fn: Callable, jobs: Sequence, nj: int, chunksize: int = 8) -> Iterator:
    """``map(fn, jobs)`` in order, over ``nj`` processes (inline when ``nj <= 1``).

    Workers are spawned, not forked: a fork of a process that already runs
    torch's OpenMP threads can deadlock in the child (seen here in a test run).
    """
    if nj <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    with ProcessPoolExecutor(nj, mp_context=multiprocessing.get_context("spawn")) as ex:
        yield from ex.map(fn, jobs, chunksize=chunksize)
