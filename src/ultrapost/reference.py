"""Float64 reference semantics of Ultraface post-processing.

Plain numpy, no fixed point: what the fixed-point core is measured against. Each rule follows the reference
implementations (see REFERENCE.md section 1):

- decode: variance decode of the Ultraface repository's ``box_utils`` (centre variance 0.1, size variance 0.2),
  corners not clipped; ``clip=True`` clips them to [0, 1] as the ncnn / MNN C++ ports do.
- score: the Python ``predict()`` test ``p > t`` (strict) on the face column. Two-class logits give
  ``p = sigmoid(l_face - l_other)``, the same number as the softmax the ONNX graphs apply.
- NMS: the Python ``hard_nms``: the best ``candidate_limit`` candidates (200 in ``predict()``), greedy, suppress when
  ``IoU > t``; IoU without the +1 pixel term, widths and heights clipped at 0, ``+ eps`` (1e-5) in the denominator.
- order: score descending, then anchor index ascending. ``predict()`` orders with an unstable ``np.argsort``, so on
  exact ties it has no defined order; this is the order ultrapost defines (TFLite Micro's rule too).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "decode_deltas",
    "dequantize",
    "face_probability",
    "hard_nms",
    "iou_matrix",
    "mediapipe_weighted_nms",
    "ncnn_nms",
    "nms",
    "py_cpu_nms",
    "retinaface",
    "ultraface",
]


def _float_array(value, name: str, *, ndim: int, cols: int | None = None) -> np.ndarray:
    """A finite float64 copy of a float array of the given rank (a leading batch axis of 1 is dropped)."""
    arr = np.asarray(value)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array, got dtype {arr.dtype} (dequantize integer tensors first)")
    if arr.ndim == ndim + 1 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != ndim or (cols is not None and arr.shape[-1] != cols):
        want = "[N]" if ndim == 1 else f"[N, {cols if cols is not None else 'C'}]"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return arr


def _real(value, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def _count(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int or None, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def decode_deltas(deltas, priors, center_variance: float = 0.1, size_variance: float = 0.2) -> np.ndarray:
    """Raw deltas [N, 4] (dx, dy, dw, dh) + priors [N, 4] (cx, cy, w, h) -> corners [N, 4] float64, not clipped.

    ``cx = dx * cv * pw + pcx``, ``w = exp(dw * sv) * pw``, corners ``cx -+ w / 2`` (the repository's
    ``convert_locations_to_boxes`` then ``center_form_to_corner_form``, in float64).
    """
    d = _float_array(deltas, "deltas", ndim=2, cols=4)
    p = _float_array(priors, "priors", ndim=2, cols=4)
    if d.shape != p.shape:
        raise ValueError(f"deltas {d.shape} and priors {p.shape} must have the same shape")
    cv = _real(center_variance, "center_variance", 0.0, np.inf)
    sv = _real(size_variance, "size_variance", 0.0, np.inf)
    center = d[:, :2] * cv * p[:, 2:] + p[:, :2]
    with np.errstate(over="ignore"):  # a huge dw gives an infinite width, as the float reference does
        size = np.exp(d[:, 2:] * sv) * p[:, 2:]
    return np.concatenate([center - size / 2, center + size / 2], axis=1)


def face_probability(scores, *, logits: bool = False, class_index: int = 1) -> np.ndarray:
    """Face probability [N] float64 from scores [N, C].

    Probabilities (the ONNX and TFLite outputs): the ``class_index`` column. Two-class logits:
    ``1 / (1 + exp(-(l[c] - l[1 - c])))``, equal to the softmax; ``exp`` overflows to inf for very negative
    differences, which gives exactly 0.
    """
    s = _float_array(scores, "scores", ndim=2)
    if isinstance(class_index, bool) or not isinstance(class_index, numbers.Integral):
        raise TypeError(f"class_index must be an int, got {class_index!r}")
    if logits:
        if s.shape[1] != 2:
            raise ValueError(f"logits=True needs two score columns, got {s.shape[1]}")
        if class_index not in (0, 1):
            raise ValueError(f"class_index must be 0 or 1 for two-class logits, got {class_index}")
        diff = s[:, class_index] - s[:, 1 - class_index]
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-diff))
    if not 0 <= class_index < s.shape[1]:
        raise ValueError(f"class_index {class_index} out of range for {s.shape[1]} score columns")
    return s[:, class_index].copy()


def iou_matrix(boxes_a, boxes_b, *, eps: float = 1e-5) -> np.ndarray:
    """IoU [A, B] float64 of corner boxes: ``inter / (area_a + area_b - inter + eps)``, 0 where that is 0/0.

    Widths and heights are clipped at 0, so an inverted box has area 0 and overlaps nothing.
    """
    a = _float_array(boxes_a, "boxes_a", ndim=2, cols=4)
    b = _float_array(boxes_b, "boxes_b", ndim=2, cols=4)
    eps = _real(eps, "eps", 0.0, np.inf)
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
    b = _float_array(boxes, "boxes", ndim=2, cols=4)
    s = _float_array(scores, "scores", ndim=1)
    if s.shape[0] != b.shape[0]:
        raise ValueError(f"boxes ({b.shape[0]}) and scores ({s.shape[0]}) must have the same length")
    t = _real(iou_threshold, "iou_threshold", 0.0, 1.0)
    eps = _real(eps, "eps", 0.0, np.inf)
    max_detections = _count(max_detections, "max_detections")
    candidate_limit = _count(candidate_limit, "candidate_limit")
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
    b = _float_array(boxes, "boxes", ndim=2, cols=4)
    s = _float_array(scores, "scores", ndim=1)
    kp = None if keypoints is None else _flat_rows(keypoints, len(s))
    max_detections = _count(max_detections, "max_detections") or len(s)
    order = _order(s)[: _count(candidate_limit, "candidate_limit")]
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
    return (np.asarray(out_b, dtype=np.float64).reshape(-1, 4), np.asarray(out_s, dtype=np.float64),
            np.asarray(out_i, dtype=np.int64), k)


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
            union = ((b[i, 2] - b[i, 0]) * (b[i, 3] - b[i, 1]) + (b[top, 2] - b[top, 0]) * (b[top, 3] - b[top, 1])
                     - inter)
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


def ultraface(
    scores,
    boxes,
    priors=None,
    *,
    decoded: bool,
    score_threshold: float,
    iou_threshold: float,
    candidate_limit: int | None = 200,
    max_detections: int | None = None,
    logits: bool = False,
    clip: bool = False,
    eps: float = 1e-5,
    center_variance: float = 0.1,
    size_variance: float = 0.2,
    class_index: int = 1,
    nms_kind: str = "hard",
    inclusive: bool = False,
    pad=(0.0, 0.0),
    sigma: float = 0.5,
    soft_threshold: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ultraface post-processing in float64: score test, decode, hard NMS.

    scores [N, C] (probabilities, or two-class logits with ``logits=True``); boxes [N, 4], decoded corners
    (``decoded=True``) or raw deltas decoded against ``priors`` [N, 4]. A leading batch axis of 1 is accepted.
    Anchors pass when ``p > score_threshold`` (strict, as ``predict()``). ``clip=True`` clips corners to [0, 1]
    before NMS (the C++ ports). Returns boxes [K, 4] float64 (x1, y1, x2, y2, normalized), scores [K] float64 and
    anchors [K] int64, in the order NMS kept them.
    """
    p = face_probability(scores, logits=logits, class_index=class_index)
    if decoded:
        corners = _float_array(boxes, "boxes", ndim=2, cols=4)
    else:
        if priors is None:
            raise ValueError("decoded=False needs priors [N, 4]")
        corners = decode_deltas(boxes, priors, center_variance, size_variance)
    if corners.shape[0] != p.shape[0]:
        raise ValueError(f"scores ({p.shape[0]} rows) and boxes ({corners.shape[0]} rows) must have the same length")
    t = _real(score_threshold, "score_threshold", -np.inf, np.inf)
    if clip:
        corners = np.clip(corners, 0.0, 1.0)
    passed = np.flatnonzero(p >= t if inclusive else p > t)
    if nms_kind == "hard" and pad == (0.0, 0.0):
        kept = hard_nms(
            corners[passed],
            p[passed],
            iou_threshold,
            eps=eps,
            max_detections=max_detections,
            candidate_limit=candidate_limit,
        )
        anchors = passed[kept].astype(np.int64)
        return corners[anchors], p[anchors], anchors
    out_b, out_s, idx, _ = nms(
        corners[passed], p[passed], iou_threshold, kind=nms_kind, eps=eps, pad=pad, max_detections=max_detections,
        candidate_limit=candidate_limit, sigma=sigma, soft_threshold=t if soft_threshold is None else soft_threshold)
    return out_b, out_s, passed[idx].astype(np.int64)


