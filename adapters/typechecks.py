"""ESPnet's run-time argument type checks, skipped in our entry points unless asked for.

ESPnet decorates about 300 functions and classes with typeguard's ``@typechecked``.  Typeguard 4
instruments each one when its module is imported: it reads the source, rewrites the syntax tree
and compiles it again.  On the project's 2-core CPU machine that is 3.0 s of the 8.6 s a process
takes to import ``espnet2.tasks.asr`` (5.6-5.7 s without, two runs each, idle, 2026-12-05), and
every training, decoding and scoring process pays it: several hundred in ``make demo``.  The
checks only raise on an argument of the wrong type; they compute nothing, so a run's numbers
are the same with and without them.

``ADAPTERS_TYPECHECK=1`` keeps them (the test suite sets it, so CI checks every call we make
into ESPnet).  Typeguard itself does the same under ``python -O``, which would also drop
``assert`` statements; this leaves those alone.
"""
from __future__ import annotations

import os

ENV = "ADAPTERS_TYPECHECK"


def _no_check(target=None, **_options):
    """``@typechecked`` and ``@typechecked(...)`` that return the target as it is."""
    return target if target is not None else _no_check


def skip_typechecks() -> bool:
    """Make ``typeguard.typechecked`` a pass-through for modules imported from now on, unless
    ``ADAPTERS_TYPECHECK=1``.  Returns whether the checks are skipped.  Modules imported
    before (their functions already decorated) keep their checks."""
    if os.environ.get(ENV, "") == "1":
        return False
    try:
        import typeguard
    except ImportError:
        return False
    typeguard.typechecked = _no_check  # ESPnet's ``from typeguard import typechecked`` gets this
    return True
