"""Whole post-processing of each family in float64: Ultraface, BlazeFace (MediaPipe), RetinaFace."""

from __future__ import annotations

import numpy as np

from ultrapost.reference.checks import float_array, real
from ultrapost.reference.decode import decode_deltas, decode_landmarks, face_probability
from ultrapost.reference.nms import hard_nms, mediapipe_weighted_nms, nms, nms_boxes, py_cpu_nms


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
        corners = float_array(boxes, "boxes", ndim=2, cols=4)
    else:
        if priors is None:
            raise ValueError("decoded=False needs priors [N, 4]")
        corners = decode_deltas(boxes, priors, center_variance, size_variance)
    if corners.shape[0] != p.shape[0]:
        raise ValueError(f"scores ({p.shape[0]} rows) and boxes ({corners.shape[0]} rows) must have the same length")
    t = real(score_threshold, "score_threshold", -np.inf, np.inf)
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
        corners[passed],
        p[passed],
        iou_threshold,
        kind=nms_kind,
        eps=eps,
        pad=pad,
        max_detections=max_detections,
        candidate_limit=candidate_limit,
        sigma=sigma,
        soft_threshold=t if soft_threshold is None else soft_threshold,
    )
    return out_b, out_s, passed[idx].astype(np.int64)


def blazeface(
    classificators,
    regressors,
    anchors,
    *,
    scale,
    score_threshold: float = 0.5,
    iou_threshold: float = 0.3,
    inclusive: bool = True,
    nms_kind: str = "weighted",
    max_detections: int | None = None,
    logit_clip: float = 100.0,
    sigma: float = 0.5,
    soft_threshold: float | None = None,
):
    """MediaPipe face detection post-processing in float64: logits clipped to +-``logit_clip``, sigmoid,
    ``score >= t`` (``>`` unless inclusive), linear decode ``cx = r0 / scale_x * aw + ax``, ``w = r2 / scale_x * aw``,
    keypoints ``r[4 + 2k] / scale_x * aw + ax``; weighted NMS (:func:`mediapipe_weighted_nms`) or any kind of
    :func:`nms`. Returns (boxes [K, 4] corners, scores [K], keypoints [K, P, 2], anchors [K])."""
    s = float_array(classificators, "classificators", ndim=2)[:, 0]
    r = float_array(regressors, "regressors", ndim=2)
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
        boxes, scores, kps, top = mediapipe_weighted_nms(
            corners[passed], p[passed], kp[passed], iou_threshold, max_detections=max_detections
        )
    else:
        boxes, scores, top, kps = nms(
            corners[passed],
            p[passed],
            iou_threshold,
            kind=nms_kind,
            eps=0.0,
            max_detections=max_detections,
            sigma=sigma,
            soft_threshold=score_threshold if soft_threshold is None else soft_threshold,
            keypoints=kp[passed],
        )
    return boxes, scores, kps.reshape(len(top), kp.shape[1], 2), passed[top].astype(np.int64)


def retinaface(
    conf,
    loc,
    landms,
    priors,
    *,
    score_threshold: float = 0.3,
    iou_threshold: float = 0.4,
    candidate_limit: int | None = 2000,
    max_detections: int | None = 1000,
    logits: bool = False,
    eps: float = 0.0,
    center_variance: float = 0.1,
    size_variance: float = 0.2,
    nms_kind: str = "hard",
    inclusive: bool = False,
    pad=(0.0, 0.0),
    sigma: float = 0.5,
    soft_threshold: float | None = None,
):
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
    t = real(score_threshold, "score_threshold", -np.inf, np.inf)
    passed = np.flatnonzero(p >= t if inclusive else p > t)
    out_b, out_s, idx, out_k = nms(
        corners[passed],
        p[passed],
        iou_threshold,
        kind=nms_kind,
        eps=eps,
        pad=pad,
        max_detections=max_detections,
        candidate_limit=candidate_limit,
        sigma=sigma,
        soft_threshold=t if soft_threshold is None else soft_threshold,
        keypoints=points[passed],
    )
    return out_b, out_s, out_k.reshape(len(idx), points.shape[1], 2), passed[idx].astype(np.int64)


YUNET_STRIDES = (8, 16, 32)


def _level(outputs, kind: str, s: int, cols: int) -> np.ndarray:
    return np.asarray(outputs[f"{kind}_{s}"]).reshape(-1, cols)


