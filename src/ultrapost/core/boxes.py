"""The host side of ``ultrapost.nms`` (csrc/up_boxes.c): inputs checked and made into the integers the C compares.

The host turns each call's floats into the integers the C compares, exactly where it can:

- boxes: corners on one grid 2^-s chosen per call (the largest s with every corner within 2^30 on the grid), so
  integer and float32 coordinates whose low bits lie on that grid are exact; others are rounded to the nearest grid
  point (within 2^-30 of the largest |value| for xyxy, 2^-27 for xywh and cxcywh, whose corners are sums); a box
  whose positive side would round to 0 is refused.
- scores: int64 keys that order like the float64 values (its bits, sign-magnitude turned into two's complement),
  so the score test and the order are those of the given values for any threshold, logits included.
- IoU threshold: the float64 t is num / 2^shift exactly; the C decides IoU > t in 128-bit integers.
- soft, blend and weighted methods also need the scores' arithmetic: values round(s * 2^q) with |value| <= 2^30.
"""

from __future__ import annotations

import math
import operator
import struct
from dataclasses import dataclass

import numpy as np

BOX_FORMATS = ("xyxy", "xywh", "cxcywh", "yxyx")
NMS_KINDS = {"hard": 0, "blend": 1, "weighted": 2, "soft-linear": 3, "soft-gaussian": 4}
ZERO_AREA_OVERLAP = 1
LINEAR_SCAN = 2
COORD_MAX = 1 << 30
VALUE_MAX = 1 << 30
MAX_BOXES = 1 << 26
MAX_MERGE = 1 << 16
MAX_STEPS = 1 << 16
MAX_INV_SIGMA_Q16 = 1 << 24
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT64_MIN = -(2**63)


@dataclass
class BoxesConfig:
    """The fields of up_boxes_config_t (thresholds as Python int lists)."""

    count: int
    nms_kind: int = 0
    flags: int = 0
    candidate_limit: int = 0
    max_output: int = 0
    key_bound: int = INT64_MIN
    iou_num: tuple = (0,)
    iou_shift: tuple = (0,)
    value_bound: int = INT32_MIN
    value_q: int = 30
    soft_inv_sigma_q16: int = 0


METHODS = tuple(NMS_KINDS)
_F64_INT_MAX = 2**53


def _as_array(x, what: str, ndims: tuple[int, ...]) -> np.ndarray:
    try:
        a = np.asarray(x)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"{what} is not an array: {e}") from None
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{what} must hold floats or integers, got dtype {a.dtype}")
    if a.ndim not in ndims:
        raise ValueError(f"{what} must have {' or '.join(str(n) for n in ndims)} dimensions, got shape {a.shape}")
    return a


def _as_f64(a: np.ndarray, what: str) -> np.ndarray:
    """float64 holding the same values exactly (float16/32 widen exactly; integers up to 2^53)."""
    if a.dtype.kind in "iu":
        if a.size and (int(a.max()) > _F64_INT_MAX or int(a.min()) < -_F64_INT_MAX):
            bad = int(np.argmax(np.abs(a.astype(object)) > _F64_INT_MAX))
            raise ValueError(f"{what} holds {a.reshape(-1)[bad]}, beyond 2^53 in magnitude")
        return a.astype(np.float64)
    f = a.astype(np.float64)
    bad = ~np.isfinite(f)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{what} must be finite, got {f[pos]} at {pos}")
    return f


def _keys(s: np.ndarray) -> np.ndarray:
    """int64 keys ordered like the float64 values (-0.0 and 0.0 share key 0)."""
    b = np.ascontiguousarray(s, dtype=np.float64).view(np.int64)
    return np.where(b < 0, -(b & np.int64(0x7FFFFFFFFFFFFFFF)), b)


def _key(x: float) -> int:
    """The key of one float64 (as _keys)."""
    b = struct.unpack("<q", struct.pack("<d", x))[0]
    return -(b & 0x7FFFFFFFFFFFFFFF) if b < 0 else b


def _threshold_fraction(t: float) -> tuple[int, int]:
    """t in [0, 1] as num / 2^shift exactly (t >= 1 decides like 1: an IoU is never above 1)."""
    if t >= 1.0:
        return 1, 0
    if t == 0.0:
        return 0, 0
    num, den = t.as_integer_ratio()
    return num, den.bit_length() - 1


def _scale_for(m: float, limit: int = 1 << 30) -> int:
    """The largest s with m * 2^s <= limit (m > 0)."""
    _, e = math.frexp(m)  # m = f * 2^e, 0.5 <= f < 1
    return (limit.bit_length() - 1) - e


def _to_grid(x: np.ndarray, s: int) -> np.ndarray:
    """rint(x * 2^s) as int64, |x| * 2^s <= 2^30: a product by a power of two is exact (ldexp only where 2^s is
    not a float64); the float64 -> int32 conversion is numpy's fast one."""
    y = x * np.float64(2.0**s) if -1000 < s < 1000 else np.ldexp(x, s)
    return np.rint(y, out=y).astype(np.int32).astype(np.int64)


