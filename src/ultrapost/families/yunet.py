"""YuNet (OpenCV's ``FaceDetectorYN``; libfacedetection / opencv_zoo): the model family's one place.

    yn = ultrapost.YuNet(input_size=(320, 320), score_threshold=0.6, iou_threshold=0.3, top_k=5000)
    det = yn.postprocess(outputs)        # {"cls_8", "obj_8", "bbox_8", "kps_8", ... strides 8, 16, 32}
    det.boxes, det.scores, det.landmarks  # normalized to input_size; landmarks [K, 5, 2]

Outputs are float32, or int8 (``quantization={name: (scale, zero_point)}``, e.g. the ``*_int8out.onnx`` model's).
The preset ``"opencv"`` (the default) makes FaceDetectorYN's decisions exactly (csrc/ultrapost.h): the float32 score
``sqrtf(cls * obj)`` and its tests, a lone candidate kept without NMS, NMSBoxes' strict second test and ``top_k``,
and the NMS on integer-truncated rectangles. ``"single-test"`` drops the two OpenCV particularities (every candidate
``score >= t`` enters NMS, a lone one included). ``input_size=None``: each call names its frame size
(``postprocess(outputs, input_size=(w, h))``) and the grids are that size padded to multiples of 32, as
FaceDetectorYN pads; a fixed ``input_size`` is padded the same way.
"""

from __future__ import annotations

import threading

import numpy as np

from ultrapost.core._yunet import YuNetCore
from ultrapost.core.checks import check_choice, check_count, check_input_size
from ultrapost.core.config import INPUT_F32, INPUT_S8
from ultrapost.core.detections import Detections
from ultrapost.core.prepare import check_unit_interval
from ultrapost.core.yunet_config import (
    NUM_KPS,
    OUTPUT_NAMES,
    Q_PIXEL,
    STRIDES,
    padded_size,
    prepare,
)
from ultrapost.golden import yunet as golden_yunet
from ultrapost.reference.decode import dequantize_f32
from ultrapost.reference.families import yunet as yunet_reference

BACKENDS = ("c", "golden")
PRESETS = {
    "opencv": {"lone_rule": True, "second_test": True},
    "single-test": {"lone_rule": False, "second_test": False},
}


