# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin binding over the C core: checks arguments, allocates outputs, calls C without the GIL, and turns status
codes into exceptions."""

cimport numpy as cnp
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.string cimport memcpy
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t
from ultrapost.core._capi cimport *

import numpy as np

from ultrapost.core.checks import check_image_side
from ultrapost.core.config import INPUT_F32, INPUT_S8, ONE_BOX, ONE_SCORE, STATUS, OutOfRangeError

cnp.import_array()

_DTYPES = {0: np.dtype(np.int8), 1: np.dtype(np.int32), 2: np.dtype(np.float32)}


cdef const int32_t *_table(object arr) except? NULL:
    if arr is None:
        return NULL
    if not isinstance(arr, np.ndarray) or arr.dtype != np.int32 or not arr.flags.c_contiguous:
        raise TypeError("config tables must be C-contiguous int32 arrays")
    return <const int32_t *>cnp.PyArray_DATA(arr)


# Status -8 (a value out of range), named: ultrapost.families installs the golden model's explanation
# (golden.pipeline.range_error), so that both backends say the same without the binding importing its twin.
_range_error = None


def set_range_error(explain):
    """explain(fixed_config, scores, boxes, keypoints) -> the OutOfRangeError naming the value."""
    global _range_error
    _range_error = explain


def range_error(fc, scores, boxes, keypoints=None):
    if _range_error is None:
        return OutOfRangeError(STATUS[-8])
    return _range_error(fc, scores, boxes, keypoints)


def check_status(int32_t status, str where="ultrapost core"):
    """Raises the exception that a C status code stands for."""
    if status == 0:
        return
    msg = f"{where}: {STATUS.get(status, 'unknown error')} (status {status})"
    if status in (-3, -4):
        raise MemoryError(msg)
    raise ValueError(msg)


cdef class Detections:
    """Detections of one image, in keep order (score descending, then anchor index ascending).

    ``boxes`` float64 [K, 4] normalized x1, y1, x2, y2; ``scores`` float64 [K]; ``anchors`` int64 [K] source anchor
    indices; ``fixed`` the integer arrays behind them (boxes Q20, scores Q30, anchors int32), or None for a float64
    reference result; ``landmarks`` float64 [K, P, 2] or None; ``labels`` int64 [K] or None.

    A C type so that the single-image fast path makes one without running Python code; the float views and the
    ``fixed`` dict are made on first access.
    """

    cdef object _fixed
    # The fast path's outputs: the C's boxes, scores, anchors (and keypoints) back to back (int32 [(6 + 2P)K]) in a
    # plain buffer until
    # `fixed` is asked for (a numpy array per call cost more than the rest of a sparse call's Python side).
    cdef int32_t *_raw
    cdef bint _lazy
    cdef Py_ssize_t _count
    cdef int _nkp  # 2P keypoint values per row in _raw after the boxes, scores and anchors
    cdef object _boxes, _scores, _anchors
    cdef public object landmarks
    cdef public object labels

    def __init__(self, boxes, scores, anchors, *, fixed=None, landmarks=None, labels=None):
        # A second __init__ on a fast-path result drops its buffer: nothing may read it afterwards.
        PyMem_Free(self._raw)
        self._raw = NULL
        self._lazy = False
        self._count = 0
        self._boxes = None if boxes is None else np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self._scores = None if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
        self._anchors = None if anchors is None else np.asarray(anchors, dtype=np.int64).reshape(-1)
        self._fixed = fixed
        self.landmarks = landmarks
        self.labels = labels

    @classmethod
    def from_fixed(cls, fixed):
        """From the C or golden integer outputs (boxes Q20, scores Q30); float views are made on first access."""
        cdef Detections det = cls.__new__(cls)
        det._fixed = fixed
        landmarks = fixed.get("keypoints", fixed.get("landmarks"))
        if landmarks is not None:
            det.landmarks = landmarks.astype(np.float64).reshape(len(landmarks), landmarks.shape[1] // 2, 2) / ONE_BOX
        labels = fixed.get("labels")
        if labels is not None:
            det.labels = labels.astype(np.int64)
        return det

    def __dealloc__(self):
        PyMem_Free(self._raw)

    def __reduce__(self):
        # Pickle, copy and deepcopy: the integer outputs when there are some (the float views follow from them),
        # else the float64 arrays of a reference result; landmarks and labels as they are.
        fixed = self.fixed
        if fixed is not None:
            return (_restore_detections, (fixed, None, None, None, self.landmarks, self.labels))
        return (_restore_detections, (None, self._boxes, self._scores, self._anchors, self.landmarks, self.labels))

    @property
    def fixed(self):
        cdef Py_ssize_t k = self._count
        cdef cnp.npy_intp n6 = (6 + self._nkp) * k
        cdef cnp.ndarray flat
        if self._lazy and self._fixed is None:
            flat = cnp.PyArray_EMPTY(1, &n6, cnp.NPY_INT32, 0)
            if k:
                memcpy(cnp.PyArray_DATA(flat), self._raw, n6 * sizeof(int32_t))
            self._fixed = {"boxes": flat[:4 * k].reshape(k, 4), "scores": flat[4 * k:5 * k],
                           "anchors": flat[5 * k:6 * k]}
            if self._nkp:
                self._fixed["keypoints"] = flat[6 * k:].reshape(k, self._nkp)
            PyMem_Free(self._raw)
            self._raw = NULL
        return self._fixed

    @property
    def boxes(self):
        if self._boxes is None:
            self._boxes = self.fixed["boxes"] * (1.0 / ONE_BOX)
        return self._boxes

    @property
    def scores(self):
        if self._scores is None:
            self._scores = self.fixed["scores"] * (1.0 / ONE_SCORE)
        return self._scores

    @property
    def anchors(self):
        if self._anchors is None:
            self._anchors = self.fixed["anchors"].astype(np.int64)
        return self._anchors

    def __len__(self):
        if self._lazy:
            return self._count
        return len(self.fixed["anchors"]) if self._anchors is None else len(self._anchors)

    def to_pixels(self, width, height):
        """Boxes in pixels of an image of this size (float64, not clipped); width and height finite, > 0."""
        w, h = check_image_side(width, "width"), check_image_side(height, "height")
        return self.boxes * np.array([w, h, w, h], dtype=np.float64)

    def landmarks_to_pixels(self, width, height):
        """Landmarks [K, P, 2] in pixels of an image of this size, or None."""
        w, h = check_image_side(width, "width"), check_image_side(height, "height")
        if self.landmarks is None:
            return None
        return self.landmarks * np.array([w, h], dtype=np.float64)

    def __repr__(self):
        kind = "fixed" if self.fixed is not None else "float64"
        return f"Detections({len(self)} faces, {kind})"


def _restore_detections(fixed, boxes, scores, anchors, landmarks, labels):
    """Detections.__reduce__'s inverse."""
    return Detections(boxes, scores, anchors, fixed=fixed, landmarks=landmarks, labels=labels)


