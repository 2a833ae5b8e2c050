"""The numpy golden model: the C core (csrc/) function by function, in integer arithmetic only.

Every function here has the name of its C twin without the ``up_`` prefix and returns identical integers; tests
compare the two with ``np.array_equal``. numpy-vs-C99 traps respected: all arithmetic is int64 (no int8 wrap),
right shifts of negative values are arithmetic in both, divisions only on non-negative operands, rounding is
"add half, then shift", and ordering uses ``np.lexsort`` on (anchor, -key), a total order.
"""

from __future__ import annotations

import numpy as np

from ultrapost.config import (
    BOX_LIMIT,
    F32_PROB_Q,
    F32_VALUE_LIMIT,
    F32_VALUE_Q,
    INPUT_F32,
    INPUT_S8,
    ONE_BOX,
    ONE_SCORE,
    SCORE_PROB,
    BOX_CORNERS,
    FixedConfig,
)

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


def f32_to_fixed(x, q: int, lo: int, hi: int):
    """up_f32_to_fixed: the float32 boundary, round(x * 2^q) half up, clamped to [lo, hi]."""
    v = np.asarray(x, dtype=np.float32).astype(np.float64) * float(1 << q)
    v = np.clip(v, lo, hi)
    return np.floor(v + 0.5).astype(np.int64)


def convert_f32(cfg: FixedConfig, scores: np.ndarray, boxes: np.ndarray):
    """The whole float32 boundary at once (the C converts lazily; the values are the same)."""
    if not (np.isfinite(scores).all() and np.isfinite(boxes).all()):
        raise ValueError("NaN or Inf in the float inputs")
    if cfg.score_kind == SCORE_PROB:
        s = f32_to_fixed(scores, F32_PROB_Q, 0, ONE_SCORE)
    else:
        s = f32_to_fixed(scores, F32_VALUE_Q, -F32_VALUE_LIMIT, F32_VALUE_LIMIT)
    b = f32_to_fixed(boxes, F32_VALUE_Q, -F32_VALUE_LIMIT, F32_VALUE_LIMIT)
    return s, b


def keys(cfg: FixedConfig, scores: np.ndarray):
    """up_key for every anchor: int64 [N]."""
    s = np.asarray(scores, dtype=np.int64)
    c = cfg.class_index
    if cfg.score_kind == SCORE_PROB:
        return s[:, c]
    return sat32(s[:, c] - s[:, 1 - c])


def select(cfg: FixedConfig, key: np.ndarray):
    """up_select + up_candidates_sort: anchors passing key > bound, best candidate_limit, best first."""
    passing = np.flatnonzero(key > cfg.score_bound)
    order = np.lexsort((passing, -key[passing]))
    return passing[order[: cfg.candidate_limit]]


def score_of_key(cfg: FixedConfig, key):
    key = np.asarray(key, dtype=np.int64)
    if cfg.input_kind == INPUT_S8:
        return cfg.score_lut[key + (128 if cfg.score_kind == SCORE_PROB else 255)].astype(np.int64)
    return key if cfg.score_kind == SCORE_PROB else sigmoid_q30(key)


def decode(cfg: FixedConfig, anchors: np.ndarray, raw: np.ndarray):
    """up_decode for rows ``raw`` [K,4] of anchors [K] -> Q20 corners int64 [K,4]."""
    raw = np.asarray(raw, dtype=np.int64)
    lo, hi = (0, ONE_BOX) if cfg.clip else (-BOX_LIMIT, BOX_LIMIT)
    if cfg.box_kind == BOX_CORNERS:
        v = cfg.box_lut[raw + 128].astype(np.int64) if cfg.input_kind == INPUT_S8 else raw
        return np.clip(v, lo, hi)
    prior = cfg.priors[anchors].astype(np.int64)
    if cfg.input_kind == INPUT_S8:
        c = cfg.center_lut[raw[:, :2] + 128].astype(np.int64)
        e = cfg.size_lut[raw[:, 2:] + 128].astype(np.int64)
    else:
        c = sat32(rshift_round(raw[:, :2] * cfg.var_center_q30, 30))
        e = exp_q20(sat32(rshift_round(raw[:, 2:] * cfg.var_size_q30, 30)))
    center = prior[:, :2] + rshift_round(c * prior[:, 2:], 20)
    size = rshift_round(e * prior[:, 2:], 20)
    half = rshift_round(size, 1)
    return np.clip(np.concatenate([center - half, center + half], axis=1), lo, hi)


def iou_exceeds(cfg: FixedConfig, box: np.ndarray, kept: np.ndarray):
    """up_iou_exceeds of one box against kept boxes [M,4]: inter * 2^16 > t_q16 * union, int64."""
    a, b = box.astype(np.int64), kept.astype(np.int64)
    area_a = max(a[2] - a[0], 0) * max(a[3] - a[1], 0)
    area_b = np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    iw = np.maximum(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0)
    ih = np.maximum(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0)
    inter = iw * ih
    union = area_a + area_b - inter + cfg.iou_eps_q40
    return inter * 65536 > cfg.iou_q16 * union


def nms(cfg: FixedConfig, candidates: np.ndarray, boxes: np.ndarray, key: np.ndarray):
    """up_nms: greedy hard NMS over sorted candidates whose decoded boxes are ``boxes`` [K,4]."""
    kept: list[int] = []
    for i in range(len(candidates)):
        if len(kept) >= cfg.max_detections:
            break
        if kept and iou_exceeds(cfg, boxes[i], boxes[kept]).any():
            continue
        kept.append(i)
    kept = np.asarray(kept, dtype=np.int64)
    anchors = candidates[kept]
    return {
        "boxes": boxes[kept].astype(np.int32).reshape(-1, 4),
        "scores": score_of_key(cfg, key[anchors]).astype(np.int32),
        "anchors": anchors.astype(np.int32),
    }


def run(cfg: FixedConfig, scores: np.ndarray, boxes: np.ndarray) -> dict[str, np.ndarray]:
    """up_run (and up_run_f32 for float32 inputs) on 2-D rows: scores [N,C], boxes [N,4]."""
    if cfg.input_kind == INPUT_F32:
        scores, boxes = convert_f32(cfg, scores, boxes)
    key = keys(cfg, scores)
    if cfg.input_kind == INPUT_F32 and cfg.score_kind == SCORE_PROB:
        key = np.where(key > cfg.score_bound, key, INT32_MIN)  # the C's prefiltered keys
    candidates = select(cfg, key)
    raw = np.asarray(boxes, dtype=np.int64)[candidates]
    decoded = decode(cfg, candidates, raw)
    return nms(cfg, candidates, decoded, key)
