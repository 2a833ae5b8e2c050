"""Golden twin of the host's float32 boundary (up_f32_to_fixed): float32 tensors to the core's fixed point."""

from __future__ import annotations

import numpy as np

from ultrapost.core.config import (
    F32_PROB_Q,
    F32_VALUE_LIMIT,
    F32_VALUE_Q,
    ONE_SCORE,
    SCORE_PROB,
    FixedConfig,
    OutOfRangeError,
)


def f32_to_fixed(x, q: int, lo: int, hi: int):
    """up_f32_to_fixed: the float32 boundary, round(x * 2^q) half up, clamped to [lo, hi]; NaN gives 0."""
    v = np.asarray(x, dtype=np.float32).astype(np.float64) * float(1 << q)
    v = np.clip(np.nan_to_num(v, nan=0.0), lo, hi)
    return np.floor(v + 0.5).astype(np.int64)


def convert_f32(cfg: FixedConfig, scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray | None = None):
    """The whole float32 boundary at once (the C converts lazily; the values are the same)."""
    for arr in (scores, boxes) + (() if keypoints is None else (keypoints,)):
        if not np.isfinite(arr).all():
            raise ValueError("NaN or Inf in the float inputs")
    # beyond +-1024 the Q20 conversion would clamp: an error instead (probabilities have the score test's rule)
    ranged = [("box", boxes), ("keypoint", keypoints)] + ([] if cfg.score_kind == SCORE_PROB else [("logit", scores)])
    for name, arr in ranged:
        beyond = None if arr is None else np.abs(np.asarray(arr, np.float32)) > F32_VALUE_LIMIT / 2.0**F32_VALUE_Q
        if beyond is not None and beyond.any():
            at = tuple(np.argwhere(beyond)[0])
            raise OutOfRangeError(
                f"{name} value {np.asarray(arr)[at]:g} (anchor {at[0]}, column {at[1]}) is beyond +-1024, the range of "
                "float32 inputs (Q20)"
            )
    if cfg.score_kind == SCORE_PROB:
        s = f32_to_fixed(scores, F32_PROB_Q, 0, ONE_SCORE)
    else:
        s = f32_to_fixed(scores, F32_VALUE_Q, -F32_VALUE_LIMIT, F32_VALUE_LIMIT)
    b = f32_to_fixed(boxes, F32_VALUE_Q, -F32_VALUE_LIMIT, F32_VALUE_LIMIT)
    k = None if keypoints is None else f32_to_fixed(keypoints, F32_VALUE_Q, -F32_VALUE_LIMIT, F32_VALUE_LIMIT)
    return s, b, k
