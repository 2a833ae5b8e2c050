"""The post-processors users run today, as peers to compare ultrapost with (REFERENCE.md sections 1 and 5).

- :func:`predict` / :func:`predict_raw`: the Ultraface repository's numpy post-processing, float32 throughout.
- :func:`opencv_nms`: ``cv2.dnn.NMSBoxes`` on float rectangles.
- :func:`onnxruntime_nms`: onnxruntime's ``NonMaxSuppression`` operator, run from a one-node graph.

Each docstring lists where its decisions differ from ultrapost's (score descending then anchor ascending,
``p > t``, suppress when ``IoU > t``, ``+ 1e-5`` in the IoU denominator, 200 candidates by default).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["decode_numpy", "onnxruntime_nms", "opencv_nms", "predict", "predict_raw"]

CENTER_VARIANCE = 0.1
SIZE_VARIANCE = 0.2
CANDIDATE_SIZE = 200  # predict()'s hard_nms candidate_size


def _rows(value, name: str, cols: int | None = None) -> np.ndarray:
    """A float array [N, C] (or [N, cols]), a leading batch axis of 1 dropped; the dtype is kept."""
    arr = np.asarray(value)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or (cols is not None and arr.shape[1] != cols):
        raise ValueError(f"{name} must have shape [N, {cols or 'C'}] or [1, N, {cols or 'C'}], got {arr.shape}")
    return arr


def _vector(value, name: str, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array, got dtype {arr.dtype}")
    arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape [{n}], got {np.shape(value)}")
    return arr


# -- the Ultraface repository's numpy post-processing --------------------------------------------------------------


def decode_numpy(locations, priors) -> np.ndarray:
    """Raw deltas [N, 4] (or [1, N, 4]) + priors [N, 4] (cx, cy, w, h) -> float32 corners, same shape as locations.

    The repository's ``convert_locations_to_boxes`` (variances 0.1 / 0.2) then ``center_form_to_corner_form``, in
    float32 on every anchor. ultrapost decodes only the candidates that passed the score test, in fixed point.
    """
    loc = np.asarray(locations, dtype=np.float32)
    pri = np.asarray(priors, dtype=np.float32)
    if loc.shape[-1:] != (4,) or loc.ndim not in (2, 3) or pri.shape != loc.shape[-2:]:
        raise ValueError(f"locations [N, 4] or [1, N, 4] and priors [N, 4] expected, got {loc.shape} and {pri.shape}")
    center = loc[..., :2] * CENTER_VARIANCE * pri[..., 2:] + pri[..., :2]
    size = np.exp(loc[..., 2:] * SIZE_VARIANCE) * pri[..., 2:]
    return np.concatenate([center - size / 2, center + size / 2], axis=-1)


def _area_numpy(lo, hi):
    wh = np.clip(hi - lo, 0.0, None)
    return wh[..., 0] * wh[..., 1]


def _iou_numpy(boxes, box, eps=1e-5):
    """IoU of each of ``boxes`` with ``box``, in their dtype, ``+ eps`` in the denominator (no 0/0 guard)."""
    inter = _area_numpy(np.maximum(boxes[..., :2], box[..., :2]), np.minimum(boxes[..., 2:], box[..., 2:]))
    return inter / (_area_numpy(boxes[..., :2], boxes[..., 2:]) + _area_numpy(box[..., :2], box[..., 2:]) - inter + eps)


def _hard_nms_numpy(box_scores, iou_threshold, top_k=-1, candidate_size=CANDIDATE_SIZE):
    """The repository's ``hard_nms``: rows [x1, y1, x2, y2, score] -> the kept rows in the order kept."""
    boxes, scores = box_scores[:, :4], box_scores[:, 4]
    pending = np.argsort(scores)[-candidate_size:]  # ascending, default (unstable) sort; the best is last
    picked = []
    while pending.size:
        best = pending[-1]
        picked.append(best)
        if 0 < top_k == len(picked) or pending.size == 1:
            break
        pending = pending[:-1]
        pending = pending[_iou_numpy(boxes[pending], boxes[best][None]) <= iou_threshold]
    return box_scores[picked]


