# Binding of up_boxes_nms (csrc/up_boxes.c), included into _core.pyx: checks nothing the host preparation
# (ultrapost/core/boxes.py) has not checked, except what the C reports; the C call runs without the GIL.
from libc.math cimport frexp, isfinite, ldexp, nearbyint

import threading

_BOXES_STATUS = {
    -1: "a required array is missing",
    -2: "the box NMS config is inconsistent",
    -3: "scratch too small",
    -4: "output capacity too small",
    -7: "too many boxes",
    -8: "a box corner or score value outside its representable range",
}


_boxes_local = threading.local()
_BOXES_KEEP_SCRATCH = 1 << 22  # bytes of scratch kept per thread between calls (small calls skip fresh pages)


def _boxes_scratch(size_t size):
    """Scratch for one call: a per-thread buffer reused up to _BOXES_KEEP_SCRATCH bytes, a fresh one beyond."""
    if size > _BOXES_KEEP_SCRATCH:
        return np.empty(size, dtype=np.uint8)
    buf = getattr(_boxes_local, "buf", None)
    if buf is None or buf.shape[0] < size:
        buf = np.empty(max(size, 1 << 16), dtype=np.uint8)
        _boxes_local.buf = buf
    return buf


def boxes_scratch_size(cfg):
    """Bytes of scratch up_boxes_nms needs for a prepared config (ultrapost.core.boxes.BoxesConfig)."""
    cdef up_boxes_config_t c
    cdef uint64_t[::1] num = np.ascontiguousarray(cfg.iou_num, dtype=np.uint64)
    cdef int32_t[::1] sh = np.ascontiguousarray(cfg.iou_shift, dtype=np.int32)
    _fill_boxes_config(&c, cfg, &num[0], &sh[0], len(num))
    return up_boxes_scratch_size(&c)


cdef void _fill_boxes_config(up_boxes_config_t *c, cfg, const uint64_t *num, const int32_t *sh, int32_t steps):
    c.count = cfg.count
    c.nms_kind = cfg.nms_kind
    c.flags = cfg.flags
    c.candidate_limit = cfg.candidate_limit
    c.max_output = cfg.max_output
    c.key_bound = cfg.key_bound
    c.iou_steps = steps
    c.iou_num = num
    c.iou_shift = sh
    c.value_bound = cfg.value_bound
    c.value_q = cfg.value_q
    c.soft_inv_sigma_q16 = cfg.soft_inv_sigma_q16


def boxes_nms(cfg, corners, keys, values=None, classes=None):
    """up_boxes_nms: (indices int32 [K], values int32 [K] or None, merged boxes int32 [K, 4] or None)."""
    cdef up_boxes_config_t c
    cdef up_boxes_input_t inp
    cdef up_boxes_output_t out
    cdef uint64_t[::1] num = np.ascontiguousarray(cfg.iou_num, dtype=np.uint64)
    cdef int32_t[::1] sh = np.ascontiguousarray(cfg.iou_shift, dtype=np.int32)
    cdef int32_t[:, ::1] bx = np.ascontiguousarray(corners, dtype=np.int32).reshape(-1, 4)
    cdef int64_t[::1] ky = np.ascontiguousarray(keys, dtype=np.int64)
    cdef int32_t[::1] vl
    cdef int32_t[::1] cl
    _fill_boxes_config(&c, cfg, &num[0], &sh[0], len(num))
    n = cfg.count
    if bx.shape[0] != n or ky.shape[0] != n:
        raise ValueError(f"corners and keys must hold {n} rows, got {bx.shape[0]} and {ky.shape[0]}")
    inp.boxes = &bx[0, 0] if n else NULL
    inp.keys = &ky[0] if n else NULL
    inp.values = NULL
    inp.classes = NULL
    kind = cfg.nms_kind
    if values is not None:
        vl = np.ascontiguousarray(values, dtype=np.int32)
        if vl.shape[0] != n:
            raise ValueError(f"values must hold {n} entries, got {vl.shape[0]}")
        inp.values = &vl[0] if n else NULL
    if classes is not None:
        cl = np.ascontiguousarray(classes, dtype=np.int32)
        if cl.shape[0] != n:
            raise ValueError(f"classes must hold {n} entries, got {cl.shape[0]}")
        inp.classes = &cl[0] if n else NULL
    cap = max(min(cfg.max_output, n), 1)
    cdef int32_t[::1] oi = np.empty(cap, dtype=np.int32)
    cdef int32_t[::1] ov = np.empty(cap, dtype=np.int32)
    cdef int32_t[:, ::1] ob = np.empty((cap, 4), dtype=np.int32)
    out.indices = &oi[0]
    out.values = &ov[0] if kind != 0 else NULL
    out.boxes = &ob[0, 0] if kind in (1, 2) else NULL
    out.capacity = cap
    out.count = 0
    size = up_boxes_scratch_size(&c)
    if size == 0:
        raise ValueError(_BOXES_STATUS.get(-2))
    cdef uint8_t[::1] scratch = _boxes_scratch(size)
    cdef int32_t st
    cdef size_t csize = size
    with nogil:
        st = up_boxes_nms(&c, &inp, &scratch[0], csize, &out)
    if st != 0:
        raise ValueError(f"up_boxes_nms: {_BOXES_STATUS.get(st, st)} (status {st})")
    k = out.count
    idx = np.asarray(oi)[:k].copy()
    if kind == 0:
        return idx, None, None
    vals = np.asarray(ov)[:k].copy()
    if kind in (3, 4):
        return idx, vals, None
    return idx, vals, np.asarray(ob)[:k].copy()