cdef class Core:
    """A checked C config plus the tables it points to (kept alive here). Safe to share between threads."""

    cdef up_config_t cfg
    cdef object _tables
    cdef readonly object fixed_config
    cdef readonly object dtype
    cdef object _proto
    cdef readonly size_t scratch_bytes
    cdef char *_block  # scratch + single-image outputs for the plain path (_plain.pxi), reused while not busy
    cdef size_t _block_bytes, _out_offset
    cdef bint _block_busy

    def __init__(self, fixed_config):
        fc = fixed_config
        self.fixed_config = fc
        self._tables = (fc.priors, fc.score_lut, fc.center_lut, fc.size_lut, fc.box_lut, fc.keypoint_lut,
                        fc.label_bounds)
        self.cfg.num_anchors = fc.num_anchors
        self.cfg.num_classes = fc.num_classes
        self.cfg.class_index = fc.class_index
        self.cfg.input_kind = fc.input_kind
        self.cfg.score_kind = fc.score_kind
        self.cfg.box_kind = fc.box_kind
        self.cfg.nms_kind = fc.nms_kind
        self.cfg.clip = fc.clip
        self.cfg.score_bound = fc.score_bound
        self.cfg.candidate_limit = fc.candidate_limit
        self.cfg.max_detections = fc.max_detections
        self.cfg.iou_q16 = fc.iou_q16
        self.cfg.iou_eps_q40 = fc.iou_eps_q40
        self.cfg.var_center_q30 = fc.var_center_q30
        self.cfg.var_size_q30 = fc.var_size_q30
        self.cfg.priors = _table(fc.priors)
        self.cfg.score_lut = _table(fc.score_lut)
        self.cfg.center_lut = _table(fc.center_lut)
        self.cfg.size_lut = _table(fc.size_lut)
        self.cfg.box_lut = _table(fc.box_lut)
        self.cfg.pad_x_q20 = fc.pad_x_q20
        self.cfg.pad_y_q20 = fc.pad_y_q20
        self.cfg.logit_clip_q20 = fc.logit_clip_q20
        self.cfg.soft_min_q30 = fc.soft_min_q30
        self.cfg.soft_inv_sigma_q16 = fc.soft_inv_sigma_q16
        self.cfg.num_keypoints = fc.num_keypoints
        self.cfg.num_labels = fc.num_labels
        self.cfg.keypoint_lut = _table(fc.keypoint_lut)
        self.cfg.label_bounds = _table(fc.label_bounds)
        self.cfg.iou_num = fc.iou_num
        self.cfg.iou_shift = fc.iou_shift
        check_status(up_check_config(&self.cfg), "config")
        # The C trusts table sizes; check them here, where the arrays' lengths are known.
        if fc.priors is not None and fc.priors.shape != (fc.num_anchors, 4):
            raise ValueError("priors must be [num_anchors, 4]")
        lut = 511 if fc.score_kind == 1 else 256
        if fc.input_kind == INPUT_F32 and fc.score_kind == 1:  # float32 two logits: the exact test's words
            lut = UP_F32_LOGIT2_WORDS
        for name, n in (("score_lut", lut), ("center_lut", 256),
                        ("size_lut", 256), ("box_lut", 256), ("keypoint_lut", 256),
                        ("label_bounds", fc.num_labels)):
            t = getattr(fc, name)
            if t is not None and t.shape != (n,):
                raise ValueError(f"{name} must have {n} entries")
        if fc.input_kind == INPUT_F32:
            self.scratch_bytes = up_scratch_size_f32(&self.cfg)
        else:
            self.scratch_bytes = up_host_scratch_size(&self.cfg)  # the portable size plus room for the kept boxes in blocks of 16
        self.dtype = _DTYPES[fc.input_kind]
        self._proto = np.empty(0, dtype=self.dtype)
        self._out_offset = (self.scratch_bytes + 63) & ~(<size_t>63)
        self._block_bytes = self._out_offset + (6 + 2 * <size_t>fc.num_keypoints) * <size_t>fc.max_detections * sizeof(int32_t)
        self._block = <char *>PyMem_Malloc(self._block_bytes)
        if self._block == NULL:
            raise MemoryError("scratch")

    def __dealloc__(self):
        PyMem_Free(self._block)

    cdef int32_t _stride(self, cnp.ndarray a, int cols, str name) except -1:
        cdef Py_ssize_t item = a.itemsize
        if a.ndim != 2:
            raise ValueError(f"{name} must be 2-D rows, got {a.ndim}-D")
        return self._row_stride(a, cols, name, 0)

    cdef int32_t _row_stride(self, cnp.ndarray a, int cols, str name, int axis) except -1:
        """Element stride between rows of a (rows on `axis`, elements on axis + 1), after checking the layout."""
        cdef Py_ssize_t item = a.itemsize
        if a.dtype != self.dtype:
            raise TypeError(f"{name} must be {self.dtype}, got {a.dtype}")
        if a.shape[axis] != self.cfg.num_anchors:
            raise ValueError(f"{name} has {a.shape[axis]} rows, the config has {self.cfg.num_anchors} anchors")
        if a.shape[axis + 1] < cols:
            raise ValueError(f"{name} needs at least {cols} columns, got {a.shape[axis + 1]}")
        if not a.dtype.isnative:
            raise ValueError(f"{name} must be in native byte order")
        if a.size == 0:
            return cols  # an empty batch: nothing is read
        # The stride of an axis of size 1 is never used (numpy gives a broadcast [:, None] axis stride 0).
        cdef Py_ssize_t col_stride = a.strides[axis + 1] if a.shape[axis + 1] > 1 else item
        cdef Py_ssize_t row_stride = a.strides[axis] if a.shape[axis] > 1 else cols * item
        if col_stride != item or row_stride % item or row_stride < cols * item:
            raise ValueError(f"{name} rows must be contiguous and laid out in increasing memory order")
        if not a.flags.aligned:
            raise ValueError(f"{name} must be aligned")
        if row_stride // item > 2147483647:
            raise ValueError(f"{name} row stride too large")
        return <int32_t>(row_stride // item)

    def run(self, cnp.ndarray scores not None, cnp.ndarray boxes not None):
        """Runs one image: scores [N, C], boxes [N, 4] (views with a row stride are fine).

        Returns (boxes int32 [K, 4] Q20, scores int32 [K] Q30, anchors int32 [K])."""
        out = self.run_full(scores, boxes)
        return out["boxes"], out["scores"], out["anchors"]

    def run_full(self, cnp.ndarray scores not None, cnp.ndarray boxes not None, keypoints=None):
        """Runs one image (2-D rows) and returns the dict of outputs: boxes, scores, anchors, and keypoints
        [K, 2P] and labels [K] when the config has them. Keypoints come from `keypoints` rows of 2P values,
        or (None) from the box rows after the 4 box values."""
        return self.run_batch(scores[None], boxes[None], None if keypoints is None else keypoints[None])[0]

    def run_portable(self, cnp.ndarray scores not None, cnp.ndarray boxes not None):
        """As run_full on int8 / int32 rows, with exactly the portable scratch size: the firmware's code path
        (up_nms_hard without the host's blocks of kept boxes), to check that both decide alike."""
        if self.cfg.input_kind == INPUT_F32:
            raise ValueError("float32 runs always use the host scratch layout")
        return self.run_batch(scores[None], boxes[None], portable=True)[0]

    def run_batch(self, cnp.ndarray scores not None, cnp.ndarray boxes not None, keypoints=None,
                  bint portable=False):
        """Runs a batch, [B, N, C] scores and [B, N, 4 (+2P)] boxes, in one call without the GIL; returns a list
        of B output dicts (see run_full)."""
        cdef int nkp = 2 * self.cfg.num_keypoints
        cdef cnp.ndarray k
        cdef int32_t ss, bs, ks = 0
        cdef Py_ssize_t sb, bb, kb = 0
        cdef const char *kp = NULL
        if scores.ndim != 3 or boxes.ndim != 3:
            raise ValueError("batched scores and boxes must be 3-D [B, N, C]")
        if scores.shape[0] != boxes.shape[0]:
            raise ValueError(f"scores ({scores.shape[0]}) and boxes ({boxes.shape[0]}) have different batch sizes")
        ss = self._row_stride(scores, self.cfg.num_classes, "scores", 1)
        if keypoints is None:
            bs = self._row_stride(boxes, 4 + nkp, "boxes", 1)
            if nkp:
                kp = <const char *>cnp.PyArray_DATA(boxes) + 4 * cnp.PyArray_ITEMSIZE(boxes)
                ks = bs
                kb = boxes.strides[0]
        else:
            if not nkp:
                raise ValueError("keypoints were given but the config has none")
            k = <cnp.ndarray?>keypoints
            if k.ndim != 3 or k.shape[0] != scores.shape[0]:
                raise ValueError("batched keypoints must be 3-D [B, N, 2P] with the batch of the scores")
            bs = self._row_stride(boxes, 4, "boxes", 1)
            ks = self._row_stride(k, nkp, "keypoints", 1)
            kp = <const char *>cnp.PyArray_DATA(k)
            kb = k.strides[0]
        for arr, name in ((scores, "scores"), (boxes, "boxes")):
            if arr.shape[0] > 1 and (arr.strides[0] < 0 or arr.strides[0] % arr.itemsize):
                raise ValueError(f"{name} batch items must be laid out in increasing memory order")
        if scores.shape[0] > 1 and kb < 0:
            raise ValueError("keypoints batch items must be laid out in increasing memory order")
        try:
            return self._run_batch(scores.shape[0], cnp.PyArray_DATA(scores), scores.strides[0], ss,
                                   cnp.PyArray_DATA(boxes), boxes.strides[0], bs, kp, kb, ks, portable)
        except OutOfRangeError:
            raise range_error(self.fixed_config, scores, boxes, keypoints) from None

    cdef object _run_batch(self, Py_ssize_t nb, const void *sp, Py_ssize_t sb, int32_t ss, const void *bp,
                           Py_ssize_t bb, int32_t bs, const void *kp, Py_ssize_t kb, int32_t ks,
                           bint portable=False):
        if nb == 0:
            return []
        # Sizes in Py_ssize_t (64-bit) from the int32 config fields: m checked below 2^31, so per < 23 * 2^31.
        cdef Py_ssize_t classes = self.cfg.num_labels if self.cfg.num_labels > 0 else 1
        cdef Py_ssize_t m = <Py_ssize_t>self.cfg.max_detections * classes
        cdef int nkp = 2 * self.cfg.num_keypoints
        if m > 2147483647:  # the C's output capacity is an int32
            raise ValueError(f"max_detections x classes = {m:,} output rows: more than the core's int32 capacity")
        cdef Py_ssize_t per = m * (6 + nkp + (1 if self.cfg.num_labels > 0 else 0))  # < 2^31 * 23
        if nb > PY_SSIZE_T_MAX // per:
            raise MemoryError(f"outputs of {nb} images x {per:,} int32 do not fit the address space")
        # One allocation for all outputs; per image: boxes [m, 4], scores [m], anchors [m], keypoints [m, 2P],
        # labels [m].
        cdef cnp.ndarray flat = np.empty(nb * per, dtype=np.int32)
        cdef cnp.ndarray counts = np.zeros(nb, dtype=np.int32)
        cdef int32_t *fp = <int32_t *>cnp.PyArray_DATA(flat)
        cdef int32_t *cp = <int32_t *>cnp.PyArray_DATA(counts)
        cdef up_output_t out
        cdef int32_t status = 0
        cdef Py_ssize_t i
        cdef size_t scr_size = up_scratch_size(&self.cfg) if portable else self.scratch_bytes
        cdef void *scr = PyMem_Malloc(scr_size + 8)
        cdef bint is_f32 = self.cfg.input_kind == INPUT_F32
        if scr == NULL:
            raise MemoryError("scratch")
        with nogil:
            for i in range(nb):
                out.boxes = fp + i * per
                out.scores = out.boxes + 4 * m
                out.anchors = out.scores + m
                out.keypoints = out.anchors + m if nkp else NULL
                out.labels = out.anchors + m + nkp * m if self.cfg.num_labels > 0 else NULL
                out.capacity = <int32_t>m
                out.count = 0
                if is_f32:
                    status = up_run_f32_keypoints(&self.cfg, <const float *>(<const char *>sp + i * sb), ss,
                                                  <const float *>(<const char *>bp + i * bb), bs,
                                                  <const float *>(<const char *>kp + i * kb) if kp != NULL else NULL,
                                                  ks, scr, scr_size, &out)
                elif portable:  # the core's own pipeline, as firmware runs it
                    status = up_run_keypoints(&self.cfg, <const char *>sp + i * sb, ss,
                                              <const char *>bp + i * bb, bs,
                                              <const char *>kp + i * kb if kp != NULL else NULL,
                                              ks, scr, scr_size, &out)
                else:
                    status = up_host_run_keypoints(&self.cfg, <const char *>sp + i * sb, ss,
                                                   <const char *>bp + i * bb, bs,
                                                   <const char *>kp + i * kb if kp != NULL else NULL,
                                                   ks, scr, scr_size, &out)
                if status != 0:
                    break
                cp[i] = out.count
        PyMem_Free(scr)
        if status == -6:
            raise ValueError("NaN or Inf in the float inputs")
        if status == -8:
            raise OutOfRangeError(STATUS[-8])  # the caller, which holds the inputs, names the value
        check_status(status, "postprocess")
        results = []
        for i in range(nb):
            k = counts[i]
            o = i * per
            r = {"boxes": flat[o:o + 4 * k].reshape(k, 4), "scores": flat[o + 4 * m:o + 4 * m + k],
                 "anchors": flat[o + 5 * m:o + 5 * m + k]}
            if nkp:
                r["keypoints"] = flat[o + 6 * m:o + 6 * m + nkp * k].reshape(k, nkp)
            if self.cfg.num_labels > 0:
                lo = o + (6 + nkp) * m
                r["labels"] = flat[lo:lo + k]
            results.append(r)
        return results


def run_raw(Core core, cnp.ndarray scores, cnp.ndarray boxes, size_t scratch_bytes, int capacity):
    """Calls the C entry point with a caller-chosen scratch size and output capacity (for testing the C's own
    checks: too-small scratch or output must come back as a status, never a crash)."""
    cdef up_output_t out
    cdef cnp.ndarray b = np.empty((max(capacity, 1), 4), dtype=np.int32)
    cdef cnp.ndarray s = np.empty(max(capacity, 1), dtype=np.int32)
    cdef cnp.ndarray a = np.empty(max(capacity, 1), dtype=np.int32)
    cdef cnp.ndarray scratch = np.empty(max(scratch_bytes, 8) // 8 + 1, dtype=np.int64)
    cdef int32_t ss = core._stride(scores, core.cfg.num_classes, "scores")
    cdef int32_t bs = core._stride(boxes, 4, "boxes")
    out.boxes = <int32_t *>cnp.PyArray_DATA(b)
    out.scores = <int32_t *>cnp.PyArray_DATA(s)
    out.anchors = <int32_t *>cnp.PyArray_DATA(a)
    out.capacity = capacity
    out.count = 0
    out.keypoints = NULL
    out.labels = NULL
    if core.cfg.input_kind == INPUT_F32:
        return up_run_f32(&core.cfg, <const float *>cnp.PyArray_DATA(scores), ss,
                          <const float *>cnp.PyArray_DATA(boxes), bs,
                          cnp.PyArray_DATA(scratch), scratch_bytes, &out)
    return up_run(&core.cfg, cnp.PyArray_DATA(scores), ss, cnp.PyArray_DATA(boxes), bs,
                  cnp.PyArray_DATA(scratch), scratch_bytes, &out)


def exp_q20(cnp.ndarray x):
    """up_exp_q20 over an int32 array."""
    cdef const int32_t[::1] xin = np.ascontiguousarray(x, dtype=np.int32).ravel()
    cdef int32_t[::1] y = np.empty(xin.shape[0], dtype=np.int32)
    cdef Py_ssize_t i
    with nogil:
        for i in range(xin.shape[0]):
            y[i] = up_exp_q20(xin[i])
    return np.asarray(y)


def sigmoid_q30(cnp.ndarray x):
    """up_sigmoid_q30 over an int32 array."""
    cdef const int32_t[::1] xin = np.ascontiguousarray(x, dtype=np.int32).ravel()
    cdef int32_t[::1] y = np.empty(xin.shape[0], dtype=np.int32)
    cdef Py_ssize_t i
    with nogil:
        for i in range(xin.shape[0]):
            y[i] = up_sigmoid_q30(xin[i])
    return np.asarray(y)


def f32_to_fixed(cnp.ndarray x, int q, int32_t lo, int32_t hi):
    """up_f32_to_fixed over a float32 array."""
    cdef const float[::1] xin = np.ascontiguousarray(x, dtype=np.float32).ravel()
    cdef int32_t[::1] y = np.empty(xin.shape[0], dtype=np.int32)
    cdef Py_ssize_t i
    with nogil:
        for i in range(xin.shape[0]):
            y[i] = up_f32_to_fixed(xin[i], q, lo, hi)
    return np.asarray(y)


# Tensors exactly as models return them: one call from Python to C and back (PlainPath, the families' postprocess).
include "_plain.pxi"

# ultrapost.nms: the box-set NMS (csrc/up_boxes.c) and the host conversion of its inputs.
include "_boxes.pxi"