def _corners(cols: np.ndarray, box_format: str, any_corner_order: bool):
    """Integer corners [N, 4] and the grid exponent g (corner = value * 2^g), exact where the values allow."""
    if box_format == "yxyx":
        cols = cols[:, [1, 0, 3, 2]]
        box_format = "xyxy"
    n = cols.shape[0]
    if n == 0:
        return np.zeros((0, 4), dtype=np.int32), 0
    if box_format == "xyxy":
        bound = max(float(cols.max()), -float(cols.min()))
    elif box_format == "xywh":
        bound = float(np.max(np.abs(cols[:, :2]) + np.abs(cols[:, 2:])))
    else:  # cxcywh on the half grid: 2 * cx -+ w
        bound = float(np.max(2 * np.abs(cols[:, :2]) + np.abs(cols[:, 2:])))
    s = _scale_for(bound) if bound > 0 else 0
    for _ in range(4):  # the float bound may be off by a rounding: step down until the integers fit
        g = _to_grid(cols, s)
        if box_format == "xyxy":
            c = g
        elif box_format == "xywh":
            c = np.concatenate([g[:, :2], g[:, :2] + g[:, 2:]], axis=1)
        else:
            c = np.concatenate([2 * g[:, :2] - g[:, 2:], 2 * g[:, :2] + g[:, 2:]], axis=1)
        if max(int(c.max()), -int(c.min())) <= COORD_MAX:
            break
        s -= 1
    if any_corner_order:
        c = np.concatenate([np.minimum(c[:, :2], c[:, 2:]), np.maximum(c[:, :2], c[:, 2:])], axis=1)
    return np.ascontiguousarray(c, dtype=np.int32), s + (1 if box_format == "cxcywh" else 0)


def _check_sides(cols: np.ndarray, corners: np.ndarray, box_format: str, any_corner_order: bool) -> None:
    """Refuses a box whose positive side the grid would turn into 0 (its area, hence its IoUs, would change)."""
    if not ((corners[:, 2] <= corners[:, 0]) | (corners[:, 3] <= corners[:, 1])).any():
        return
    if box_format == "yxyx":
        cols = cols[:, [1, 0, 3, 2]]
    if box_format == "xyxy" or box_format == "yxyx":
        side = cols[:, 2:] - cols[:, :2]
        if any_corner_order:
            side = np.abs(side)
    else:
        side = cols[:, 2:]
    lost = (side > 0) & (corners[:, 2:] <= corners[:, :2])
    if lost.any():
        i = int(np.argwhere(lost.any(axis=1))[0][0])
        raise ValueError(
            f"box {i} ({cols[i].tolist()}) is too small to represent beside the largest coordinate "
            f"({float(np.max(np.abs(cols)))}): its sides need a grid finer than 2^-30 of it"
        )


def _from_corners(c: np.ndarray, g: int, box_format: str) -> np.ndarray:
    x = np.ldexp(c.astype(np.float64), -g)
    if box_format in ("xyxy", "yxyx"):
        out = x
    elif box_format == "xywh":
        out = np.concatenate([x[:, :2], x[:, 2:] - x[:, :2]], axis=1)
    else:
        out = np.concatenate([(x[:, :2] + x[:, 2:]) / 2, x[:, 2:] - x[:, :2]], axis=1)
    return out[:, [1, 0, 3, 2]] if box_format == "yxyx" else out


def _eta_schedule(t: float, eta: float) -> list[float]:
    """OpenCV's adaptive threshold: after each kept box, while t > 0.5, t = t * eta in float32."""
    steps = [t]
    if eta >= 1.0:
        return steps
    cur = np.float32(t)
    e = np.float32(eta)
    while cur > 0.5:
        cur = np.float32(cur * e)
        steps.append(float(cur))
        if len(steps) > MAX_STEPS:
            raise ValueError(f"eta={eta} takes more than {MAX_STEPS} steps to bring {t} to 0.5")
    return steps


def _non_negative_int(x, what: str) -> int:
    try:
        v = operator.index(x)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {x!r}") from None
    if v < 0:
        raise ValueError(f"{what} must be >= 0, got {v}")
    return v


def _float_param(x, what: str, *, lo: float | None = None, lo_open: bool = False) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {x!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} must be finite, got {v}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ValueError(f"{what} must be {'>' if lo_open else '>='} {lo}, got {v}")
    return v


