"""Whole post-processing of each family in float64: Ultraface, BlazeFace (MediaPipe), RetinaFace."""

from __future__ import annotations

import numpy as np

from ultrapost.reference.checks import float_array, real
from ultrapost.reference.decode import decode_deltas, decode_landmarks, face_probability
from ultrapost.reference.nms import hard_nms, mediapipe_weighted_nms, nms


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
