"""Registry of adapter methods: a new method is one file plus one line in
``adapters/methods/__init__.py``.  What the tools know of each method (its
description, recipe defaults, capabilities, the named runs of it) is read through
``adapters.catalogue``."""
from __future__ import annotations

from typing import Dict, List, Type

_METHODS: Dict[str, Type] = {}


def register(name: str):
    """Class decorator that makes a method available to ``attach`` by ``name``."""

    def wrap(cls):
        if name in _METHODS and _METHODS[name] is not cls:
            raise ValueError(f"adapter method {name!r} is registered twice")
        cls.method_name = name
        _METHODS[name] = cls
        return cls

    return wrap


def get_method(name: str):
    import adapters.methods  # noqa: F401  (fills the registry)

    try:
        return _METHODS[name]
    except KeyError:
        raise ValueError(
            f"unknown adapter method {name!r}; available: {', '.join(available_methods())}"
        ) from None


def available_methods() -> List[str]:
    import adapters.methods  # noqa: F401

    return sorted(_METHODS)


def registered() -> Dict[str, Type]:
    """{name: class} of every registered method, in the order they registered (the order of
    the imports in ``adapters/methods/__init__.py``, then any registered later)."""
    import adapters.methods  # noqa: F401

    return dict(_METHODS)


def unregister(name: str) -> None:
    """Forget a method (a test that registered one of its own)."""
    _METHODS.pop(name, None)
