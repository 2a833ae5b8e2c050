"""Golden twin of csrc/up_nms.c: IoU without division, hard, merging (blend, weighted) and soft NMS."""

from __future__ import annotations

import numpy as np

from ultrapost.core.config import NMS_BLEND, NMS_HARD, NMS_SOFT_GAUSSIAN, NMS_WEIGHTED, ONE_SCORE, FixedConfig
from ultrapost.golden.decode import Rows, emit
from ultrapost.golden.fixed import exp_q20, rshift_round, sat32
from ultrapost.golden.iou import exceeds, inter_union, iou_exceeds


def overlap(cfg: FixedConfig, box: np.ndarray, others: np.ndarray):
    """up_overlap of one box against boxes [M,4]: (inter, union) int64 [M], Q40, with pads and eps."""
    return inter_union(cfg, box, others)


def udiv_round(n, d):
    """up_udiv_round: round(n / d) half up for n >= 0, d > 0."""
    n, d = np.asarray(n, dtype=np.int64), np.asarray(d, dtype=np.int64)
    return (n + (d >> 1)) // d


def _mean(n, d):
    """round(n / d) half away from zero (up_mean), d > 0."""
    n = np.asarray(n, dtype=np.int64)
    q = udiv_round(np.abs(n), d)
    return np.where(n < 0, -q, q)


def nms_hard(cfg: FixedConfig, candidates: np.ndarray, boxes: np.ndarray, rows: Rows):
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
    return emit(cfg, rows, boxes[kept], rows.score(anchors), anchors)


def nms_merge(cfg: FixedConfig, candidates: np.ndarray, boxes: np.ndarray, rows: Rows):
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
        # the C reads every member's keypoints for a weighted mean, only the top's when every weight is 0
        kp = rows.keypoints(candidates[idx] if sw > 0 else candidates[i : i + 1]) if cfg.num_keypoints > 0 else None
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
    return emit(cfg, rows, np.asarray(out_b).reshape(-1, 4), out_s, out_a, k)


def nms_soft(cfg: FixedConfig, candidates: np.ndarray, boxes: np.ndarray, rows: Rows):
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
            hit &= exceeds(cfg, inter, union)
        live, inter, union = live[hit], inter[hit], union[hit]
        r = udiv_round(inter << 16, union)
        if gaussian:
            x = sat32(rshift_round(rshift_round(r * r, 16) * cfg.soft_inv_sigma_q16, 12))
            score[live] = rshift_round(score[live] * exp_q20(-x), 20)
        else:
            score[live] = rshift_round(score[live] * (65536 - r), 16)
    return emit(cfg, rows, np.asarray(out_b).reshape(-1, 4), out_s, out_a)


def nms_rows(cfg, candidates, boxes, rows: Rows):
    """The config's NMS kind over sorted candidates, output rows from ``rows`` (up_pipeline.c's dispatch)."""
    if cfg.nms_kind == NMS_HARD:
        return nms_hard(cfg, candidates, boxes, rows)
    if cfg.nms_kind in (NMS_BLEND, NMS_WEIGHTED):
        return nms_merge(cfg, candidates, boxes, rows)
    return nms_soft(cfg, candidates, boxes, rows)


def nms(cfg: FixedConfig, candidates: np.ndarray, boxes: np.ndarray, key: np.ndarray):
    """The config's NMS kind over sorted candidates (keypoint-free configs)."""
    return nms_rows(cfg, candidates, boxes, Rows(cfg, key, None))
