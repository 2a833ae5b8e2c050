# Binding of up_boxes_nms (csrc/up_boxes.c), included into _core.pyx: checks nothing the host preparation
# (ultrapost/core/boxes.py) has not checked, except what the C reports; the C call runs without the GIL.
from libc.math cimport frexp, isfinite, ldexp, nearbyint
from libc.stdint cimport INT32_MIN, INT64_MAX, INT64_MIN

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


cdef void _grid(const double *cols, Py_ssize_t n, int fmt, bint any_order, int32_t *out, int *g,
                Py_ssize_t *lost_at, Py_ssize_t *bad_at) noexcept nogil:
    """boxes_grid's work on n rows of 4 doubles: the corners into out, the grid exponent into g, the first box that
    lost a positive side into lost_at and the first box holding NaN or Inf into bad_at (-1: none; out is then unset)."""
    cdef Py_ssize_t i
    cdef int s = 0, e, ok
    cdef double bound = 0, b, v0, v1, v2, v3, mul, w, h
    cdef Py_ssize_t lost = -1
    cdef int64_t c0, c1, c2, c3, g0, g1, g2, g3, lim = 1 << 30, m
    cdef bint ldx
    cdef const double *r
    bad_at[0] = -1
    for i in range(n):
        r = cols + 4 * i
        v0, v1, v2, v3 = _absd(r[0]), _absd(r[1]), _absd(r[2]), _absd(r[3])
        if not (isfinite(v0) and isfinite(v1) and isfinite(v2) and isfinite(v3)):
            bad_at[0] = i
            return
        if fmt == 0 or fmt == 3:
            b = _maxd(_maxd(v0, v1), _maxd(v2, v3))
        elif fmt == 1:
            b = _maxd(v0 + v2, v1 + v3)
        else:
            b = _maxd(2 * v0 + v2, 2 * v1 + v3)
        if b > bound:
            bound = b
    if bound > 0:
        frexp(bound, &e)
        s = 30 - e
    for _attempt in range(4):
        ldx = not (-1000 < s < 1000)
        mul = 0 if ldx else ldexp(1.0, s)
        ok = 1
        m = 0
        for i in range(n):
            r = cols + 4 * i
            if fmt == 3:
                v0, v1, v2, v3 = r[1], r[0], r[3], r[2]
            else:
                v0, v1, v2, v3 = r[0], r[1], r[2], r[3]
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
            out[4 * i] = <int32_t>c0
            out[4 * i + 1] = <int32_t>c1
            out[4 * i + 2] = <int32_t>c2
            out[4 * i + 3] = <int32_t>c3
        if ok:
            break
        s -= 1
        lost = -1
    g[0] = s + (1 if fmt == 2 else 0)
    lost_at[0] = lost


def boxes_grid(double[:, ::1] cols, int fmt, bint any_order):
    """The host's float64 -> grid conversion of ultrapost.core.boxes._corners and _check_sides in one pass per step:
    fmt 0 xyxy, 1 xywh, 2 cxcywh, 3 yxyx. Returns (corners int32 [N, 4], g, the first box whose positive side
    became 0 or negative on the grid or -1); the same integers as the numpy path."""
    cdef Py_ssize_t n = cols.shape[0], bad, lost = -1
    cdef int g = 0, k
    cdef int32_t[:, ::1] out = np.empty((n, 4), dtype=np.int32)
    if n == 0:
        return np.asarray(out), 0, -1
    with nogil:
        _grid(&cols[0, 0], n, fmt, any_order, &out[0, 0], &g, &lost, &bad)
    if bad >= 0:
        for k in range(4):
            if not isfinite(cols[bad, k]):
                raise ValueError(f"boxes must be finite, got {cols[bad, k]} at ({bad}, {k})")
    return np.asarray(out), g, lost


cdef inline int64_t _f64_key(double v) noexcept nogil:
    cdef int64_t b
    memcpy(&b, &v, 8)
    return -(b & INT64_MAX) if b < 0 else b