def blazeface(classificators, regressors, anchors, *, scale, score_threshold: float = 0.5,
              iou_threshold: float = 0.3, inclusive: bool = True, nms_kind: str = "weighted",
              max_detections: int | None = None, logit_clip: float = 100.0, sigma: float = 0.5,
              soft_threshold: float | None = None):
    """MediaPipe face detection post-processing in float64: logits clipped to +-``logit_clip``, sigmoid,
    ``score >= t`` (``>`` unless inclusive), linear decode ``cx = r0 / scale_x * aw + ax``, ``w = r2 / scale_x * aw``,
    keypoints ``r[4 + 2k] / scale_x * aw + ax``; weighted NMS (:func:`mediapipe_weighted_nms`) or any kind of
    :func:`nms`. Returns (boxes [K, 4] corners, scores [K], keypoints [K, P, 2], anchors [K])."""
    s = _float_array(classificators, "classificators", ndim=2)[:, 0]
    r = _float_array(regressors, "regressors", ndim=2)
    a = np.asarray(anchors, dtype=np.float64)
    sx, sy = (scale, scale) if np.isscalar(scale) else scale
    p = 1.0 / (1.0 + np.exp(-np.clip(s, -logit_clip, logit_clip)))
    cx = r[:, 0] / sx * a[:, 2] + a[:, 0]
    cy = r[:, 1] / sy * a[:, 3] + a[:, 1]
    w = r[:, 2] / sx * a[:, 2]
    h = r[:, 3] / sy * a[:, 3]
    corners = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    kp = r[:, 4:].reshape(len(r), -1, 2) / [sx, sy] * a[:, None, 2:] + a[:, None, :2]
    passed = np.flatnonzero(p >= score_threshold if inclusive else p > score_threshold)
    if nms_kind == "weighted":
        boxes, scores, kps, top = mediapipe_weighted_nms(corners[passed], p[passed], kp[passed], iou_threshold,
                                                         max_detections=max_detections)
    else:
        boxes, scores, top, kps = nms(corners[passed], p[passed], iou_threshold, kind=nms_kind, eps=0.0,
                                      max_detections=max_detections, sigma=sigma,
                                      soft_threshold=score_threshold if soft_threshold is None else soft_threshold,
                                      keypoints=kp[passed])
    return boxes, scores, kps.reshape(len(top), kp.shape[1], 2), passed[top].astype(np.int64)


