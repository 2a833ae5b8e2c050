"""Host-side preparation of fixed-point configs: the only place floats become fixed point.

Every conversion rounds half up (``floor(x * 2^q + 0.5)``) and is done once per config in float64. Thresholds
become exact integer bounds on the key the C compares (see csrc/ultrapost.h), found by evaluating the reference's
own float64 rule on every representable key where the key domain is small (int8), and by exact algebra otherwise.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

from ultrapost.core import exact
from ultrapost.core.checks import check_count, check_real, check_zero_point
from ultrapost.core.config import (
    BOX_CORNERS,
    BOX_DELTAS,
    BOX_LINEAR,
    INPUT_F32,
    INPUT_I32,
    INPUT_S8,
    MAX_ANCHORS,
    MAX_INV_SIGMA_Q16,
    MAX_KEYPOINTS,
    MAX_MERGE_CANDIDATES,
    NMS_BLEND,
    NMS_KINDS,
    NMS_SOFT_GAUSSIAN,
    NMS_SOFT_LINEAR,
    NMS_WEIGHTED,
    ONE_SCORE,
    Q_BOX,
    Q_SCORE,
    Q_VAR,
    SCORE_LOGIT1,
    SCORE_LOGIT2,
    SCORE_PROB,
    FixedConfig,
)

# Output rows per image (max_detections x classes) at most: as many as the core takes anchors.
MAX_OUTPUT_ROWS = MAX_ANCHORS
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
_S8 = np.arange(-128, 128, dtype=np.float64)
_D8 = np.arange(-255, 256, dtype=np.float64)


def to_fixed(x, q: int, lo: int = INT32_MIN, hi: int = INT32_MAX) -> np.ndarray:
    """round(x * 2^q) half up, saturated to [lo, hi], as int32."""
    v = np.floor(np.asarray(x, dtype=np.float64) * float(2**q) + 0.5)
    return np.clip(v, lo, hi).astype(np.int32)


def check_quantization(q, what: str) -> tuple[float, int]:
    """(scale, zero_point) of an int8 tensor (a tuple or a list): scale finite and > 0, zero point an integer in
    [-128, 127] (never truncated: -127.6 is an error, not -127)."""
    try:
        scale, zero_point = q
    except (TypeError, ValueError):
        raise TypeError(f"{what} quantization must be a (scale, zero_point) pair, got {q!r}") from None
    scale = check_real(scale, f"{what} quantization scale")
    if scale <= 0:
        raise ValueError(f"{what} quantization scale must be a positive finite number, got {scale!r}")
    return scale, check_zero_point(zero_point, what)


def check_unit_interval(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not 0.0 <= v <= 1.0:  # NaN fails too
        raise ValueError(f"{name} must be in [0, 1], got {v!r}")
    return v


def check_pixel_size(value) -> tuple[float, float] | None:
    """None, or the (width, height) pixel grid of "+1 pixel" areas: two positive finite numbers."""
    if value is None:
        return None
    try:
        w, h = value
    except (TypeError, ValueError):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise TypeError(f"pixel_size must be a (width, height) pair or None, got {value!r}") from None
        raise ValueError(f"pixel_size must be a (width, height) pair, got {value!r}") from None
    try:
        w, h = float(w), float(h)
    except (TypeError, ValueError):
        raise TypeError(f"pixel_size must hold two numbers, got {value!r}") from None
    if not (math.isfinite(w) and math.isfinite(h) and w >= 1 and h >= 1):  # a pad is 1 / size <= 1.0
        raise ValueError(f"pixel_size must be at least 1 pixel on each axis, got {value!r}")
    return (w, h)


def sigmoid(x):
    """float64 logistic without overflow warnings."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _bound_by_search(keys: np.ndarray, passes) -> int:
    """Largest key whose level fails the test, for levels increasing with the keys: a bisection over the keys
    (passes(i) tells whether key i passes), so that an exact test costs 9 comparisons, not one per level."""
    lo, hi = 0, len(keys)  # the first passing key lies in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid + 1
    return int(keys[lo]) - 1 if lo < len(keys) else int(keys[-1])


