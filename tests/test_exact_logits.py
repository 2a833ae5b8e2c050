"""float32 logits: the score test decides as exact arithmetic on the given floats would, for any threshold.

One logit (BlazeFace): ``sigmoid(clamp(x, -100, 100)) >= t``; two logits (softmax, Ultraface / RetinaFace):
``sigmoid(x1 - x0) > t`` on the real difference. Expected answers come from the sigmoid itself evaluated in
``decimal`` arithmetic at 600 digits on the exact rational values (an independent route: the code under test
compares logits with ``ln(t / (1 - t))``), never from the code under test. Candidates are then ordered by their
converted Q20 key (the clamped logit, or the difference of the two rounded logits), then by anchor.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ultrapost
from ultrapost.core import exact

BACKENDS = ("c", "golden")
THRESHOLDS = (0.001, 1e-7, 0.5, 0.999999, 0.0, 1.0, 0.3, 0.9)
Q20 = 1 << 20


def sigmoid_passes(v: Fraction, t: float, inclusive: bool) -> bool:
    """1 / (1 + exp(-v)) against t, in 600-digit decimal arithmetic (e^-2048 is about 1e-890: the sigmoid of a
    difference within +-2048 stays apart from 0 and 1 at this precision)."""
    with localcontext() as ctx:
        ctx.prec = 1000
        s = 1 / (1 + (-(Decimal(v.numerator) / Decimal(v.denominator))).exp())
        td = Decimal(t)  # exact: a float64 has a finite decimal expansion
        return s >= td if inclusive else s > td


def ulps(x: float, k: int) -> np.float32:
    """The float32 k steps from float32(x)."""
    v = np.float32(x)
    for _ in range(abs(k)):
        v = np.nextafter(v, np.float32(np.inf if k > 0 else -np.inf))
    return v


def odds_log(t: float) -> float:
    return 0.0 if t in (0.0, 0.5, 1.0) else math.log(t / (1 - t))


def q20(x) -> int:
    return math.floor(float(x) * Q20 + 0.5)


ROWS = 32  # the anchors of a 64 x 32 input, one level of stride 8


def padded(x):
    """x repeated to ROWS values (the repeats are decided like the originals)."""
    x = np.asarray(x, np.float32)
    return np.resize(x, ROWS)


def two_logit_pp(t, test=">", n=ROWS):
    return ultrapost.Ultraface(
        (64, 32),
        score_threshold=t,
        iou_threshold=1.0,  # IoU <= 1 always: nothing suppressed
        min_boxes=((16,),),
        strides=(8,),
        logits=True,
        eps=0.0,
        score_test=test,
        max_detections=n,
    )


def run_two_logits(t, test, x1, x0):
    """Decoded boxes (one apart per row): the anchors kept, in order, from each backend."""
    x1, x0 = padded(x1), padded(x0)
    n = len(x1)
    s = np.stack([np.asarray(x0, np.float32), np.asarray(x1, np.float32)], axis=1)
    b = np.array([[0.05 * i, 0.0, 0.05 * i + 0.01, 0.01] for i in range(n)], np.float32)
    pp = two_logit_pp(t, test, n)
    return {be: pp.postprocess(s, b, decoded=True, backend=be).anchors.tolist() for be in BACKENDS}


def expected_two_logits(t, test, x1, x0):
    x1, x0 = padded(x1), padded(x0)
    vals = [Fraction(float(a)) - Fraction(float(b)) for a, b in zip(x1, x0, strict=True)]
    keep = [i for i, v in enumerate(vals) if sigmoid_passes(v, t, test == ">=")]
    key = {i: max(min(q20(x1[i]) - q20(x0[i]), 2**31 - 1), -(2**31)) for i in keep}
    return sorted(keep, key=lambda i: (-key[i], i))


# -- one logit (BlazeFace: clamped to +-100, score >= t by default) --------------------------------------------------


def blazeface(t, test):
    anchors = np.array([[0.05 + 0.06 * i, 0.5, 0.05, 0.05] for i in range(16)])
    return ultrapost.BlazeFace(
        128, score_threshold=t, iou_threshold=1.0, nms="hard", score_test=test, anchors=anchors, max_detections=16
    )


def run_one_logit(t, test, x):
    x = np.asarray(x, np.float32)
    reg = np.zeros((len(x), 16), np.float32)
    reg[:, 2:4] = 4.0  # 4 px boxes at their anchors: apart, nothing overlaps
    pp = blazeface(t, test)
    return {be: pp.postprocess(x[:, None], reg, backend=be).anchors.tolist() for be in BACKENDS}


def expected_one_logit(t, test, x):
    clip = Fraction(100)
    vals = [min(max(Fraction(float(v)), -clip), clip) for v in x]
    keep = [i for i, v in enumerate(vals) if sigmoid_passes(v, t, test == ">=")]
    key = {i: max(min(q20(x[i]), 100 * Q20), -100 * Q20) for i in keep}
    return sorted(keep, key=lambda i: (-key[i], i))


@pytest.mark.parametrize("test", [">", ">="])
@pytest.mark.parametrize("t", THRESHOLDS)
def test_one_float32_logit_one_ulp_each_side_of_the_threshold(t, test):
    """float32 logits a few steps each side of ln(t / (1 - t)) (and of 0, +-100 and +-1000 for t = 0, 1/2, 1): kept
    exactly when the sigmoid passes. On Q20 values (2^-20 apart) the steps below 2^-21 were one key: main kept
    both sides of t = 0.3 (ln odds -0.847) and dropped x = 1.4e-45 at t = 1/2."""
    centre = odds_log(t)
    x = [ulps(centre, k) for k in range(-5, 6)] + [ulps(-100.0, -1), ulps(100.0, 1), -1000.0, 1000.0, 1e-30]
    x = np.array(x, np.float32)
    expected = expected_one_logit(t, test, x)
    for backend, kept in run_one_logit(t, test, x).items():
        assert kept == expected, (t, test, backend)


@pytest.mark.parametrize("test", [">", ">="])
@pytest.mark.parametrize("t", THRESHOLDS)
def test_two_float32_logits_one_ulp_each_side_of_the_threshold(t, test):
    """x1 a few steps each side of ln(t / (1 - t)) minus a small x0 whose Q20 value is 0: on Q20 values the
    difference was round(x1 * 2^20), blind to x0 (main kept x1 - x0 below the threshold for t = 0.3, 0.7, 0.9,
    0.999999 and 1/2)."""
    centre = odds_log(t)
    x1 = np.array([ulps(centre, k) for k in range(-3, 4)] * 3 + [1000.0, -1000.0], np.float32)
    small = np.array([0.0, 1e-7, -1e-7, 3e-7, 2.0**-30, -(2.0**-25)], np.float32)
    x0 = np.array([small[i % len(small)] for i in range(len(x1) - 2)] + [-1000.0, 1000.0], np.float32)
    expected = expected_two_logits(t, test, x1, x0)
    for backend, kept in run_two_logits(t, test, x1, x0).items():
        assert kept == expected, (t, test, backend)


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    t=st.one_of(st.sampled_from(THRESHOLDS), st.floats(0.0, 1.0), st.floats(1e-300, 1e-3)),
    x0=st.lists(st.floats(-1000, 1000, width=32) | st.floats(-(2.0**-20), 2.0**-20, width=32), min_size=8, max_size=8),
    steps=st.lists(st.integers(-4, 4), min_size=8, max_size=8),
    test=st.sampled_from([">", ">="]),
)
def test_two_float32_logits_around_any_threshold(t, x0, steps, test):
    """Any t (below 1/128, 0 and 1 included), x0 anywhere in [-1000, 1000] and x1 a few float32 steps from
    x0 + ln(t / (1 - t)): C == golden == exact arithmetic, in the documented order."""
    centre = odds_log(t)
    x1 = np.array([ulps(min(max(a + centre, -1000.0), 1000.0), k) for a, k in zip(x0, steps, strict=True)], np.float32)
    x0 = np.array(x0, np.float32)
    expected = expected_two_logits(t, test, x1, x0)
    for backend, kept in run_two_logits(t, test, x1, x0).items():
        assert kept == expected, (backend, x1.tolist(), x0.tolist())


def bracket(words) -> tuple[float, float]:
    w = np.asarray(words, np.int32).view(np.uint32).astype(np.uint64)
    return tuple(float(np.array([w[i] | w[i + 1] << np.uint64(32)], np.uint64).view(np.float64)[0]) for i in (0, 2))


def threshold_next_to(base: float) -> tuple[float, np.float32]:
    """A float64 t and a float32 x1 near base for which x1 (as a double) is lo or hi of t's bracket: t is the
    float64 nearest sigmoid(x1), so ln(t / (1 - t)) lies within a few doubles of x1; the first x1 where it is
    the next double is taken."""
    for k in range(400):
        x1 = ulps(base, k)
        with localcontext() as ctx:
            ctx.prec = 60
            t = float(1 / (1 + (-Decimal(float(x1))).exp()))
        if float(x1) in bracket(exact.f32_logit2_words(t, False)):
            return t, x1
    raise AssertionError(f"no threshold next to a float32 near {base}")


@pytest.mark.parametrize("base", [0.8, -3.3, 7.9, -0.05])
def test_two_float32_logits_decided_by_the_integer_test_next_to_the_threshold(base):
    """Rows the float64 bracket cannot settle: x1 is one of the two doubles next to ln(t / (1 - t)) and x0 is tiny
    (2^-50 .. 2^-140, both signs), so x1 - x0 mostly needs more than 53 bits and rounds to x1. The integer comparison on
    the 2^-149 grid decides them as exact arithmetic does, on both sides."""
    t, x1 = threshold_next_to(base)
    lo, hi = bracket(exact.f32_logit2_words(t, False))
    x0 = np.array([s * 2.0**-e for e in (50, 53, 56, 60, 80, 100, 126, 140) for s in (1, -1)] + [0.0], np.float32)
    x1 = np.full(len(x0), x1, np.float32)
    settled = sum(not lo <= float(a) - float(b) <= hi for a, b in zip(x1, x0, strict=True))
    assert settled <= 6  # x0 from 2^-56 down: the double difference rounds to x1, the integer test decides
    expected = expected_two_logits(t, ">", x1, x0)
    assert 0 < len(set(expected) & set(range(len(x0)))) < len(x0)  # both sides are present
    for backend, kept in run_two_logits(t, ">", x1, x0).items():
        assert kept == expected, backend


def test_two_logit_words_bracket_the_threshold():
    """The words of the exact test: lo <= T <= hi, adjacent doubles (or T itself), T = (F + 1/2) / 2^149 with
    F < ln(t / (1 - t)) * 2^149 < F + 1, checked here with Decimal at 200 digits."""
    for t in (0.001, 1e-7, 0.3, 0.999999, 1e-300):
        w = exact.f32_logit2_words(t, False).view(np.uint32).astype(np.uint64)
        lo, hi = (float(np.array([w[i] | w[i + 1] << np.uint64(32)], np.uint64).view(np.float64)[0]) for i in (0, 2))
        f = sum(int(w[4 + i]) << (32 * i) for i in range(6))
        f = f - (1 << 192) if f >> 191 else f
        with localcontext() as ctx:
            ctx.prec = 200
            td = Decimal(t)
            scaled = (td / (1 - td)).ln() * (Decimal(2) ** 149)
            assert f < scaled < f + 1
        big_t = Fraction(2 * f + 1, 1 << 150)
        assert Fraction(lo) <= big_t <= Fraction(hi)
        assert math.nextafter(lo, math.inf) == hi or lo == hi