def decode_landmarks(landms, priors, center_variance: float = 0.1) -> np.ndarray:
    """RetinaFace's ``decode_landm``: raw landmarks [N, 2P] + priors [N, 4] -> float64 [N, P, 2],
    ``x = pcx + pre_x * cv * pw``, ``y = pcy + pre_y * cv * ph``."""
    p = _float_array(priors, "priors", ndim=2, cols=4)
    lm = _float_array(landms, "landms", ndim=2)
    if lm.shape[0] != p.shape[0] or lm.shape[1] % 2:
        raise ValueError(f"landms must be [N, 2P] with N = {p.shape[0]}, got {lm.shape}")
    cv = _real(center_variance, "center_variance", 0.0, np.inf)
    pts = lm.reshape(len(lm), -1, 2)
    return p[:, None, :2] + pts * cv * p[:, None, 2:]


def retinaface(conf, loc, landms, priors, *, score_threshold: float = 0.3, iou_threshold: float = 0.4,
               candidate_limit: int | None = 2000, max_detections: int | None = 1000, logits: bool = False,
               eps: float = 0.0, center_variance: float = 0.1, size_variance: float = 0.2, nms_kind: str = "hard",
               inclusive: bool = False, pad=(0.0, 0.0), sigma: float = 0.5, soft_threshold: float | None = None):
    """RetinaFace's test path in float64 (Face-Detector-1MB-with-landmark ``detect.py``): face probability
    (softmax column 1, or two-class logits), ``p > t``, the ``candidate_limit`` best, variance decode of boxes
    (:func:`decode_deltas`) and landmarks (:func:`decode_landmarks`), NMS (``py_cpu_nms`` is "hard" with
    ``pad = (1 / W, 1 / H)`` and no eps), the ``max_detections`` first kept. Returns (boxes [K, 4] normalized
    corners, scores [K], landmarks [K, P, 2] normalized, anchors [K])."""
    p = face_probability(conf, logits=logits, class_index=1)
    corners = decode_deltas(loc, priors, center_variance, size_variance)
    points = decode_landmarks(landms, priors, center_variance)
    if not (p.shape[0] == corners.shape[0] == points.shape[0]):
        raise ValueError(f"conf ({p.shape[0]}), loc ({corners.shape[0]}) and landms ({points.shape[0]}) rows differ")
    t = _real(score_threshold, "score_threshold", -np.inf, np.inf)
    passed = np.flatnonzero(p >= t if inclusive else p > t)
    out_b, out_s, idx, out_k = nms(
        corners[passed], p[passed], iou_threshold, kind=nms_kind, eps=eps, pad=pad, max_detections=max_detections,
        candidate_limit=candidate_limit, sigma=sigma, soft_threshold=t if soft_threshold is None else soft_threshold,
        keypoints=points[passed])
    return out_b, out_s, out_k.reshape(len(idx), points.shape[1], 2), passed[idx].astype(np.int64)


def dequantize(q, scale: float, zero_point: int) -> np.ndarray:
    """``scale * (q - zero_point)`` in float64 for an integer tensor (TFLite's affine quantization)."""
    arr = np.asarray(q)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"q must be an integer array, got dtype {arr.dtype}")
    if isinstance(zero_point, bool) or not isinstance(zero_point, numbers.Integral):
        raise TypeError(f"zero_point must be an int, got {zero_point!r}")
    scale = _real(scale, "scale", 0.0, np.inf)
    if not 0.0 < scale < np.inf:
        raise ValueError(f"scale must be positive and finite, got {scale}")
    return scale * (arr.astype(np.float64) - float(zero_point))
