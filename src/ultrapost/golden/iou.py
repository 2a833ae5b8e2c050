"""The exact IoU test (csrc/up_iou.c): IoU > t for the float64 value of t, given as iou_num / 2^iou_shift."""

from __future__ import annotations

import numpy as np

from ultrapost.core.config import FixedConfig


def inter_union(cfg: FixedConfig, box: np.ndarray, others: np.ndarray):
    """Intersection and union (pads, eps) of one box against boxes [M,4]: int64 [M] each, Q40; inter 0 where the
    padded boxes do not overlap."""
    a, b = np.asarray(box, dtype=np.int64), np.asarray(others, dtype=np.int64).reshape(-1, 4)
    px, py = cfg.pad_x_q20, cfg.pad_y_q20
    area_a = max(a[2] - a[0] + px, 0) * max(a[3] - a[1] + py, 0)
    area_b = np.maximum(b[:, 2] - b[:, 0] + px, 0) * np.maximum(b[:, 3] - b[:, 1] + py, 0)
    iw = np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]) + px
    ih = np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]) + py
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0)
    return inter, area_a + area_b - inter + cfg.iou_eps_q40


def exceeds(cfg: FixedConfig, inter: np.ndarray, union: np.ndarray):
    """inter / union > t exactly: the Q16 bracket (iou_q16 = floor(t * 2^16)) in int64, then up_exceeds_exact,
    inter * 2^iou_shift > iou_num * union, in Python integers for the pairs inside the bracket."""
    lhs = inter * 65536
    lo = cfg.iou_q16 * union
    out = (inter > 0) & (lhs - lo >= union)
    inside = np.flatnonzero((inter > 0) & (lhs > lo) & (lhs - lo < union))
    num, shift = (cfg.iou_num, cfg.iou_shift) if (cfg.iou_num or cfg.iou_shift) else (cfg.iou_q16, 16)
    for i in inside:
        out[i] = int(inter[i]) << shift > num * int(union[i])
    return out


def iou_exceeds(cfg: FixedConfig, box: np.ndarray, kept: np.ndarray):
    """up_iou_exceeds of one box against kept boxes [M,4]: IoU > t exactly."""
    inter, union = inter_union(cfg, box, kept)
    return exceeds(cfg, inter, union)
