"""Float64 NMS: the Python ``hard_nms`` and every kind the core offers (``nms``), and the reference
implementations' own: ncnn / MNN, MediaPipe's weighted NMS, RetinaFace's ``py_cpu_nms``."""

from __future__ import annotations

import numpy as np

from ultrapost.reference.checks import count, float_array, real


def iou_matrix(boxes_a, boxes_b, *, eps: float = 1e-5) -> np.ndarray:
    """IoU [A, B] float64 of corner boxes: ``inter / (area_a + area_b - inter + eps)``, 0 where that is 0/0.

    Widths and heights are clipped at 0, so an inverted box has area 0 and overlaps nothing.
    """
    a = float_array(boxes_a, "boxes_a", ndim=2, cols=4)
    b = float_array(boxes_b, "boxes_b", ndim=2, cols=4)
    eps = real(eps, "eps", 0.0, np.inf)
    return _iou(a[:, None, :], b[None, :, :], eps)


def _area(lo, hi, pad=(0.0, 0.0)):
    wh = np.clip(hi - lo + np.asarray(pad, dtype=np.float64), 0.0, None)
    return wh[..., 0] * wh[..., 1]


def _iou(a, b, eps: float, pad=(0.0, 0.0)):
    inter = _area(np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:]), pad)
    denom = _area(a[..., :2], a[..., 2:], pad) + _area(b[..., :2], b[..., 2:], pad) - inter + eps
    # denom >= eps; it is 0 only with eps == 0 and two empty boxes, whose IoU is 0 (they never suppress).
    safe = np.where(denom > 0, denom, 1.0)
    return np.where(denom > 0, inter / safe, 0.0)


def _order(scores: np.ndarray) -> np.ndarray:
    """Indices by score descending, then index ascending."""
    return np.lexsort((np.arange(scores.shape[0]), -scores))


def hard_nms(
    boxes,
    scores,
    iou_threshold: float,
    *,
    eps: float = 1e-5,
    max_detections: int | None = None,
    candidate_limit: int | None = None,
) -> np.ndarray:
    """Greedy hard NMS on corner boxes [N, 4]; returns the kept indices (int64) in the order they were kept.

    Candidates are the ``candidate_limit`` best (all if None) by score descending, then index ascending. A candidate
    is suppressed when its IoU (see :func:`iou_matrix`) with a box already kept is ``> iou_threshold``. At most
    ``max_detections`` are kept. Rules of the Python ``hard_nms`` (``candidate_size``, ``top_k``), except the tie
    order, which it leaves to an unstable sort.
    """
    b = float_array(boxes, "boxes", ndim=2, cols=4)
    s = float_array(scores, "scores", ndim=1)
    if s.shape[0] != b.shape[0]:
        raise ValueError(f"boxes ({b.shape[0]}) and scores ({s.shape[0]}) must have the same length")
    t = real(iou_threshold, "iou_threshold", 0.0, 1.0)
    eps = real(eps, "eps", 0.0, np.inf)
    max_detections = count(max_detections, "max_detections")
    candidate_limit = count(candidate_limit, "candidate_limit")
    remaining = _order(s)[:candidate_limit]
    keep: list[int] = []
    while remaining.size and (max_detections is None or len(keep) < max_detections):
        best, remaining = remaining[0], remaining[1:]
        keep.append(int(best))
        remaining = remaining[_iou(b[remaining], b[best], eps) <= t]
    return np.asarray(keep, dtype=np.int64)


def _flat_rows(x, n: int) -> np.ndarray:
    """x [n, ...] as float64 [n, prod(...)] (also for n = 0)."""
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(n, int(np.prod(x.shape[1:])))


NMS_KINDS = ("hard", "blend", "weighted", "soft-linear", "soft-gaussian")


