# Binding of up_boxes_nms (csrc/up_boxes.c), included into _core.pyx: checks nothing the host preparation
# (ultrapost/boxes.py) has not checked, except what the C reports; the C call runs without the GIL.
from libc.stdint cimport uint64_t

_BOXES_STATUS = {
    -1: "a required array is missing",
    -2: "the box NMS config is inconsistent",
    -3: "scratch too small",
    -4: "output capacity too small",
    -7: "too many boxes",
    -8: "a box corner or score value outside its representable range",
}


def boxes_scratch_size(cfg):
    """Bytes of scratch up_boxes_nms needs for a prepared config (ultrapost.golden_boxes.BoxesConfig)."""
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
        raise ValueError(_BOXES_STATUS[-2])
    cdef uint8_t[::1] scratch = np.empty(size, dtype=np.uint8)
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
