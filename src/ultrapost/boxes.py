"""``ultrapost.nms``: exact NMS over any detector's boxes, on the fixed-point C path (csrc/up_boxes.c).

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

import numpy as np

from ultrapost import golden_boxes as gb

BOX_FORMATS = ("xyxy", "xywh", "cxcywh", "yxyx")
METHODS = tuple(gb.NMS_KINDS)
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
        if max(int(c.max()), -int(c.min())) <= gb.COORD_MAX:
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
        if len(steps) > gb.MAX_STEPS:
            raise ValueError(f"eta={eta} takes more than {gb.MAX_STEPS} steps to bring {t} to 0.5")
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


def prepare(boxes, scores, iou_threshold, score_threshold=None, *, classes=None, max_output=None,
            box_format="xyxy", method="hard", sigma=0.5, top_k=None, score_test=">", score_float32=False,
            zero_area_overlap=False, eta=1.0, any_corner_order=False, fast=False):
    """Checks one box set ([N, 4], [N], [N]) and makes the C's inputs: (config, arrays, grid exponents)."""
    if method not in gb.NMS_KINDS:
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
    if n > gb.MAX_BOXES:
        raise ValueError(f"at most {gb.MAX_BOXES} boxes per call, got {n}")
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
        from ultrapost._core import boxes_grid

        corners, g, lost = boxes_grid(b, BOX_FORMATS.index(box_format), any_corner_order)
        if lost >= 0:
            _check_sides(b, corners, box_format, any_corner_order)
    else:
        corners, g = _corners(b, box_format, any_corner_order)
        _check_sides(b, corners, box_format, any_corner_order)
    cfg = gb.BoxesConfig(count=n, nms_kind=gb.NMS_KINDS[method], max_output=min(limit, n))
    cfg.flags = gb.ZERO_AREA_OVERLAP if zero_area_overlap else 0
    cfg.candidate_limit = topk if 0 < topk < n else 0
    steps = [_threshold_fraction(x) for x in _eta_schedule(t, eta_v)]
    cfg.iou_num = tuple(x[0] for x in steps)
    cfg.iou_shift = tuple(x[1] for x in steps)
    if fast:
        from ultrapost._core import score_keys

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
            if not n or np.abs(v).max() <= gb.VALUE_MAX:
                break
            vq -= 1
        values = v.astype(np.int32)
        cfg.value_q = vq
        if st is not None:  # v / 2^q > t  <=>  v > floor(t * 2^q);  >= t  <=>  v > ceil(t * 2^q) - 1
            scaled = np.ldexp(st, vq)
            bound = math.floor(scaled) if score_test == ">" else math.ceil(scaled) - 1
            cfg.value_bound = max(gb.INT32_MIN, min(gb.INT32_MAX, bound))
        inv = round(65536 / sig)
        if method == "soft-gaussian" and not 1 <= inv <= gb.MAX_INV_SIGMA_Q16:
            raise ValueError(f"sigma must be within [2^-8, 2^17] for method='soft-gaussian', got {sig}")
        cfg.soft_inv_sigma_q16 = min(max(inv, 1), gb.MAX_INV_SIGMA_Q16)
    return cfg, corners, keys, values, cls, g, vq


def _run_one(backend, args, kw):
    cfg, corners, keys, values, cls, g, vq = prepare(*args, **kw, fast=backend == "c")
    if backend == "golden":
        idx, val, merged = gb.boxes_nms(cfg, corners, keys, values, cls)
    elif backend == "c":
        from ultrapost._core import boxes_nms as c_boxes_nms

        idx, val, merged = c_boxes_nms(cfg, corners, keys, values, cls)
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


def nms(boxes, scores, iou_threshold, score_threshold=None, *, classes=None, max_output=None, box_format="xyxy",
        method="hard", sigma=0.5, top_k=None, score_test=">", score_float32=False, zero_area_overlap=False,
        eta=1.0, any_corner_order=False, backend="c"):
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
    xywh and cxcywh); a box whose positive side would round to 0 raises ValueError. Soft and merged scores are fixed point (|score| * 2^q <= 2^30).

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
    b = _as_array(boxes, "boxes", (2, 3))
    kw = dict(classes=None, max_output=max_output, box_format=box_format, method=method, sigma=sigma, top_k=top_k,
              score_test=score_test, score_float32=score_float32, zero_area_overlap=zero_area_overlap, eta=eta,
              any_corner_order=any_corner_order)
    if b.ndim == 2:
        kw["classes"] = classes
        return _run_one(backend, (b, scores, iou_threshold, score_threshold), kw)
    s = _as_array(scores, "scores", (2,))
    if s.shape != b.shape[:2]:
        raise ValueError(f"scores must have shape {list(b.shape[:2])} for boxes of shape {list(b.shape)}, got {list(s.shape)}")
    c = None
    if classes is not None:
        c = np.asarray(classes)
        if c.shape != b.shape[:2]:
            raise ValueError(f"classes must have shape {list(b.shape[:2])} for boxes of shape {list(b.shape)}, "
                             f"got {list(c.shape)}")
    out = []
    for i in range(b.shape[0]):
        kw["classes"] = None if c is None else c[i]
        out.append(_run_one(backend, (b[i], s[i], iou_threshold, score_threshold), kw))
    return out