def nms_plain(boxes, scores, iou_threshold, score_threshold):
    """ultrapost.nms's common case in one compiled call: hard NMS of [N, 4] xyxy boxes and [N] scores, float32 or
    float64 arrays (aligned, native, C-contiguous), a float or int iou_threshold >= 0 and score_threshold None or a
    float: int64 indices in keep order -- the integers ultrapost.core.boxes.prepare and boxes_nms make and decide.
    None when the call needs the general path (other inputs, and every error, which it names)."""
    cdef cnp.ndarray b, s
    if not (cnp.PyArray_CheckExact(boxes) and cnp.PyArray_CheckExact(scores)):
        return None
    if type(iou_threshold) is not float and type(iou_threshold) is not int:
        return None
    if score_threshold is not None and type(score_threshold) is not float and type(score_threshold) is not int:
        return None
    b, s = <cnp.ndarray>boxes, <cnp.ndarray>scores
    cdef int bt = cnp.PyArray_TYPE(b), st = cnp.PyArray_TYPE(s)
    if (bt != cnp.NPY_FLOAT32 and bt != cnp.NPY_FLOAT64) or (st != cnp.NPY_FLOAT32 and st != cnp.NPY_FLOAT64):
        return None
    if cnp.PyArray_NDIM(b) != 2 or cnp.PyArray_NDIM(s) != 1 or not cnp.PyArray_ISCARRAY_RO(b):
        return None
    if not cnp.PyArray_ISCARRAY_RO(s) or not cnp.PyArray_ISNOTSWAPPED(b) or not cnp.PyArray_ISNOTSWAPPED(s):
        return None
    cdef Py_ssize_t n = cnp.PyArray_DIMS(b)[0], i, k
    if cnp.PyArray_DIMS(b)[1] != 4 or cnp.PyArray_DIMS(s)[0] != n or n == 0 or n > (1 << 26):  # boxes.MAX_BOXES
        return None
    cdef double t = iou_threshold
    if not (isfinite(t) and t >= 0):
        return None
    cdef uint64_t num = 1  # t = num / 2^sh exactly (t >= 1 decides like 1), as boxes._threshold_fraction
    cdef int32_t sh = 0
    if t < 1.0:
        fr = float(t).as_integer_ratio()
        num, sh = fr[0], fr[1].bit_length() - 1
    cdef up_boxes_config_t c
    c.key_bound = INT64_MIN
    cdef double stv
    if score_threshold is not None:
        stv = score_threshold
        if not isfinite(stv):
            return None
        c.key_bound = _f64_key(stv)
    c.count = <int32_t>n
    c.nms_kind = 0
    c.flags = 0
    c.candidate_limit = 0
    c.max_output = <int32_t>n
    c.iou_steps = 1
    c.iou_num = &num
    c.iou_shift = &sh
    c.value_bound = INT32_MIN
    c.value_q = 30
    c.soft_inv_sigma_q16 = 0
    cdef size_t size = up_boxes_scratch_size(&c)
    if size == 0:
        return None
    # one block: float64 boxes (when given float32), corners, keys, indices, then the C's scratch (8-byte aligned)
    cdef size_t head = (<size_t>n * (32 + 16 + 8 + 4) + 63) & ~(<size_t>63)
    cdef char *blk = <char *>PyMem_Malloc(head + size)
    if blk == NULL:
        raise MemoryError("scratch")
    cdef double *cols = <double *>blk
    cdef int32_t *corners = <int32_t *>(blk + <size_t>n * 32)
    cdef int64_t *keys = <int64_t *>(blk + <size_t>n * 48)
    cdef int32_t *idx = <int32_t *>(blk + <size_t>n * 56)
    cdef const float *bf = <const float *>cnp.PyArray_DATA(b)
    cdef const float *sf = <const float *>cnp.PyArray_DATA(s)
    cdef const double *sd = <const double *>cnp.PyArray_DATA(s)
    cdef int g = 0
    cdef Py_ssize_t lost = -1, bad = -1
    cdef int32_t status = 0
    cdef up_boxes_input_t inp
    cdef up_boxes_output_t out
    cdef double v
    if bt == cnp.NPY_FLOAT64:
        cols = <double *>cnp.PyArray_DATA(b)
    with nogil:
        if bt == cnp.NPY_FLOAT32:
            for i in range(4 * n):
                cols[i] = bf[i]
        _grid(cols, n, 0, False, corners, &g, &lost, &bad)
        for i in range(n):
            v = sf[i] if st == cnp.NPY_FLOAT32 else sd[i]
            if not isfinite(v):
                bad = i
            keys[i] = _f64_key(v)
        if bad < 0 and lost < 0:
            inp.boxes = corners
            inp.keys = keys
            inp.values = NULL
            inp.classes = NULL
            out.indices = idx
            out.values = NULL
            out.boxes = NULL
            out.capacity = <int32_t>n
            out.count = 0
            status = up_boxes_nms(&c, &inp, blk + head, size, &out)
    if bad >= 0 or lost >= 0 or status != 0:
        PyMem_Free(blk)
        return None
    k = out.count
    cdef cnp.npy_intp dims = k
    cdef cnp.ndarray res = cnp.PyArray_EMPTY(1, &dims, cnp.NPY_INT64, 0)
    cdef int64_t *rp = <int64_t *>cnp.PyArray_DATA(res)
    for i in range(k):
        rp[i] = idx[i]
    PyMem_Free(blk)
    return res


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
