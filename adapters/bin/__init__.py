# Every entry point (python -m adapters.bin.X) imports this first: defer the modules ESPnet imports
# at start-up that our runs never use (adapters/deferred_imports.py says which and what it saves).
from adapters.deferred_imports import defer

defer()