cdef inline double _absd(double v) nogil:
    return -v if v < 0 else v


cdef inline double _maxd(double a, double b) nogil:
    return a if a > b else b


cdef inline int64_t _max64(int64_t a, int64_t b) nogil:
    return a if a > b else b


def boxes_grid(double[:, ::1] cols, int fmt, bint any_order):
    """The host's float64 -> grid conversion of ultrapost.core.boxes._corners and _check_sides in one pass per step:
    fmt 0 xyxy, 1 xywh, 2 cxcywh, 3 yxyx. Returns (corners int32 [N, 4], g, the first box whose positive side
    became 0 or negative on the grid or -1); the same integers as the numpy path."""
    cdef Py_ssize_t n = cols.shape[0], i
    cdef int k, s, e, ok
    cdef double bound = 0, b, f, v0, v1, v2, v3, mul, w, h
    cdef Py_ssize_t lost = -1
    cdef int64_t c0, c1, c2, c3, g0, g1, g2, g3, lim = 1 << 30, m
    cdef int32_t[:, ::1] out = np.empty((n, 4), dtype=np.int32)
    cdef bint ldx
    cdef Py_ssize_t bad = -1
    with nogil:
        for i in range(n):
            v0, v1, v2, v3 = _absd(cols[i, 0]), _absd(cols[i, 1]), _absd(cols[i, 2]), _absd(cols[i, 3])
            if not (isfinite(v0) and isfinite(v1) and isfinite(v2) and isfinite(v3)):
                bad = i
                break
            if fmt == 0 or fmt == 3:
                b = _maxd(_maxd(v0, v1), _maxd(v2, v3))
            elif fmt == 1:
                b = _maxd(v0 + v2, v1 + v3)
            else:
                b = _maxd(2 * v0 + v2, 2 * v1 + v3)
            if b > bound:
                bound = b
    if bad >= 0:
        for k in range(4):
            if not isfinite(cols[bad, k]):
                raise ValueError(f"boxes must be finite, got {cols[bad, k]} at ({bad}, {k})")
    if n == 0:
        return np.asarray(out), 0, -1
    s = 0
    if bound > 0:
        frexp(bound, &e)
        s = 30 - e
    for _attempt in range(4):
        ldx = not (-1000 < s < 1000)
        mul = 0 if ldx else ldexp(1.0, s)
        ok = 1
        m = 0
        with nogil:
            for i in range(n):
                if fmt == 3:
                    v0, v1, v2, v3 = cols[i, 1], cols[i, 0], cols[i, 3], cols[i, 2]
                else:
                    v0, v1, v2, v3 = cols[i, 0], cols[i, 1], cols[i, 2], cols[i, 3]
                if ldx:
                    g0, g1, g2, g3 = <int64_t>nearbyint(ldexp(v0, s)), <int64_t>nearbyint(ldexp(v1, s)), \
                        <int64_t>nearbyint(ldexp(v2, s)), <int64_t>nearbyint(ldexp(v3, s))
                else:
                    g0, g1, g2, g3 = <int64_t>nearbyint(v0 * mul), <int64_t>nearbyint(v1 * mul), \
                        <int64_t>nearbyint(v2 * mul), <int64_t>nearbyint(v3 * mul)
                if fmt == 0 or fmt == 3:
                    c0, c1, c2, c3 = g0, g1, g2, g3
                elif fmt == 1:
                    c0, c1, c2, c3 = g0, g1, g0 + g2, g1 + g3
                else:
                    c0, c1, c2, c3 = 2 * g0 - g2, 2 * g1 - g3, 2 * g0 + g2, 2 * g1 + g3
                m = _max64(m, _max64(_max64(c0, -c0), _max64(c1, -c1)))
                m = _max64(m, _max64(_max64(c2, -c2), _max64(c3, -c3)))
                if m > lim:
                    ok = 0
                    break
                if any_order:
                    if c2 < c0:
                        c0, c2 = c2, c0
                    if c3 < c1:
                        c1, c3 = c3, c1
                if lost < 0 and (c2 <= c0 or c3 <= c1):  # the predicate of boxes._check_sides
                    if fmt == 0 or fmt == 3:
                        w, h = v2 - v0, v3 - v1
                        if any_order:
                            w, h = _absd(w), _absd(h)
                    else:
                        w, h = v2, v3
                    if (w > 0 and c2 <= c0) or (h > 0 and c3 <= c1):
                        lost = i
                out[i, 0] = <int32_t>c0
                out[i, 1] = <int32_t>c1
                out[i, 2] = <int32_t>c2
                out[i, 3] = <int32_t>c3
        if ok:
            break
        s -= 1
        lost = -1
    return np.asarray(out), s + (1 if fmt == 2 else 0), lost


def score_keys(double[::1] s, str what="scores"):
    """int64 keys ordered like the float64 values (ultrapost.core.boxes._keys), NaN/Inf refused with the position."""
    cdef Py_ssize_t n = s.shape[0], i
    cdef int64_t[::1] out = np.empty(n, dtype=np.int64)
    cdef int64_t b
    cdef double v
    for i in range(n):
        v = s[i]
        if not isfinite(v):
            raise ValueError(f"{what} must be finite, got {v} at ({i},)")
        memcpy(&b, &v, 8)
        out[i] = -(b & 0x7FFFFFFFFFFFFFFF) if b < 0 else b
    return np.asarray(out)
