"""Pack a trained run's adapter for serving: what inference needs, nothing of the upstream.

    python -m adapters.bin.pack exp/asr_ctc_hra --out hra.zip \\
        [--model_file valid.loss.ave.pth] [--inference_config conf/decode_ctc.yaml] \\
        [--tasks F01 M01] [--name ks] [--upstream ../../upstream/hubert_pretrained_small.pt]

Run it where the recipe runs (the run's config names its upstream relative to the
recipe).  ``--tasks`` packs only those tasks' per-task parts (HRA heads, per-task
Houlsby): packs of one run with other tasks merge again when served together.
``--name`` names a single-task run's task (default: the exp dir's name), or serves a
task-id-free run (fusion) under one name besides its tasks' names.  The pack
format is ``adapters.serving``'s; prints the pack's size against the run's model file.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("exp", help="a trained run's exp dir (config.yaml and the model file)")
    ap.add_argument("--out", required=True, help="the pack to write (a .zip)")
    ap.add_argument("--model_file", default=None,
                    help="the checkpoint in exp (default: valid.loss.ave.pth for ASR, valid.acc.best.pth otherwise)")
    ap.add_argument("--inference_config", default=None,
                    help="ASR: the decoding config (default: the recipe's conf/decode_*.yaml its stage 12 used)")
    ap.add_argument("--tasks", nargs="+", default=None, help="pack only these tasks (default: all)")
    ap.add_argument("--name", default=None, help="a single-task (or task-id-free) run: the task name it serves under")
    ap.add_argument("--upstream", default=None, help="the run's upstream file (default: from its config)")
    a = ap.parse_args(argv)
    from adapters.adapter_file import CheckpointError
    from adapters.serving import PackError, write_pack

    try:
        man = write_pack(a.exp, a.out, a.model_file, a.inference_config, a.upstream, a.tasks, a.name)
    except (PackError, CheckpointError) as e:
        raise SystemExit(f"error: {e}")
    out = Path(a.out)
    model = Path(a.exp) / man["source"]["model_file"]
    n = man["num_params"]
    print(f"{out}: {man['kind']} pack, method {man['method']}, tasks {', '.join(man['serve'])}; "
          f"{n['adapter']:,} adapter + {n['downstream']:,} downstream parameters "
          f"(upstream {n['upstream']:,} not included)")
    print(f"{out}: {out.stat().st_size / 1e6:.2f} MB, {out.stat().st_size / model.stat().st_size:.3f} "
          f"of the run's model file ({model.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
