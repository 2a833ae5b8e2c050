"""Exact rational NMS for the peer tests: the decisions ``ultrapost.nms`` claims, in Fractions.

``exact_nms`` is greedy hard NMS on xyxy corners given as Fractions; its IoU rule is a parameter, so the same
greedy loop also runs with a peer's float32 IoU (``onnx_iou_f32``, ``opencv_overlap_f32``): when ultrapost and a
peer disagree, the tests show that ultrapost equals the exact result and that the peer equals the exact loop fed
with the peer's own rounded IoU -- the disagreement is the peer's float32 rounding, nothing else.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def fractions_xyxy(boxes, box_format: str = "xyxy") -> list[tuple[Fraction, ...]]:
    """Exact xyxy corners of float boxes (sums and halves in rationals, never rounded)."""
    out = []
    for row in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        a, b, c, d = (Fraction(float(v)) for v in row)
        if box_format == "xyxy":
            out.append((a, b, c, d))
        elif box_format == "yxyx":
            out.append((b, a, d, c))
        elif box_format == "xywh":
            out.append((a, b, a + c, b + d))
        elif box_format == "cxcywh":
            out.append((a - c / 2, b - d / 2, a + c / 2, b + d / 2))
        else:
            raise ValueError(box_format)
    return out


def _side(lo, hi):
    return hi - lo if hi > lo else 0


def exact_iou(a, b):
    """(inter, union) in rationals; areas of inverted boxes are 0."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = iw * ih if iw > 0 and ih > 0 else Fraction(0)
    area_a = _side(a[0], a[2]) * _side(a[1], a[3])
    area_b = _side(b[0], b[2]) * _side(b[1], b[3])
    return inter, area_a + area_b - inter


def exact_exceeds(t: float, zero_area_overlap: bool = False):
    tf = Fraction(t)

    def rule(a, b) -> bool:
        inter, union = exact_iou(a, b)
        if inter == 0:
            return zero_area_overlap and union == 0 and 1 > tf
        return inter > tf * union

    return rule


def onnx_iou_f32(raw_a, raw_b, t, center_point_box: int = 0) -> bool:
    """ONNX's reference ``suppress_by_iou`` on float32 values (its own code path, called directly)."""
    from onnx.reference.ops.op_non_max_suppression import suppress_by_iou

    data = np.stack([np.asarray(raw_a, np.float32), np.asarray(raw_b, np.float32)])
    return bool(suppress_by_iou(data, 0, 1, center_point_box, np.float32(t)))


def opencv_overlap_f32(a_xywh, b_xywh) -> float:
    """OpenCV's rectOverlap on Rect2d: 1.f - (float)(1.0 - I / (Aa + Ab - I)), areas in double, 0-area -> 1."""
    ax, ay, aw, ah = (float(v) for v in a_xywh)
    bx, by, bw, bh = (float(v) for v in b_xywh)
    aa, ab = aw * ah, bw * bh
    if aa + ab <= np.finfo(np.float64).eps:
        d = 0.0
    else:
        x1, y1 = max(ax, bx), max(ay, by)
        x2, y2 = min(ax + aw, bx + bw), min(ay + ah, by + bh)
        i = (x2 - x1) * (y2 - y1) if x2 - x1 > 0 and y2 - y1 > 0 else 0.0
        d = 1.0 - i / (aa + ab - i)
    return float(np.float32(1.0) - np.float32(d))


def exact_nms(
    corners,
    scores,
    rule,
    score_threshold=None,
    *,
    classes=None,
    max_output=None,
    top_k=None,
    score_test=">",
    thresholds=None,
):
    """Greedy hard NMS: candidates by score (float64 values) descending then index, `rule(i, j)` -> suppress.

    ``thresholds``: OpenCV's eta schedule, a list of rules (rule k after k kept boxes); else ``rule`` throughout.
    ``rule`` takes box indices when ``corners`` is None, else corner tuples.
    """
    s = [float(v) for v in np.asarray(scores, dtype=np.float64).reshape(-1)]
    n = len(s)
    if score_threshold is None:
        cand = list(range(n))
    elif score_test == ">":
        cand = [i for i in range(n) if s[i] > score_threshold]
    else:
        cand = [i for i in range(n) if s[i] >= score_threshold]
    cand.sort(key=lambda i: (-s[i], i))
    if top_k:
        cand = cand[:top_k]
    keep: list[int] = []
    limit = n if max_output is None else max_output
    for i in cand:
        if len(keep) >= limit:
            break
        r = rule if thresholds is None else thresholds[min(len(keep), len(thresholds) - 1)]
        sup = False
        for j in keep:
            if classes is not None and classes[i] != classes[j]:
                continue
            if r(i, j) if corners is None else r(corners[i], corners[j]):
                sup = True
                break
        if not sup:
            keep.append(i)
    return np.array(keep, dtype=np.int64)
