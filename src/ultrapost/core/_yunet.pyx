# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin binding over csrc/up_yunet.c: checks arguments, allocates outputs, calls C without the GIL, and turns status
codes into exceptions."""

cimport numpy as cnp
from libc.stdint cimport int32_t, uint64_t
from libc.stdlib cimport free, malloc

import numpy as np

from ultrapost.core.config import INPUT_S8, STATUS

cnp.import_array()


cdef extern from "ultrapost.h" nogil:
    ctypedef struct up_output_t:
        int32_t *boxes
        int32_t *scores
        int32_t *anchors
        int32_t capacity
        int32_t count
        int32_t *keypoints
        int32_t *labels


cdef extern from "ultrapost.h" nogil:
    ctypedef struct up_yunet_config_t:
        int32_t input_kind
        int32_t pad_w
        int32_t pad_h
        int32_t product_bound
        int32_t nms_bound
        int32_t top_k
        int32_t max_detections
        bint lone_rule
        bint iou_keep_all
        bint iou_mid_inclusive
        int32_t iou_mid_e
        uint64_t iou_mid_m
        const int32_t *cls_lut[3]
        const int32_t *obj_lut[3]
        const int32_t *center_lut[3]
        const int32_t *size_lut[3]
        const int32_t *kps_lut[3]

    ctypedef struct up_yunet_tensors_t:
        const void *cls[3]
        const void *obj[3]
        const void *bbox[3]
        const void *kps[3]

    int32_t up_yunet_check_config(const up_yunet_config_t *cfg)
    size_t up_yunet_scratch_size(const up_yunet_config_t *cfg)
    int32_t up_yunet_num_points(const up_yunet_config_t *cfg)
    int32_t up_yunet_run(const up_yunet_config_t *cfg, const up_yunet_tensors_t *t, void *scratch,
                         size_t scratch_size, up_output_t *out)
    unsigned int up_f32_mul_bits(unsigned int a, unsigned int b)
    unsigned int up_f32_sqrt_bits(unsigned int a)


def _check(int32_t status, str where):
    if status == 0:
        return
    msg = f"{where}: {STATUS.get(status, 'unknown error')} (status {status})"
    if status in (-3, -4):
        raise MemoryError(msg)
    raise ValueError(msg)


cdef const int32_t *_lut(object arr) except? NULL:
    if arr is None:
        return NULL
    if not isinstance(arr, np.ndarray) or arr.dtype != np.int32 or arr.shape != (256,) or not arr.flags.c_contiguous:
        raise TypeError("YuNet tables must be C-contiguous int32 [256] arrays")
    return <const int32_t *>cnp.PyArray_DATA(arr)


def f32_mul_bits(unsigned int a, unsigned int b):
    return up_f32_mul_bits(a, b)


def f32_sqrt_bits(unsigned int a):
    return up_f32_sqrt_bits(a)


cdef class YuNetCore:
    """A checked up_yunet_config_t made from a YuNetConfig (ultrapost.yunet_prepare), holding its tables."""

    cdef up_yunet_config_t cfg
    cdef object _tables
    cdef readonly object fixed_config
    cdef readonly object dtype
    cdef readonly size_t scratch_bytes
    cdef readonly int32_t num_points

    def __init__(self, fixed_config):
        c = fixed_config
        self.fixed_config = c
        self.cfg.input_kind = c.input_kind
        self.cfg.pad_w = c.pad_w
        self.cfg.pad_h = c.pad_h
        self.cfg.product_bound = c.product_bound
        self.cfg.nms_bound = c.nms_bound
        self.cfg.top_k = c.top_k
        self.cfg.max_detections = c.max_detections
        self.cfg.lone_rule = c.lone_rule
        self.cfg.iou_keep_all = c.iou_keep_all
        self.cfg.iou_mid_inclusive = c.iou_mid_inclusive
        self.cfg.iou_mid_e = c.iou_mid_e
        self.cfg.iou_mid_m = c.iou_mid_m
        tables = []
        for l in range(3):
            for name in ("cls_lut", "obj_lut", "center_lut", "size_lut", "kps_lut"):
                group = getattr(c, name)
                tables.append(None if group is None else group[l])
        self._tables = tables
        for l in range(3):
            self.cfg.cls_lut[l] = _lut(tables[5 * l])
            self.cfg.obj_lut[l] = _lut(tables[5 * l + 1])
            self.cfg.center_lut[l] = _lut(tables[5 * l + 2])
            self.cfg.size_lut[l] = _lut(tables[5 * l + 3])
            self.cfg.kps_lut[l] = _lut(tables[5 * l + 4])
        _check(up_yunet_check_config(&self.cfg), "YuNet config")
        self.scratch_bytes = up_yunet_scratch_size(&self.cfg)
        self.num_points = up_yunet_num_points(&self.cfg)
        self.dtype = np.dtype(np.int8) if c.input_kind == INPUT_S8 else np.dtype(np.float32)

    def run(self, cls, obj, bbox, kps):
        """Runs one image: four sequences of three C-contiguous arrays (strides 8, 16, 32) of the config's dtype
        (int8 or float32). Returns the integer outputs (boxes Q12 pixels, scores Q30, anchors, keypoints Q12
        pixels)."""
        cdef up_yunet_tensors_t t
        cdef cnp.ndarray a
        keep = []
        for l in range(3):
            for group, width in ((cls, 1), (obj, 1), (bbox, 4), (kps, 10)):
                a = group[l]
                if a.dtype != self.dtype or not a.flags.c_contiguous:
                    raise TypeError(f"YuNet tensors must be C-contiguous {self.dtype}")
                rows, cols = self.fixed_config.level_shapes[l]
                if a.size != rows * cols * width:
                    raise ValueError(f"YuNet stride {8 << l}: expected {rows * cols * width} values, got {a.size}")
                keep.append(a)
            t.cls[l] = cnp.PyArray_DATA(cls[l])
            t.obj[l] = cnp.PyArray_DATA(obj[l])
            t.bbox[l] = cnp.PyArray_DATA(bbox[l])
            t.kps[l] = cnp.PyArray_DATA(kps[l])
        cdef int32_t cap = self.cfg.max_detections
        boxes = np.empty((cap, 4), np.int32)
        scores = np.empty(cap, np.int32)
        anchors = np.empty(cap, np.int32)
        kp = np.empty((cap, 10), np.int32)
        cdef up_output_t out
        out.boxes = <int32_t *>cnp.PyArray_DATA(boxes)
        out.scores = <int32_t *>cnp.PyArray_DATA(scores)
        out.anchors = <int32_t *>cnp.PyArray_DATA(anchors)
        out.keypoints = <int32_t *>cnp.PyArray_DATA(kp)
        out.labels = NULL
        out.capacity = cap
        out.count = 0
        cdef size_t nbytes = self.scratch_bytes
        cdef void *scratch = malloc(nbytes if nbytes else 4)
        if scratch == NULL:
            raise MemoryError("YuNet scratch")
        cdef int32_t status
        with nogil:
            status = up_yunet_run(&self.cfg, &t, scratch, nbytes, &out)
        free(scratch)
        _check(status, "YuNet")
        k = out.count
        return {"boxes": boxes[:k].copy(), "scores": scores[:k].copy(), "anchors": anchors[:k].copy(),
                "keypoints": kp[:k].copy()}
