"""Uncertainty of the recipes' metrics: 95 % confidence intervals by bootstrap
over the test items, paired comparisons of two runs on the same items, and
intervals across folds or seeds.

Per-item outcomes (what each scorer keeps in ``<exp>/per_item.json``, one entry
per test set) are plain JSON lists, aligned by ``ids``:

* ASR: ``word_errors``, ``words``, ``char_errors``, ``chars`` per utterance
  (WER = sum of errors / sum of reference words over the items);
* classification: ``correct`` (1 or 0) per utterance;
* verification: ``scores`` and ``labels`` (1 target, 0 non-target) per trial,
  ``ids`` being ``"<utt1> <utt2>"``;
* optional ``strata`` (the task of a multi-task mean, the fold of a
  cross-validation mean): the metric is then the mean over strata of each
  stratum's own metric, and resampling stays within each stratum.

How the intervals are drawn (percentile bootstrap, ``N_RESAMPLES`` resamples,
fixed ``SEED``, so a rerun gives the same numbers):

* WER / CER / accuracy: ``scipy.stats.bootstrap`` over utterances, paired over
  the (errors, length) arrays, vectorized;
* EER / minDCF: trials resampled within targets and within non-targets (every
  resample keeps both classes; numpy draws, each resample's ROC in one
  vectorized pass with the resample's counts as weights, exactly the
  ``adapters.metrics`` definitions on the resampled list);
* strata (tasks, folds): resampling within each stratum (numpy draws);
* across folds or seeds (``t_interval``): Student's t interval of the mean
  (``scipy.stats.t``).

``paired_bootstrap`` resamples the items of two runs jointly (the same draw for
both) and gives the interval of the difference of the metric; the difference is
significant when the interval excludes 0.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats as _st

CONFIDENCE = 0.95
N_RESAMPLES = 2000
SEED = 0
# resample x item cells per vectorized batch (memory: 8 bytes each)
_BATCH_CELLS = 2_000_000

# metric -> (numerator, denominator or None for a mean, scale); results.json keeps percentages
RATIOS = {"wer": ("word_errors", "words", 100.0), "cer": ("char_errors", "chars", 100.0),
          "accuracy": ("correct", None, 100.0)}
# verification metrics: eer in percent, minDCF (p_target) as a normalised cost
DCF_P = {"min_dcf_0.05": 0.05, "min_dcf_0.01": 0.01}
VERIFICATION = ("eer", *DCF_P)
METRICS = (*RATIOS, *VERIFICATION)


def metrics_of(items: dict) -> list:
    """The metrics a per-item entry can give."""
    out = [m for m, (num, den, _) in RATIOS.items() if num in items and (den is None or den in items)]
    if "scores" in items and "labels" in items:
        out += list(VERIFICATION)
    return out


def _check_metric(items: dict, metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
    if metric not in metrics_of(items):
        raise ValueError(f"no per-item data for {metric} (have: {', '.join(sorted(items))})")


def _kind(metrics) -> str:
    kinds = {"ratio" if m in RATIOS else "verification" for m in metrics}
    if len(kinds) != 1:
        raise ValueError(f"ratio and verification metrics in one call: {list(metrics)}")
    return kinds.pop()


def _arrays(items: dict, metrics) -> dict:
    """numpy arrays of the per-item lists the metrics need: {metric: (num, den)} for ratios,
    scores and labels for verification, strata where given; ``n`` the number of items."""
    lists = {}
    for m in metrics:
        _check_metric(items, m)
        if m in RATIOS:
            num, den, _ = RATIOS[m]
            lists[num] = items[num]
            if den is not None:
                lists[den] = items[den]
        else:
            lists["scores"], lists["labels"] = items["scores"], items["labels"]
    if items.get("ids") is not None:
        lists["ids"] = items["ids"]
    if items.get("strata") is not None:
        lists["strata"] = items["strata"]
    lens = {len(v) for v in lists.values()}
    if len(lens) != 1:
        raise ValueError(f"per-item lists of different lengths: {sorted(lens)}")
    n = lens.pop()
    a = {"n": n}
    for m in metrics:
        if m in RATIOS:
            num, den, _ = RATIOS[m]
            x = np.asarray(items[num], dtype=float)
            a[m] = (x, np.ones(n) if den is None else np.asarray(items[den], dtype=float))
    if "scores" in lists:
        a["scores"] = np.asarray(items["scores"], dtype=float)
        a["labels"] = np.asarray(items["labels"]).astype(int)
        if not np.isin(a["labels"], (0, 1)).all():
            raise ValueError("verification: labels must be 1 (target) or 0 (non-target)")
        if not np.isfinite(a["scores"]).all():
            raise ValueError("verification: scores must be finite")
    if "strata" in lists:
        a["strata"] = np.asarray([str(s) for s in items["strata"]])
    return a


# ---------------------------------------------------------------- vectorized statistics


def _ratio_stat(a: dict, metric: str, W: np.ndarray) -> np.ndarray:
    """scale * sum(w * num) / sum(w * den) per row of weights W (B, n);
    the mean over strata of each stratum's ratio when stratified."""
    num, den = a[metric]
    scale = RATIOS[metric][2]
    with np.errstate(invalid="ignore", divide="ignore"):
        if "strata" not in a:
            return scale * (W @ num) / (W @ den)
        per = [scale * (W[:, m] @ num[m]) / (W[:, m] @ den[m])
               for m in (a["strata"] == s for s in np.unique(a["strata"]))]
        return np.mean(per, axis=0)