def score_bound(
    input_kind: int,
    score_kind: int,
    threshold: float,
    quant: tuple[float, int] | None,
    inclusive: bool = False,
    logit_clip: float = 0.0,
) -> int:
    """The exact integer bound: a candidate passes when key > bound, i.e. when its score > threshold (``>=`` if
    inclusive: ``key >= b`` is ``key > b - 1``), decided as exact arithmetic on the given value would (see
    ultrapost.core.exact): int8 levels ``scale * (q - zp)`` as fractions, their sigmoids against ln(t / (1 - t));
    float32 probabilities and single float32 logits by their order-preserving key; int32 values as integers (Q20
    logits exactly on that Q20 value). Two float32 logits: the Q20 bound here only rules rows out early (the NEON
    pre-test); the exact test reads the words of ``exact.f32_logit2_words`` (the config's score_lut)."""
    if input_kind == INPUT_S8:
        scale, zp = quant
        keys = (_D8 if score_kind == SCORE_LOGIT2 else _S8).astype(np.int64)
        zero = 0 if score_kind == SCORE_LOGIT2 else zp

        def value(i):  # the exact level of key i (a logit difference for LOGIT2)
            v = exact.level_values(scale, zero, [keys[i]])
            return exact.clipped(v, logit_clip)[0] if score_kind == SCORE_LOGIT1 else v[0]

        if score_kind == SCORE_PROB:
            return _bound_by_search(keys, lambda i: value(i) >= threshold if inclusive else value(i) > threshold)
        return _bound_by_search(keys, lambda i: bool(exact.sigmoid_passes([value(i)], threshold, inclusive)[0]))
    if input_kind == INPUT_F32 and score_kind == SCORE_LOGIT1:
        return exact.f32_logit_bound(threshold, inclusive, logit_clip)
    if score_kind == SCORE_PROB:
        if input_kind == INPUT_F32:
            return exact.f32_prob_bound(threshold, inclusive)
        x = Fraction(threshold) * ONE_SCORE
        # p > x  <=>  p > floor(x);  p >= x  <=>  p > ceil(x) - 1
        return math.ceil(x) - 1 if inclusive else math.floor(x)
    return exact.q20_logit_bound(threshold, inclusive)


