"""The numpy golden model: the C core (csrc/) function by function, in integer arithmetic only.

Every function here has the name of its C twin without the ``up_`` prefix and returns identical integers; tests
compare the two with ``np.array_equal``. numpy-vs-C99 traps respected: all arithmetic is int64 (no int8 wrap),
right shifts of negative values are arithmetic in both, divisions only on non-negative operands, rounding is
"add half, then shift", and ordering uses ``np.lexsort`` on (anchor, -key), a total order.
"""

from __future__ import annotations

import numpy as np

from ultrapost.config import (
    BOX_CORNERS,
    BOX_LIMIT,
    BOX_LINEAR,
    F32_PROB_Q,
    F32_VALUE_LIMIT,
    F32_VALUE_Q,
    INPUT_F32,
    INPUT_S8,
    NMS_BLEND,
    NMS_HARD,
    NMS_SOFT_GAUSSIAN,
    NMS_WEIGHTED,
    ONE_BOX,
    ONE_SCORE,
    SCORE_LOGIT1,
    SCORE_LOGIT2,
    SCORE_PROB,
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


def convert_f32(cfg: FixedConfig, scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray | None = None):
    """The whole float32 boundary at once (the C converts lazily; the values are the same)."""
    for arr in (scores, boxes) + (() if keypoints is None else (keypoints,)):
        if not np.isfinite(arr).all():
            raise ValueError("NaN or Inf in the float inputs")
    if cfg.score_kind == SCORE_PROB:
        s = f32_to_fixed(scores, F32_PROB_Q, 0, ONE_SCORE)
    else:
        s = f32_to_fixed(scores, F32_VALUE_Q, -F32_VALUE_LIMIT, F32_VALUE_LIMIT)
    b = f32_to_fixed(boxes, F32_VALUE_Q, -F32_VALUE_LIMIT, F32_VALUE_LIMIT)
    k = None if keypoints is None else f32_to_fixed(keypoints, F32_VALUE_Q, -F32_VALUE_LIMIT, F32_VALUE_LIMIT)
    return s, b, k


def keys(cfg: FixedConfig, scores: np.ndarray, column: int | None = None):
    """up_key for every anchor of one score column (the config's class_index by default): int64 [N]."""
    s = np.asarray(scores, dtype=np.int64)
    c = cfg.class_index if column is None else column
    if cfg.score_kind == SCORE_PROB or (cfg.score_kind == SCORE_LOGIT1 and cfg.input_kind == INPUT_S8):
        return s[:, c]
    if cfg.score_kind == SCORE_LOGIT1:
        clip = cfg.logit_clip_q20
        return np.clip(s[:, c], -clip, clip) if clip > 0 else s[:, c]
    return sat32(s[:, c] - s[:, 1 - c])


def select(cfg: FixedConfig, key: np.ndarray, bound: int | None = None):
    """up_select + up_candidates_sort: anchors passing key > bound, best candidate_limit, best first."""
    passing = np.flatnonzero(key > (cfg.score_bound if bound is None else bound))
    order = np.lexsort((passing, -key[passing]))
    return passing[order[: cfg.candidate_limit]]


def score_of_key(cfg: FixedConfig, key):
    key = np.asarray(key, dtype=np.int64)
    if cfg.input_kind == INPUT_S8:
        return cfg.score_lut[key + (255 if cfg.score_kind == SCORE_LOGIT2 else 128)].astype(np.int64)
    return key if cfg.score_kind == SCORE_PROB else sigmoid_q30(key)


def _center_factor(cfg: FixedConfig, lut, raw):
    if cfg.input_kind == INPUT_S8:
        return lut[raw + 128].astype(np.int64)
    return sat32(rshift_round(raw * cfg.var_center_q30, 30))


def decode(cfg: FixedConfig, anchors: np.ndarray, raw: np.ndarray):
    """up_decode for rows ``raw`` [K,4] of anchors [K] -> Q20 corners int64 [K,4]."""
    raw = np.asarray(raw, dtype=np.int64)
    lo, hi = (0, ONE_BOX) if cfg.clip else (-BOX_LIMIT, BOX_LIMIT)
    if cfg.box_kind == BOX_CORNERS:
        v = cfg.box_lut[raw + 128].astype(np.int64) if cfg.input_kind == INPUT_S8 else raw
        return np.clip(v, lo, hi)
    prior = cfg.priors[anchors].astype(np.int64)
    c = _center_factor(cfg, cfg.center_lut, raw[:, :2])
    if cfg.input_kind == INPUT_S8:
        e = cfg.size_lut[raw[:, 2:] + 128].astype(np.int64)
    else:
        e = sat32(rshift_round(raw[:, 2:] * cfg.var_size_q30, 30))
        if cfg.box_kind != BOX_LINEAR:
            e = exp_q20(e)
    center = prior[:, :2] + rshift_round(c * prior[:, 2:], 20)
    size = rshift_round(e * prior[:, 2:], 20)
    half = rshift_round(size, 1)
    return np.clip(np.concatenate([center - half, center + half], axis=1), lo, hi)


def keypoints_of(cfg: FixedConfig, anchors: np.ndarray, raw: np.ndarray):
    """up_keypoints_of for rows ``raw`` [K, 2P] of anchors [K] -> Q20 int64 [K, 2P]."""
    raw = np.asarray(raw, dtype=np.int64).reshape(len(anchors), 2 * cfg.num_keypoints)
    lo, hi = (0, ONE_BOX) if cfg.clip else (-BOX_LIMIT, BOX_LIMIT)
    prior = cfg.priors[anchors].astype(np.int64)
    n = raw.shape[1]
    xy = prior[:, np.arange(n) & 1]
    wh = prior[:, 2 + (np.arange(n) & 1)]
    c = _center_factor(cfg, cfg.keypoint_lut, raw)
    return np.clip(xy + rshift_round(c * wh, 20), lo, hi)


def overlap(cfg: FixedConfig, box: np.ndarray, others: np.ndarray):
    """up_overlap of one box against boxes [M,4]: (inter, union) int64 [M], Q40, with pads and eps."""
    a, b = np.asarray(box, dtype=np.int64), np.asarray(others, dtype=np.int64).reshape(-1, 4)
    px, py = cfg.pad_x_q20, cfg.pad_y_q20
    area_a = max(a[2] - a[0] + px, 0) * max(a[3] - a[1] + py, 0)
    area_b = np.maximum(b[:, 2] - b[:, 0] + px, 0) * np.maximum(b[:, 3] - b[:, 1] + py, 0)
    iw = np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]) + px
    ih = np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]) + py
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0)
    return inter, area_a + area_b - inter + cfg.iou_eps_q40


