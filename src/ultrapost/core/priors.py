"""Anchor (prior) generation in float64, for every Ultraface input size.

Two conventions exist (REFERENCE.md section 1):

- ``"trained"`` (default): ``cx = (i + 0.5) / fm_w`` -- what the models were trained with and the ONNX graphs embed.
- ``"stride"``: ``cx = (i + 0.5) * stride / W`` -- the ncnn / MNN / OpenCV-DNN C++ ports. It differs from the
  trained convention whenever ``size % stride != 0``.

Order is level-major, then row j, then column i, then min box innermost. All four values are clamped to [0, 1].
"""

from __future__ import annotations

import math

import numpy as np

from ultrapost.core.checks import check_input_size, check_levels, check_strides
from ultrapost.core.config import MAX_ANCHORS

ULTRAFACE_MIN_BOXES = ((10, 16, 24), (32, 48), (64, 96), (128, 192, 256))
ULTRAFACE_STRIDES = (8, 16, 32, 64)
ULTRAFACE_SIZES = ((128, 96), (160, 120), (320, 240), (480, 360), (640, 480), (1280, 960))
CONVENTIONS = ("trained", "stride")


def _size(input_size) -> tuple[int, int]:
    return check_input_size(input_size)


def check_anchor_count(w: int, h: int, strides, per_cell) -> int:
    """The anchors of feature maps ceil(w / s) x ceil(h / s) with per_cell anchors each, counted before any is made
    (a 100000 x 100000 input would take gigabytes of priors): ValueError above the core's limit."""
    n = sum(-(-w // s) * -(-h // s) * k for s, k in zip(strides, per_cell, strict=True))
    if n > MAX_ANCHORS:
        raise ValueError(f"input_size {w}x{h} gives {n:,} anchors; the core takes at most {MAX_ANCHORS:,}")
    return n


def feature_maps(input_size, strides=ULTRAFACE_STRIDES) -> list[tuple[int, int]]:
    """(fm_w, fm_h) per level: ``ceil(size / stride)``."""
    w, h = _size(input_size)
    return [(math.ceil(w / s), math.ceil(h / s)) for s in strides]


def ultraface_priors(
    input_size=(320, 240),
    *,
    convention: str = "trained",
    drop_finest_level: bool = False,
    min_boxes=ULTRAFACE_MIN_BOXES,
    strides=ULTRAFACE_STRIDES,
) -> np.ndarray:
    """Priors [N, 4] float64 (cx, cy, w, h), normalized and clamped to [0, 1].

    ``drop_finest_level`` removes the stride-8 level, as NXP's ultraslim model does (172 anchors at 128x128).
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"priors must be one of {CONVENTIONS}, got {convention!r}")
    w, h = _size(input_size)
    min_boxes = check_levels(min_boxes, "min_boxes")
    strides = check_strides(strides, "strides")
    if len(min_boxes) != len(strides):
        raise ValueError(f"min_boxes has {len(min_boxes)} levels but strides has {len(strides)}; they must match")
    levels = list(zip(strides, min_boxes, strict=True))
    if drop_finest_level:
        levels = levels[1:]
        if not levels:
            raise ValueError("drop_finest_level leaves no level")
    check_anchor_count(w, h, [s for s, _ in levels], [len(b) for _, b in levels])
    out = []
    for stride, boxes in levels:
        fm_w, fm_h = math.ceil(w / stride), math.ceil(h / stride)
        if convention == "trained":
            cx = (np.arange(fm_w) + 0.5) / fm_w
            cy = (np.arange(fm_h) + 0.5) / fm_h
        else:
            cx = (np.arange(fm_w) + 0.5) * stride / w
            cy = (np.arange(fm_h) + 0.5) * stride / h
        bw = np.array(boxes) / w
        bh = np.array(boxes) / h
        n = len(boxes)
        level = np.empty((fm_h, fm_w, n, 4))
        level[..., 0] = cx[None, :, None]
        level[..., 1] = cy[:, None, None]
        level[..., 2] = bw[None, None, :]
        level[..., 3] = bh[None, None, :]
        out.append(level.reshape(-1, 4))
    return np.clip(np.concatenate(out), 0.0, 1.0)


# RetinaFace-style heads (REFERENCE.md section 4). Face-Detector-1MB-with-landmark (slim, RFB, mobilenet) and the
# zineos Blazeface configs.
RETINAFACE_CONFIGS = {
    "slim": {"min_sizes": ULTRAFACE_MIN_BOXES, "steps": ULTRAFACE_STRIDES},
    "blazeface": {"min_sizes": ((8, 11), (14, 19, 26, 38, 64, 149)), "steps": (8, 16)},
    # Pytorch_Retinaface's cfg_mnet (mobilenet0.25)
    "mnet": {"min_sizes": ((16, 32), (64, 128), (256, 512)), "steps": (8, 16, 32)},
}


def retinaface_priors(input_size=(320, 240), *, min_sizes=ULTRAFACE_MIN_BOXES, steps=ULTRAFACE_STRIDES) -> np.ndarray:
    """Priors [N, 4] float64 (cx, cy, w, h) of RetinaFace's ``PriorBox``, NOT clamped.

    Per level k: feature map ``ceil(H / step) x ceil(W / step)``; rows i, then columns j, then min sizes innermost;
    ``cx = (j + 0.5) * step / W``, ``cy = (i + 0.5) * step / H``, ``w = min_size / W``, ``h = min_size / H``.
    """
    w, h = _size(input_size)
    steps = check_strides(steps, "steps")
    min_sizes = check_levels(min_sizes, "min_sizes")
    if len(min_sizes) != len(steps):
        raise ValueError(f"min_sizes has {len(min_sizes)} levels but steps has {len(steps)}; they must match")
    check_anchor_count(w, h, steps, [len(level) for level in min_sizes])
    out = []
    for step, sizes in zip(steps, min_sizes, strict=True):
        fm_w, fm_h = math.ceil(w / step), math.ceil(h / step)
        level = np.empty((fm_h, fm_w, len(sizes), 4))
        level[..., 0] = ((np.arange(fm_w) + 0.5) * step / w)[None, :, None]
        level[..., 1] = ((np.arange(fm_h) + 0.5) * step / h)[:, None, None]
        level[..., 2] = (np.array(sizes) / w)[None, None, :]
        level[..., 3] = (np.array(sizes) / h)[None, None, :]
        out.append(level.reshape(-1, 4))
    return np.concatenate(out)
