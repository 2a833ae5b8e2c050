"""The numpy golden model of csrc/up_yunet.c, function by function, in integer arithmetic only (the names of the C
functions without ``up_``). ``f32_mul_bits`` and ``f32_sqrt_bits`` are IEEE-754 float32 arithmetic done on bit
patterns; tests check them against numpy's own float32 arithmetic as well as against the C.
"""

from __future__ import annotations

import numpy as np

from ultrapost.core.config import INPUT_S8
from ultrapost.core.yunet_config import F32_ONE_BITS, LEVELS, NUM_KPS, Q_PIXEL, STRIDES, YuNetConfig
from ultrapost.golden.f32 import f32_to_fixed
from ultrapost.golden.fixed import exp_q20, rshift_round


def _bitlen(x: np.ndarray) -> np.ndarray:
    """Bits of each x < 2^53 (exact through float64)."""
    return np.where(x > 0, np.frexp(x.astype(np.float64))[1], 0).astype(np.int64)


def _round_even(m: np.ndarray, shift: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = m << np.clip(-shift, 0, 62)
    s = np.clip(shift, 1, 62)
    q = m >> s
    rem = m & ((np.int64(1) << s) - 1)
    half = np.int64(1) << (s - 1)
    q = q + ((rem > half) | ((rem == half) & (q & 1 == 1)))
    return np.where(shift <= 0, left, np.where(shift >= 63, 0, q))


def f32_mul_bits(a, b) -> np.ndarray:
    """up_f32_mul_bits: float32 a * b (bit patterns of values in [0, 1]), round to nearest even."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ea, eb = a >> 23, b >> 23
    ma = np.where(ea > 0, (a & 0x7FFFFF) | 0x800000, a & 0x7FFFFF)
    mb = np.where(eb > 0, (b & 0x7FFFFF) | 0x800000, b & 0x7FFFFF)
    ea, eb = np.maximum(ea, 1), np.maximum(eb, 1)
    p = ma * mb
    n = _bitlen(p)
    biased = ea + eb - 300 + n - 1 + 127
    shift = n - 24
    sub = _round_even(p, shift + 1 - biased)
    m = _round_even(p, shift)
    carry = m == (1 << 24)
    m = np.where(carry, m >> 1, m)
    normal = ((biased + carry) << 23) | (m & 0x7FFFFF)
    return np.where(p == 0, 0, np.where(biased < 1, sub, normal)).astype(np.int64)


def _isqrt(x: np.ndarray) -> np.ndarray:
    """floor(sqrt(x)) for x < 2^50, exact (float64 estimate, then corrected)."""
    x = np.asarray(x, dtype=np.int64)
    r = np.floor(np.sqrt(x.astype(np.float64))).astype(np.int64)
    r = np.where(r * r > x, r - 1, r)
    r = np.where((r + 1) * (r + 1) <= x, r + 1, r)
    return r


def f32_sqrt_bits(a) -> np.ndarray:
    """up_f32_sqrt_bits: float32 sqrt (bit pattern of a value in [0, 1]), correctly rounded."""
    a = np.asarray(a, dtype=np.int64)
    e = a >> 23
    m = np.where(e > 0, (a & 0x7FFFFF) | 0x800000, a & 0x7FFFFF)
    e = np.maximum(e, 1)
    x = e - 150
    odd = (x & 1) == 1
    m = np.where(odd, m << 1, m)
    x = np.where(odd, x - 1, x)
    s2 = (48 - _bitlen(m)) & ~1
    m = m << s2
    x = x - s2
    r = _isqrt(m)
    r = r + (m - r * r > r)
    biased = 150 + x // 2
    carry = r == (1 << 24)
    r = np.where(carry, r >> 1, r)
    out = ((biased + carry) << 23) | (r & 0x7FFFFF)
    return np.where(a == 0, 0, out).astype(np.int64)


def f32_to_q30(a) -> np.ndarray:
    """up_f32_to_q30: Q30 of a float32 value in [0, 1], rounded half up."""
    a = np.asarray(a, dtype=np.int64)
    e = a >> 23
    m = np.where(e > 0, (a & 0x7FFFFF) | 0x800000, a & 0x7FFFFF)
    e = np.maximum(e, 1)
    shift = 120 - e
    s = np.clip(shift, 1, 62)
    rounded = (m + (np.int64(1) << (s - 1))) >> s
    return np.where(shift <= 0, m << np.clip(-shift, 0, 62), np.where(shift > 62, 0, rounded))


def prob_bits(v) -> np.ndarray:
    """up_prob_bits: an F32 probability's float32 bits clamped to [0, 1]; raises for NaN or Inf."""
    v = np.asarray(v, dtype=np.float32).view(np.int32).astype(np.int64) & 0xFFFFFFFF
    if ((v & 0x7FFFFFFF) >= 0x7F800000).any():
        raise ValueError("NaN or Inf in a float input")
    return np.where(v & 0x80000000, 0, np.minimum(v, F32_ONE_BITS))


def products(cfg: YuNetConfig, tensors) -> list[np.ndarray]:
    """up_yunet_product of every point, per level (the smaller factor when it is at or below the bound)."""
    out = []
    for lv in range(LEVELS):
        c = np.asarray(tensors["cls"][lv]).reshape(-1)
        o = np.asarray(tensors["obj"][lv]).reshape(-1)
        if cfg.input_kind == INPUT_S8:
            cb = cfg.cls_lut[lv].astype(np.int64)[c.astype(np.int64) + 128]
            ob = cfg.obj_lut[lv].astype(np.int64)[o.astype(np.int64) + 128]
        else:
            cb, ob = prob_bits(c), prob_bits(o)
        low = np.minimum(cb, ob)
        out.append(np.where(low <= cfg.product_bound, low, f32_mul_bits(cb, ob)))
    return out


def _trunc_shift(x, n: int):
    """trunc(x / 2^n) toward zero, as C's (int) of a float."""
    x = np.asarray(x, dtype=np.int64)
    return np.where(x >= 0, x >> n, -((-x) >> n))


def f32_to_q20(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """up_f32_to_q20 of float32 values: (Q20 int64, whether each is finite and within +-2048)."""
    x = np.asarray(x, dtype=np.float32)
    ok = np.abs(x.view(np.int32).astype(np.int64) & 0x7FFFFFFF) < 0x45000000
    return f32_to_fixed(np.where(ok, x, 0), 20, -(2**31), 2**31 - 1), ok


def boxes(cfg: YuNetConfig, tensors, lv: int, idx: np.ndarray):
    """up_yunet_box for points idx of level lv: Q12 corners [n, 4], OpenCV's integer rectangles [n, 4], and
    whether each point's bbox values could be read (F32: finite, within +-2048)."""
    cols = cfg.pad_w // STRIDES[lv]
    rows = np.asarray(tensors["bbox"][lv]).reshape(-1, 4)[idx]
    ok = np.ones(len(idx), bool)
    if cfg.input_kind == INPUT_S8:
        raw = rows.astype(np.int64)
        v = np.stack(
            [
                cfg.center_lut[lv][raw[:, 0] + 128],
                cfg.center_lut[lv][raw[:, 1] + 128],
                cfg.size_lut[lv][raw[:, 2] + 128],
                cfg.size_lut[lv][raw[:, 3] + 128],
            ],
            1,
        ).astype(np.int64)
    else:
        raw, good = f32_to_q20(rows)
        ok = good.all(1)
        v = np.concatenate([raw[:, :2], exp_q20(raw[:, 2:])], 1)
    s = STRIDES[lv]
    cell = np.stack([idx % cols, idx // cols], 1).astype(np.int64)
    center = (cell * (1 << 20) + v[:, :2]) * s
    size = v[:, 2:] * s
    lo = 2 * center - size
    b = np.concatenate([rshift_round(lo, 21 - Q_PIXEL), rshift_round(lo + 2 * size, 21 - Q_PIXEL)], 1)
    rect = np.concatenate([_trunc_shift(lo, 21), size >> 20], 1)
    return b, rect, ok


def keypoints(cfg: YuNetConfig, tensors, lv: int, idx: np.ndarray):
    """up_yunet_keypoints for points idx of level lv: Q12 pixels [n, 10], and whether each could be read."""
    cols = cfg.pad_w // STRIDES[lv]
    rows = np.asarray(tensors["kps"][lv]).reshape(-1, NUM_KPS)[idx]
    if cfg.input_kind == INPUT_S8:
        v = cfg.kps_lut[lv].astype(np.int64)[rows.astype(np.int64) + 128]
        ok = np.ones(len(idx), bool)
    else:
        v, good = f32_to_q20(rows)
        ok = good.all(1)
    cell = np.empty_like(v)
    cell[:, 0::2] = (idx % cols)[:, None]
    cell[:, 1::2] = (idx // cols)[:, None]
    return rshift_round((cell * (1 << 20) + v) * STRIDES[lv], 20 - Q_PIXEL), ok


def suppresses(cfg: YuNetConfig, a, b) -> bool:
    """up_yunet_suppresses: OpenCV's overlap of two integer rectangles above the threshold, exactly."""
    if cfg.iou_keep_all:
        return False
    area_a, area_b = a[2] * a[3], b[2] * b[3]
    if area_a + area_b <= 0:
        return True
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = iw * ih if iw > 0 and ih > 0 else 0
    lhs = inter << cfg.iou_mid_e
    rhs = cfg.iou_mid_m * (area_a + area_b - inter)
    return lhs > rhs or (lhs == rhs and not cfg.iou_mid_inclusive)


def suppressed_by_any(cfg: YuNetConfig, kept: np.ndarray, b) -> bool:
    """Whether any kept rectangle ([k, 4] int64) suppresses b: :func:`suppresses` over all of them at once. Pairs
    whose I / U is clearly off the midpoint are decided in float64 (both sides within 2^-52 relative of their
    exact values, far inside the 1e-12 margin); the rest exactly in Python integers."""
    if cfg.iou_keep_all or len(kept) == 0:
        return False
    area_a = kept[:, 2] * kept[:, 3]
    area_b = b[2] * b[3]
    iw = np.minimum(kept[:, 0] + kept[:, 2], b[0] + b[2]) - np.maximum(kept[:, 0], b[0])
    ih = np.minimum(kept[:, 1] + kept[:, 3], b[1] + b[3]) - np.maximum(kept[:, 1], b[1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0)
    total = area_a + area_b
    if (total <= 0).any():
        return True
    uni = total - inter
    r = inter / uni
    mid = cfg.iou_mid_m / float(1 << cfg.iou_mid_e)
    if (r > mid * (1 + 1e-12)).any():
        return True
    near = np.flatnonzero(np.abs(r - mid) <= mid * 1e-12)
    return any(suppresses(cfg, kept[j].tolist(), list(b)) for j in near.tolist())


def run(cfg: YuNetConfig, tensors) -> dict[str, np.ndarray]:
    """up_yunet_run on tensors {"cls": [3 arrays], "obj": ..., "bbox": ..., "kps": ...} (int8 or int32)."""
    prods = products(cfg, tensors)
    offsets = np.cumsum([0] + [r * c for r, c in cfg.level_shapes])
    keys, ids, lvs, pts = [], [], [], []
    for lv, p in enumerate(prods):
        idx = np.flatnonzero(p > cfg.product_bound)
        keys.append(f32_sqrt_bits(p[idx]))
        ids.append(offsets[lv] + idx)
        lvs.append(np.full(len(idx), lv))
        pts.append(idx)
    key, gid, lvl, pt = (np.concatenate(x).astype(np.int64) for x in (keys, ids, lvs, pts))
    if len(key) == 1 and cfg.lone_rule:
        order = np.zeros(1, np.int64)
    else:
        strict = np.flatnonzero(key > cfg.nms_bound)
        order = strict[np.lexsort((gid[strict], -key[strict]))][: cfg.top_k]
    bx = np.zeros((len(order), 4), np.int64)
    rc = np.zeros((len(order), 4), np.int64)
    kp = np.zeros((len(order), NUM_KPS), np.int64)
    box_ok = np.ones(len(order), bool)
    kp_ok = np.ones(len(order), bool)
    for lv in range(LEVELS):
        m = lvl[order] == lv
        bx[m], rc[m], box_ok[m] = boxes(cfg, tensors, lv, pt[order][m])
        kp[m], kp_ok[m] = keypoints(cfg, tensors, lv, pt[order][m])
    lone = len(key) == 1 and cfg.lone_rule
    kept: list[int] = []
    for i in range(len(order)):
        if len(kept) >= cfg.max_detections:
            break
        if not box_ok[i]:
            raise ValueError("a decoded bbox value is NaN, Inf or beyond +-2048")
        if lone or not suppressed_by_any(cfg, rc[kept], rc[i]):
            if not kp_ok[i]:
                raise ValueError("a decoded kps value is NaN, Inf or beyond +-2048")
            kept.append(i)
    sel = order[kept]
    kp = kp[kept]
    return {
        "boxes": bx[kept].astype(np.int32).reshape(-1, 4),
        "scores": f32_to_q30(key[sel]).astype(np.int32),
        "anchors": gid[sel].astype(np.int32),
        "keypoints": kp.astype(np.int32).reshape(-1, NUM_KPS),
    }
