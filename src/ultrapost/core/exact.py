"""Exact thresholds: a float threshold becomes the integers the core compares, so that every decision is the one
exact rational arithmetic on the given value makes (float32 and float64 values are dyadic rationals).

- IoU: t (float64) is ``iou_num / 2^iou_shift`` exactly, plus ``iou_q16 = floor(t * 2^16)`` for the core's cheap
  bracket (csrc/up_iou.c).
- float32 probabilities: the order-preserving integer key of a float32 (``f32_key``) and the key of the largest
  float32 failing the test, so that ``p > t`` (``p >= t``) is ``f32_key(p) > bound`` for every float32 p.
- int8 levels ``scale * (q - zp)``: compared with t as fractions; their sigmoids (logits) against ``ln(t / (1 - t))``
  to 100 digits (``sigmoid(v) > t`` is ``v > ln(t / (1 - t))``, never an equality for a rational v unless t = 1/2).
"""

from __future__ import annotations

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


def _levels_pass(values, t: Fraction, inclusive: bool) -> np.ndarray:
    return np.array([v >= t if inclusive else v > t for v in values], dtype=bool)


def _ln_odds(t: Fraction) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 100
        td = Decimal(t.numerator) / Decimal(t.denominator)
        return (td / (1 - td)).ln()


def _dec(v: Fraction) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 100
        return Decimal(v.numerator) / Decimal(v.denominator)


def sigmoid_passes(values, t: float, inclusive: bool) -> np.ndarray:
    """``sigmoid(v) > t`` (``>=``) in exact arithmetic for rational logits v (Fractions)."""
    ft = Fraction(float(t))
    if ft == 0:  # sigmoid(v) > 0 for every finite v
        return np.ones(len(values), dtype=bool)
    if ft == 1:  # sigmoid(v) < 1 for every finite v
        return np.zeros(len(values), dtype=bool)
    if ft == Fraction(1, 2):
        return _levels_pass(values, Fraction(0), inclusive)
    lt = _ln_odds(ft)  # irrational: never equal to a rational v
    return np.array([_dec(v) > lt for v in values], dtype=bool)


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