def iou_exceeds(cfg: FixedConfig, box: np.ndarray, kept: np.ndarray):
    """up_iou_exceeds of one box against kept boxes [M,4]: inter * 2^16 > t_q16 * union, int64."""
    inter, union = overlap(cfg, box, kept)
    return (inter > 0) & (inter * 65536 > cfg.iou_q16 * union)


def udiv_round(n, d):
    """up_udiv_round: round(n / d) half up for n >= 0, d > 0."""
    n, d = np.asarray(n, dtype=np.int64), np.asarray(d, dtype=np.int64)
    return (n + (d >> 1)) // d


def _mean(n, d):
    """round(n / d) half away from zero (up_mean), d > 0."""
    n = np.asarray(n, dtype=np.int64)
    q = udiv_round(np.abs(n), d)
    return np.where(n < 0, -q, q)


class _Rows:
    """What up_emit needs of one class's source: keypoint rows and the score of a key."""

    def __init__(self, cfg, key, kp_raw):
        self.cfg, self.key, self.kp_raw = cfg, key, kp_raw

    def score(self, anchors):
        return score_of_key(self.cfg, self.key[anchors])

    def keypoints(self, anchors):
        anchors = np.asarray(anchors, dtype=np.int64)
        return keypoints_of(self.cfg, anchors, self.kp_raw[anchors])


def _result(cfg, rows: _Rows, boxes, scores, anchors, keypoints=None):
    anchors = np.asarray(anchors, dtype=np.int64)
    out = {
        "boxes": np.asarray(boxes, dtype=np.int64).reshape(-1, 4).astype(np.int32),
        "scores": np.asarray(scores, dtype=np.int64).reshape(-1).astype(np.int32),
        "anchors": anchors.astype(np.int32),
    }
    if cfg.num_keypoints > 0:
        kp = rows.keypoints(anchors) if keypoints is None else keypoints
        out["keypoints"] = np.asarray(kp, dtype=np.int64).reshape(len(anchors), 2 * cfg.num_keypoints).astype(np.int32)
    return out


def nms_hard(cfg: FixedConfig, candidates: np.ndarray, boxes: np.ndarray, rows: _Rows):
    """up_nms_hard: greedy hard NMS over sorted candidates whose decoded boxes are ``boxes`` [K,4]."""
    kept: list[int] = []
    for i in range(len(candidates)):
        if len(kept) >= cfg.max_detections:
            break
        if kept and iou_exceeds(cfg, boxes[i], boxes[kept]).any():
            continue
        kept.append(i)
    kept = np.asarray(kept, dtype=np.int64)
    anchors = candidates[kept]
    return _result(cfg, rows, boxes[kept], rows.score(anchors), anchors)