def nms(
    boxes,
    scores,
    iou_threshold: float,
    *,
    kind: str = "hard",
    eps: float = 1e-5,
    pad=(0.0, 0.0),
    max_detections: int | None = None,
    candidate_limit: int | None = None,
    sigma: float = 0.5,
    soft_threshold: float = 0.0,
    keypoints=None,
):
    """Every NMS kind of the core in float64, on normalized corner boxes [N, 4].

    Returns (boxes [K, 4], scores [K], indices [K] of the top of each output, keypoints [K, P, 2] or None).
    IoU as :func:`iou_matrix` with ``pad`` (1/W, 1/H for "+1 pixel" areas) added to every width and height.
    ``blend``: clusters of the top remaining box and every remaining box with IoU > t; box, keypoints and score
    averaged with weights exp(score) (ncnn). ``weighted``: the same clusters, score weights, the top's score
    (MediaPipe). ``soft-linear`` / ``soft-gaussian``: Bodla et al., decay by (1 - IoU) when IoU > t, or by
    exp(-IoU^2 / sigma); stop when the best remaining score is <= soft_threshold.
    """
    if kind not in NMS_KINDS:
        raise ValueError(f"nms kind must be one of {NMS_KINDS}, got {kind!r}")
    b = float_array(boxes, "boxes", ndim=2, cols=4)
    s = float_array(scores, "scores", ndim=1)
    kp = None if keypoints is None else _flat_rows(keypoints, len(s))
    max_detections = count(max_detections, "max_detections") or len(s)
    order = _order(s)[: count(candidate_limit, "candidate_limit")]
    out_b, out_s, out_i, out_k = [], [], [], []
    if kind.startswith("soft"):
        live = list(order)
        cur = s.copy()
        while live and len(out_i) < max_detections:
            live.sort(key=lambda i: (-cur[i], i))
            best = live.pop(0)
            if cur[best] <= soft_threshold:
                break
            out_b.append(b[best])
            out_s.append(cur[best])
            out_i.append(best)
            if kp is not None:
                out_k.append(kp[best])
            for i in live:
                r = float(_iou(b[i], b[best], eps, pad))
                if kind == "soft-linear":
                    if r > iou_threshold:
                        cur[i] *= 1.0 - r
                elif r > 0:
                    cur[i] *= np.exp(-r * r / sigma)
    else:
        remaining = order
        while remaining.size and len(out_i) < max_detections:
            top = remaining[0]
            over = _iou(b[remaining], b[top], eps, pad) > iou_threshold
            over[0] = True  # the cluster always holds its top
            cluster, remaining = remaining[over], remaining[~over]
            out_i.append(top)
            if kind == "hard":
                cluster = cluster[:1]
            w = np.exp(s[cluster]) if kind == "blend" else s[cluster]
            w = w / w.sum()
            out_b.append(w @ b[cluster])
            out_s.append(w @ s[cluster] if kind == "blend" else s[top])
            if kp is not None:
                out_k.append(w @ kp[cluster])
    k = None if kp is None else np.asarray(out_k, dtype=np.float64).reshape(len(out_i), kp.shape[1] // 2, 2)
    return (
        np.asarray(out_b, dtype=np.float64).reshape(-1, 4),
        np.asarray(out_s, dtype=np.float64),
        np.asarray(out_i, dtype=np.int64),
        k,
    )


def ncnn_nms(boxes_px, scores, iou_threshold: float, *, blending: bool = True):
    """The ncnn / MNN Ultraface C++ ``nms()``, transcribed: pixel boxes [N, 4] (already clipped), +1 pixel areas,
    merge when IoU > t, blending with weights exp(score) / total (box and score), else the top box.
    Returns (boxes [K, 4], scores [K]) in output order. Ties: a stable sort (std::sort leaves them undefined)."""
    b = np.asarray(boxes_px, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-sc, kind="stable")
    b, sc = b[order], sc[order]
    merged = np.zeros(len(sc), dtype=bool)
    out_b, out_s = [], []
    for i in range(len(sc)):
        if merged[i]:
            continue
        buf = [i]
        merged[i] = True
        area0 = (b[i, 3] - b[i, 1] + 1) * (b[i, 2] - b[i, 0] + 1)
        for j in range(i + 1, len(sc)):
            if merged[j]:
                continue
            inner_w = min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]) + 1
            inner_h = min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]) + 1
            if inner_h <= 0 or inner_w <= 0:
                continue
            inner = inner_h * inner_w
            area1 = (b[j, 3] - b[j, 1] + 1) * (b[j, 2] - b[j, 0] + 1)
            if inner / (area0 + area1 - inner) > iou_threshold:
                merged[j] = True
                buf.append(j)
        if blending:
            e = np.exp(sc[buf])
            rate = e / e.sum()
            out_b.append(rate @ b[buf])
            out_s.append(rate @ sc[buf])
        else:
            out_b.append(b[i])
            out_s.append(sc[i])
    return np.asarray(out_b).reshape(-1, 4), np.asarray(out_s)


