"""Parameter-efficient adapters for s3prl upstreams (HRA, A-AF, ELP and baselines).

>>> from s3prl.nn import S3PRLUpstream                       # doctest: +SKIP
>>> import adapters
>>> up = S3PRLUpstream("hubert_local", path_or_url="tiny.pt")  # doctest: +SKIP
>>> adapted = adapters.attach(up, "hra", tasks=["a", "b"])   # doctest: +SKIP
>>> hs, lens = adapted(wavs, wavs_len, task=["a", "b"])      # doctest: +SKIP
"""
import importlib

# the public names, imported on first use (PEP 562): every process that imports a submodule
# (``python -m adapters.bin.score_asr``, a data tool) imports this package first, and most of
# them need no torch, whose import is 1.2 s of each one's start-up on a 2-core CPU
_EXPORTS = {
    "available_methods": "adapters.registry",
    "register": "adapters.registry",
    "attach": "adapters.inject",
    "AdaptedUpstream": "adapters.inject",
    "save_adapter": "adapters.checkpoint",
    "load_adapter": "adapters.checkpoint",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'adapters' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])
