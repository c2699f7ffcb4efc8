"""Stage 9 of the templates: the frozen part of the upstream, once per data set.

    python -m adapters.bin.cache_features --config conf/train_hra.yaml --run ctc_hra \\
        [--config ... --run ...] --data_root dump/raw --sets train dev test \\
        --cache_root dump/cache [--dtype float16]

For each run it asks the configured method where its frozen part ends
(its capability ``cache_cut``, ``adapters.catalogue``: all hidden states for a frozen upstream, the
encoder's input for adapters inside the encoder, the CNN output for fine-tuning),
builds ``<cache_root>/<upstream>-<hash>_<cut>_<dtype>/<set>/feats.scp`` for every
set (shared by the runs that cut at the same place), and writes
``<cache_root>/runs/<run>`` (the run's exp dir name, e.g. ``asr_ctc_hra``): the cache directory it reads, or nothing when
the run cannot use a cache, with the reason in ``<cache_root>/runs/<run>.off``
(a waveform augmentation, a frontend other than ``s3prl_adapter``).
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Optional

import yaml

from adapters import catalogue
from adapters.data.kaldi import DataDirError
from adapters.feature_cache import CacheError, build, file_sha256, load_upstream, upstream_tag


def waveform_augmentation(config: dict) -> Optional[str]:
    """Why a run's training input differs from the stored waveform every epoch, or None."""
    if config.get("speed_perturb_factors"):
        return f"speed perturbation {config['speed_perturb_factors']}"
    pconf = config.get("preprocessor_conf") or {}
    for kind in ("rir", "noise"):
        if pconf.get(f"{kind}_scp") and pconf.get(f"{kind}_apply_prob", 1.0) > 0:
            return f"waveform augmentation ({kind}_scp with {kind}_apply_prob {pconf.get(f'{kind}_apply_prob', 1.0)})"
    if pconf.get("speech_volume_normalize"):
        return "speech_volume_normalize"
    if config.get("preprocessor") == "spk" and pconf.get("target_duration"):
        return f"random {pconf['target_duration']} s waveform crops (the speaker preprocessor)"
    return None


def apply_overrides(config: dict, train_args: str) -> dict:
    """``config`` with the ``--frontend_conf`` / ``--<key>`` overrides of the training command
    line applied, parsed by ESPnet's own ``NestedDictAction`` (so a run that swaps its
    upstream or method on the command line caches what it will actually read)."""
    import argparse
    import shlex

    from espnet2.utils.nested_dict_action import NestedDictAction

    tokens = shlex.split(train_args or "")
    ap = argparse.ArgumentParser(add_help=False)
    for key in ("frontend_conf", "preprocessor_conf"):
        ap.add_argument(f"--{key}", action=NestedDictAction, default=copy.deepcopy(config.get(key) or {}))
    ap.add_argument("--frontend", default=config.get("frontend"))
    ap.add_argument("--speed_perturb_factors", default=config.get("speed_perturb_factors"))
    known, _ = ap.parse_known_args(tokens)
    return dict(config, **{k: v for k, v in vars(known).items()})


def run_cut(config: dict, upstreams: dict):
    """(cache key, the upstream) for a config, or (None, reason)."""
    if config.get("frontend") != "s3prl_adapter":
        return None, f"frontend {config.get('frontend')!r} is not s3prl_adapter"
    reason = waveform_augmentation(config)
    if reason:
        return None, reason
    import adapters

    fc = dict(config.get("frontend_conf") or {})
    name, path = fc.get("upstream", "hubert_local"), fc.get("path_or_url")
    key = (name, path, yaml.safe_dump(fc.get("upstream_conf") or {}))
    if key not in upstreams:
        upstreams[key] = load_upstream(name, path, fc.get("upstream_conf"))
    method = fc.get("method", catalogue.BASELINE)
    try:
        cut = adapters.attach(copy.deepcopy(upstreams[key]), method, tasks=fc.get("tasks"),
                              **(fc.get("method_conf") or {})).cache_cut
    except (OSError, ValueError, KeyError) as e:
        # a method that needs files made later (fusion's stage-1 adapters): its cut, from its
        # configuration alone
        try:
            cut = catalogue.cache_cut(method, fc.get("method_conf"))
        except ValueError:
            raise ValueError(f"cannot attach {method!r} to find where its frozen part ends: {e}") from None
    return (key, cut), None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", action="append", required=True, help="a run's training config (repeatable)")
    ap.add_argument("--run", action="append", required=True, help="the run's name, one per --config")
    ap.add_argument("--data_root", required=True, help="where the sets' data dirs are (dump/raw)")
    ap.add_argument("--sets", nargs="+", required=True)
    ap.add_argument("--cache_root", required=True)
    ap.add_argument("--dtype", default="float32", choices=["float16", "float32"])
    ap.add_argument("--train_args", default="", help="the training command line's extra options "
                    "(asr_args, cls_args ...): --frontend_conf overrides apply to the cache too")
    a = ap.parse_args(argv)
    if len(a.config) != len(a.run):
        ap.error(f"{len(a.config)} --config but {len(a.run)} --run")
    root, runs_dir = Path(a.cache_root), Path(a.cache_root) / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    upstreams, built = {}, {}
    try:
        for cfg_path, run in zip(a.config, a.run):
            config = apply_overrides(yaml.safe_load(Path(cfg_path).read_text()) or {}, a.train_args)
            cut, reason = run_cut(config, upstreams)
            off = runs_dir / f"{run}.off"
            if cut is None:
                (runs_dir / run).write_text("")
                off.write_text(reason + "\n")
                print(f"{run}: no feature cache: {reason}; it reads the audio")
                continue
            off.unlink(missing_ok=True)
            (name, path, _), where = cut
            tag = f"{upstream_tag(name, path)}_{where}_{a.dtype}"
            if tag not in built:
                sha = file_sha256(path) if path and Path(path).is_file() else None
                for s in a.sets:
                    build(upstreams[cut[0]], name, path, where, Path(a.data_root) / s, root / tag / s,
                          a.dtype, upstream_sha=sha, reuse_root=root / tag)
                built[tag] = True
            (runs_dir / run).write_text(str(root / tag) + "\n")
            print(f"{run}: method cuts the upstream at {where!r}; reads {root / tag}")
    except (CacheError, DataDirError, ValueError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