def _kind_code(value, table: dict, name: str) -> int:
    if value not in table:
        raise ValueError(f"{name} must be one of {tuple(table)}, got {value!r}")
    return table[value]


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
    nms: str = "hard",
    inclusive: bool = False,
    pixel_size=None,
    soft_sigma: float = 0.5,
    soft_threshold: float | None = None,
    score_kind: str | None = None,
    box_kind: str | None = None,
    logit_clip: float = 0.0,
    num_keypoints: int = 0,
    keypoint_quant=None,
    labels=None,
) -> FixedConfig:
    """A checked FixedConfig for one input kind ("s8", "i32" or "f32") of an anchor-based head.

    nms: "hard", "blend", "weighted", "soft-linear" or "soft-gaussian" (``soft_sigma``; soft-NMS stops below
    ``soft_threshold``, the score threshold by default). ``inclusive``: the score test is ``>=``. ``pixel_size``
    (W, H): IoU with "+1 pixel" areas on that pixel grid. score_kind "prob" | "logit2" | "logit1" (default from
    ``logits``); box_kind "deltas" | "corners" | "linear" (default from ``decoded``); ``logit_clip`` clamps
    LOGIT1 logits. ``num_keypoints`` P with ``keypoint_quant`` for int8. ``labels``: per-class score thresholds
    for the columns class_index, class_index + 1, ... (multi-class; ``score_threshold`` is then unused).
    """
    kind = {"s8": INPUT_S8, "i32": INPUT_I32, "f32": INPUT_F32}[input_kind]
    t = check_unit_interval(score_threshold, "score_threshold")
    iou = check_unit_interval(iou_threshold, "iou_threshold")
    if num_anchors <= 0:
        raise ValueError("the config has zero anchors")
    if num_anchors > MAX_ANCHORS:
        raise ValueError(f"the config has {num_anchors:,} anchors; the core takes at most {MAX_ANCHORS:,}")
    limit = check_count(candidate_limit, "candidate_limit", allow_none=True)
    limit = num_anchors if limit is None else min(limit, num_anchors)
    max_det = check_count(max_detections, "max_detections", allow_none=True)
    max_det = limit if max_det is None else min(max_det, limit)
    eps = check_real(eps, "eps")
    if not 0 <= eps <= 1:
        raise ValueError(f"eps must be in [0, 1], got {eps!r}")
    center_variance = check_real(center_variance, "center_variance")
    size_variance = check_real(size_variance, "size_variance")
    if not (0 < center_variance <= 1 and 0 < size_variance <= 1):
        raise ValueError("variances (and linear decode scales) must be in (0, 1]")
    nms_kind = _kind_code(nms, NMS_KINDS, "nms")
    if score_kind is None:
        score_kind = SCORE_LOGIT2 if logits else SCORE_PROB
    else:
        score_kind = _kind_code(
            score_kind, {"prob": SCORE_PROB, "logit2": SCORE_LOGIT2, "logit1": SCORE_LOGIT1}, "score_kind"
        )
    if box_kind is None:
        box_kind = BOX_CORNERS if decoded else BOX_DELTAS
    else:
        box_kind = _kind_code(
            box_kind, {"deltas": BOX_DELTAS, "corners": BOX_CORNERS, "linear": BOX_LINEAR}, "box_kind"
        )
    decoded = box_kind == BOX_CORNERS
    if score_kind == SCORE_LOGIT2 and num_classes != 2:
        raise ValueError("logits=True needs exactly two score columns")
    if nms_kind in (NMS_BLEND, NMS_WEIGHTED):
        limit = min(limit, MAX_MERGE_CANDIDATES)  # the merging kinds' documented cap (overflow bound)
        max_det = min(max_det, limit)
    if not (math.isfinite(logit_clip) and 0 <= logit_clip <= 1000):
        raise ValueError(f"logit_clip must be in [0, 1000], got {logit_clip!r}")
    inv_sigma = 0
    if nms_kind == NMS_SOFT_GAUSSIAN:
        try:
            sigma = float(soft_sigma)
        except (TypeError, ValueError):
            raise TypeError(f"soft_sigma must be a number, got {soft_sigma!r}") from None
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"soft_sigma must be > 0, got {soft_sigma!r}")
        inv_sigma = int(np.floor(65536.0 / sigma + 0.5))
        if not 1 <= inv_sigma <= MAX_INV_SIGMA_Q16:
            raise ValueError(f"soft_sigma must be in [1/256, 65536], got {sigma!r}")
    soft_min = 0
    if nms_kind in (NMS_SOFT_LINEAR, NMS_SOFT_GAUSSIAN):
        st = t if soft_threshold is None else float(soft_threshold)
        if not (math.isfinite(st) and 0 <= st <= 1):
            raise ValueError(f"soft_threshold must be in [0, 1], got {soft_threshold!r}")
        soft_min = int(math.floor(st * ONE_SCORE))  # kept while score_q30 > floor(t * 2^30), i.e. score > t
    pad_x = pad_y = 0
    pixel_size = check_pixel_size(pixel_size)
    if pixel_size is not None:
        pw, ph = pixel_size
        pad_x, pad_y = int(to_fixed(1.0 / pw, Q_BOX)), int(to_fixed(1.0 / ph, Q_BOX))
    num_keypoints = int(num_keypoints)
    if not 0 <= num_keypoints <= MAX_KEYPOINTS:
        raise ValueError(f"num_keypoints must be in [0, {MAX_KEYPOINTS}], got {num_keypoints}")
    if num_keypoints and decoded:
        raise ValueError("keypoints are decoded against anchors: they need raw (not decoded) boxes")
    label_thresholds = None
    if labels is not None:
        label_thresholds = [check_unit_interval(v, "class score_threshold") for v in labels]
        if not label_thresholds or class_index + len(label_thresholds) > num_classes:
            raise ValueError(
                f"{len(label_thresholds)} class thresholds do not fit {num_classes} score columns "
                f"from column {class_index}"
            )
        if score_kind == SCORE_LOGIT2:
            raise ValueError("multi-class scores must be probabilities or per-class logits")
        rows = max_det * len(label_thresholds)
        if rows > MAX_OUTPUT_ROWS:
            raise ValueError(
                f"max_detections ({max_det:,}) x {len(label_thresholds):,} classes = {rows:,} output "
                f"rows per image, more than {MAX_OUTPUT_ROWS:,}: pass a smaller max_detections"
            )
    sq = bq = None
    tables: dict[str, np.ndarray] = {}
    if kind == INPUT_S8:
        if score_quant is None or box_quant is None:
            raise ValueError("int8 inputs need quantization=((score_scale, score_zp), (box_scale, box_zp))")
        sq = check_quantization(score_quant, "score")
        bq = check_quantization(box_quant, "box")
        s, zp = sq
        if score_kind == SCORE_PROB:
            levels = s * (_S8 - zp)
            if levels.max() >= 2.0 or levels.min() < -2.0:  # Q30 int32 holds [-2, 2): the table would saturate
                raise ValueError(
                    f"score quantization {sq} maps int8 levels to probabilities from {levels.min():g} "
                    f"to {levels.max():g}; the fixed-point score holds [-2, 2)"
                )
            tables["score_lut"] = to_fixed(levels, Q_SCORE)
        elif score_kind == SCORE_LOGIT1:
            v = s * (_S8 - zp)
            tables["score_lut"] = to_fixed(sigmoid(np.clip(v, -logit_clip, logit_clip) if logit_clip else v), Q_SCORE)
        else:
            tables["score_lut"] = to_fixed(sigmoid(s * _D8), Q_SCORE)
        s, zp = bq
        v = s * (_S8 - zp)
        if decoded:
            tables["box_lut"] = to_fixed(v, Q_BOX, -(1 << 30), 1 << 30)
        elif box_kind == BOX_LINEAR:
            tables["center_lut"] = to_fixed(center_variance * v, Q_BOX, -(1 << 30), 1 << 30)
            tables["size_lut"] = to_fixed(size_variance * v, Q_BOX, -(1 << 30), 1 << 30)
        else:
            tables["center_lut"] = to_fixed(center_variance * v, Q_BOX, -(1 << 30), 1 << 30)
            with np.errstate(over="ignore"):
                tables["size_lut"] = to_fixed(np.exp(size_variance * v), Q_BOX, 0, INT32_MAX)
        if num_keypoints:
            ks, kz = bq if keypoint_quant is None else check_quantization(keypoint_quant, "keypoint")
            tables["keypoint_lut"] = to_fixed(center_variance * ks * (_S8 - kz), Q_BOX, -(1 << 30), 1 << 30)
    if kind == INPUT_F32 and score_kind == SCORE_LOGIT2:  # the exact two-logit test (up_host.h)
        tables["score_lut"] = exact.f32_logit2_words(t, inclusive)
    iou_exact = exact.iou_threshold(iou)
    # one exact bound per distinct class threshold (a bound costs a few exact comparisons; classes may be many)
    bound_of = {lt: score_bound(kind, score_kind, lt, sq, inclusive, logit_clip) for lt in set(label_thresholds or ())}
    prior_q = None
    if not decoded:
        if priors is None or len(priors) != num_anchors:
            raise ValueError(
                f"raw-head decode needs one anchor per row: {0 if priors is None else len(priors)} "
                f"anchors for {num_anchors} rows"
            )
        prior_q = np.ascontiguousarray(to_fixed(priors, Q_BOX))
    return FixedConfig(
        num_anchors=int(num_anchors),
        num_classes=int(num_classes),
        class_index=int(class_index),
        input_kind=kind,
        score_kind=score_kind,
        box_kind=box_kind,
        nms_kind=nms_kind,
        clip=bool(clip),
        score_bound=score_bound(kind, score_kind, t, sq, inclusive, logit_clip),
        candidate_limit=limit,
        max_detections=max_det,
        iou_q16=iou_exact[0],
        iou_eps_q40=int(np.floor(eps * 2.0**40 + 0.5)),
        var_center_q30=int(to_fixed(center_variance, Q_VAR)),
        var_size_q30=int(to_fixed(size_variance, Q_VAR)),
        priors=prior_q,
        pad_x_q20=pad_x,
        pad_y_q20=pad_y,
        logit_clip_q20=int(to_fixed(logit_clip, Q_BOX)),
        soft_min_q30=soft_min,
        soft_inv_sigma_q16=inv_sigma,
        num_keypoints=num_keypoints,
        num_labels=0 if label_thresholds is None else len(label_thresholds),
        label_bounds=None
        if label_thresholds is None
        else np.array([bound_of[lt] for lt in label_thresholds], dtype=np.int32),
        iou_num=iou_exact[1],
        iou_shift=iou_exact[2],
        **{k: np.ascontiguousarray(v) for k, v in tables.items()},
    )
