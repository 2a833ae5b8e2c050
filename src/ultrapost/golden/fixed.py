"""Golden twin of csrc/up_fixed.c: rounding and saturation helpers, integer exp and sigmoid."""

from __future__ import annotations

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
_LOG2E_Q30 = 1549082005
_LN2_Q30 = 744261118
_SIXTH_Q30 = 178956971
# 2^(i/64) in Q30, rounded to nearest (the C table; test_golden checks they agree through up_exp_q20).
_EXP2_Q30 = np.array([round(2 ** (i / 64) * 2**30) for i in range(64)], dtype=np.int64)


def rshift_round(x, n: int):
    """x / 2^n rounded half up (add half, arithmetic shift); int64 in and out."""
    return (np.asarray(x, dtype=np.int64) + (1 << (n - 1))) >> n


def sat32(x):
    return np.clip(np.asarray(x, dtype=np.int64), INT32_MIN, INT32_MAX)


def exp_q20(x_q20):
    """up_exp_q20: exp(x), Q20 in and out, saturated to INT32_MAX."""
    x = np.asarray(x_q20, dtype=np.int64)
    y = x * _LOG2E_Q30  # Q50
    k = y >> 50
    f = y & ((1 << 50) - 1)  # numpy's & on int64 is two's complement, like the C uint64 cast
    i = f >> 44
    g = (f >> 20) & ((1 << 24) - 1)
    u = rshift_round(g * _LN2_Q30, 30)
    u2 = rshift_round(u * u, 30)
    u3 = rshift_round(u2 * u, 30)
    p = (1 << 30) + u + rshift_round(u2, 1) + rshift_round(u3 * _SIXTH_Q30, 30)
    m = rshift_round(_EXP2_Q30[i] * p, 30)
    shift = 10 - k
    safe = np.clip(shift, 1, 62)
    r = np.where(shift > 0, (m + (np.int64(1) << (safe - 1))) >> safe, m)
    r = np.where(shift > 62, 0, r)
    r = np.minimum(r, INT32_MAX)
    r = np.where(k >= 11, INT32_MAX, r)
    r = np.where(k < -22, 0, r)
    return r.astype(np.int64)


def sigmoid_q30(x_q20):
    """up_sigmoid_q30: round(2^50 / (2^20 + exp(-|x|))) in Q30, mirrored for x < 0."""
    x = np.asarray(x_q20, dtype=np.int64)
    neg_abs = np.where(x > 0, -x, x)
    den = (1 << 20) + exp_q20(neg_abs)
    q = ((1 << 50) + (den >> 1)) // den
    return np.where(x >= 0, q, (1 << 30) - q).astype(np.int64)
