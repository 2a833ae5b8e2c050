"""``ultrapost.nms``: exact NMS over any detector's boxes, on the fixed-point C path (csrc/up_boxes.c) or its
golden twin (ultrapost.golden.boxes)."""

from __future__ import annotations

import numpy as np

from ultrapost.core._core import nms_plain
from ultrapost.core.boxes import BOX_FORMATS, METHODS, _as_array, _from_corners, prepare, run_c
from ultrapost.golden.boxes import boxes_nms as golden_boxes_nms

__all__ = ["BOX_FORMATS", "METHODS", "nms"]


def _run_one(backend, args, kw):
    cfg, corners, keys, values, cls, g, vq = prepare(*args, **kw, fast=backend == "c")
    if backend == "golden":
        idx, val, merged = golden_boxes_nms(cfg, corners, keys, values, cls)
    elif backend == "c":
        idx, val, merged = run_c(cfg, corners, keys, values, cls)
    else:
        raise ValueError(f"backend must be 'c' or 'golden', got {backend!r}")
    idx = idx.astype(np.int64)
    method = kw.get("method", "hard")
    if method == "hard":
        return idx
    scores = np.ldexp(val.astype(np.float64), -vq)
    if method.startswith("soft"):
        return idx, scores
    return idx, _from_corners(merged, g, kw.get("box_format", "xyxy")), scores


def nms(
    boxes,
    scores,
    iou_threshold,
    score_threshold=None,
    *,
    classes=None,
    max_output=None,
    box_format="xyxy",
    method="hard",
    sigma=0.5,
    top_k=None,
    score_test=">",
    score_float32=False,
    zero_area_overlap=False,
    eta=1.0,
    any_corner_order=False,
    backend="c",
):
    """Non-maximum suppression of any detector's boxes with exact decisions, on the fixed-point C path.

    boxes: [N, 4] (or [B, N, 4]: a list with one result per batch item), finite floats or integers, pixels or
    normalized; box_format "xyxy" (x1, y1, x2, y2), "xywh" (x, y, width, height: OpenCV's Rect), "cxcywh"
    (center, width, height: ONNX center_point_box=1) or "yxyx" (y1, x1, y2, x2: ONNX center_point_box=0).
    A box with x2 < x1 or y2 < y1 has area 0 unless ``any_corner_order``.
    scores: [N] (or [B, N]) finite values, probabilities or logits. classes: [N] (or [B, N]) integers: boxes of
    different classes never suppress each other (torchvision ``batched_nms``, OpenCV ``NMSBoxesBatched``).

    Decisions, exact for the given values: a box is a candidate when ``score > score_threshold`` (None: every
    box); candidates are visited by score descending, then index ascending; a candidate is suppressed when
    ``IoU > iou_threshold`` (IoU equal to the threshold keeps) with a kept box of its class, ``IoU = inter /
    (area1 + area2 - inter)``, decided in integers for the float64 threshold (two boxes of area 0 have IoU 0).
    Returns int64 indices in keep order, at most ``max_output`` of them.

    method: "hard"; "blend" (clusters of the top box and the boxes with IoU > t against it, merged with softmax
    weights exp(score), box and score), "weighted" (the same clusters weighted by score, scores >= 0, the top's
    score kept), both returning (indices, merged boxes in box_format, scores); "soft-linear" (decay by 1 - IoU
    when IoU > t) and "soft-gaussian" (decay by exp(-IoU^2 / sigma)) returning (indices, decayed scores); a box
    leaves soft-NMS once its decayed score fails the score test.

    Coordinates go onto one grid 2^-s per call (every corner within 2^30 of it): integer and float32 coordinates
    on that grid are exact, others round to it (within 2^-30 of the largest |value| for xyxy and yxyx, 2^-27 for
    xywh and cxcywh); a box whose positive side would round to 0 raises ValueError. Soft and merged scores are
    fixed point (|score| * 2^q <= 2^30).

    The peers' conventions, where they differ:
      score_test=">="       keep score >= threshold (OpenCV softNMSBoxes stops below the threshold).
      score_float32=True    OpenCV: scores and score_threshold are rounded to float32 before the test and the
                            sort (NMSBoxes takes std::vector<float> and float thresholds; pass
                            float(np.float32(t)) as iou_threshold to use OpenCV's threshold too).
      zero_area_overlap     OpenCV: two boxes both of area 0 overlap fully (jaccardDistance returns 0 when
                            Aa + Ab <= epsilon), so the later one is suppressed when iou_threshold < 1
                            (within their class here; NMSBoxesBatched's class offset leaves them overlapping
                            across classes too).
      eta                   OpenCV's adaptive threshold: after each kept box, while t > 0.5, t = t * eta
                            (float32 products as OpenCV computes them); hard NMS only.
      top_k                 OpenCV: only the top_k best candidates enter NMS (0 or None: all).
      any_corner_order      ONNX NonMaxSuppression: corners may come in either diagonal order (min and max of
                            each pair are taken).
      box_format="yxyx" / "cxcywh"   ONNX center_point_box=0 / 1.
      score_threshold=None  torchvision nms / batched_nms: no score test.
    backend="golden" runs the numpy twin of the C (same integers; for tests).
    """
    if (
        backend == "c"
        and type(method) is str
        and method == "hard"
        and type(box_format) is str
        and box_format == "xyxy"
        and classes is None
        and max_output is None
        and top_k is None
        and type(score_test) is str
        and score_test == ">"
        and score_float32 is False
        and zero_area_overlap is False
        and type(eta) is float
        and eta == 1.0
        and any_corner_order is False
    ):  # the common case in one compiled call (None: inputs it does not take as they are, or an error to name)
        keep = nms_plain(boxes, scores, iou_threshold, score_threshold)
        if keep is not None:
            return keep
    b = _as_array(boxes, "boxes", (2, 3))
    kw = dict(
        classes=None,
        max_output=max_output,
        box_format=box_format,
        method=method,
        sigma=sigma,
        top_k=top_k,
        score_test=score_test,
        score_float32=score_float32,
        zero_area_overlap=zero_area_overlap,
        eta=eta,
        any_corner_order=any_corner_order,
    )
    if b.ndim == 2:
        kw["classes"] = classes
        return _run_one(backend, (b, scores, iou_threshold, score_threshold), kw)
    s = _as_array(scores, "scores", (2,))
    if s.shape != b.shape[:2]:
        raise ValueError(
            f"scores must have shape {list(b.shape[:2])} for boxes of shape {list(b.shape)}, got {list(s.shape)}"
        )
    c = None
    if classes is not None:
        c = np.asarray(classes)
        if c.shape != b.shape[:2]:
            raise ValueError(
                f"classes must have shape {list(b.shape[:2])} for boxes of shape {list(b.shape)}, got {list(c.shape)}"
            )
    out = []
    for i in range(b.shape[0]):
        kw["classes"] = None if c is None else c[i]
        out.append(_run_one(backend, (b[i], s[i], iou_threshold, score_threshold), kw))
    return out