def nms_merge(cfg: FixedConfig, candidates: np.ndarray, boxes: np.ndarray, rows: _Rows):
    """up_nms_merge: blending (exp(score) weights, score averaged) or weighted (score weights, top score)."""
    n = len(candidates)
    alive = np.ones(n, dtype=bool)
    top_scores = rows.score(candidates)
    scores = np.clip(top_scores, 0, ONE_SCORE)  # weights and means use scores clamped to [0, 1]
    blend = cfg.nms_kind == NMS_BLEND
    if blend:
        weights = rshift_round(exp_q20(rshift_round(scores, 10)), 4)
    else:
        weights = rshift_round(scores, 14)
    out_b, out_s, out_a, out_k = [], [], [], []
    for i in range(n):
        if len(out_a) >= cfg.max_detections:
            break
        if not alive[i]:
            continue
        member = alive.copy()
        member[:i] = False
        member[i + 1 :] &= iou_exceeds(cfg, boxes[i], boxes[i + 1 :])
        idx = np.flatnonzero(member)
        alive[idx] = False
        w = weights[idx]
        sw = int(w.sum())
        kp = rows.keypoints(candidates[idx]) if cfg.num_keypoints > 0 else None
        if sw > 0:
            out_b.append(_mean((w[:, None] * boxes[idx]).sum(axis=0), sw))
            if kp is not None:
                out_k.append(_mean((w[:, None] * kp).sum(axis=0), sw))
            out_s.append(int(_mean((w * scores[idx]).sum(), sw)) if blend else int(top_scores[i]))
        else:
            out_b.append(boxes[i])
            if kp is not None:
                out_k.append(kp[0])
            out_s.append(int(top_scores[i]))
        out_a.append(int(candidates[i]))
    k = np.asarray(out_k).reshape(len(out_a), 2 * cfg.num_keypoints) if cfg.num_keypoints > 0 else None
    return _result(cfg, rows, np.asarray(out_b).reshape(-1, 4), out_s, out_a, k)


def nms_soft(cfg: FixedConfig, candidates: np.ndarray, boxes: np.ndarray, rows: _Rows):
    """up_nms_soft: repeatedly the best decayed score (anchor ascending on ties), linear or Gaussian decay."""
    n = len(candidates)
    alive = np.ones(n, dtype=bool)
    score = rows.score(candidates).astype(np.int64)
    gaussian = cfg.nms_kind == NMS_SOFT_GAUSSIAN
    out_b, out_s, out_a = [], [], []
    while len(out_a) < cfg.max_detections and alive.any():
        live = np.flatnonzero(alive)
        best = live[np.lexsort((candidates[live], -score[live]))[0]]
        if score[best] <= cfg.soft_min_q30:
            break
        out_b.append(boxes[best])
        out_s.append(int(score[best]))
        out_a.append(int(candidates[best]))
        alive[best] = False
        live = np.flatnonzero(alive)
        if not live.size:
            break
        inter, union = overlap(cfg, boxes[best], boxes[live])
        hit = inter > 0
        if not gaussian:
            hit &= inter * 65536 > cfg.iou_q16 * union
        live, inter, union = live[hit], inter[hit], union[hit]
        r = udiv_round(inter << 16, union)
        if gaussian:
            x = sat32(rshift_round(rshift_round(r * r, 16) * cfg.soft_inv_sigma_q16, 12))
            score[live] = rshift_round(score[live] * exp_q20(-x), 20)
        else:
            score[live] = rshift_round(score[live] * (65536 - r), 16)
    return _result(cfg, rows, np.asarray(out_b).reshape(-1, 4), out_s, out_a)


def _nms(cfg, candidates, boxes, rows):
    if cfg.nms_kind == NMS_HARD:
        return nms_hard(cfg, candidates, boxes, rows)
    if cfg.nms_kind in (NMS_BLEND, NMS_WEIGHTED):
        return nms_merge(cfg, candidates, boxes, rows)
    return nms_soft(cfg, candidates, boxes, rows)


def nms(cfg: FixedConfig, candidates: np.ndarray, boxes: np.ndarray, key: np.ndarray):
    """The config's NMS kind over sorted candidates (keypoint-free configs)."""
    return _nms(cfg, candidates, boxes, _Rows(cfg, key, None))


def run(cfg: FixedConfig, scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray | None = None):
    """up_run (and up_run_f32 for float32 inputs) on 2-D rows: scores [N,C], boxes [N,4] (or [N, 4 + 2P] with the
    keypoints after the box when ``keypoints`` is None and the config has keypoints)."""
    boxes = np.asarray(boxes)
    if cfg.num_keypoints > 0 and keypoints is None:
        keypoints = boxes[:, 4 : 4 + 2 * cfg.num_keypoints]
    boxes = boxes[:, :4]
    if cfg.num_keypoints == 0:
        keypoints = None
    if cfg.input_kind == INPUT_F32:
        scores, boxes, keypoints = convert_f32(cfg, scores, boxes, keypoints)
    raw_boxes = np.asarray(boxes, dtype=np.int64)
    kp_raw = None if keypoints is None else np.asarray(keypoints, dtype=np.int64)
    classes = [(cfg.class_index, cfg.score_bound)]
    if cfg.num_labels > 0:
        classes = [(cfg.class_index + i, int(cfg.label_bounds[i])) for i in range(cfg.num_labels)]
    parts = []
    for column, bound in classes:
        key = keys(cfg, scores, column)
        if cfg.input_kind == INPUT_F32 and cfg.score_kind == SCORE_PROB:
            key = np.where(key > bound, key, INT32_MIN)  # the C's prefiltered keys
        candidates = select(cfg, key, bound)
        decoded = decode(cfg, candidates, raw_boxes[candidates])
        part = _nms(cfg, candidates, decoded, _Rows(cfg, key, kp_raw))
        if cfg.num_labels > 0:
            part["labels"] = np.full(len(part["anchors"]), column, dtype=np.int32)
        parts.append(part)
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
