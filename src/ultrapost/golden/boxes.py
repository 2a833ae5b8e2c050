"""Golden twin of csrc/up_boxes.c and up_boxes_merge.c: NMS over a generic box set, in Python integers.

Same inputs as the C (integer corners on one grid, int64 keys, int32 values, int32 classes, thresholds as
num / 2^shift) and the same outputs, compared with ``np.array_equal``. The C tests a candidate only against the
kept boxes near it (a grid) and sorts by radix; this twin tests every pair and sorts with ``sorted``: the decisions
are exact, so the two agree by construction and the tests check that they do.
"""

from __future__ import annotations

import numpy as np

from ultrapost.core.boxes import (
    INT32_MAX,
    INT32_MIN,
    ZERO_AREA_OVERLAP,
    BoxesConfig,
)
from ultrapost.golden.fixed import exp_q20, rshift_round


def _exceeds(inter: int, uni: int, num: int, shift: int) -> bool:
    """inter > floor(num * uni / 2^shift): IoU > num / 2^shift exactly."""
    return inter > (num * uni) >> shift


def _side(lo: int, hi: int) -> int:
    return hi - lo if hi > lo else 0


def _area(b) -> int:
    return _side(b[0], b[2]) * _side(b[1], b[3])


def _inter(a, b) -> int:
    x1, x2 = max(a[0], b[0]), min(a[2], b[2])
    if x2 <= x1:
        return 0
    y1, y2 = max(a[1], b[1]), min(a[3], b[3])
    if y2 <= y1:
        return 0
    return (x2 - x1) * (y2 - y1)


def boxes_exceeds(cfg: BoxesConfig, a, b, k: int) -> bool:
    """IoU(a, b) > t_k; two boxes of area 0 overlap fully under ZERO_AREA_OVERLAP."""
    inter = _inter(a, b)
    num, shift = cfg.iou_num[k], cfg.iou_shift[k]
    if inter == 0:
        if cfg.flags & ZERO_AREA_OVERLAP and _area(a) == 0 and _area(b) == 0:
            return _exceeds(1, 1, num, shift)
        return False
    return _exceeds(inter, _area(a) + _area(b) - inter, num, shift)


def _iou_q16(inter: int, uni: int) -> int:
    while uni >= 1 << 47:
        inter >>= 1
        uni >>= 1
    return ((inter << 16) + (uni >> 1)) // uni


def _mean(n: int, d: int) -> int:
    """round(n / d) half away from zero, d > 0 (the C's shift-and-subtract on magnitudes)."""
    q = (abs(n) + (d >> 1)) // d
    return -q if n < 0 else q


def _rsr(x: int, n: int) -> int:
    return int(rshift_round(np.int64(x), n))


def _weight(blend: bool, v: int, top: int, vq: int) -> int:
    if blend:
        d = v - top if v < top else 0
        if vq >= 20:
            x = _rsr(d, min(vq - 20, 62)) if vq > 20 else d
        elif d == 0:
            x = 0
        else:
            x = INT32_MIN if 20 - vq >= 32 else max(INT32_MIN, min(INT32_MAX, d << (20 - vq)))
        return _rsr(int(exp_q20(np.int64(x))), 4)
    if top <= 0:
        return 0
    return ((min(v, top) << 16) + (top >> 1)) // top


def _order(cfg: BoxesConfig, keys) -> list[int]:
    cand = [i for i in range(cfg.count) if int(keys[i]) > cfg.key_bound]
    cand.sort(key=lambda i: (-int(keys[i]), i))
    if cfg.candidate_limit > 0:
        cand = cand[: cfg.candidate_limit]
    return cand


def _same(classes, i: int, j: int) -> bool:
    return classes is None or int(classes[i]) == int(classes[j])


def boxes_nms(cfg: BoxesConfig, boxes, keys, values=None, classes=None):
    """up_boxes_nms: (indices int32 [K], values int32 [K] or None, merged boxes int32 [K, 4] or None)."""
    bx = [tuple(int(v) for v in row) for row in np.asarray(boxes, dtype=np.int64).reshape(-1, 4)]
    vals = None if values is None else [int(v) for v in values]
    limit = min(cfg.max_output, cfg.count)
    order = _order(cfg, keys)
    kind = cfg.nms_kind
    out_idx: list[int] = []
    out_val: list[int] = []
    out_box: list[tuple] = []
    if kind == 0:
        for a in order:
            if len(out_idx) >= limit:
                break
            k = min(len(out_idx), len(cfg.iou_num) - 1)
            if not any(_same(classes, a, b) and boxes_exceeds(cfg, bx[a], bx[b], k) for b in out_idx):
                out_idx.append(a)
        return np.array(out_idx, dtype=np.int32), None, None
    if kind in (3, 4):
        gaussian = kind == 4
        idx = list(order)
        v = [vals[a] for a in idx]
        while len(out_idx) < limit:
            best = -1
            for i, a in enumerate(idx):
                if (
                    a >= 0
                    and v[i] > cfg.value_bound
                    and (best < 0 or v[i] > v[best] or (v[i] == v[best] and a < idx[best]))
                ):
                    best = i
            if best < 0:
                break
            a = idx[best]
            out_idx.append(a)
            out_val.append(v[best])
            idx[best] = -1
            bb = bx[a]
            for i, j in enumerate(idx):
                if j < 0 or not _same(classes, a, j):
                    continue
                b = bx[j]
                if not gaussian and not boxes_exceeds(cfg, bb, b, 0):
                    continue
                inter = _inter(bb, b)
                if inter == 0:
                    if not (cfg.flags & ZERO_AREA_OVERLAP and _area(bb) == 0 and _area(b) == 0):
                        continue
                    r = 65536
                else:
                    r = _iou_q16(inter, _area(bb) + _area(b) - inter)
                if gaussian:
                    x = _rsr(_rsr(r * r, 16) * cfg.soft_inv_sigma_q16, 12)
                    f = int(exp_q20(np.int64(-max(INT32_MIN, min(INT32_MAX, x)))))
                    v[i] = _rsr(v[i] * f, 20)
                else:
                    v[i] = _rsr(v[i] * (65536 - r), 16)
        return np.array(out_idx, dtype=np.int32), np.array(out_val, dtype=np.int32), None
    blend = kind == 1
    idx = list(order)
    for i in range(len(idx)):
        if len(out_idx) >= limit:
            break
        a = idx[i]
        if a < 0:
            continue
        tb, top = bx[a], vals[a]
        sw = 0
        sums = [0, 0, 0, 0, 0]
        for j in range(i, len(idx)):
            b = idx[j]
            if b < 0 or (j != i and not (_same(classes, a, b) and boxes_exceeds(cfg, tb, bx[b], 0))):
                continue
            w = _weight(blend, vals[b], top, cfg.value_q)
            for k in range(4):
                sums[k] += w * bx[b][k]
            sums[4] += w * vals[b]
            sw += w
            if j != i:
                idx[j] = -1
        out_box.append(tuple(_mean(sums[k], sw) if sw > 0 else tb[k] for k in range(4)))
        out_val.append(_mean(sums[4], sw) if blend and sw > 0 else top)
        out_idx.append(a)
    return (
        np.array(out_idx, dtype=np.int32),
        np.array(out_val, dtype=np.int32),
        np.array(out_box, dtype=np.int32).reshape(-1, 4),
    )