def predict(width, height, confidences, boxes, prob_threshold, iou_threshold=0.3, top_k=-1):
    """The Ultraface repository's ``predict()``: confidences [1, N, C] and decoded corners [1, N, 4] -> pixel boxes.

    For each class index >= 1: keep ``p > prob_threshold``, then hard NMS over the 200 best by ``np.argsort``
    (suppress when ``IoU > iou_threshold``, at most ``top_k`` kept if > 0). Arithmetic stays in the input dtype
    (float32 for the ONNX outputs). Returns ``(boxes, labels, probs)``: boxes int32 [K, 4] pixels (``x * width``,
    ``y * height`` truncated toward zero, not clipped), labels int64 [K], probs [K] in the input dtype.

    Differences from ultrapost:

    - ties: ``np.argsort``'s default sort is unstable, so equal scores come out in no defined order (ultrapost:
      anchor index ascending). Which of two tied overlapping boxes survives, and the output order, may change with
      numpy's version or the CPU's sort kernel.
    - IoU and the ``+ 1e-5`` in its denominator are computed in float32 (ultrapost: exact integers); an IoU within
      float32 rounding of the threshold may be decided either way.
    - numpy 2 compares a float32 array with a Python float in float32, so ``prob_threshold`` is rounded to float32
      first: at 0.6 a probability equal to ``float32(0.6)`` (slightly above 0.6) fails the test.
    - decisions are made on every class column >= 1 (the face models have one); outputs are truncated pixels.
    - no result gives empty arrays of shapes [0, 4], [0] and [0] (the repository returns three ``np.array([])``).
    """
    conf = _rows(confidences, "confidences")
    rows = _rows(boxes, "boxes", 4)
    if np.ndim(confidences) != 3 or np.ndim(boxes) != 3:
        raise ValueError("predict() takes a batch axis: confidences [1, N, C] and boxes [1, N, 4]")
    if conf.shape[0] != rows.shape[0]:
        raise ValueError(f"confidences ({conf.shape[0]} rows) and boxes ({rows.shape[0]} rows) differ in length")
    picked, labels = [], []
    for class_index in range(1, conf.shape[1]):
        probs = conf[:, class_index]
        mask = probs > prob_threshold
        if not mask.any():
            continue
        box_probs = np.concatenate([rows[mask], probs[mask].reshape(-1, 1)], axis=1)
        kept = _hard_nms_numpy(box_probs, iou_threshold, top_k=top_k)
        picked.append(kept)
        labels.extend([class_index] * kept.shape[0])
    if not picked:
        return np.zeros((0, 4), np.int32), np.zeros(0, np.int64), np.zeros(0, conf.dtype)
    out = np.concatenate(picked)
    out[:, 0] *= width
    out[:, 1] *= height
    out[:, 2] *= width
    out[:, 3] *= height
    return out[:, :4].astype(np.int32), np.asarray(labels, dtype=np.int64), out[:, 4]


def predict_raw(width, height, confidences, locations, priors, prob_threshold, iou_threshold=0.3):
    """:func:`predict` on raw deltas: :func:`decode_numpy` on all N anchors (float32), then :func:`predict`.

    Differences from ultrapost: those of :func:`predict`, plus the float32 decode of every anchor before the score
    test (ultrapost decodes only candidates, in fixed point, and saturates corners to [-4, 4]).
    """
    loc = np.asarray(locations)
    corners = decode_numpy(loc, priors)
    if corners.ndim == 2:
        corners = corners[None]
    return predict(width, height, confidences, corners, prob_threshold, iou_threshold)


# -- OpenCV ----------------------------------------------------------------------------------------------------------


