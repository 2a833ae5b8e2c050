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

ULTRAFACE_MIN_BOXES = ((10, 16, 24), (32, 48), (64, 96), (128, 192, 256))
ULTRAFACE_STRIDES = (8, 16, 32, 64)
ULTRAFACE_SIZES = ((128, 96), (160, 120), (320, 240), (480, 360), (640, 480), (1280, 960))
CONVENTIONS = ("trained", "stride")


def _size(input_size) -> tuple[int, int]:
    if isinstance(input_size, (int, np.integer)):
        w = h = int(input_size)
    else:
        try:
            w, h = (int(v) for v in input_size)
        except (TypeError, ValueError):
            raise TypeError(f"input_size must be an int or a (width, height) pair, got {input_size!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"input_size must be positive, got {(w, h)}")
    return w, h


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
    min_boxes = [tuple(float(m) for m in level) for level in min_boxes]
    strides = [int(s) for s in strides]
    if len(min_boxes) != len(strides) or not strides:
        raise ValueError("min_boxes and strides must be non-empty and of equal length")
    if any(s <= 0 for s in strides) or any(not level or min(level) <= 0 for level in min_boxes):
        raise ValueError("strides and min boxes must be positive")
    levels = list(zip(strides, min_boxes, strict=True))
    if drop_finest_level:
        levels = levels[1:]
        if not levels:
            raise ValueError("drop_finest_level leaves no level")
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
}


def retinaface_priors(input_size=(320, 240), *, min_sizes=ULTRAFACE_MIN_BOXES, steps=ULTRAFACE_STRIDES) -> np.ndarray:
    """Priors [N, 4] float64 (cx, cy, w, h) of RetinaFace's ``PriorBox``, NOT clamped.

    Per level k: feature map ``ceil(H / step) x ceil(W / step)``; rows i, then columns j, then min sizes innermost;
    ``cx = (j + 0.5) * step / W``, ``cy = (i + 0.5) * step / H``, ``w = min_size / W``, ``h = min_size / H``.
    """
    w, h = _size(input_size)
    try:
        steps = [int(s) for s in steps]
        min_sizes = [tuple(float(m) for m in level) for level in min_sizes]
    except (TypeError, ValueError):
        raise TypeError("steps must be a sequence of ints and min_sizes a sequence of sequences of numbers") from None
    if not steps:
        raise ValueError("steps must not be empty")
    if len(min_sizes) != len(steps):
        raise ValueError(f"min_sizes has {len(min_sizes)} levels but steps has {len(steps)}; they must match")
    if any(s <= 0 for s in steps) or any(not level or min(level) <= 0 for level in min_sizes):
        raise ValueError("steps and min sizes must be positive (and no level empty)")
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
