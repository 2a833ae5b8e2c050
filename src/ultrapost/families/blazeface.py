"""BlazeFace (MediaPipe face detection): SSD anchors, linear decode, 6 keypoints, clipped-logit sigmoid scores.

Anchors follow MediaPipe's SSD anchor generator with ``fixed_anchor_size``: consecutive layers with equal stride
are merged, each layer gives one anchor (aspect ratio 1) plus one interpolated anchor when
``interpolated_anchors``; ``fm = ceil(input / stride)``, ``cx = (x + offset) / fm_w``, w = h = 1. Short range:
128, strides (8, 16, 16, 16) -> 896; back camera: 256, strides (16, 32, 32, 32) -> 896; full range: 192,
stride (4,) without interpolated anchors -> 2304.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from ultrapost import reference
from ultrapost.core import prepare
from ultrapost.core._core import PlainPath, blazeface_postprocess
from ultrapost.core.checks import check_anchors, check_count, check_flag, check_input_size, check_strides
from ultrapost.core.config import MAX_ANCHORS
from ultrapost.core.detections import Detections
from ultrapost.families.common import (
    BACKENDS,
    KIND_OF_DTYPE,
    as_rows,
    batch_size,
    cached_config,
    check_nms,
    check_score_test,
    run_outputs,
    split_quantization,
)

NUM_KEYPOINTS = 6
LOGIT_CLIP = 100.0
MODELS = {
    "short": {"input_size": 128, "strides": (8, 16, 16, 16), "interpolated_anchors": True},
    "back": {"input_size": 256, "strides": (16, 32, 32, 32), "interpolated_anchors": True},
    "full": {"input_size": 192, "strides": (4,), "interpolated_anchors": False},
}


def ssd_anchors(input_size=128, strides=(8, 16, 16, 16), *, interpolated_anchors=True, offset=0.5) -> np.ndarray:
    """float64 [N, 4] (cx, cy, 1, 1) anchors of MediaPipe's SSD generator with ``fixed_anchor_size``."""
    w, h = check_input_size(input_size)
    strides = check_strides(strides, "strides")
    groups, i = [], 0  # (stride, anchors per cell) of each run of equal strides
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        groups.append((strides[i], (j - i) * (2 if interpolated_anchors else 1)))
        i = j
    n = sum(-(-w // s) * -(-h // s) * k for s, k in groups)  # counted before any is made
    if n > MAX_ANCHORS:
        raise ValueError(f"input_size {w}x{h} gives {n:,} anchors; the core takes at most {MAX_ANCHORS:,}")
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = (j - i) * (2 if interpolated_anchors else 1)
        fw, fh = math.ceil(w / strides[i]), math.ceil(h / strides[i])
        cx = (np.arange(fw) + offset) / fw
        cy = (np.arange(fh) + offset) / fh
        level = np.ones((fh, fw, per_cell, 4))
        level[..., 0] = cx[None, :, None]
        level[..., 1] = cy[:, None, None]
        out.append(level.reshape(-1, 4))
        i = j
    return np.concatenate(out)


class BlazeFace:
    """Post-processing for BlazeFace heads in fixed point: ``classificators`` [N, 1] logits and ``regressors``
    [N, 16] (box dx, dy, w, h then 6 keypoints, pixels at the input size), float32 or int8.

    Defaults are MediaPipe's: logits clipped to +-100, ``score >= 0.5``, weighted NMS at IoU 0.3; strides and
    interpolated anchors default to those of the MediaPipe model of this input size (128 short range, 192 full
    range, 256 back camera; other sizes: the short-range strides).
    """

    def __init__(
        self,
        input_size=128,
        strides=None,
        interpolated_anchors: bool | None = None,
        score_threshold: float = 0.5,
        iou_threshold: float = 0.3,
        nms: str = "weighted",
        *,
        score_test: str = ">=",
        candidate_limit: int | None = None,
        max_detections: int | None = None,
        anchors=None,
        soft_sigma: float = 0.5,
        soft_threshold: float | None = None,
    ):
        self.input_size = check_input_size(input_size)
        if self.input_size[0] != self.input_size[1]:  # the core has one decode scale (1 / W) for both axes
            raise ValueError(f"BlazeFace needs a square input_size, got {self.input_size}")
        # Strides and interpolation default to those of the MediaPipe model with this input size.
        known = {(m["input_size"],) * 2: m for m in MODELS.values()}.get(self.input_size, MODELS["short"])
        strides = known["strides"] if strides is None else strides
        interpolated_anchors = (
            known["interpolated_anchors"]
            if interpolated_anchors is None
            else check_flag(interpolated_anchors, "interpolated_anchors")
        )
        self.anchors = (
            ssd_anchors(self.input_size, strides, interpolated_anchors=interpolated_anchors)
            if anchors is None
            else check_anchors(anchors)
        )
        if len(self.anchors) > MAX_ANCHORS:
            raise ValueError(f"anchors has {len(self.anchors):,} rows; the core takes at most {MAX_ANCHORS:,}")
        self.num_anchors = len(self.anchors)
        self.score_threshold = prepare.check_unit_interval(score_threshold, "score_threshold")
        self.iou_threshold = prepare.check_unit_interval(iou_threshold, "iou_threshold")
        self.nms = check_nms(nms)
        self.inclusive = check_score_test(score_test)
        self.candidate_limit = check_count(candidate_limit, "candidate_limit", allow_none=True)
        self.max_detections = check_count(max_detections, "max_detections", allow_none=True)
        self.soft_sigma = soft_sigma
        self.soft_threshold = soft_threshold
        self._configs: dict = {}
        self._plain = PlainPath()  # tensors as models return them straight to C
        self._lock = threading.Lock()
        self.config("f32")

    @classmethod
    def model(cls, name: str, **kw) -> BlazeFace:
        """The short-range, full-range or back-camera model's post-processing ("short", "full", "back")."""
        if name not in MODELS:
            raise ValueError(f"unknown BlazeFace model {name!r}; models: {', '.join(MODELS)}")
        return cls(**{**MODELS[name], **kw})

    def config(self, kind: str, quantization=None):
        def build():
            sq, bq = split_quantization(quantization) if kind == "s8" else (None, None)
            return prepare.prepare(
                num_anchors=self.num_anchors,
                priors=self.anchors,
                input_kind=kind,
                decoded=False,
                logits=False,
                score_threshold=self.score_threshold,
                iou_threshold=self.iou_threshold,
                candidate_limit=self.candidate_limit,
                max_detections=self.max_detections,
                score_quant=sq,
                box_quant=bq,
                num_classes=1,
                class_index=0,
                eps=0.0,
                center_variance=1.0 / self.input_size[0],
                size_variance=1.0 / self.input_size[0],
                nms=self.nms,
                inclusive=self.inclusive,
                soft_sigma=self.soft_sigma,
                soft_threshold=self.soft_threshold,
                score_kind="logit1",
                box_kind="linear",
                logit_clip=LOGIT_CLIP,
                num_keypoints=NUM_KEYPOINTS,
            )

        def register(core):
            if quantization is None:  # float32 / int32 tensors as models return them take the plain path
                self._plain.add(core)

        return cached_config(self, (kind, quantization), kind, quantization, build, register)

    def _inputs(self, classificators, regressors, quantization, batch):
        s = as_rows(classificators, "classificators", self.num_anchors, 1, batch)
        r = as_rows(regressors, "regressors", self.num_anchors, 4 + 2 * NUM_KEYPOINTS, batch)
        if s.dtype != r.dtype:
            raise TypeError(f"classificators and regressors must have the same dtype, got {s.dtype} and {r.dtype}")
        kind = KIND_OF_DTYPE[s.dtype]
        if kind == "s8":
            if quantization is None:
                raise ValueError("int8 inputs need quantization=((score_scale, score_zp), (box_scale, box_zp))")
            quantization = split_quantization(quantization)
        return s, r, kind, quantization

    # postprocess(classificators, regressors, quantization=None, backend="c"): detections with ``landmarks``; a list
    # for a batch B > 1. Compiled (_core.blazeface_postprocess): tensors as models return them go to C without a
    # Python frame; any other input comes back to _postprocess_any.
    postprocess = blazeface_postprocess

    def _postprocess_any(self, classificators, regressors, quantization=None, backend: str = "c"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        batch = batch_size(classificators, regressors) is not None
        s, r, kind, quant = self._inputs(classificators, regressors, quantization, batch)
        fc, core = self.config(kind, quant)
        if backend == "c" and kind == "s8":
            self._plain.add_s8(core, quantization)  # next time straight to C
        if not batch:
            s, r = s[None], r[None]
        outs = run_outputs(backend, fc, core, s, r, names=("classificators", "regressors"))
        dets = [Detections.from_fixed(o) for o in outs]
        return dets if batch else dets[0]

    def reference(self, classificators, regressors, quantization=None) -> Detections:
        """MediaPipe's semantics in float64 (ultrapost.reference.blazeface) on the same inputs."""
        s, r, kind, quant = self._inputs(classificators, regressors, quantization, False)
        if kind == "s8":
            (ss, sz), (bs, bz) = quant
            s, r = reference.dequantize(s, ss, sz), reference.dequantize(r, bs, bz)
        elif kind == "i32":
            s, r = s / (1 << 20), r / (1 << 20)
        boxes, scores, kps, anchors = reference.blazeface(
            s,
            r,
            self.anchors,
            scale=self.input_size,
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
            inclusive=self.inclusive,
            nms_kind=self.nms,
            max_detections=self.max_detections,
            sigma=self.soft_sigma,
            soft_threshold=self.soft_threshold,
        )
        return Detections(boxes, scores, anchors, landmarks=kps)

    def __repr__(self) -> str:
        w, h = self.input_size
        return f"BlazeFace({w}x{h}, {self.num_anchors} anchors, t={self.score_threshold}, nms={self.nms})"
