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