def prepare(
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
    fast=False,
):
    """Checks one box set ([N, 4], [N], [N]) and makes the C's inputs: (config, arrays, grid exponents)."""
    if method not in NMS_KINDS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if box_format not in BOX_FORMATS:
        raise ValueError(f"box_format must be one of {', '.join(BOX_FORMATS)}, got {box_format!r}")
    if score_test not in (">", ">="):
        raise ValueError(f"score_test must be '>' or '>=', got {score_test!r}")
    t = _float_param(iou_threshold, "iou_threshold", lo=0.0)
    sig = _float_param(sigma, "sigma", lo=0.0, lo_open=True)
    eta_v = _float_param(eta, "eta", lo=0.0, lo_open=True)
    if eta_v < 1.0 and method != "hard":
        raise ValueError(f"eta < 1 (OpenCV's adaptive threshold) applies to method='hard' only, got {method!r}")
    b = _as_array(boxes, "boxes", (2,))
    b = np.ascontiguousarray(b, dtype=np.float64) if fast and b.dtype.kind == "f" else _as_f64(b, "boxes")
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape [N, 4], got {b.shape}")
    n = b.shape[0]
    if n > MAX_BOXES:
        raise ValueError(f"at most {MAX_BOXES} boxes per call, got {n}")
    s = _as_array(scores, "scores", (1,))
    s = np.ascontiguousarray(s, dtype=np.float64) if fast and s.dtype.kind == "f" else _as_f64(s, "scores")
    if s.shape != (n,):
        raise ValueError(f"scores must have shape [{n}] (one per box), got {s.shape}")
    if score_float32:
        s = s.astype(np.float32).astype(np.float64)
    cls = None
    if classes is not None:
        c = np.asarray(classes)
        if c.dtype.kind not in "iu":
            raise TypeError(f"classes must hold integers, got dtype {c.dtype}")
        if c.shape != (n,):
            raise ValueError(f"classes must have shape [{n}] (one per box), got {c.shape}")
        cls = np.unique(c, return_inverse=True)[1].astype(np.int32).reshape(-1)
    limit = n if max_output is None else _non_negative_int(max_output, "max_output")
    topk = 0 if top_k is None else _non_negative_int(top_k, "top_k")
    if fast:  # the same integers from one Cython pass (ultrapost._core.boxes_grid), checked against this module
        from ultrapost.core._core import boxes_grid

        corners, g, lost = boxes_grid(b, BOX_FORMATS.index(box_format), any_corner_order)
        if lost >= 0:
            _check_sides(b, corners, box_format, any_corner_order)
    else:
        corners, g = _corners(b, box_format, any_corner_order)
        _check_sides(b, corners, box_format, any_corner_order)
    cfg = BoxesConfig(count=n, nms_kind=NMS_KINDS[method], max_output=min(limit, n))
    cfg.flags = ZERO_AREA_OVERLAP if zero_area_overlap else 0
    cfg.candidate_limit = topk if 0 < topk < n else 0
    steps = [_threshold_fraction(x) for x in _eta_schedule(t, eta_v)]
    cfg.iou_num = tuple(x[0] for x in steps)
    cfg.iou_shift = tuple(x[1] for x in steps)
    if fast:
        from ultrapost.core._core import score_keys

        keys = score_keys(s)
    else:
        keys = _keys(s)
    st = None
    if score_threshold is not None:
        st = _float_param(score_threshold, "score_threshold")
        if score_float32:
            st = float(np.float32(st))
        kb = _key(st)
        cfg.key_bound = kb if score_test == ">" else kb - 1
    values = None
    vq = 0
    if method != "hard":
        if method == "weighted" and n and float(s.min()) < 0:
            raise ValueError(f"method='weighted' weights boxes by score: scores must be >= 0, got {float(s.min())}")
        m = float(np.max(np.abs(s))) if n else 0.0
        vq = min(_scale_for(m), 62) if m > 0 else 30
        while True:
            v = np.rint(np.ldexp(s, vq))
            if not n or np.abs(v).max() <= VALUE_MAX:
                break
            vq -= 1
        values = v.astype(np.int32)
        cfg.value_q = vq
        if st is not None:  # v / 2^q > t  <=>  v > floor(t * 2^q);  >= t  <=>  v > ceil(t * 2^q) - 1
            scaled = np.ldexp(st, vq)
            bound = math.floor(scaled) if score_test == ">" else math.ceil(scaled) - 1
            cfg.value_bound = max(INT32_MIN, min(INT32_MAX, bound))
        inv = round(65536 / sig)
        if method == "soft-gaussian" and not 1 <= inv <= MAX_INV_SIGMA_Q16:
            raise ValueError(f"sigma must be within [2^-8, 2^17] for method='soft-gaussian', got {sig}")
        cfg.soft_inv_sigma_q16 = min(max(inv, 1), MAX_INV_SIGMA_Q16)
    return cfg, corners, keys, values, cls, g, vq


def run_c(cfg: BoxesConfig, corners, keys, values=None, classes=None):
    """up_boxes_nms through the binding: (indices int32, values int32 or None, merged boxes int32 or None)."""
    from ultrapost.core._core import boxes_nms

    return boxes_nms(cfg, corners, keys, values, classes)
