# The plain path, included into _core.pyx: tensors exactly as models return them (aligned, native, C-contiguous, the
# config's dtype; one image [N, C] / [1, N, C] or a batch [B, N, C]) go from a family's postprocess to C and back in
# one call, without a Python frame. Anything else -- conversions, and errors the general path names after the
# caller's tensor -- returns None, and the family's general path takes the call.

cdef enum:
    LAYOUT_SEPARATE = 0      # scores [.., N, C], boxes [.., N, 4] (+ 2P keypoint values, or a keypoints tensor)
    LAYOUT_SCORES_FIRST = 1  # one tensor [.., N, C + 4]: scores, then the box (NXP ultraslim)
    LAYOUT_BOX_FIRST = 2     # one tensor [.., N, 4 + C + 2P]: box, scores, keypoints (packed RetinaFace)


cdef Py_ssize_t _plain_images(Core core, object x, Py_ssize_t cols):
    """Images in x when it is a plain [N, cols] (0: one image, 2-D) or [B, N, cols] (B >= 1) array of the core's
    dtype, aligned, native and C-contiguous; -1 when it is not."""
    cdef cnp.ndarray a
    if not cnp.PyArray_CheckExact(x):
        return -1
    a = <cnp.ndarray>x
    if cnp.PyArray_DESCR(a) is not cnp.PyArray_DESCR(core._proto) and a.dtype != core.dtype:
        return -1
    if not cnp.PyArray_ISCARRAY_RO(a):
        return -1
    cdef cnp.npy_intp *d = cnp.PyArray_DIMS(a)
    cdef int nd = cnp.PyArray_NDIM(a)
    if nd == 3 and d[0] >= 1 and d[1] == core.cfg.num_anchors and d[2] == cols:
        return d[0]
    if nd == 2 and d[0] == core.cfg.num_anchors and d[1] == cols:
        return 0
    return -1


cdef Detections _plain_detections(const int32_t *o, Py_ssize_t k, Py_ssize_t m, int nkp):
    """Detections of one image's C outputs (boxes [m, 4], scores [m], anchors [m], keypoints [m, nkp] from o), k
    rows: the integers in one buffer until asked for, the landmarks as from_fixed makes them."""
    cdef Detections det = Detections.__new__(Detections)
    cdef int32_t *dst = NULL
    cdef cnp.npy_intp dims[3]
    cdef cnp.ndarray lm
    cdef double *lp
    cdef Py_ssize_t i
    if k > 0:
        dst = <int32_t *>PyMem_Malloc((6 + nkp) * k * sizeof(int32_t))
        if dst == NULL:
            raise MemoryError("detections")
        memcpy(dst, o, 4 * k * sizeof(int32_t))
        memcpy(dst + 4 * k, o + 4 * m, k * sizeof(int32_t))
        memcpy(dst + 5 * k, o + 5 * m, k * sizeof(int32_t))
        if nkp:
            memcpy(dst + 6 * k, o + 6 * m, nkp * k * sizeof(int32_t))
    det._raw = dst
    det._count = k
    det._nkp = nkp
    det._lazy = True
    if nkp:
        dims[0], dims[1], dims[2] = k, nkp // 2, 2
        lm = cnp.PyArray_EMPTY(3, dims, cnp.NPY_FLOAT64, 0)
        lp = <double *>cnp.PyArray_DATA(lm)
        for i in range(nkp * k):  # Q20 to normalized: an exact power-of-two scale
            lp[i] = o[6 * m + i] * (1.0 / ONE_BOX)
        det.landmarks = lm
    return det


