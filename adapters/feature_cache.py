"""The upstream's frozen part, computed once per (data set, upstream, cut point) and
stored with kaldiio in ESPnet's ``feats.scp`` conventions.

A cache directory ``<root>/<tag>/<set>/`` holds ``feats.ark`` + ``feats.scp`` (one
matrix of frames x dim per utterance, read by ESPnet as ``kaldi_ark``),
``utt2num_frames`` and ``manifest.json``: the upstream (name, path, SHA-256 of its
file), the cut point and its dimension, the number of hidden states, the dtype and
the fingerprint of the data dir (``adapters.data.fingerprint``: its tables' contents,
not their mtimes, so that a data dir prepared again byte for byte keeps its cache).  A
manifest that differs from what is asked for, in any field, means the cache is stale:
it is rebuilt, and the reason is printed.  A cache is
written to a temporary directory and renamed when complete, so an interrupted
build leaves no partial cache behind.

``utt2audio_sha1`` records each utterance's audio (the SHA-1 of its decoded samples).  A
build given ``reuse_root`` copies, instead of computing again, the features of every
utterance whose samples another complete cache under that root (same upstream, cut and
dtype) already holds: IEMOCAP's folds are five splits of the same utterances, so
folds 2-5 would otherwise recompute fold 1's work.  The copy is the stored matrix itself,
and an utterance whose audio changed has another digest and is computed again.

What is cut where is the method's business (``AdapterMethod.cache_cut``); this
module only computes ``adapters.upstream_cut.frozen_part`` for every utterance.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

from adapters.backbones import Backbone
from adapters.data.fingerprint import data_fingerprint
from adapters.data.kaldi import read_table
from adapters.fileio import replacing
from adapters.upstream_cut import check_cut, cnn_frames, cut_dim, frozen_part

DTYPES = ("float16", "float32")
_HEADER_BYTES = 64  # kaldiio's per-utterance key and numpy header, rounded up


class CacheError(RuntimeError):
    pass


def file_sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def upstream_tag(upstream: str, path_or_url: Optional[str]) -> str:
    """Names a cache by its upstream: ``<stem>-<8 hex of the file hash>`` or the s3prl name."""
    if path_or_url and Path(path_or_url).is_file():
        return f"{Path(path_or_url).stem}-{file_sha256(path_or_url)[:8]}"
    return upstream


def load_upstream(upstream: str, path_or_url: Optional[str] = None, upstream_conf: Optional[dict] = None):
    from s3prl.nn import S3PRLUpstream

    up = S3PRLUpstream(upstream, path_or_url=path_or_url, **(upstream_conf or {}))
    return up.eval()


def num_samples(data_dir: Path) -> Dict[str, int]:
    """utt2num_samples when the data dir has it (every dump dir does), else the audio headers."""
    f = Path(data_dir) / "utt2num_samples"
    if f.exists():
        return {k: int(v) for k, v in read_table(f).items()}
    import soundfile as sf

    return {u: sf.info(e.strip()).frames for u, e in read_table(Path(data_dir) / "wav.scp").items()}


def estimate_bytes(backbone: Backbone, cut: str, samples: Dict[str, int], dtype: str) -> int:
    per = np.dtype(dtype).itemsize * cut_dim(backbone, cut)
    return sum(cnn_frames(backbone, n) * per + _HEADER_BYTES for n in samples.values())


def human(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes < 1024 or unit == "TB":
            return f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return ""


def check_space(where: Path, need: int, margin: float = 1.1) -> None:
    where.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(where).free
    if need * margin > free:
        raise CacheError(
            f"the cache needs about {human(need)} in {where} but only {human(free)} is free: "
            "free some space, cache float16 (--cache_dtype float16), or turn the cache off (--use_cache false)"
        )


def wanted_manifest(upstream: str, path_or_url, backbone: Backbone, cut: str, dtype: str,
                    data_dir: Path, upstream_sha: Optional[str]) -> dict:
    return {
        "upstream": upstream,
        "path_or_url": str(path_or_url) if path_or_url else None,
        "upstream_sha256": upstream_sha,
        "cut": cut,
        "dim": cut_dim(backbone, cut),
        "hidden_states": backbone.num_layers + 1 if cut == "hidden_states" else None,
        "dtype": dtype,
        "data_dir": str(data_dir),
        "data_fingerprint": data_fingerprint(data_dir),
    }


def stale_reason(out_dir: Path, wanted: dict) -> Optional[str]:
    """None when ``out_dir`` holds a complete cache for ``wanted``, else why not."""
    man = out_dir / "manifest.json"
    if not man.exists():
        return "no cache yet"
    try:
        have = json.loads(man.read_text())
    except (OSError, ValueError) as e:
        return f"manifest.json unreadable ({e.__class__.__name__}: {e})"
    if not isinstance(have, dict):
        return f"manifest.json holds {type(have).__name__}, not a manifest"
    # the data dir's path may move with the recipe; its content may not
    diff = [k for k in wanted if k != "data_dir" and have.get(k) != wanted[k]]
    if diff:
        return "changed: " + ", ".join(f"{k} ({have.get(k)!r} -> {wanted[k]!r})" for k in diff)
    if not (out_dir / "feats.scp").exists():
        return "feats.scp missing"
    return None


def audio_digest(wav: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(wav, dtype=np.float32).tobytes()).hexdigest()


# what must agree for another cache's matrices to be this one's (the data dir may differ)
_SAME_FEATURES = ("upstream", "path_or_url", "upstream_sha256", "cut", "dim", "hidden_states", "dtype")


def reusable_features(root, out_dir: Path, wanted: dict) -> dict:
    """{audio digest: [(feats.scp, utterance), ...]} of the complete caches under ``root`` other
    than ``out_dir`` whose features are ``wanted``'s (``_SAME_FEATURES``)."""
    found = {}
    if root is None or not Path(root).is_dir():
        return found
    for man in sorted(Path(root).rglob("manifest.json")):
        d = man.parent
        if d.resolve() == out_dir.resolve() or d.name.endswith(".tmp") or not (d / "utt2audio_sha1").exists():
            continue
        try:
            have = json.loads(man.read_text())
            digests = read_table(d / "utt2audio_sha1")
        except (OSError, ValueError):
            continue  # not a cache this build can trust: it computes instead
        if not isinstance(have, dict) or any(have.get(k) != wanted[k] for k in _SAME_FEATURES):
            continue
        for utt, digest in digests.items():
            found.setdefault(digest, []).append((d / "feats.scp", utt))
    return found


