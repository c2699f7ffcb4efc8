"""Parameter-efficient adapters for s3prl upstreams (HRA, A-AF, ELP and baselines).

>>> from s3prl.nn import S3PRLUpstream                       # doctest: +SKIP
>>> import adapters
>>> up = S3PRLUpstream("hubert_local", path_or_url="tiny.pt")  # doctest: +SKIP
>>> adapted = adapters.attach(up, "hra", tasks=["a", "b"])   # doctest: +SKIP
>>> hs, lens = adapted(wavs, wavs_len, task=["a", "b"])      # doctest: +SKIP
"""
from adapters.registry import available_methods, register
from adapters.inject import AdaptedUpstream, attach
from adapters.checkpoint import load_adapter, save_adapter

__all__ = ["available_methods", "register", "attach", "AdaptedUpstream", "save_adapter", "load_adapter"]