cdef object _run_plain(Core core, object scores, object boxes, object keypoints, int layout):
    """Detections of one image (a list of them for a batch B > 1), or None when the inputs need the general path.
    Keypoints (configs with them): a tensor of their own, or (None) the values after the box in the box rows."""
    if core.cfg.num_labels > 0:
        return None
    cdef Py_ssize_t n = core.cfg.num_anchors
    cdef Py_ssize_t nc = core.cfg.num_classes
    cdef int nkp = 2 * core.cfg.num_keypoints
    cdef Py_ssize_t item = (<cnp.dtype>core.dtype).itemsize
    cdef Py_ssize_t nb, cols
    cdef int32_t ss, bs, ks = 0
    cdef const char *sp
    cdef const char *bp
    cdef const char *kp = NULL
    cdef Py_ssize_t si, bi, ki = 0  # bytes from one image to the next
    if layout == LAYOUT_SEPARATE:
        nb = _plain_images(core, scores, nc)
        if nb < 0:
            return None
        cols = 4 if keypoints is not None else 4 + nkp
        if _plain_images(core, boxes, cols) != nb:
            return None
        sp = <const char *>cnp.PyArray_DATA(<cnp.ndarray>scores)
        bp = <const char *>cnp.PyArray_DATA(<cnp.ndarray>boxes)
        ss, bs, si, bi = <int32_t>nc, <int32_t>cols, n * nc * item, n * cols * item
        if keypoints is not None:
            if nkp == 0 or _plain_images(core, keypoints, nkp) != nb:
                return None
            kp = <const char *>cnp.PyArray_DATA(<cnp.ndarray>keypoints)
            ks, ki = nkp, n * nkp * item
        elif nkp:
            kp, ks, ki = bp + 4 * item, bs, bi
    else:
        cols = nc + 4 + nkp
        if (layout == LAYOUT_SCORES_FIRST and nkp) or boxes is not None or keypoints is not None:
            return None
        nb = _plain_images(core, scores, cols)
        if nb < 0:
            return None
        sp = <const char *>cnp.PyArray_DATA(<cnp.ndarray>scores)
        if layout == LAYOUT_SCORES_FIRST:
            bp = sp + nc * item
        else:
            bp, sp = sp, sp + 4 * item
            if nkp:
                kp = sp + nc * item
        ss = bs = ks = <int32_t>cols
        si = bi = ki = n * cols * item
    cdef Py_ssize_t images = nb if nb > 0 else 1
    cdef Py_ssize_t m = core.cfg.max_detections
    cdef Py_ssize_t per = (6 + nkp) * m  # int32 outputs of one image
    cdef size_t scr_size = core.scratch_bytes
    cdef bint is_f32 = core.cfg.input_kind == INPUT_F32
    cdef up_output_t out
    cdef int32_t status = 0
    cdef int32_t one_count = 0
    cdef int32_t *counts = &one_count
    cdef Py_ssize_t i
    cdef char *block
    # The C writes into a block owned by the Core (one image, while no other thread holds it; the flag is taken and
    # given back with the GIL held), else into a fresh one: scratch, then every image's outputs.
    cdef bint own = images == 1 and not core._block_busy
    if own:
        core._block_busy = True
        block = core._block
    else:
        if images > (PY_SSIZE_T_MAX - <Py_ssize_t>core._out_offset) // (per * 4 + 4):
            return None  # the general path explains
        block = <char *>PyMem_Malloc(core._out_offset + images * (per + 1) * sizeof(int32_t))
        if block == NULL:
            raise MemoryError("scratch")
        counts = <int32_t *>(block + core._out_offset) + images * per
    cdef int32_t *fp = <int32_t *>(block + core._out_offset)
    with nogil:
        for i in range(images):
            out.boxes = fp + i * per
            out.scores = out.boxes + 4 * m
            out.anchors = out.scores + m
            out.keypoints = out.anchors + m if nkp else NULL
            out.labels = NULL
            out.capacity = <int32_t>m
            out.count = 0
            if is_f32:
                status = up_run_f32_keypoints(&core.cfg, <const float *>(sp + i * si), ss,
                                              <const float *>(bp + i * bi), bs,
                                              <const float *>(kp + i * ki) if kp != NULL else NULL, ks,
                                              block, scr_size, &out)
            else:
                status = up_host_run_keypoints(&core.cfg, sp + i * si, ss, bp + i * bi, bs,
                                               kp + i * ki if kp != NULL else NULL, ks, block, scr_size, &out)
            if status != 0:
                break
            counts[i] = out.count
    try:
        if status != 0:
            return None  # NaN / Inf or a value out of range: the general path names the tensor and the value
        if nb <= 1:
            return _plain_detections(fp, counts[0], m, nkp)
        return [_plain_detections(fp + i * per, counts[i], m, nkp) for i in range(images)]
    finally:
        if own:
            core._block_busy = False
        else:
            PyMem_Free(block)