def mediapipe_weighted_nms(boxes, scores, keypoints, iou_threshold: float, *, max_detections: int | None = None):
    """MediaPipe's ``WeightedNonMaxSuppression``, transcribed: the top remaining detection, the candidates are
    every remaining one (itself included) with IoU > t, box and keypoints are the score-weighted mean of the
    candidates, the score is the top's. Returns (boxes, scores, keypoints or None, top indices)."""
    b = np.asarray(boxes, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    kp = None if keypoints is None else _flat_rows(keypoints, len(sc))
    remained = list(np.argsort(-sc, kind="stable"))
    out_b, out_s, out_k, out_i = [], [], [], []
    while remained and (max_detections is None or len(out_i) < max_detections):
        top = remained[0]
        candidates, rest = [], []
        for i in remained:
            x1, y1 = max(b[i, 0], b[top, 0]), max(b[i, 1], b[top, 1])
            x2, y2 = min(b[i, 2], b[top, 2]), min(b[i, 3], b[top, 3])
            inter = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
            union = (
                (b[i, 2] - b[i, 0]) * (b[i, 3] - b[i, 1]) + (b[top, 2] - b[top, 0]) * (b[top, 3] - b[top, 1]) - inter
            )
            (candidates if union > 0 and inter / union > iou_threshold else rest).append(i)
        remained = rest
        if not candidates:
            candidates = [top]
        w = sc[candidates] / sc[candidates].sum()
        out_b.append(w @ b[candidates])
        out_s.append(sc[top])
        out_i.append(top)
        if kp is not None:
            out_k.append(w @ kp[candidates])
    k = None if kp is None else np.asarray(out_k).reshape(len(out_i), kp.shape[1] // 2, 2)
    return np.asarray(out_b).reshape(-1, 4), np.asarray(out_s), k, np.asarray(out_i, dtype=np.int64)


def py_cpu_nms(dets, thresh: float):
    """RetinaFace's ``py_cpu_nms``, transcribed: dets [N, 5] pixel x1, y1, x2, y2, score; +1 pixel areas; keep
    the indices whose IoU with every kept one is <= thresh. Order: a stable descending sort."""
    x1, y1, x2, y2, sc = (np.asarray(dets, dtype=np.float64)[:, k] for k in range(5))
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-sc, kind="stable")
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        w = np.maximum(0.0, xx2 - xx1 + 1)
        h = np.maximum(0.0, yy2 - yy1 + 1)
        inter = w * h
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= thresh)[0] + 1]
    return np.asarray(keep, dtype=np.int64)


def opencv_overlap(a, b) -> float:
    """OpenCV's rectOverlap of two integer rectangles (x, y, w, h): ``1.f - (float)(1.0 - I / U)`` with integer
    areas (no +1); 1 when both areas are 0."""
    area_a, area_b = a[2] * a[3], b[2] * b[3]
    if area_a + area_b <= 0:
        return 1.0
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = float(iw * ih) if iw > 0 and ih > 0 else 0.0
    return float(np.float32(1.0) - np.float32(1.0 - inter / (area_a + area_b - inter)))


def _opencv_overlaps(kept: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`opencv_overlap` of rectangle b against each kept one, the same float operations on arrays."""
    area_a, area_b = kept[:, 2] * kept[:, 3], b[2] * b[3]
    iw = np.minimum(kept[:, 0] + kept[:, 2], b[0] + b[2]) - np.maximum(kept[:, 0], b[0])
    ih = np.minimum(kept[:, 1] + kept[:, 3], b[1] + b[3]) - np.maximum(kept[:, 1], b[1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0).astype(np.float64)
    total = area_a + area_b
    with np.errstate(invalid="ignore", divide="ignore"):
        q = inter / (total - inter)
    out = np.float32(1.0) - (1.0 - q).astype(np.float32)
    return np.where(total <= 0, np.float32(1.0), out)


def nms_boxes(rects, scores, score_threshold: float, nms_threshold: float, top_k: int = 0) -> np.ndarray:
    """``cv::dnn::NMSBoxes`` (eta 1) on integer rectangles [M, 4] (x, y, w, h): ``score > t`` (strict, float32), a
    stable sort by score descending, the first ``top_k`` (<= 0: all), keep when :func:`opencv_overlap` <= the
    threshold against every kept one. Returns the kept indices in keep order."""
    s = np.asarray(scores, dtype=np.float32)
    passed = np.flatnonzero(s > np.float32(score_threshold))
    order = passed[np.argsort(-s[passed], kind="stable")]
    if top_k > 0:
        order = order[:top_k]
    t = np.float32(nms_threshold)
    r = np.asarray(rects, dtype=np.int64).reshape(-1, 4)
    kept = np.zeros((0, 4), dtype=np.int64)
    keep: list[int] = []
    for i in order.tolist():
        if len(keep) == 0 or (_opencv_overlaps(kept, r[i]) <= t).all():
            keep.append(i)
            kept = r[keep]
    return np.asarray(keep, dtype=np.int64)
