"""Whole files only: write beside the target, then rename onto it.

A reader (another job, a resumed run, the benchmark's collector) sees the previous
file or the new one, never a half-written one, and a crash mid-write leaves the
previous file intact.  ``os.replace`` is atomic on one file system, so the temporary
name is always in the target's own directory.

    with replacing(path) as tmp:          # any writer that takes a path
        torch.save(state, tmp)
    atomic_write(path, text_or_bytes)     # the common case

The temporary path is ``<name><suffix>`` (``<name>.tmp`` by default) unless ``tmp``
names it; ``unique_tmp(path)`` gives ``.<name>.<pid>.tmp`` for files that several
processes may write at once.  When the block raises, nothing is renamed and the
temporary file stays where it is (the next write replaces it).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


def unique_tmp(path: PathLike) -> Path:
    """``.<name>.<pid>.tmp`` beside ``path``: a temporary name no other process uses."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def replacing(path: PathLike, suffix: str = ".tmp", tmp: Optional[PathLike] = None) -> Iterator[Path]:
    """A temporary path beside ``path`` (``tmp``, else ``<name><suffix>``), renamed onto
    ``path`` when the block exits without an error.  Works for files and for directories
    (a directory replaces a missing or empty one)."""
    path = Path(path)
    tmp = Path(tmp) if tmp is not None else path.with_name(path.name + suffix)
    yield tmp
    os.replace(tmp, path)


def atomic_write(path: PathLike, data: Union[str, bytes], suffix: str = ".tmp",
                 tmp: Optional[PathLike] = None, encoding: Optional[str] = None) -> Path:
    """Write ``data`` (text or bytes) to ``path`` through a temporary file (see ``replacing``)."""
    path = Path(path)
    with replacing(path, suffix, tmp) as t:
        if isinstance(data, bytes):
            t.write_bytes(data)
        else:
            t.write_text(data, encoding=encoding)
    return path
