"""Write a randomly initialised upstream checkpoint in s3prl's converted format.

Nothing here can download weights, so tests, benchmarks and the offline
defaults build their upstreams with this tool.  The files load through
``S3PRLUpstream('<family>_local', path_or_url=PATH)`` exactly like converted
fairseq checkpoints (hubert, wav2vec2) or the original WavLM release files.

Sizes:
  tiny  -- 2 layers, width 96: about a quarter million parameters, for tests
  small -- 4 layers, width 256: ~4 M parameters, the offline recipe default
  base  -- the published base configuration (12 layers, width 768, ~95 M)
  large -- the published Large configuration (24 layers, width 1024, FFN 4096, 16 heads,
           pre-LayerNorm; ~316 M): wav2vec2 Large (LV-60), HuBERT Large, WavLM Large.
           The file is about 1.2 GB.

Released weights need no file from here: a config names them, e.g.
``frontend_conf: {upstream: wavlm_large}`` or ``{upstream: hubert_large_ll60k}``
(s3prl downloads them on first use).
"""
from __future__ import annotations

import argparse

import torch

from adapters.upstreams import FAMILIES, SIZES, hub_name, make_upstream  # the builders: adapters.upstreams


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", choices=FAMILIES, required=True)
    p.add_argument("--size", choices=tuple(SIZES), default="tiny")
    p.add_argument("--out", required=True, help="checkpoint path to write")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    path = make_upstream(a.family, a.size, a.out, a.seed)
    n = sum(v.numel() for v in (torch.load(path)["model_weight" if a.family != "wavlm" else "model"]).values())
    print(f"wrote {path} ({a.family}, {a.size}, {n / 1e6:.2f} M parameters); "
          f"load with S3PRLUpstream('{hub_name(a.family)}', path_or_url='{path}')")


if __name__ == "__main__":
    main()
