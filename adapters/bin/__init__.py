# Every entry point (python -m adapters.bin.X) imports this first, before ESPnet: skip ESPnet's
# run-time type checks (adapters/typechecks.py: 3 s of every process's start-up) and defer the
# modules ESPnet imports at start-up that our runs never use (adapters/deferred_imports.py).
from adapters.deferred_imports import defer
from adapters.typechecks import skip_typechecks

skip_typechecks()
defer()
