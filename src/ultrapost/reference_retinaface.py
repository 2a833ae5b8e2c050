"""Pytorch_Retinaface's ``detect.py`` decisions, transcribed in float64 (REFERENCE.md section 4, "Packed RetinaFace
mobilenet0.25"), for the packed model whose one output rows are ``[dx, dy, dw, dh | l_bg, l_face | 5 x (dx, dy)]``.

Softmax of the two logits, ``p > confidence_threshold`` (0.02), the ``top_k`` (5000) best by score (descending, then
anchor index ascending: ``detect.py``'s unstable ``argsort()[::-1]`` leaves ties undefined), variance decode
(0.1, 0.2) of boxes and landmarks against the priors, times the input size; ``py_cpu_nms`` at ``nms_threshold``
(0.4) on pixel boxes with "+1" areas, keep while IoU <= t; the first ``keep_top_k`` (750). ``detect.py`` draws the
faces with ``score >= vis_threshold`` (0.6); this returns every kept face with its score.
"""

from __future__ import annotations

import numpy as np

from ultrapost.reference import py_cpu_nms


def pytorch_retinaface(packed, priors, input_size, *, confidence_threshold: float = 0.02, top_k: int = 5000,
                       nms_threshold: float = 0.4, keep_top_k: int = 750, variances=(0.1, 0.2)):
    """(boxes [K, 4] pixel corners, scores [K], landmarks [K, 5, 2] pixels, anchors [K]) in keep order."""
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
