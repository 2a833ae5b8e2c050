# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin binding over the pre-processing stages (csrc/up_preprocess.c, csrc/up_warp.c): checks arguments, allocates the
tensor, calls C without the GIL, and turns status codes into exceptions. A module of its own: the stages need only
their header."""

cimport numpy as cnp
from libc.stdint cimport int32_t, uint8_t, uint32_t
from ultrapost.core._capi cimport (
    up_host_pre_run, up_host_pre_scratch_size, up_pre_check_config, up_pre_config_t, up_pre_run, up_warp_check_config,
    up_warp_config_t, up_warp_run, up_warp_scratch_size,
)

import numpy as np

cnp.import_array()

_PRE_ERRORS = {
    -1: "a required table is missing",
    -2: "the pre-processing config is inconsistent",
    -3: "scratch buffer too small or misaligned",
    -4: "output buffer too small or misaligned",
    -5: "the frame's row stride is smaller than a row of pixels",
    -9: "the frame's size differs from the config's",
}


def preprocess_status(int32_t status, str where="preprocess"):
    """Raises the exception that a pre-processing status code stands for."""
    if status == 0:
        return
    msg = f"{where}: {_PRE_ERRORS.get(status, 'unknown error')} (status {status})"
    if status == -3:
        raise MemoryError(msg)
    raise ValueError(msg)


cdef _check_frame(cnp.ndarray frame):
    if frame.dtype != np.uint8 or frame.ndim != 3:
        raise TypeError(f"frame must be a uint8 [H, W, bytes per pixel] array, got {frame.dtype} {frame.ndim}-D")
    if frame.shape[0] > 0x7FFFFFFF or frame.shape[1] > 0x7FFFFFFF or frame.strides[0] > 0x7FFFFFFF:
        raise ValueError("frame too large")
    if ((frame.shape[2] > 1 and frame.strides[2] != 1) or (frame.shape[1] > 1 and frame.strides[1] != frame.shape[2])
            or (frame.shape[0] > 1 and frame.strides[0] < 0)):
        raise ValueError("frame pixels must be packed within rows, rows in increasing memory order")


cdef object _pre_table(object arr, object dtype, Py_ssize_t size, str name):
    a = np.ascontiguousarray(arr, dtype=dtype)
    if a.size != size:
        raise ValueError(f"{name} must have {size} entries, got {a.size}")
    return a


cdef tuple _output_tables(object prepared, list keep):
    """The prepared config's output tables (uint8 [3, 256] or uint32 float32 bits [3, 256], either may be None),
    checked and kept alive in ``keep``."""
    lut8 = None if prepared.lut8 is None else _pre_table(prepared.lut8, np.uint8, 768, "lut8")
    lut32 = None if prepared.lut32 is None else _pre_table(prepared.lut32, np.uint32, 768, "lut32")
    keep += [t for t in (lut8, lut32) if t is not None]
    return lut8, lut32


cdef class PreprocessConfig:
    """A prepared ``up_pre_config_t`` (from ``ultrapost.core.preprocess_config.prepare_config``), checked once, with its scratch.

    ``run(frame)`` takes a uint8 [H, W, bytes per pixel] array whose pixels are packed within rows (rows may be
    any stride apart) and returns the tensor; the C runs without the GIL.
    """

    cdef up_pre_config_t cfg
    cdef object _keep
    cdef object _scratch
    cdef object dtype
    cdef object shape
    cdef readonly Py_ssize_t scratch_size

    def __init__(self, prepared):
        cdef up_pre_config_t *c = &self.cfg
        c.pixel_format = prepared.pixel_format
        c.resample = prepared.resample
        c.layout = prepared.layout
        c.out_bytes = prepared.out_bytes
        c.frame_width = prepared.frame_width
        c.frame_height = prepared.frame_height
        c.crop_x = prepared.crop_x
        c.crop_y = prepared.crop_y
        c.crop_width = prepared.crop_width
        c.crop_height = prepared.crop_height
        c.out_width = prepared.out_width
        c.out_height = prepared.out_height
        c.rect_x = prepared.rect_x
        c.rect_y = prepared.rect_y
        c.rect_width = prepared.rect_width
        c.rect_height = prepared.rect_height
        c.x_taps = prepared.x_taps
        c.y_taps = prepared.y_taps
        for i in range(3):
            c.channel_map[i] = prepared.channel_map[i]
        c.pad_value = prepared.pad_value
        c.v_first = prepared.v_first
        xs = _pre_table(prepared.x_start, np.int32, max(c.rect_width, 0), "x_start")
        xk = _pre_table(prepared.x_coeff, np.int32, max(c.rect_width, 0) * max(c.x_taps, 0), "x_coeff")
        ys = _pre_table(prepared.y_start, np.int32, max(c.rect_height, 0), "y_start")
        yk = _pre_table(prepared.y_coeff, np.int32, max(c.rect_height, 0) * max(c.y_taps, 0), "y_coeff")
        keep = [xs, xk, ys, yk]
        c.x_start = <const int32_t *>cnp.PyArray_DATA(xs)
        c.x_coeff = <const int32_t *>cnp.PyArray_DATA(xk)
        c.y_start = <const int32_t *>cnp.PyArray_DATA(ys)
        c.y_coeff = <const int32_t *>cnp.PyArray_DATA(yk)
        lut8, lut32 = _output_tables(prepared, keep)
        c.lut8 = NULL if lut8 is None else <const uint8_t *>cnp.PyArray_DATA(lut8)
        c.lut32 = NULL if lut32 is None else <const uint32_t *>cnp.PyArray_DATA(lut32)
        self._keep = keep
        preprocess_status(up_pre_check_config(c), "preprocess config")
        self.scratch_size = <Py_ssize_t>up_host_pre_scratch_size(c)
        self._scratch = np.empty((self.scratch_size + 3) // 4, np.int32)  # 4-byte aligned
        self.dtype = np.dtype(prepared.dtype)
        self.shape = tuple(prepared.tensor_shape)

    def run(self, cnp.ndarray frame not None, scratch=None, bint portable=False):
        """The tensor of one frame (uint8 [H, W, bytes per pixel], pixels packed in rows). ``scratch``: a
        writable buffer to use instead of the config's own (its size is checked by the C). The host's driver
        (up_host_pre_run: SIMD passes) runs unless ``portable``, which runs up_pre_run as firmware does; both give
        the same bytes."""
        _check_frame(frame)
        cdef cnp.ndarray scr = self._scratch if scratch is None else np.frombuffer(scratch, np.uint8)
        cdef cnp.ndarray out = np.empty(self.shape, self.dtype)
        cdef const uint8_t *fp = <const uint8_t *>cnp.PyArray_DATA(frame)
        cdef int32_t w = <int32_t>frame.shape[1], h = <int32_t>frame.shape[0]
        # a single row: its stride is never used, but numpy may give it any value
        cdef int32_t stride = <int32_t>(frame.strides[0] if frame.shape[0] > 1 else frame.shape[1] * frame.shape[2])
        cdef void *sp = cnp.PyArray_DATA(scr)
        cdef size_t ss = <size_t>scr.nbytes
        cdef void *op = cnp.PyArray_DATA(out)
        cdef size_t os = <size_t>out.nbytes
        cdef int32_t status
        with nogil:
            if portable:
                status = up_pre_run(&self.cfg, fp, w, h, stride, sp, ss, op, os)
            else:
                status = up_host_pre_run(&self.cfg, fp, w, h, stride, sp, ss, op, os)
        preprocess_status(status)
        return out


cdef class WarpConfig:
    """A prepared ``up_warp_config_t`` (from ``ultrapost.core.warp_config.prepare_warp_config``), checked once.

    ``run(frame)`` as ``PreprocessConfig.run``: the C warps without the GIL.
    """

    cdef up_warp_config_t cfg
    cdef object _keep
    cdef object _scratch
    cdef object dtype
    cdef object shape
    cdef readonly Py_ssize_t scratch_size

    def __init__(self, prepared):
        cdef up_warp_config_t *c = &self.cfg
        c.pixel_format = prepared.pixel_format
        c.layout = prepared.layout
        c.out_bytes = prepared.out_bytes
        c.border_value = prepared.border_value
        c.frame_width = prepared.frame_width
        c.frame_height = prepared.frame_height
        c.out_width = prepared.out_width
        c.out_height = prepared.out_height
        c.per_pixel = prepared.per_pixel
        for i in range(3):
            c.channel_map[i] = prepared.channel_map[i]
        ow, oh = max(c.out_width, 0), max(c.out_height, 0)
        xp = _pre_table(prepared.x_pos, np.int32, ow * oh if c.per_pixel else ow, "x_pos")
        yp = _pre_table(prepared.y_pos, np.int32, ow * oh if c.per_pixel else oh, "y_pos")
        keep = [xp, yp]
        c.x_pos = <const int32_t *>cnp.PyArray_DATA(xp)
        c.y_pos = <const int32_t *>cnp.PyArray_DATA(yp)
        lut8, lut32 = _output_tables(prepared, keep)
        c.lut8 = NULL if lut8 is None else <const uint8_t *>cnp.PyArray_DATA(lut8)
        c.lut32 = NULL if lut32 is None else <const uint32_t *>cnp.PyArray_DATA(lut32)
        self._keep = keep
        preprocess_status(up_warp_check_config(c), "warp config")
        self.scratch_size = <Py_ssize_t>up_warp_scratch_size(c)
        self._scratch = np.empty(self.scratch_size, np.uint8)
        self.dtype = np.dtype(prepared.dtype)
        self.shape = tuple(prepared.tensor_shape)

    def run(self, cnp.ndarray frame not None, scratch=None):
        """The tensor of one frame (uint8 [H, W, bytes per pixel], pixels packed in rows)."""
        _check_frame(frame)
        cdef cnp.ndarray scr = self._scratch if scratch is None else np.frombuffer(scratch, np.uint8)
        cdef cnp.ndarray out = np.empty(self.shape, self.dtype)
        cdef const uint8_t *fp = <const uint8_t *>cnp.PyArray_DATA(frame)
        cdef int32_t w = <int32_t>frame.shape[1], h = <int32_t>frame.shape[0]
        cdef int32_t stride = <int32_t>(frame.strides[0] if frame.shape[0] > 1 else frame.shape[1] * frame.shape[2])
        cdef void *sp = cnp.PyArray_DATA(scr)
        cdef size_t ss = <size_t>scr.nbytes
        cdef void *op = cnp.PyArray_DATA(out)
        cdef size_t os = <size_t>out.nbytes
        cdef int32_t status
        with nogil:
            status = up_warp_run(&self.cfg, fp, w, h, stride, sp, ss, op, os)
        preprocess_status(status, "warp")
        return out
