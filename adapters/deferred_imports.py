"""Modules that ESPnet imports at start-up but a run of ours never uses, loaded on first use instead.

``espnet2.tasks.asr`` imports ``g2p_en`` (for its phoneme tokenizer) and ``tacotron_cleaner``
(for its text cleaner) at module level; both import ``inflect``, whose typeguard-decorated
functions are instrumented on import: 2.35 s of the 11.3 s (wall, idle) that importing
``espnet2.tasks.asr`` takes on the project's 2-core CPU machine (``python -X importtime``,
2026-12-05; 8.6 s with these deferred).  Every training, decoding and scoring process pays it,
four or more a benchmark run.  ESPnet touches ``g2p_en.G2p`` only when a ``g2p_en`` tokenizer is
built and ``tacotron_cleaner.cleaners`` only when the ``tacotron`` cleaner runs, so the module
objects it holds can stand in for the real ones until then: the first attribute asked of a
stand-in imports the real module and answers from it.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types

# ESPnet's text cleaner imports tacotron_cleaner.cleaners, which imports inflect too
DEFERRED = ("g2p_en", "tacotron_cleaner", "tacotron_cleaner.cleaners")


class DeferredModule(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet; the first attribute looked up
    (other than the ones every module has: ``__spec__``, ``__file__`` ...) imports it."""

    def __getattr__(self, attr):
        return getattr(load(self.__name__), attr)


def load(name: str) -> types.ModuleType:
    """The real module ``name``, imported now if its stand-in is still in ``sys.modules``.
    If the import fails, the error is raised here and the next look-up tries again."""
    module = sys.modules.get(name)
    if isinstance(module, DeferredModule):
        del sys.modules[name]
        module = None
    return module if module is not None else importlib.import_module(name)


def defer(names=DEFERRED) -> None:
    """Put a stand-in for each of ``names`` that is installed and not yet imported into
    ``sys.modules``.  Call it before ESPnet is imported; a name already imported is left alone.
    A submodule's stand-in is also its (stand-in) parent's attribute, as an import would make it,
    so list a package before its submodules."""
    for name in names:
        if name in sys.modules:
            continue
        parent, _, child = name.rpartition(".")
        if parent and not isinstance(sys.modules.get(parent), DeferredModule):
            continue  # the package is imported already: its own import took the submodule along
        try:
            # importlib.util.find_spec would import the parent package to read its __path__
            spec = importlib.util.find_spec(name) if not parent else importlib.machinery.PathFinder.find_spec(
                name, sys.modules[parent].__spec__.submodule_search_locations)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue  # not installed: ESPnet's own import reports it, as without us
        stand_in = DeferredModule(name)
        # what code that walks sys.modules reads of every module (inspect.getmodule, torch's
        # op registration: __file__) is answered without importing; __path__ is not, so that
        # importing a submodule of a deferred package imports the package first, as it would have
        stand_in.__spec__, stand_in.__loader__ = spec, spec.loader
        stand_in.__file__, stand_in.__cached__ = spec.origin, spec.cached
        stand_in.__package__ = spec.parent
        sys.modules[name] = stand_in
        if parent:
            setattr(sys.modules[parent], child, stand_in)