cdef class PlainPath:
    """The Cores that take tensors exactly as models return them, by dtype (float32, int32, and the int8 Core of the
    quantization last seen): one call from Python to C and back for the common case."""

    cdef Core f32, i32, s8
    cdef object s8_quantization  # the quantization argument the int8 Core was last reached with
    cdef int s8_layout           # and the layout of its tensors
    cdef bint s8_keypoints       # with a keypoints tensor of their own

    def add(self, Core core):
        if core.cfg.input_kind == INPUT_F32:
            self.f32 = core
        elif core.dtype == np.int32:
            self.i32 = core

    def add_s8(self, Core core, object quantization, int layout=LAYOUT_SEPARATE, bint keypoints=False):
        """The int8 Core that ``quantization`` (as the caller passed it) selects, for tensors of this layout."""
        self.s8, self.s8_quantization, self.s8_layout, self.s8_keypoints = core, quantization, layout, keypoints

    cdef object run(self, object scores, object boxes, object keypoints, object quantization, int layout):
        """Detections (a list for a batch), or None when these inputs need the general path."""
        cdef Core core
        if not cnp.PyArray_CheckExact(scores):
            return None
        cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>scores)
        if quantization is not None:
            core = self.s8
            if t != cnp.NPY_INT8 or core is None or layout != self.s8_layout:
                return None
            if (keypoints is not None) != self.s8_keypoints:
                return None
            if quantization is not self.s8_quantization:
                try:
                    if not bool(quantization == self.s8_quantization):
                        return None
                except (TypeError, ValueError):  # e.g. arrays: the general path explains
                    return None
            return _run_plain(core, scores, boxes, keypoints, layout)
        if layout == LAYOUT_SCORES_FIRST:  # the ultraslim tensor is int8; others: the general path
            return None
        if t == cnp.NPY_FLOAT32:
            core = self.f32
        elif t == cnp.NPY_INT32:
            core = self.i32
        else:
            return None
        return None if core is None else _run_plain(core, scores, boxes, keypoints, layout)


def plain_postprocess(self, scores, boxes, decoded=False, quantization=None, backend="c"):
    """Detections of one image (a list of them for inputs with a leading batch axis B > 1).

    scores: [N, 2] or [1, N, 2] probabilities (or logits if ``logits=True``); boxes: [N, 4] raw deltas, or corners
    if ``decoded``. float32, int8 (with ``quantization=((score_scale, score_zp), (box_scale, box_zp))``) or int32
    fixed point. ``backend="golden"`` runs the numpy twin. Tensors as models return them (C-contiguous, native)
    go straight to C; everything else through ``_postprocess_any``, which converts or explains."""
    cdef PlainPath plain
    cdef object det
    if backend == "c" and (decoded is True or decoded is False):  # any other value is checked on the way below
        plain = self._plain[1 if decoded else 0]
        det = plain.run(scores, boxes, None, quantization, LAYOUT_SCORES_FIRST if boxes is None else LAYOUT_SEPARATE)
        if det is not None:
            return det
    return self._postprocess_any(scores, boxes, decoded, quantization, backend)


def blazeface_postprocess(self, classificators, regressors, quantization=None, backend="c"):
    """Detections with ``landmarks`` [K, 6, 2] (normalized x, y); a list of them for a batch B > 1.

    classificators [N, 1] (or [1, N, 1], [B, N, 1]) logits, regressors [N, 16] (box dx, dy, w, h then 6
    keypoints, pixels at the input size): float32, int8 (``quantization=((score_scale, score_zp), (box_scale,
    box_zp))``) or int32 fixed point (Q20). Tensors as models return them go straight to C."""
    cdef object det
    if backend == "c":
        det = (<PlainPath>self._plain).run(classificators, regressors, None, quantization, LAYOUT_SEPARATE)
        if det is not None:
            return det
    return self._postprocess_any(classificators, regressors, quantization, backend)


def retinaface_postprocess(self, conf, loc=None, landms=None, quantization=None, backend="c"):
    """Detections with ``landmarks`` [K, P, 2] (normalized x, y); a list of them for a batch B > 1.

    conf [N, 2] (or [1, N, 2], or [B, N, 2]) softmax probabilities, loc [N, 4] raw deltas, landms [N, 2P] raw
    landmarks; float32, int8 (``quantization=((conf_scale, conf_zp), (loc_scale, loc_zp), (landms_scale,
    landms_zp))``) or int32 fixed point (probabilities Q30, logits, deltas and landmarks Q20). Or one packed
    output alone (``postprocess(packed)``, see :meth:`unpack`; int8: ``quantization=(scale, zero_point)``).
    Tensors as models return them go straight to C."""
    cdef object det = None
    if backend == "c":
        if loc is None and landms is None:
            det = (<PlainPath>self._plain).run(conf, None, None, quantization, LAYOUT_BOX_FIRST)
        elif loc is not None and landms is not None:
            det = (<PlainPath>self._plain).run(conf, loc, landms, quantization, LAYOUT_SEPARATE)
        if det is not None:
            return det
    return self._postprocess_any(conf, loc, landms, quantization, backend)
