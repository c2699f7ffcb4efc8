"""Scores that recipes report: classification accuracy and speaker verification
EER / minDCF, computed the way VoxCeleb and SUPERB papers do, so numbers from
these recipes can be set beside published ones.

Verification conventions: ``labels`` are 1 (target: same speaker) or 0
(non-target); a higher score means "more likely the same speaker"; a trial is
accepted when ``score >= threshold``.  Rates are fractions (0.05 = 5 %).
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple

import numpy as np
from sklearn.metrics import roc_curve


def accuracy(pred: Sequence, ref: Sequence) -> float:
    """Fraction of ``pred`` equal to ``ref``, item by item."""
    pred, ref = list(pred), list(ref)
    if not ref:
        raise ValueError("accuracy: no items to score")
    if len(pred) != len(ref):
        raise ValueError(f"accuracy: {len(pred)} predictions for {len(ref)} references")
    return sum(p == r for p, r in zip(pred, ref)) / len(ref)


def _trials(scores, labels) -> Tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if s.size == 0:
        raise ValueError("verification: no trials to score")
    if s.size != y.size:
        raise ValueError(f"verification: {s.size} scores for {y.size} labels")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"verification: {int(np.sum(~np.isfinite(s)))} score(s) are NaN or infinite")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise ValueError(f"verification: labels must be 1 (target) or 0 (non-target), got {y[bad][0]!r}")
    y = y.astype(int)
    n_target = int(y.sum())
    if n_target == 0 or n_target == y.size:
        kind = "non-target" if n_target == 0 else "target"
        raise ValueError(f"verification: only {kind} trials ({y.size}); both classes are needed")
    return s, y


def _error_rates(scores, labels):
    """(Pfa, Pmiss, thresholds) at every distinct score, from "accept nothing"
    (threshold +inf) down to "accept everything" (the lowest score)."""
    s, y = _trials(scores, labels)
    fpr, tpr, thr = roc_curve(y, s, pos_label=1, drop_intermediate=False)
    return fpr, 1.0 - tpr, thr


def eer(scores, labels) -> Tuple[float, float]:
    """Equal error rate and its threshold.

    The miss rate falls and the false-alarm rate rises as the threshold is
    lowered; the EER is where the two meet, linearly interpolated between the
    two ROC points around the crossing (the usual ``brentq`` over the ROC
    curve, in closed form).  The threshold is interpolated the same way
    (the "accept nothing" end counts as the highest score).
    """
    pfa, pmiss, thr = _error_rates(scores, labels)
    thr = thr.copy()
    thr[0] = thr[1]  # +inf: no finite threshold to interpolate towards
    diff = pmiss - pfa  # 1 at "accept nothing", -1 at "accept everything", non-increasing
    i = int(np.argmax(diff <= 0))
    if diff[i] == 0:
        return float(pfa[i]), float(thr[i])
    t = diff[i - 1] / (diff[i - 1] - diff[i])
    rate = pfa[i - 1] + t * (pfa[i] - pfa[i - 1])
    return float(rate), float(thr[i - 1] + t * (thr[i] - thr[i - 1]))


def min_dcf(scores, labels, p_target: float, c_miss: float = 1.0, c_fa: float = 1.0) -> Tuple[float, float]:
    """Minimum normalised detection cost and its threshold (NIST SRE / VoxCeleb).

    DCF(t) = c_miss * p_target * Pmiss(t) + c_fa * (1 - p_target) * Pfa(t),
    divided by min(c_miss * p_target, c_fa * (1 - p_target)) (the cost of the
    better of "accept all" and "reject all", so 1.0 means no better than a
    fixed decision), minimised over every threshold, both extremes included.
    "Reject all" has threshold ``inf``.
    """
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"min_dcf: p_target must be in (0, 1), got {p_target}")
    if c_miss <= 0 or c_fa <= 0:
        raise ValueError(f"min_dcf: costs must be positive, got c_miss={c_miss}, c_fa={c_fa}")
    pfa, pmiss, thr = _error_rates(scores, labels)
    dcf = c_miss * p_target * pmiss + c_fa * (1.0 - p_target) * pfa
    dcf /= min(c_miss * p_target, c_fa * (1.0 - p_target))
    i = int(np.argmin(dcf))  # ties: the highest threshold
    return float(dcf[i]), float(thr[i])


def verification_report(scores, labels) -> dict:
    """EER and minDCF (p_target 0.05 and 0.01, unit costs) of one trial list."""
    s, y = _trials(scores, labels)
    e, e_thr = eer(s, y)
    d05, d05_thr = min_dcf(s, y, 0.05)
    d01, d01_thr = min_dcf(s, y, 0.01)
    return {
        "eer": e,
        "eer_threshold": e_thr,
        "min_dcf_p0.05": d05,
        "min_dcf_p0.05_threshold": d05_thr if math.isfinite(d05_thr) else None,
        "min_dcf_p0.01": d01,
        "min_dcf_p0.01_threshold": d01_thr if math.isfinite(d01_thr) else None,
        "n_trials": int(y.size),
        "n_target": int(y.sum()),
        "n_nontarget": int(y.size - y.sum()),
    }