def _verification_stats(a: dict, W: np.ndarray, metrics) -> dict:
    """EER (%) and minDCF of each row of weights W (B, n): the ROC at every distinct score, from
    "accept nothing" down, as ``adapters.metrics`` computes it on the list the weights count out
    (a trial of weight 0 adds a point equal to its neighbour, which changes neither metric)."""
    order = np.argsort(-a["scores"], kind="stable")
    s, y, Wo = a["scores"][order], a["labels"][order].astype(float), W[:, order]
    last = np.r_[s[1:] != s[:-1], True]  # the last trial of each run of tied scores
    zero = np.zeros((W.shape[0], 1))
    tp = np.hstack([zero, np.cumsum(Wo * y, axis=1)[:, last]])
    fp = np.hstack([zero, np.cumsum(Wo * (1.0 - y), axis=1)[:, last]])
    pmiss, pfa = 1.0 - tp / tp[:, -1:], fp / fp[:, -1:]
    out = {}
    for m in metrics:
        if m in DCF_P:
            p = DCF_P[m]
            out[m] = ((p * pmiss + (1.0 - p) * pfa) / min(p, 1.0 - p)).min(axis=1)
            continue
        diff = pmiss - pfa  # 1 at "accept nothing", -1 at "accept everything", non-increasing
        i = np.argmax(diff <= 0, axis=1)
        r = np.arange(len(i))
        d0, d1 = diff[r, i - 1], diff[r, i]
        t = d0 / (d0 - d1)
        out[m] = 100.0 * (pfa[r, i - 1] + t * (pfa[r, i] - pfa[r, i - 1]))
    return out


def _stats(a: dict, metrics, W: np.ndarray) -> dict:
    """{metric: values (B,)} for the rows of weights W."""
    if _kind(metrics) == "ratio":
        return {m: _ratio_stat(a, m, W) for m in metrics}
    return _verification_stats(a, W, metrics)


def values(items: dict, metrics) -> dict:
    """{metric: value} of the per-item outcomes as they are (no resampling)."""
    a = _arrays(items, metrics)
    return {m: float(v[0]) for m, v in _stats(a, metrics, np.ones((1, a["n"]))).items()}


def value(items: dict, metric: str) -> float:
    return values(items, [metric])[metric]


def _groups(a: dict, metrics) -> list:
    """The index sets resampled separately: strata, or targets / non-targets."""
    if _kind(metrics) == "verification":
        if "strata" in a:
            raise ValueError("verification metrics over strata are not supported")
        groups = [np.flatnonzero(a["labels"] == v) for v in (1, 0)]
        if any(len(g) == 0 for g in groups):
            raise ValueError("verification: both target and non-target trials are needed")
        return groups
    if "strata" in a:
        return [np.flatnonzero(a["strata"] == s) for s in np.unique(a["strata"])]
    return [np.arange(a["n"])]


