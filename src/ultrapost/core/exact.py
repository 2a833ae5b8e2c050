"""Exact thresholds: a float threshold becomes the integers the core compares, so that every decision is the one
exact rational arithmetic on the given value makes (float32 and float64 values are dyadic rationals).

- IoU: t (float64) is ``iou_num / 2^iou_shift`` exactly, plus ``iou_q16 = floor(t * 2^16)`` for the core's cheap
  bracket (csrc/up_iou.c).
- float32 probabilities: the order-preserving integer key of a float32 (``f32_key``) and the key of the largest
  float32 failing the test, so that ``p > t`` (``p >= t``) is ``f32_key(p) > bound`` for every float32 p.
- int8 levels ``scale * (q - zp)``: compared with t as fractions; their sigmoids (logits) against ``ln(t / (1 - t))``
  (``sigmoid(v) > t`` is ``v > ln(t / (1 - t))``, never an equality for a rational v unless t = 1/2), evaluated to
  as many digits as the comparison needs.
- float32 logits: one logit by its order-preserving key against the key of the largest float32 failing the test;
  two logits (softmax) by the exact difference ``x1 - x0`` against ``ln(t / (1 - t))``: the words of
  ``f32_logit2_words`` (a float64 bracket that settles almost every row, then 192-bit integers on the 2^-149 grid).
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np

from ultrapost.core.config import OutOfRangeError

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def iou_threshold(t: float) -> tuple[int, int, int]:
    """(iou_q16, iou_num, iou_shift) of an IoU threshold t in [0, 1]: t = iou_num / 2^iou_shift exactly and
    iou_q16 = floor(t * 2^16). t = 0 gives (0, 0, 0), which the core also reads as iou_q16 / 2^16 = 0."""
    f = Fraction(float(t))
    if not 0 <= f <= 1:
        raise ValueError(f"iou_threshold must be in [0, 1], got {t!r}")
    shift = f.denominator.bit_length() - 1  # a power of two
    return (f.numerator << 16) >> shift, f.numerator, shift


def f32_key(x) -> np.ndarray:
    """The order-preserving int32 key of float32 values: f32_key(a) > f32_key(b) exactly when a > b (finite a, b;
    -0.0 and 0.0 share the key 0)."""
    bits = np.array(x, dtype=np.float32, ndmin=1).view(np.int32).astype(np.int64).reshape(np.shape(x))
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def f32_of_key(key: int) -> float:
    """The float32 of a key (the non-negative zero for 0)."""
    b = int(key)
    bits = b if b >= 0 else (-b) | (1 << 31)
    return float(np.array([bits], np.uint32).view(np.float32)[0])


def f32_prob_bound(t: float, inclusive: bool) -> int:
    """The key of the largest float32 failing ``p > t`` (``p >= t`` if inclusive), t in [0, 1]: a float32 p passes
    exactly when f32_key(p) > this. In [-1, key(1.0)]."""
    f = np.float32(t)
    if float(f) > t or (inclusive and float(f) == t):
        f = np.nextafter(f, np.float32(-np.inf))
    return int(f32_key(f))


def _ln_odds(t: Fraction, prec: int = 100) -> Decimal:
    """ln(t / (1 - t)) correctly rounded to prec digits (Decimal's ln rounds correctly)."""
    with localcontext() as ctx:
        ctx.prec = prec
        td = Decimal(t.numerator) / Decimal(t.denominator)
        return (td / (1 - td)).ln()


def logit_compare(v: Fraction, t: Fraction) -> int:
    """The sign of ``v - ln(t / (1 - t))`` for a rational v and 0 < t < 1, t != 1/2 (the logarithm is then
    irrational, so never 0): more digits until the rounding error of the logarithm cannot change it."""
    prec = 60
    while True:
        ld = _ln_odds(t, prec)
        err = Fraction(1, 10 ** (prec - 2 - ld.adjusted()))  # above one unit in the last place
        gap = v - Fraction(ld)
        if abs(gap) > err:
            return 1 if gap > 0 else -1
        prec *= 2


def logit_passes(v: Fraction, t: float, inclusive: bool) -> bool:
    """``sigmoid(v) > t`` (``>=``) in exact arithmetic for a rational logit v."""
    ft = Fraction(float(t))
    if ft == 0:  # sigmoid(v) > 0 for every finite v
        return True
    if ft == 1:  # sigmoid(v) < 1 for every finite v
        return False
    if ft == Fraction(1, 2):
        return v >= 0 if inclusive else v > 0
    return logit_compare(v, ft) > 0


def sigmoid_passes(values, t: float, inclusive: bool) -> np.ndarray:
    """``sigmoid(v) > t`` (``>=``) in exact arithmetic for rational logits v (Fractions)."""
    return np.array([logit_passes(v, t, inclusive) for v in values], dtype=bool)


F32_KEY_MAX = 0x7F7FFFFF  # f32_key(FLT_MAX)


def f32_logit_bound(t: float, inclusive: bool, clip: float = 0.0) -> int:
    """The key of the largest float32 x failing ``sigmoid(clamp(x, -clip, clip)) > t`` (``>=``; no clamp for clip 0):
    a float32 logit passes exactly when f32_key(x) > this. The test is monotone in x, so a bisection over the keys
    of the finite float32 values finds the boundary, each side proven by an exact evaluation; -F32_KEY_MAX - 1 when
    every finite value passes."""
    c = Fraction(float(clip))

    def passes(key: int) -> bool:
        v = Fraction(f32_of_key(key))
        if c > 0:
            v = min(max(v, -c), c)
        return logit_passes(v, t, inclusive)

    lo, hi = -F32_KEY_MAX - 1, F32_KEY_MAX  # lo fails (a sentinel below every value); the first pass is in (lo, hi]
    if not passes(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid
    return lo


F32_GRID = 149  # float32 values are multiples of 2^-149
LOGIT2_WORDS = 10  # UP_F32_LOGIT2_WORDS


def f32_logit2_integer(t: float, inclusive: bool) -> int:
    """The integer F for which two float32 logits pass ``sigmoid(x1 - x0) > t`` (``>=``) exactly when
    ``(x1 - x0) * 2^149 > F`` (an integer for float32 values): ``floor(ln(t / (1 - t)) * 2^149)``; +-2^180 (beyond
    every difference of values within +-1024) for t = 1 and t = 0."""
    ft = Fraction(float(t))
    if ft == 0:
        return -(1 << 180)
    if ft == 1:
        return 1 << 180
    if ft == Fraction(1, 2):
        return -1 if inclusive else 0
    # F < L * 2^149 < F + 1 (L irrational): the floor at 100 digits, each side then proven exactly
    prec = 100
    while True:
        with localcontext() as ctx:
            ctx.prec = prec
            f = int((_ln_odds(ft, prec) * (1 << F32_GRID)).to_integral_value(rounding="ROUND_FLOOR"))
        if logit_compare(Fraction(f, 1 << F32_GRID), ft) < 0 < logit_compare(Fraction(f + 1, 1 << F32_GRID), ft):
            return f
        prec *= 2


def _double_bits(x: float) -> tuple[int, int]:
    u = int(np.array([x], np.float64).view(np.uint64)[0])
    return u & 0xFFFFFFFF, u >> 32


def f32_logit2_words(t: float, inclusive: bool) -> np.ndarray:
    """The int32 words of the exact two-logit test (up_host.h, UP_F32_LOGIT2_WORDS): the float64 bracket lo <= T <= hi
    (adjacent doubles, or T itself) of T = (F + 1/2) / 2^149, each as (low, high) 32-bit halves of its bits, then F
    (f32_logit2_integer) as six 32-bit limbs of a 192-bit two's complement integer, least significant first. The
    host passes a row when the float64 difference s of the logits is above hi, fails it when s is below lo (s is the
    difference rounded to nearest, so the exact one lies on the same side of T), else compares the exact
    difference with F in integers."""
    f = f32_logit2_integer(t, inclusive)
    T = Fraction(2 * f + 1, 1 << (F32_GRID + 1))
    near = float(T)
    lo = near if Fraction(near) <= T else math.nextafter(near, -math.inf)
    hi = near if Fraction(near) >= T else math.nextafter(near, math.inf)
    words = [*_double_bits(lo), *_double_bits(hi)]
    u = f % (1 << 192)
    words += [(u >> (32 * i)) & 0xFFFFFFFF for i in range(6)]
    return np.array(words, dtype=np.uint32).view(np.int32)


def f32_logit2_passes(x1, x0, words: np.ndarray) -> np.ndarray:
    """The host's two-logit test (up_host_select.c) on float32 arrays: the float64 bracket, then the exact integers
    for the rows it does not settle."""
    x1 = np.asarray(x1, np.float32)
    x0 = np.asarray(x0, np.float32)
    w = np.asarray(words, np.int32).view(np.uint32).astype(np.uint64)
    lo, hi = (np.array([w[i] | (w[i + 1] << np.uint64(32))], np.uint64).view(np.float64)[0] for i in (0, 2))
    f = sum(int(w[4 + i]) << (32 * i) for i in range(6))
    f = f - (1 << 192) if f >> 191 else f
    s = x1.astype(np.float64) - x0.astype(np.float64)
    passing = s > hi
    for i in np.flatnonzero((s >= lo) & (s <= hi)):
        d = (Fraction(float(x1[i])) - Fraction(float(x0[i]))) * (1 << F32_GRID)
        passing[i] = d > f  # an integer
    return passing


def level_values(scale: float, zero_point: int, levels) -> list[Fraction]:
    """The exact values scale * (q - zp) of int8 levels q (or of level differences when zero_point is 0)."""
    s = Fraction(float(scale))
    return [s * (int(q) - int(zero_point)) for q in levels]


def clipped(values: list[Fraction], clip: float) -> list[Fraction]:
    if clip <= 0:
        return values
    c = Fraction(float(clip))
    return [min(max(v, -c), c) for v in values]


def q20_logit_bound(t: float, inclusive: bool) -> int:
    """Bound on a Q20 logit key k: sigmoid(k / 2^20) > t (``>=``) exactly when k > bound, for int32 keys."""
    ft = Fraction(float(t))
    if ft == 0:
        return INT32_MIN  # every key but INT32_MIN (a logit at or below -2048, saturated) passes
    if ft == 1:
        return INT32_MAX
    if ft == Fraction(1, 2):
        return -1 if inclusive else 0
    with localcontext() as ctx:
        ctx.prec = 100
        x = _ln_odds(ft) * (1 << 20)
        b = int(x.to_integral_value(rounding="ROUND_FLOOR"))  # x is irrational: > and >= agree
    return max(min(b, INT32_MAX), INT32_MIN)


def exceeds_exact(inter: int, union: int, num: int, shift: int) -> bool:
    """up_exceeds_exact: inter * 2^shift > num * union, in Python integers."""
    return inter * (1 << shift) > num * union


def above_one_error(scores, class_index: int, num_labels: int) -> OutOfRangeError:
    """The error of a float32 probability above 1 (it passes any threshold in [0, 1]): names the first one."""
    s = np.asarray(scores, dtype=np.float32)
    cols = s[..., class_index : class_index + max(num_labels, 1)]
    where = np.argwhere(cols > 1)
    if not len(where):
        return OutOfRangeError("a float32 probability above 1 passed the score test")
    at = tuple(where[0])
    anchor = f"anchor {at[-2]}" + (f" of image {at[0]}" if len(at) > 2 else "")
    return OutOfRangeError(
        f"probability {cols[at]} above 1 ({anchor}, column {class_index + at[-1]}): probabilities must be in [0, 1]"
    )