def copied(open_scps: dict, donors) -> Optional[np.ndarray]:
    """The first donor's (feats.scp, utterance) matrix that can be read, or None (then it is
    computed): a cache moved away from its scp's paths, or removed meanwhile, is passed over."""
    import kaldiio

    for scp, utt in donors or ():
        try:
            if scp not in open_scps:
                open_scps[scp] = kaldiio.load_scp(str(scp))
            return open_scps[scp][utt]
        except (OSError, KeyError, ValueError, EOFError):
            continue
    return None


def build(up, upstream: str, path_or_url, cut: str, data_dir, out_dir, dtype: str = "float16",
          upstream_sha: Optional[str] = None, log=print, reuse_root=None) -> dict:
    """Cache ``frozen_part`` at ``cut`` for every utterance of ``data_dir`` into ``out_dir``
    (kept when its manifest matches), copying what a cache under ``reuse_root`` holds for the
    same audio.  Returns the manifest, with ``built``, ``seconds`` and ``reused``."""
    import kaldiio
    from espnet2.fileio.sound_scp import SoundScpReader

    check_cut(cut)
    if dtype not in DTYPES:
        raise ValueError(f"cache dtype must be one of {DTYPES}, got {dtype!r}")
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not (data_dir / "wav.scp").exists():
        raise CacheError(f"{data_dir}/wav.scp not found: dump the audio first (stage 3)")
    backbone = Backbone(up)
    if upstream_sha is None and path_or_url and Path(path_or_url).is_file():
        upstream_sha = file_sha256(path_or_url)
    wanted = wanted_manifest(upstream, path_or_url, backbone, cut, dtype, data_dir, upstream_sha)
    reason = stale_reason(out_dir, wanted)
    if reason is None:
        log(f"cache {out_dir}: up to date")
        return dict(wanted, built=False, seconds=0.0)
    samples = num_samples(data_dir)
    need = estimate_bytes(backbone, cut, samples, dtype)
    hours = sum(samples.values()) / 16000 / 3600
    log(f"cache {out_dir} ({reason}): {len(samples)} utterances, {hours:.2f} h of audio, "
        f"cut {cut} ({wanted['dim']} x {dtype} per frame): about {human(need)}")
    check_space(out_dir.parent, need)
    donors = reusable_features(reuse_root, out_dir, wanted)
    with replacing(out_dir) as tmp:  # <out_dir>.tmp, renamed when complete
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(out_dir, ignore_errors=True)
        tmp.mkdir(parents=True)
        reader = SoundScpReader(str(data_dir / "wav.scp"), dtype="float32", always_2d=False)
        start, frames, digests, step = time.time(), {}, {}, max(1, len(samples) // 10)
        donor_scps, reused = {}, 0  # the donors' opened feats.scp; utterances copied
        ark, scp = tmp / "feats.ark", tmp / "feats.scp"
        with kaldiio.WriteHelper(f"ark,scp:{ark},{scp}", write_function="numpy") as writer:
            for i, utt in enumerate(read_table(data_dir / "wav.scp")):
                try:
                    rate, wav = reader[utt]
                except Exception as e:
                    raise CacheError(f"utterance {utt} in {data_dir}/wav.scp: unreadable audio: {e}") from None
                if rate != 16000:
                    raise CacheError(f"utterance {utt} in {data_dir}/wav.scp: {rate} Hz; the upstream takes 16 kHz")
                if wav.ndim != 1:
                    raise CacheError(f"utterance {utt} in {data_dir}/wav.scp: {wav.shape[1]} channels; expected mono")
                digests[utt] = audio_digest(wav)
                mat = copied(donor_scps, donors.get(digests[utt]))
                # a donor of another shape (a hand-edited or foreign cache) is not trusted either
                if mat is not None and mat.shape == (cnn_frames(backbone, len(wav)), wanted["dim"]):
                    reused += 1
                else:
                    mat = frozen_part(backbone, torch.from_numpy(np.ascontiguousarray(wav)), cut, utt).numpy()
                writer(utt, mat.astype(dtype, copy=False))
                frames[utt] = mat.shape[0]
                if (i + 1) % step == 0 or i + 1 == len(samples):
                    el = time.time() - start
                    log(f"  {out_dir.name}: {i + 1}/{len(samples)} utterances ({reused} copied from "
                        f"another set's cache), {el:.0f} s (about {el / (i + 1) * (len(samples) - i - 1):.0f} s left)")
        # the scp must name the ark where it will live
        scp.write_text(scp.read_text().replace(str(ark), str(out_dir / "feats.ark")))
        (tmp / "utt2num_frames").write_text("".join(f"{u} {n}\n" for u, n in frames.items()))
        (tmp / "utt2audio_sha1").write_text("".join(f"{u} {d}\n" for u, d in digests.items()))
        seconds = time.time() - start
        manifest = dict(wanted, utterances=len(frames), bytes=ark.stat().st_size, seconds=round(seconds, 2),
                        reused=reused)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"cache {out_dir}: {len(frames)} utterances ({reused} copied from another set's cache), "
        f"{human(manifest['bytes'])} in {seconds:.1f} s")
    return dict(manifest, built=True)


if __name__ == "__main__":
    sys.exit("use python -m adapters.bin.cache_features")
