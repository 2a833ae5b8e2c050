"""YuNet's reference semantics: OpenCV's ``FaceDetectorYN`` post-processing (``face_detect.cpp`` and
``cv::dnn::NMSBoxes``), transcribed in numpy (REFERENCE.md section 7). For tests and docs.

Scores are computed in float32 as OpenCV does (``sqrtf(cls * obj)``, both clamped to [0, 1]), so every score and
every score decision is OpenCV's own; boxes and landmarks are decoded in float32 (OpenCV's arithmetic, the default)
or float64 (``arithmetic="float64"``). Candidates: ``!(score < t)``, in order stride 8, 16, 32, then row-major.
Exactly one candidate is returned as is; otherwise NMSBoxes: ``score > t`` (strict), a stable sort by score
descending, the first ``top_k`` (<= 0: all), then greedy on ``Rect2i(int(x), int(y), int(w), int(h))``: keep when
``1.f - (float)(1.0 - I / U) <= nms_threshold`` against every kept face (``I``, ``U`` integer areas, no +1; the
overlap is 1 when both areas are 0).
"""

from __future__ import annotations

import numpy as np

STRIDES = (8, 16, 32)


def _level(outputs, kind: str, s: int, cols: int) -> np.ndarray:
    return np.asarray(outputs[f"{kind}_{s}"]).reshape(-1, cols)


def candidates(outputs, pad_w: int, pad_h: int, score_threshold: float, *, arithmetic: str = "float32"):
    """Every candidate in OpenCV's order: (faces [M, 15] x, y, w, h, 10 landmark values, score; point indices [M]).

    ``outputs``: {"cls_8", "obj_8", "bbox_8", "kps_8", ... } float arrays (int8 outputs dequantized first)."""
    if arithmetic not in ("float32", "float64"):
        raise ValueError(f"arithmetic must be 'float32' or 'float64', got {arithmetic!r}")
    ft = np.float32 if arithmetic == "float32" else np.float64
    t = np.float32(score_threshold)
    faces, points = [], []
    offset = 0
    for s in STRIDES:
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


def overlap(a, b) -> float:
    """OpenCV's rectOverlap of two integer rectangles (x, y, w, h): 1.f - (float)(1.0 - I / U)."""
    area_a, area_b = a[2] * a[3], b[2] * b[3]
    if area_a + area_b <= 0:
        return 1.0
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = float(iw * ih) if iw > 0 and ih > 0 else 0.0
    return float(np.float32(1.0) - np.float32(1.0 - inter / (area_a + area_b - inter)))


def nms_boxes(rects: np.ndarray, scores: np.ndarray, score_threshold: float, nms_threshold: float,
              top_k: int = 0) -> np.ndarray:
    """cv::dnn::NMSBoxes (eta 1) on integer rectangles [M, 4]; returns kept indices in keep order."""
    s = np.asarray(scores, dtype=np.float32)
    passed = np.flatnonzero(s > np.float32(score_threshold))
    order = passed[np.argsort(-s[passed], kind="stable")]
    if top_k > 0:
        order = order[:top_k]
    t = np.float32(nms_threshold)
    keep: list[int] = []
    for i in order.tolist():
        if all(overlap(rects[j], rects[i]) <= t for j in keep):
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def yunet(outputs, pad_w: int, pad_h: int, *, score_threshold: float = 0.9, nms_threshold: float = 0.3,
          top_k: int = 5000, arithmetic: str = "float32"):
    """FaceDetectorYN's faces: (faces [K, 15] as OpenCV returns them, point indices [K])."""
    faces, points = candidates(outputs, pad_w, pad_h, score_threshold, arithmetic=arithmetic)
    if len(faces) <= 1:
        return faces, points
    rects = np.trunc(faces[:, :4].astype(np.float32 if arithmetic == "float32" else np.float64)).astype(np.int64)
    keep = nms_boxes(rects, faces[:, 14], score_threshold, nms_threshold, top_k)
    return faces[keep], points[keep]


def dequantize(outputs, quantization) -> dict:
    """int8 outputs to float32 as onnxruntime's DequantizeLinear does: float32 (q - zero_point) * float32 scale."""
    out = {}
    for name, q in outputs.items():
        scale, zp = quantization[name]
        out[name] = (np.asarray(q, dtype=np.int32) - np.int32(zp)).astype(np.float32) * np.float32(scale)
    return out