class YuNet:
    """YuNet post-processing in integers, bit-exact between the C (``backend="c"``) and the golden model."""

    def __init__(
        self,
        input_size=None,
        score_threshold: float = 0.9,
        iou_threshold: float = 0.3,
        top_k: int = 5000,
        preset: str = "opencv",
        *,
        max_detections: int | None = None,
    ):
        check_choice(preset, "preset", tuple(PRESETS))
        self.input_size = None if input_size is None else check_input_size(input_size)
        # both ends of [0, 1] are taken, as OpenCV takes them: every decision stays exact there
        self.score_threshold = check_unit_interval(score_threshold, "score_threshold")
        self.iou_threshold = check_unit_interval(iou_threshold, "iou_threshold")
        # an int as OpenCV's topK (an int32): 0 or below keeps every candidate, as NMSBoxes reads it
        self.top_k = check_count(top_k, "top_k", lo=-(2**31), hi=2**31 - 1)
        self.max_detections = check_count(max_detections, "max_detections", allow_none=True)
        self.preset = preset
        self._configs: dict = {}
        self._lock = threading.Lock()
        if self.input_size is not None:
            self.config(INPUT_F32, padded_size(*self.input_size))  # validates the parameters now

    def config(self, kind: int, pad: tuple[int, int], quantization=None):
        """The (YuNetConfig, YuNetCore) of an input kind and padded size, made once and cached."""
        qkey = None if quantization is None else tuple(sorted((k, tuple(v)) for k, v in quantization.items()))
        key = (kind, pad, qkey)
        hit = self._configs.get(key)
        if hit is None:
            md = self.max_detections
            n = sum((pad[0] // s) * (pad[1] // s) for s in STRIDES)
            top = n if self.top_k <= 0 else min(self.top_k, n)
            fc = prepare(
                *pad,
                input_kind=kind,
                score_threshold=self.score_threshold,
                nms_threshold=self.iou_threshold,
                top_k=self.top_k,
                max_detections=None if md is None else min(md, top),
                quantization=quantization,
                **PRESETS[self.preset],
            )
            hit = (fc, YuNetCore(fc))
            with self._lock:
                self._configs[key] = hit
        return hit

    def _frame(self, input_size) -> tuple[int, int]:
        if input_size is None:
            if self.input_size is None:
                raise ValueError("this YuNet has no input_size: pass postprocess(..., input_size=(w, h))")
            return self.input_size
        return check_input_size(input_size)

    def tensors(self, outputs, quantization=None, input_size=None):
        """(kind, padded size, frame size, quantization, {"cls": [3], "obj": [3], "bbox": [3], "kps": [3]}) as the
        C reads them: flat views of the outputs (a copy only of a non-contiguous one)."""
        frame = self._frame(input_size)
        pad = padded_size(*frame)
        if not hasattr(outputs, "keys"):
            raise TypeError(f"outputs must be a dict of YuNet's 12 outputs, got {type(outputs).__name__}")
        missing = [k for k in OUTPUT_NAMES if k not in outputs]
        if missing:
            raise ValueError(f"outputs lack {', '.join(missing)}")
        arrays = {k: np.asarray(outputs[k]) for k in OUTPUT_NAMES}
        dtypes = {a.dtype for a in arrays.values()}
        if len(dtypes) != 1 or dtypes.pop() not in (np.dtype(np.float32), np.dtype(np.int8)):
            raise TypeError(
                "YuNet outputs must all be float32 or all int8, got "
                + ", ".join(sorted({str(a.dtype) for a in arrays.values()}))
            )
        s8 = arrays["cls_8"].dtype == np.int8
        if s8 and quantization is None:
            raise ValueError("int8 YuNet outputs need quantization={name: (scale, zero_point)}")
        if not s8 and quantization is not None:
            raise ValueError("quantization is only for int8 outputs")
        t = {"cls": [], "obj": [], "bbox": [], "kps": []}
        for s in STRIDES:
            n = (pad[0] // s) * (pad[1] // s)
            for kind, width in (("cls", 1), ("obj", 1), ("bbox", 4), ("kps", NUM_KPS)):
                a = arrays[f"{kind}_{s}"]
                if a.size != n * width or (a.ndim and a.shape[-1] != width and not (width == 1 and a.ndim == 1)):
                    raise ValueError(
                        f"{kind}_{s} must hold {n} rows of {width} for a {frame[0]}x{frame[1]} frame "
                        f"(padded {pad[0]}x{pad[1]}), got shape {a.shape}"
                    )
                t[kind].append(np.ascontiguousarray(a).reshape(-1))
        return (INPUT_S8 if s8 else INPUT_F32), pad, frame, quantization, t

    def run_fixed(self, outputs, quantization=None, input_size=None, backend: str = "c") -> dict:
        """The integer outputs: boxes Q12 pixel corners, scores Q30, anchors, keypoints Q12 pixels [K, 10]."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        kind, pad, _, quant, t = self.tensors(outputs, quantization, input_size)
        fc, core = self.config(kind, pad, quant)
        if backend == "golden":
            return golden_yunet.run(fc, t)
        return core.run(t["cls"], t["obj"], t["bbox"], t["kps"])

    def postprocess(self, outputs, quantization=None, input_size=None, backend: str = "c") -> Detections:
        """Detections: boxes normalized to the frame (x1, y1, x2, y2), scores, anchors (point index over the
        strides), landmarks [K, 5, 2] normalized (right eye, left eye, nose tip, right and left mouth corner);
        ``fixed``: the integer outputs (:meth:`run_fixed`: boxes and keypoints Q12 pixels, scores Q30)."""
        frame = self._frame(input_size)
        fixed = self.run_fixed(outputs, quantization, input_size, backend)
        w, h = frame
        boxes = fixed["boxes"] / float(1 << Q_PIXEL) / np.array([w, h, w, h], dtype=np.float64)
        kps = fixed["keypoints"].reshape(-1, 5, 2) / float(1 << Q_PIXEL) / np.array([w, h], dtype=np.float64)
        return Detections(boxes, fixed["scores"] / float(1 << 30), fixed["anchors"], fixed=fixed, landmarks=kps)

    def reference(self, outputs, quantization=None, input_size=None, arithmetic: str = "float32") -> Detections:
        """OpenCV's rules (``ultrapost.reference.yunet``) on the same outputs, int8 dequantized as onnxruntime
        does."""
        frame = self._frame(input_size)
        pad = padded_size(*frame)
        outs = {k: np.asarray(outputs[k]) for k in OUTPUT_NAMES}
        if quantization is not None:
            outs = {k: dequantize_f32(v, *quantization[k]) for k, v in outs.items()}
        if self.preset != "opencv":
            raise ValueError("the reference is OpenCV's rules: preset 'opencv' only")
        faces, points = yunet_reference(
            outs,
            *pad,
            score_threshold=self.score_threshold,
            nms_threshold=self.iou_threshold,
            top_k=self.top_k,
            arithmetic=arithmetic,
        )
        if self.max_detections is not None:
            faces, points = faces[: self.max_detections], points[: self.max_detections]
        w, h = frame
        x, y, bw, bh = faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 3]
        boxes = np.stack([x, y, x + bw, y + bh], 1) / np.array([w, h, w, h], dtype=np.float64)
        kps = faces[:, 4:14].reshape(-1, 5, 2) / np.array([w, h], dtype=np.float64)
        return Detections(boxes, faces[:, 14], points, landmarks=kps)

    def __repr__(self) -> str:
        size = "dynamic" if self.input_size is None else f"{self.input_size[0]}x{self.input_size[1]}"
        return (
            f"YuNet({size}, t={self.score_threshold}, nms={self.iou_threshold}, top_k={self.top_k}, "
            f"preset={self.preset!r})"
        )
