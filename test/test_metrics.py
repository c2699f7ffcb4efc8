"""Accuracy, EER and minDCF against values worked out by hand on small score lists."""
import math

import pytest

from adapters.metrics import accuracy, eer, min_dcf, verification_report

# 4 targets, 6 non-targets.  Sorted by score (T target, N non-target):
#   0.9T 0.8T 0.7N 0.6T 0.5N 0.4N 0.3T 0.2N 0.1N 0.0N
# accepting score >= t:
#   t     inf  0.9  0.8  0.7  0.6  0.5  0.4  0.3  0.2  0.1  0.0
#   Pmiss 4/4  3/4  2/4  2/4  1/4  1/4  1/4  0    0    0    0
#   Pfa   0    0    0    1/6  1/6  2/6  3/6  3/6  4/6  5/6  6/6
SCORES = [0.9, 0.8, 0.6, 0.3, 0.7, 0.5, 0.4, 0.2, 0.1, 0.0]
LABELS = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]


def test_accuracy():
    assert accuracy(["a", "b", "c", "a"], ["a", "b", "a", "a"]) == 0.75
    with pytest.raises(ValueError, match="3 predictions for 2 references"):
        accuracy([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="no items"):
        accuracy([], [])


def test_eer_interpolates_the_crossing():
    # Pmiss - Pfa: 0.6 -> 1/4 - 1/6 = +1/12 ; 0.5 -> 1/4 - 2/6 = -1/12: the crossing lies
    # halfway between t=0.6 and t=0.5, where Pmiss stays 1/4 and Pfa goes 1/6 -> 2/6:
    # Pfa = 1/4 there, so EER = 0.25 at threshold 0.55
    rate, thr = eer(SCORES, LABELS)
    assert rate == pytest.approx(0.25) and thr == pytest.approx(0.55)


def test_eer_with_tied_scores():
    # targets 0.8 0.5 0.5 0.2 ; non-targets 0.5 0.5 0.3 0.1 0.1 0.0 (four scores tie at 0.5)
    #   t     inf  0.8  0.5  0.3  0.2  0.1  0.0
    #   Pmiss 1    3/4  1/4  1/4  0    0    0
    #   Pfa   0    0    2/6  3/6  3/6  5/6  1
    # between t=0.8 (Pmiss 3/4, Pfa 0) and t=0.5 (1/4, 1/3), a fraction s of the way:
    # 3/4 - s/2 = s/3  ->  s = 0.9, EER = 0.3, threshold 0.8 - 0.9 * 0.3 = 0.53
    scores = [0.8, 0.5, 0.5, 0.2, 0.5, 0.5, 0.3, 0.1, 0.1, 0.0]
    rate, thr = eer(scores, LABELS)
    assert rate == pytest.approx(0.3) and thr == pytest.approx(0.53)
    # p_target 0.5: normalised DCF = Pmiss + Pfa: 1, .75, 7/12, .75, .5, 5/6, 1 -> 0.5 at t=0.2
    assert min_dcf(scores, LABELS, 0.5) == pytest.approx((0.5, 0.2))
    # every score equal: the ROC is one straight segment, EER 0.5
    assert eer([0.3] * 4, [1, 0, 1, 0]) == pytest.approx((0.5, 0.3))


def test_separable_and_inverted():
    # all targets above all non-targets: no error at t = the lowest target score
    assert eer([0.9, 0.7, 0.6, 0.2], [1, 1, 0, 0]) == (0.0, 0.7)
    assert min_dcf([0.9, 0.7, 0.6, 0.2], [1, 1, 0, 0], 0.01) == (0.0, 0.7)
    # all targets below all non-targets: every threshold misses or false-alarms everything
    # between t=inf (Pmiss 1, Pfa 0) and t=0.8 (Pmiss 1, Pfa 1) -> EER = 1 at 0.8
    assert eer([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == (1.0, 0.8)
    # minDCF: "reject all" costs 0.05 * 1 / 0.05 = 1, any other threshold more
    d, thr = min_dcf([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0], 0.05)
    assert d == 1.0 and math.isinf(thr)


def test_min_dcf_is_normalised():
    # normaliser min(p, 1-p) = p for p < 0.5, so DCF_norm = Pmiss + (1-p)/p * Pfa:
    #   p = 0.05: Pmiss + 19 Pfa ; p = 0.01: Pmiss + 99 Pfa.
    # On SCORES both are smallest at t = 0.8 (Pmiss 1/2, Pfa 0), the last threshold
    # before the first false alarm: 0.5
    assert min_dcf(SCORES, LABELS, 0.05) == pytest.approx((0.5, 0.8))
    assert min_dcf(SCORES, LABELS, 0.01) == pytest.approx((0.5, 0.8))
    # p = 0.5: Pmiss + Pfa, smallest at t = 0.6: 1/4 + 1/6 = 5/12
    assert min_dcf(SCORES, LABELS, 0.5) == pytest.approx((5 / 12, 0.6))
    # targets 0.9, 0.4; non-targets 0.95 and nineteen at 0.0 (one false alarm costs 1/20 Pfa):
    #   t     inf   0.95       0.9             0.4           0.0
    #   p=.05 1     1 + .95    .5 + .95        0 + .95       19
    #   p=.01 1     1 + 4.95   .5 + 4.95       0 + 4.95      99
    scores, labels = [0.9, 0.4, 0.95] + [0.0] * 19, [1, 1] + [0] * 20
    assert min_dcf(scores, labels, 0.05) == pytest.approx((0.95, 0.4))
    d, thr = min_dcf(scores, labels, 0.01)
    assert d == pytest.approx(1.0) and math.isinf(thr)
    # unequal costs: c_miss 10, c_fa 1, p 0.5 -> (5 Pmiss + .5 Pfa) / min(5, .5) = 10 Pmiss + Pfa,
    # smallest on SCORES at t = 0.3: 0 + 3/6
    assert min_dcf(SCORES, LABELS, 0.5, c_miss=10.0) == pytest.approx((0.5, 0.3))


def test_report():
    r = verification_report(SCORES, LABELS)
    assert r["eer"] == pytest.approx(0.25) and r["eer_threshold"] == pytest.approx(0.55)
    assert r["min_dcf_p0.05"] == pytest.approx(0.5) and r["min_dcf_p0.01"] == pytest.approx(0.5)
    assert (r["n_trials"], r["n_target"], r["n_nontarget"]) == (10, 4, 6)
    inv = verification_report([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0])
    assert inv["min_dcf_p0.01"] == 1.0 and inv["min_dcf_p0.01_threshold"] is None  # JSON-safe


def test_bad_input():
    with pytest.raises(ValueError, match="no trials"):
        eer([], [])
    with pytest.raises(ValueError, match="3 scores for 2 labels"):
        eer([0.1, 0.2, 0.3], [1, 0])
    with pytest.raises(ValueError, match="only target trials"):
        eer([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="only non-target trials"):
        min_dcf([0.1, 0.2], [0, 0], 0.05)
    with pytest.raises(ValueError, match="labels must be 1 .* or 0"):
        eer([0.1, 0.2], [1, 2])
    with pytest.raises(ValueError, match="NaN or infinite"):
        eer([0.1, float("nan")], [1, 0])
    with pytest.raises(ValueError, match="p_target must be in"):
        min_dcf(SCORES, LABELS, 1.0)
    with pytest.raises(ValueError, match="only target"):
        verification_report([0.5], [1])


# ---------------------------------------------------------------- confidence intervals (adapters.stats)

import numpy as np  # noqa: E402

from adapters import stats  # noqa: E402


def _ids(n):
    return [f"u{i:03d}" for i in range(n)]


def test_ci_contains_the_point_estimate_and_is_reproducible():
    rng = np.random.default_rng(3)
    words = rng.integers(3, 20, 200)
    asr = {"ids": _ids(200), "word_errors": rng.binomial(words, 0.2).tolist(), "words": words.tolist()}
    cls = {"ids": _ids(200), "correct": (rng.random(200) < 0.7).astype(int).tolist()}
    y = (rng.random(200) < 0.3).astype(int)
    asv = {"ids": _ids(200), "scores": rng.normal(1.5 * y, 1.0).tolist(), "labels": y.tolist()}
    for items, metric in ((asr, "wer"), (cls, "accuracy"), (asv, "eer"), (asv, "min_dcf_0.05")):
        r = stats.bootstrap_ci(items, metric)
        lo, hi = r["ci"]
        assert lo < r["value"] < hi and r["n"] == 200, (metric, r)
        assert stats.bootstrap_ci(items, metric) == r  # fixed seed
    # the pooled ratio, not the mean of per-utterance rates
    assert stats.value(asr, "wer") == pytest.approx(100 * sum(asr["word_errors"]) / sum(asr["words"]))
    assert stats.value(asv, "eer") == pytest.approx(100 * eer(asv["scores"], asv["labels"])[0])
    f = stats.ci_fields(asv, ["eer", "min_dcf_0.05", "min_dcf_0.01"])
    assert set(f) == {"eer_ci", "min_dcf_0.05_ci", "min_dcf_0.01_ci", "n", "ci_method"} and f["n"] == 200


def test_ci_of_perfect_results_is_a_point():
    zero = {"ids": _ids(50), "word_errors": [0] * 50, "words": [7] * 50}
    assert stats.bootstrap_ci(zero, "wer") == {"value": 0.0, "ci": [0.0, 0.0], "n": 50}
    right = {"ids": _ids(50), "correct": [1] * 50}
    assert stats.bootstrap_ci(right, "accuracy")["ci"] == [100.0, 100.0]
    separable = {"ids": _ids(6), "scores": [0.9, 0.8, 0.7, 0.3, 0.2, 0.1], "labels": [1, 1, 1, 0, 0, 0]}
    for m in ("eer", "min_dcf_0.05", "min_dcf_0.01"):
        assert stats.bootstrap_ci(separable, m) == {"value": 0.0, "ci": [0.0, 0.0], "n": 6}
    assert stats.bootstrap_ci({"ids": ["a"], "correct": [1]}, "accuracy")["ci"] is None  # one item: no CI


def test_vectorized_roc_matches_the_metrics_on_resampled_trials():
    """Each resample's EER / minDCF (counts as weights, ties in the scores) = adapters.metrics
    on the resampled trial list itself."""
    rng = np.random.default_rng(1)
    y = (rng.random(120) < 0.3).astype(int)
    s = np.round(rng.normal(y * 1.0, 1.0), 1)
    a = stats._arrays({"scores": s, "labels": y}, list(stats.VERIFICATION))
    for _ in range(10):
        idx = np.r_[rng.choice(np.flatnonzero(y == 1), y.sum()), rng.choice(np.flatnonzero(y == 0), (1 - y).sum())]
        got = stats._verification_stats(a, np.bincount(idx, minlength=120)[None].astype(float), stats.VERIFICATION)
        assert got["eer"][0] == pytest.approx(100 * eer(s[idx], y[idx])[0])
        assert got["min_dcf_0.05"][0] == pytest.approx(min_dcf(s[idx], y[idx], 0.05)[0])
        assert got["min_dcf_0.01"][0] == pytest.approx(min_dcf(s[idx], y[idx], 0.01)[0])


def test_paired_bootstrap_detects_a_real_difference_and_not_a_non_difference():
    a = {"ids": _ids(100), "correct": [1] * 90 + [0] * 10}
    b = {"ids": _ids(100), "correct": [1] * 50 + [0] * 50}
    r = stats.paired_bootstrap(a, b, "accuracy")
    assert r["significant"] and r["diff"] == pytest.approx(40.0) and r["n"] == 100
    assert r["ci"][0] > 0 and r["ci"][0] < 40.0 < r["ci"][1]
    same = stats.paired_bootstrap(a, dict(a), "accuracy")
    assert not same["significant"] and same["diff"] == 0.0 and same["ci"] == [0.0, 0.0]
    # B's items in another order, one item more: paired by id on the common items
    order = list(range(100))[::-1]
    b2 = {"ids": [b["ids"][i] for i in order] + ["extra"], "correct": [b["correct"][i] for i in order] + [1]}
    assert stats.paired_bootstrap(a, b2, "accuracy")["ci"] == r["ci"]
    with pytest.raises(ValueError, match="no test item in common"):
        stats.paired_bootstrap(a, {"ids": ["x", "y"], "correct": [1, 0]}, "accuracy")
    # ASR: the same errors give no difference; one run better on every utterance does
    e = {"ids": _ids(40), "word_errors": [2, 0, 1, 3] * 10, "words": [10] * 40}
    better = dict(e, word_errors=[x - 1 if x else 0 for x in e["word_errors"]])
    assert not stats.paired_bootstrap(e, e, "wer")["significant"]
    assert stats.paired_bootstrap(better, e, "wer")["significant"]
    # verification: the same trials, one run's scores separate the classes better
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(100), np.zeros(200)]
    ta = {"ids": _ids(300), "scores": rng.normal(2.5 * y, 1).tolist(), "labels": y.astype(int).tolist()}
    tb = dict(ta, scores=rng.normal(0.5 * y, 1).tolist())
    res = stats.paired_bootstraps(ta, tb, ["eer", "min_dcf_0.05"])
    assert res["eer"]["significant"] and res["eer"]["diff"] < 0
    assert not stats.paired_bootstrap(ta, ta, "eer")["significant"]


def test_strata_and_folds():
    # two tasks: the mean of the per-task WERs (25 % and 50 %), not the pooled 3/8
    items = {"ids": ["u1", "u2", "u3"], "word_errors": [0, 1, 2], "words": [2, 2, 4], "strata": ["t1", "t1", "t2"]}
    r = stats.bootstrap_ci(items, "wer")
    assert r["value"] == pytest.approx(37.5) and r["ci"][0] <= 37.5 <= r["ci"][1]
    assert "within strata" in stats.ci_method(items, "wer")
    # the numpy draws (one stratum) and scipy.stats.bootstrap (none) agree on the same data
    rng = np.random.default_rng(2)
    plain = {"ids": _ids(300), "correct": (rng.random(300) < 0.6).astype(int).tolist()}
    one = dict(plain, strata=["s"] * 300)
    assert stats.bootstrap_ci(one, "accuracy")["ci"] == pytest.approx(stats.bootstrap_ci(plain, "accuracy")["ci"],
                                                                       abs=1.0)
    # Student's t over folds: mean 60, sd 1.58, n 5, t(0.975, 4) = 2.776
    lo, hi = stats.t_interval([60, 62, 58, 61, 59])
    assert (lo + hi) / 2 == pytest.approx(60.0) and (hi - lo) / 2 == pytest.approx(2.776 * 1.5811 / 5 ** 0.5, 1e-3)
    assert stats.t_interval([60.0]) is None and stats.t_interval([5.0, 5.0]) == [5.0, 5.0]