def yunet_candidates(outputs, pad_w: int, pad_h: int, score_threshold: float, *, arithmetic: str = "float32"):
    """Every candidate in OpenCV's order: (faces [M, 15] x, y, w, h, 10 landmark values, score; point indices [M]).

    ``outputs``: {"cls_8", "obj_8", "bbox_8", "kps_8", ... } float arrays (int8 outputs dequantized first)."""
    if arithmetic not in ("float32", "float64"):
        raise ValueError(f"arithmetic must be 'float32' or 'float64', got {arithmetic!r}")
    ft = np.float32 if arithmetic == "float32" else np.float64
    t = np.float32(score_threshold)
    faces, points = [], []
    offset = 0
    for s in YUNET_STRIDES:
        rows, cols = pad_h // s, pad_w // s
        n = rows * cols
        cls = np.clip(_level(outputs, "cls", s, 1)[:, 0].astype(np.float32), np.float32(0), np.float32(1))
        obj = np.clip(_level(outputs, "obj", s, 1)[:, 0].astype(np.float32), np.float32(0), np.float32(1))
        if len(cls) != n or len(obj) != n:
            raise ValueError(f"stride {s}: expected {n} points, got {len(cls)} and {len(obj)}")
        score = np.sqrt(cls * obj)
        idx = np.flatnonzero(~(score < t))
        b = _level(outputs, "bbox", s, 4)[idx].astype(ft)
        k = _level(outputs, "kps", s, 10)[idx].astype(ft)
        c = (idx % cols).astype(ft)
        r = (idx // cols).astype(ft)
        st = ft(s)
        cx = (c + b[:, 0]) * st
        cy = (r + b[:, 1]) * st
        w = np.exp(b[:, 2]) * st
        h = np.exp(b[:, 3]) * st
        x = cx - w / ft(2)
        y = cy - h / ft(2)
        lm = np.empty((len(idx), 10), dtype=ft)
        lm[:, 0::2] = (k[:, 0::2] + c[:, None]) * st
        lm[:, 1::2] = (k[:, 1::2] + r[:, None]) * st
        f = np.concatenate([np.stack([x, y, w, h], 1), lm, score[idx, None].astype(ft)], 1)
        faces.append(f.astype(np.float64))
        points.append(offset + idx)
        offset += n
    return np.concatenate(faces), np.concatenate(points).astype(np.int64)


def yunet(
    outputs,
    pad_w: int,
    pad_h: int,
    *,
    score_threshold: float = 0.9,
    nms_threshold: float = 0.3,
    top_k: int = 5000,
    arithmetic: str = "float32",
):
    """OpenCV's ``FaceDetectorYN`` post-processing (``face_detect.cpp`` and ``cv::dnn::NMSBoxes``, REFERENCE.md
    section 7): (faces [K, 15] as OpenCV returns them, point indices [K]).

    Scores are computed in float32 as OpenCV does (``sqrtf(cls * obj)``, both clamped to [0, 1]), so every score
    and every score decision is OpenCV's own; boxes and landmarks are decoded in float32 (OpenCV's arithmetic, the
    default) or float64 (``arithmetic="float64"``). Candidates: ``!(score < t)``, in order stride 8, 16, 32, then
    row-major. Exactly one candidate is returned as is; otherwise :func:`nms_boxes` on
    ``Rect2i(int(x), int(y), int(w), int(h))``."""
    faces, points = yunet_candidates(outputs, pad_w, pad_h, score_threshold, arithmetic=arithmetic)
    if len(faces) <= 1:
        return faces, points
    rects = np.trunc(faces[:, :4].astype(np.float32 if arithmetic == "float32" else np.float64)).astype(np.int64)
    keep = nms_boxes(rects, faces[:, 14], score_threshold, nms_threshold, top_k)
    return faces[keep], points[keep]


def pytorch_retinaface(
    packed,
    priors,
    input_size,
    *,
    confidence_threshold: float = 0.02,
    top_k: int = 5000,
    nms_threshold: float = 0.4,
    keep_top_k: int = 750,
    variances=(0.1, 0.2),
):
    """Pytorch_Retinaface's ``detect.py`` decisions on the packed mobilenet0.25 model (REFERENCE.md section 4), whose
    rows are ``[dx, dy, dw, dh | l_bg, l_face | 5 x (dx, dy)]``: softmax of the two logits, ``p > 0.02``, the
    ``top_k`` (5000) best by score (descending, then anchor index ascending: ``detect.py``'s unstable
    ``argsort()[::-1]`` leaves ties undefined), variance decode (0.1, 0.2) of boxes and landmarks times the input
    size, ``py_cpu_nms`` at 0.4 on pixel boxes with "+1" areas, the first ``keep_top_k`` (750). ``detect.py`` then
    draws the faces with ``score >= 0.6``; this returns every kept face. Returns (boxes [K, 4] pixel corners,
    scores [K], landmarks [K, 5, 2] pixels, anchors [K]) in keep order."""
    x = np.asarray(packed, dtype=np.float64)
    if x.ndim == 3:
        x = x[0]
    p = np.asarray(priors, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 16 or x.shape[0] != p.shape[0]:
        raise ValueError(f"packed must be [N, 16] with N = {p.shape[0]} priors, got {np.shape(packed)}")
    w, h = (input_size, input_size) if np.isscalar(input_size) else input_size
    loc, conf, landm = x[:, :4], x[:, 4:6], x[:, 6:]
    v0, v1 = variances
    centers = p[:, :2] + loc[:, :2] * v0 * p[:, 2:]
    sizes = p[:, 2:] * np.exp(loc[:, 2:] * v1)
    scale = np.array([w, h, w, h], dtype=np.float64)
    boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], 1) * scale
    pts = (p[:, None, :2] + landm.reshape(-1, 5, 2) * v0 * p[:, None, 2:]) * np.array([w, h], dtype=np.float64)
    e = np.exp(conf - conf.max(1, keepdims=True))
    scores = e[:, 1] / e.sum(1)
    inds = np.flatnonzero(scores > confidence_threshold)
    order = inds[np.lexsort((inds, -scores[inds]))][:top_k]
    dets = np.concatenate([boxes[order], scores[order, None]], 1)
    keep = py_cpu_nms(dets, nms_threshold)[:keep_top_k]
    sel = order[keep]
    return boxes[sel], scores[sel], pts[sel], sel.astype(np.int64)