def _batch(n: int, n_resamples: int) -> int:
    return max(1, min(n_resamples, _BATCH_CELLS // max(n, 1)))


def _weight_batches(groups, n: int, n_resamples: int, rng):
    """Resample counts (B, n) per batch: each group drawn with replacement to its own size."""
    size = _batch(n, n_resamples)
    for start in range(0, n_resamples, size):
        b = min(size, n_resamples - start)
        flat = [(np.arange(b)[:, None] * n + g[rng.integers(0, len(g), size=(b, len(g)))]).ravel()
                for g in groups]
        yield np.bincount(np.concatenate(flat), minlength=b * n).reshape(b, n).astype(float)


def _percentile_ci(dist: np.ndarray, confidence: float):
    dist = dist[np.isfinite(dist)]
    if dist.size == 0:
        return None
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.percentile(dist, [100 * alpha, 100 * (1 - alpha)])
    return [float(lo), float(hi)]


def _scipy_ratio_ci(data, scale: float, confidence, n_resamples, seed):
    """Percentile bootstrap with scipy over items, paired over the arrays in ``data``:
    (num, den) -> one ratio, (num_a, den_a, num_b, den_b) -> the difference of two."""
    def statistic(*arrays, axis=-1):
        with np.errstate(invalid="ignore", divide="ignore"):
            r = [scale * arrays[k].sum(axis) / arrays[k + 1].sum(axis) for k in range(0, len(arrays), 2)]
        return r[0] if len(r) == 1 else r[0] - r[1]

    res = _st.bootstrap(data, statistic, paired=True, vectorized=True, method="percentile",
                        n_resamples=n_resamples, confidence_level=confidence,
                        batch=_batch(len(data[0]), n_resamples), rng=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
    return [float(lo), float(hi)] if math.isfinite(lo) and math.isfinite(hi) else None


def _cis(arrays: list, metrics, confidence, n_resamples, seed) -> dict:
    """{metric: CI} of one run's metrics (one array set) or of the difference of two runs' (two),
    every metric from the same resamples."""
    a0 = arrays[0]
    if a0["n"] < 2:
        return {m: None for m in metrics}
    if _kind(metrics) == "ratio" and "strata" not in a0:
        # scipy.stats.bootstrap, one call per metric (same seed: the same draws for all)
        return {m: _scipy_ratio_ci(tuple(x for a in arrays for x in a[m]), RATIOS[m][2], confidence,
                                   n_resamples, seed) for m in metrics}
    rng = np.random.default_rng(seed)
    dist = {m: [] for m in metrics}
    for W in _weight_batches(_groups(a0, metrics), a0["n"], n_resamples, rng):
        v = [_stats(a, metrics, W) for a in arrays]
        for m in metrics:
            dist[m].append(v[0][m] if len(v) == 1 else v[0][m] - v[1][m])
    return {m: _percentile_ci(np.concatenate(d), confidence) for m, d in dist.items()}


def ci_method(items: dict, metric: str, n_resamples: int = N_RESAMPLES, seed: int = SEED,
              confidence: float = CONFIDENCE) -> str:
    unit = "trials (within targets and within non-targets)" if metric in VERIFICATION else "utterances"
    if items.get("strata") is not None:
        unit += " within strata, mean over strata"
    return (f"{100 * confidence:g} % percentile bootstrap over {unit}, {n_resamples} resamples, "
            f"seed {seed}")


def bootstrap_ci(items: dict, metric: str, confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES,
                 seed: int = SEED) -> dict:
    """{"value", "ci": [lo, hi] (None with fewer than 2 items), "n"} of one run's metric."""
    a = _arrays(items, [metric])
    return {"value": value(items, metric), "ci": _cis([a], [metric], confidence, n_resamples, seed)[metric],
            "n": a["n"]}


def ci_fields(items: dict, metrics: Sequence[str], confidence: float = CONFIDENCE,
              n_resamples: int = N_RESAMPLES, seed: int = SEED) -> dict:
    """What a results.json test entry gains: ``<metric>_ci`` per metric, ``n`` and ``ci_method``."""
    metrics = list(metrics)
    out = {}
    for group in ([m for m in metrics if m in RATIOS], [m for m in metrics if m in VERIFICATION]):
        if group:
            a = _arrays(items, group)
            out.update({f"{m}_ci": ci for m, ci in _cis([a], group, confidence, n_resamples, seed).items()})
            out["n"] = a["n"]
    if metrics:
        out["ci_method"] = ci_method(items, metrics[0], n_resamples, seed, confidence)
    return out


# ---------------------------------------------------------------- paired comparison


def align(items_a: dict, items_b: dict):
    """The two runs' per-item outcomes on their common items, in one order.
    ValueError when they cannot be paired (no ids, duplicated ids, no item in common,
    different strata or trial labels for one item)."""
    ia, ib = items_a.get("ids"), items_b.get("ids")
    if ia is None or ib is None:
        raise ValueError("per-item outcomes without ids cannot be paired")
    if list(ia) != list(ib):
        if len(set(ia)) != len(ia) or len(set(ib)) != len(ib):
            raise ValueError("duplicated item ids: cannot pair the runs' items")
        common = sorted(set(ia) & set(ib))
        if not common:
            raise ValueError("the runs have no test item in common")

        def pick(items, ids):
            pos = {k: i for i, k in enumerate(ids)}
            idx = [pos[k] for k in common]
            return {k: ([v[i] for i in idx] if isinstance(v, (list, tuple)) and len(v) == len(ids) else v)
                    for k, v in items.items()}

        items_a, items_b = pick(items_a, ia), pick(items_b, ib)
    for key in ("strata", "labels"):
        la, lb = items_a.get(key), items_b.get(key)
        if (la is None) != (lb is None) or (la is not None and list(map(str, la)) != list(map(str, lb))):
            raise ValueError(f"the runs' items differ in {key}")
    return items_a, items_b


def paired_bootstraps(items_a: dict, items_b: dict, metrics, confidence: float = CONFIDENCE,
                      n_resamples: int = N_RESAMPLES, seed: int = SEED) -> dict:
    """``paired_bootstrap`` of several metrics at once (the same resamples; one ROC per
    resample for all verification metrics)."""
    items_a, items_b = align(items_a, items_b)
    out = {}
    for group in ([m for m in metrics if m in RATIOS], [m for m in metrics if m in VERIFICATION]):
        if not group:
            continue
        a, b = _arrays(items_a, group), _arrays(items_b, group)
        va, vb = values(items_a, group), values(items_b, group)
        cis = _cis([a, b], group, confidence, n_resamples, seed)
        for m in group:
            ci = cis[m]
            out[m] = {"metric": m, "a": va[m], "b": vb[m], "diff": va[m] - vb[m], "ci": ci, "n": a["n"],
                      "significant": bool(ci is not None and (ci[0] > 0 or ci[1] < 0)),
                      "method": "paired " + ci_method(items_a, m, n_resamples, seed, confidence)}
    return out


def paired_bootstrap(items_a: dict, items_b: dict, metric: str, confidence: float = CONFIDENCE,
                     n_resamples: int = N_RESAMPLES, seed: int = SEED) -> dict:
    """The difference metric(a) - metric(b) on the same items, its CI with the items of both
    runs resampled jointly (the same draw for both), and whether the CI excludes 0.

    Returns {"metric", "a", "b", "diff", "ci": [lo, hi] | None, "n", "significant", "method"}.
    """
    return paired_bootstraps(items_a, items_b, [metric], confidence, n_resamples, seed)[metric]


def fmt_ci(ci, digits: int = 1) -> str:
    """``[lo, hi]`` for RESULTS.md, ``–`` without an interval."""
    return "–" if not ci else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def ci_overlap(ci_a, ci_b) -> bool:
    """Whether two intervals overlap (the fallback test without per-item data)."""
    return not (ci_a[1] < ci_b[0] or ci_b[1] < ci_a[0])


# ---------------------------------------------------------------- across folds / seeds


def t_interval(xs: Sequence[float], confidence: float = CONFIDENCE):
    """Student's t interval of the mean of a few runs (folds, seeds); None for fewer than 2."""
    x = np.asarray(list(xs), dtype=float)
    if x.size < 2:
        return None
    m, sem = float(x.mean()), float(_st.sem(x))
    if sem == 0.0:
        return [m, m]
    lo, hi = _st.t.interval(confidence, df=x.size - 1, loc=m, scale=sem)
    return [float(lo), float(hi)]
