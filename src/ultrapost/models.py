"""Host-side preparation of fixed-point configs: the only place floats become fixed point.

Every conversion rounds half up (``floor(x * 2^q + 0.5)``) and is done once per config in float64. Thresholds
become exact integer bounds on the key the C compares (see csrc/ultrapost.h), found by evaluating the reference's
own float64 rule on every representable key where the key domain is small (int8), and by exact algebra otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from ultrapost.config import (
    BOX_CORNERS,
    BOX_DELTAS,
    F32_VALUE_Q,
    INPUT_F32,
    INPUT_I32,
    INPUT_S8,
    NMS_HARD,
    ONE_SCORE,
    Q_BOX,
    Q_IOU,
    Q_SCORE,
    Q_VAR,
    SCORE_LOGIT2,
    SCORE_PROB,
    FixedConfig,
)

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
_S8 = np.arange(-128, 128, dtype=np.float64)
_D8 = np.arange(-255, 256, dtype=np.float64)


def to_fixed(x, q: int, lo: int = INT32_MIN, hi: int = INT32_MAX) -> np.ndarray:
    """round(x * 2^q) half up, saturated to [lo, hi], as int32."""
    v = np.floor(np.asarray(x, dtype=np.float64) * float(2**q) + 0.5)
    return np.clip(v, lo, hi).astype(np.int32)


def check_quantization(q, what: str) -> tuple[float, int]:
    try:
        scale, zero_point = q
        scale, zero_point = float(scale), int(zero_point)
    except (TypeError, ValueError):
        raise TypeError(f"{what} quantization must be a (scale, zero_point) pair, got {q!r}") from None
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"{what} quantization scale must be a positive finite number, got {scale!r}")
    if not -128 <= zero_point <= 127:
        raise ValueError(f"{what} quantization zero point must be in [-128, 127], got {zero_point}")
    return scale, zero_point


def check_unit_interval(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {v!r}")
    return v


def sigmoid(x):
    """float64 logistic without overflow warnings."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _bound_from_levels(levels: np.ndarray, keys: np.ndarray, threshold: float) -> int:
    """Largest key whose level fails ``level > threshold`` (levels increase with keys)."""
    passing = levels > threshold
    if passing.all():
        return int(keys[0]) - 1
    if not passing.any():
        return int(keys[-1])
    first = int(np.argmax(passing))
    if not passing[first:].all():
        raise ValueError("the score levels are not monotonic in the key")
    return int(keys[first]) - 1


def score_bound(input_kind: int, score_kind: int, threshold: float, quant: tuple[float, int] | None) -> int:
    """The exact integer bound: a candidate passes when key > bound, i.e. when its score > threshold."""
    if input_kind == INPUT_S8:
        scale, zp = quant
        if score_kind == SCORE_PROB:
            return _bound_from_levels(scale * (_S8 - zp), _S8.astype(np.int64), threshold)
        return _bound_from_levels(sigmoid(scale * _D8), _D8.astype(np.int64), threshold)
    if score_kind == SCORE_PROB:
        return int(math.floor(threshold * ONE_SCORE))  # p > t  <=>  p_q30 > t * 2^30 (exact product)
    logit = math.log(threshold / (1.0 - threshold))
    return int(math.floor(logit * (1 << F32_VALUE_Q)))


def prepare(
    *,
    num_anchors: int,
    priors: np.ndarray | None,
    input_kind: str,
    decoded: bool,
    logits: bool,
    score_threshold: float,
    iou_threshold: float,
    candidate_limit: int | None,
    max_detections: int | None,
    score_quant=None,
    box_quant=None,
    num_classes: int = 2,
    class_index: int = 1,
    clip: bool = False,
    eps: float = 1e-5,
    center_variance: float = 0.1,
    size_variance: float = 0.2,
) -> FixedConfig:
    """A checked FixedConfig for one input kind ("s8", "i32" or "f32") of an Ultraface-style head."""
    kind = {"s8": INPUT_S8, "i32": INPUT_I32, "f32": INPUT_F32}[input_kind]
    t = check_unit_interval(score_threshold, "score_threshold")
    iou = check_unit_interval(iou_threshold, "iou_threshold")
    if num_anchors <= 0:
        raise ValueError("the config has zero anchors")
    limit = num_anchors if candidate_limit is None else int(candidate_limit)
    if limit < 1:
        raise ValueError(f"candidate_limit must be >= 1, got {candidate_limit!r}")
    limit = min(limit, num_anchors)
    max_det = limit if max_detections is None else int(max_detections)
    if max_det < 1:
        raise ValueError(f"max_detections must be >= 1, got {max_detections!r}")
    max_det = min(max_det, limit)
    if not (math.isfinite(eps) and 0 <= eps <= 1):
        raise ValueError(f"eps must be in [0, 1], got {eps!r}")
    if not (0 < center_variance <= 1 and 0 < size_variance <= 1):
        raise ValueError("variances must be in (0, 1]")
    score_kind = SCORE_LOGIT2 if logits else SCORE_PROB
    box_kind = BOX_CORNERS if decoded else BOX_DELTAS
    if logits and num_classes != 2:
        raise ValueError("logits=True needs exactly two score columns")
    sq = bq = None
    tables: dict[str, np.ndarray] = {}
    if kind == INPUT_S8:
        if score_quant is None or box_quant is None:
            raise ValueError("int8 inputs need quantization=((score_scale, score_zp), (box_scale, box_zp))")
        sq = check_quantization(score_quant, "score")
        bq = check_quantization(box_quant, "box")
        s, zp = sq
        if score_kind == SCORE_PROB:
            tables["score_lut"] = to_fixed(s * (_S8 - zp), Q_SCORE)
        else:
            tables["score_lut"] = to_fixed(sigmoid(s * _D8), Q_SCORE)
        s, zp = bq
        v = s * (_S8 - zp)
        if decoded:
            tables["box_lut"] = to_fixed(v, Q_BOX, -(1 << 30), 1 << 30)
        else:
            tables["center_lut"] = to_fixed(center_variance * v, Q_BOX, -(1 << 30), 1 << 30)
            with np.errstate(over="ignore"):
                tables["size_lut"] = to_fixed(np.exp(size_variance * v), Q_BOX, 0, INT32_MAX)
    prior_q = None
    if not decoded:
        if priors is None or len(priors) != num_anchors:
            raise ValueError("raw-head decode needs one prior per anchor")
        prior_q = np.ascontiguousarray(to_fixed(priors, Q_BOX))
    return FixedConfig(
        num_anchors=int(num_anchors),
        num_classes=int(num_classes),
        class_index=int(class_index),
        input_kind=kind,
        score_kind=score_kind,
        box_kind=box_kind,
        nms_kind=NMS_HARD,
        clip=bool(clip),
        score_bound=score_bound(kind, score_kind, t, sq),
        candidate_limit=limit,
        max_detections=max_det,
        iou_q16=min(int(to_fixed(iou, Q_IOU)), (1 << Q_IOU) - 1),
        iou_eps_q40=int(np.floor(eps * 2.0**40 + 0.5)),
        var_center_q30=int(to_fixed(center_variance, Q_VAR)),
        var_size_q30=int(to_fixed(size_variance, Q_VAR)),
        priors=prior_q,
        **{k: np.ascontiguousarray(v) for k, v in tables.items()},
    )