def opencv_nms(boxes, scores, score_threshold, iou_threshold, top_k=0) -> np.ndarray:
    """``cv2.dnn.NMSBoxes`` on normalized corners [N, 4] and face probabilities [N]; kept indices int64.

    Corners become float rectangles ``(x1, y1, x2 - x1, y2 - y1)`` (OpenCV's ``Rect2d``). OpenCV keeps
    ``score > score_threshold``, sorts stably by score descending (ties: index ascending), keeps the ``top_k`` best
    (all if 0) and then, greedily, each box whose IoU with every kept box is ``<= iou_threshold``.

    Differences from ultrapost:

    - IoU has no ``+ 1e-5`` term: tiny boxes (side below about 0.005 of the image) suppress each other in OpenCV
      but not in ultrapost, where the term dominates their union; two boxes of zero area have IoU 1 in OpenCV (one
      suppresses the other), 0 in ultrapost.
    - the IoU is computed in double and compared in float; scores are float32.
    - no output cap: ``top_k`` limits candidates, like ultrapost's ``candidate_limit``, not detections.
    """
    import cv2

    rows = _rows(boxes, "boxes", 4).astype(np.float64)
    probs = _vector(scores, "scores", rows.shape[0]).astype(np.float32)
    rects = np.concatenate([rows[:, :2], rows[:, 2:] - rows[:, :2]], axis=1)
    kept = cv2.dnn.NMSBoxes(rects, probs, float(score_threshold), float(iou_threshold), top_k=int(top_k))
    return np.asarray(kept, dtype=np.int64).reshape(-1)


# -- onnxruntime -----------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _nms_session():
    """One-node ONNX graph (opset 11 NonMaxSuppression, corner boxes), built in memory once."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    inputs = [
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, "N", 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, "N"]),
        helper.make_tensor_value_info("max_output_boxes_per_class", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("iou_threshold", TensorProto.FLOAT, [1]),
        helper.make_tensor_value_info("score_threshold", TensorProto.FLOAT, [1]),
    ]
    output = helper.make_tensor_value_info("selected_indices", TensorProto.INT64, ["K", 3])
    node = helper.make_node("NonMaxSuppression", [i.name for i in inputs], ["selected_indices"], center_point_box=0)
    model = helper.make_model(
        helper.make_graph([node], "nms", inputs, [output]), opset_imports=[helper.make_opsetid("", 11)]
    )
    model.ir_version = 7  # the oldest IR for opset 11: loads in every onnxruntime that has the operator
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the operator is single-threaded; no idle thread pool
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def onnxruntime_nms(boxes, scores, score_threshold, iou_threshold, max_detections=None, *, priors=None):
    """onnxruntime's ``NonMaxSuppression`` on one class; kept indices int64 in the order kept.

    boxes: normalized corners [N, 4] (or [1, N, 4]), or raw deltas when ``priors`` [N, 4] is given, decoded first
    with :func:`decode_numpy`. scores: face probabilities [N]. Needs the ``onnx`` package to build the graph.

    The ONNX specification leaves both comparisons open; onnxruntime (checked on 1.31 by tests/test_baselines.py)
    keeps ``score > score_threshold`` (strict, float32), orders by score descending with ties by index ascending,
    and suppresses when ``IoU > iou_threshold``.

    Differences from ultrapost:

    - no candidate limit: every box above the threshold enters NMS (ultrapost: the 200 best by default).
    - IoU in float32 without the ``+ 1e-5`` term; a pair whose intersection or either area is <= 0 never suppresses.
    - corners are reordered (min, max) per axis, so an inverted box counts with its mirrored extent (ultrapost:
      area 0); x and y play the same part in IoU, so (x1, y1, x2, y2) goes in as the operator's (y1, x1, y2, x2).
    - the thresholds are rounded to float32 before the comparison.
    """
    if priors is not None:
        corners = decode_numpy(_rows(boxes, "boxes", 4), priors)
    else:
        corners = _rows(boxes, "boxes", 4).astype(np.float32)
    n = corners.shape[0]
    probs = _vector(scores, "scores", n).astype(np.float32)
    limit = n if max_detections is None else int(max_detections)
    if limit < 1:
        raise ValueError(f"max_detections must be >= 1 or None, got {max_detections}")
    selected = _nms_session().run(
        None,
        {
            "boxes": np.ascontiguousarray(corners[None]),
            "scores": np.ascontiguousarray(probs[None, None]),
            "max_output_boxes_per_class": np.array([limit], np.int64),
            "iou_threshold": np.array([iou_threshold], np.float32),
            "score_threshold": np.array([score_threshold], np.float32),
        },
    )[0]
    return selected[:, 2].astype(np.int64)
