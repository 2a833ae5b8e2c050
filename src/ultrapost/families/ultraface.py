"""Ultraface (slim / RFB, every input size) and NXP's int8 ultraslim: the model family's one place."""

from __future__ import annotations

import threading

import numpy as np

from ultrapost import reference
from ultrapost.core import prepare
from ultrapost.core._core import PlainPath, plain_postprocess
from ultrapost.core.checks import check_count, check_flag, check_input_size, check_real
from ultrapost.core.detections import Detections
from ultrapost.core.priors import ULTRAFACE_MIN_BOXES, ULTRAFACE_STRIDES, ultraface_priors
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
from ultrapost.families.presets import preset_options


class Ultraface:
    """Post-processing for Ultraface heads: score test, top candidates, decode, NMS, in fixed point.

    Defaults reproduce the decisions of the Python ``predict()`` of the Ultraface repository: ``p > t``, the 200
    best candidates, suppress when IoU > t with ``eps = 1e-5`` in the denominator, unclipped boxes.
    ``nms``: "hard", "blend" (ncnn), "weighted" (MediaPipe), "soft-linear", "soft-gaussian" (``soft_sigma``;
    soft-NMS drops boxes whose decayed score is <= ``soft_threshold``, the score threshold by default).
    ``pixel_size`` (W, H): IoU with "+1 pixel" areas on that grid (the C++ ports and RetinaFace). ``score_test``
    ">" or ">=". ``Ultraface.preset(name, ...)`` reproduces a reference post-processor (ultrapost.families.presets).
    Scores with more than two columns (the masked-face model) take ``class_thresholds``: one threshold per class
    column from 1 on, each class suppressed on its own, and the class column in ``det.labels``.
    """

    def __init__(
        self,
        input_size=(320, 240),
        score_threshold: float = 0.7,
        iou_threshold: float = 0.3,
        candidate_limit: int | None = 200,
        max_detections: int | None = None,
        priors: str = "trained",
        drop_finest_level: bool = False,
        logits: bool = False,
        *,
        clip: bool = False,
        eps: float = 1e-5,
        center_variance: float = 0.1,
        size_variance: float = 0.2,
        min_boxes=ULTRAFACE_MIN_BOXES,
        strides=ULTRAFACE_STRIDES,
        nms: str = "hard",
        pixel_size=None,
        score_test: str = ">",
        soft_sigma: float = 0.5,
        soft_threshold: float | None = None,
        class_thresholds=None,
    ):
        self.input_size = check_input_size(input_size)
        self.priors = ultraface_priors(
            self.input_size,
            convention=priors,
            drop_finest_level=check_flag(drop_finest_level, "drop_finest_level"),
            min_boxes=min_boxes,
            strides=strides,
        )
        self.num_anchors = len(self.priors)
        self.score_threshold = prepare.check_unit_interval(score_threshold, "score_threshold")
        self.iou_threshold = prepare.check_unit_interval(iou_threshold, "iou_threshold")
        self.candidate_limit = check_count(candidate_limit, "candidate_limit", allow_none=True)
        self.max_detections = check_count(max_detections, "max_detections", allow_none=True)
        self.logits = check_flag(logits, "logits")
        self.clip = check_flag(clip, "clip")
        self.eps = check_real(eps, "eps")
        self.center_variance = check_real(center_variance, "center_variance")
        self.size_variance = check_real(size_variance, "size_variance")
        self.nms = check_nms(nms)
        self.pixel_size = prepare.check_pixel_size(pixel_size)
        self.score_test = score_test
        self.inclusive = check_score_test(score_test)
        self.soft_sigma = soft_sigma
        self.soft_threshold = soft_threshold
        if class_thresholds is not None and (
            isinstance(class_thresholds, (str, bytes)) or not hasattr(class_thresholds, "__iter__")
        ):
            raise TypeError(
                f"class_thresholds must be a sequence of thresholds (one per class column from 1), "
                f"got {class_thresholds!r}"
            )
        self.class_thresholds = (
            None if class_thresholds is None else tuple(check_real(t, "class_thresholds") for t in class_thresholds)
        )
        self.num_classes = 2 if self.class_thresholds is None else 1 + len(self.class_thresholds)
        if self.class_thresholds is not None and self.logits:
            raise ValueError("class_thresholds need probability scores (logits=False)")
        self._configs: dict = {}
        self._plain = (PlainPath(), PlainPath())  # by decoded: float32 / int32 tensors straight to C
        self._lock = threading.Lock()
        self.config("f32", decoded=False)  # validates every parameter now, not at the first call

    # -- configs -------------------------------------------------------------------------------------------------
    def config(self, kind: str, decoded: bool, quantization=None):
        """The prepared (FixedConfig, C Core) pair for one input kind, made once and cached."""

        def build():
            sq, bq = split_quantization(quantization) if kind == "s8" else (None, None)
            return prepare.prepare(
                num_anchors=self.num_anchors,
                priors=self.priors,
                input_kind=kind,
                decoded=decoded,
                logits=self.logits,
                score_threshold=self.score_threshold,
                iou_threshold=self.iou_threshold,
                candidate_limit=self.candidate_limit,
                max_detections=self.max_detections,
                score_quant=sq,
                box_quant=bq,
                clip=self.clip,
                eps=self.eps,
                center_variance=self.center_variance,
                size_variance=self.size_variance,
                nms=self.nms,
                inclusive=self.inclusive,
                pixel_size=self.pixel_size,
                soft_sigma=self.soft_sigma,
                soft_threshold=self.soft_threshold,
                num_classes=self.num_classes,
                labels=self.class_thresholds,
            )

        def register(core):
            if quantization is None:  # float32 / int32 tensors as models return them take the fast path
                self._plain[1 if decoded else 0].add(core)

        return cached_config(self, (kind, bool(decoded), quantization), kind, quantization, build, register)

    @classmethod
    def preset(cls, name: str, input_size=(320, 240), **overrides) -> Ultraface:
        """An Ultraface that reproduces the decisions of one reference post-processor (see ultrapost.families.presets);
        keyword arguments override the preset's values."""
        opts = preset_options(name, input_size)
        opts.update(overrides)
        return cls(input_size, **opts)

    def _inputs(self, scores, boxes, decoded, quantization, batch=False):
        decoded = check_flag(decoded, "decoded")
        nc = self.num_classes
        if boxes is None:  # one tensor [N, 2 + 4] (NXP ultraslim): scores then corners
            if not decoded:
                raise ValueError("a single [N, 6] tensor holds decoded boxes: pass decoded=True")
            t = as_rows(scores, "detections", self.num_anchors, nc + 4, batch)
            s, b = t[..., :nc], t[..., nc:]
            if quantization is not None and t.dtype == np.int8:
                quantization = (_pair(quantization), _pair(quantization))
        else:
            s = as_rows(scores, "scores", self.num_anchors, nc, batch)
            b = as_rows(boxes, "boxes", self.num_anchors, 4, batch)
            if s.dtype != b.dtype:
                raise TypeError(f"scores and boxes must have the same dtype, got {s.dtype} and {b.dtype}")
            if quantization is not None and s.dtype == np.int8:
                quantization = split_quantization(quantization)
        kind = KIND_OF_DTYPE[s.dtype]
        if kind == "s8" and quantization is None:
            raise ValueError("int8 inputs need quantization=((score_scale, score_zp), (box_scale, box_zp))")
        return s, b, kind, quantization

    # -- running -------------------------------------------------------------------------------------------------
    def postprocess_batch(
        self, scores, boxes, decoded: bool = False, quantization=None, backend: str = "c"
    ) -> list[Detections]:
        """Detections of each image of a batch: scores [B, N, C], boxes [B, N, 4] (or the [B, N, 6] ultraslim
        tensor with boxes None). The C backend runs the whole batch in one call without the GIL."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        s, b, kind, quant = self._inputs(scores, boxes, decoded, quantization, batch=True)
        fc, core = self.config(kind, decoded, quant)
        names = ("detections", "detections") if boxes is None else ("scores", "boxes")
        if backend == "c" and kind == "s8" and self.class_thresholds is None:
            self._plain[1 if decoded else 0].add_s8(core, quantization, 1 if boxes is None else 0)  # next time: C
        return [Detections.from_fixed(o) for o in run_outputs(backend, fc, core, s, b, names=names)]

    # postprocess(scores, boxes, decoded=False, quantization=None, backend="c"): detections of one image (a list of
    # them for inputs with a leading batch axis B > 1). Compiled (_core.plain_postprocess), so that tensors as models
    # return them go to C without a Python frame; any other input comes back to _postprocess_any.
    postprocess = plain_postprocess

    def _postprocess_any(self, scores, boxes, decoded: bool = False, quantization=None, backend: str = "c"):
        if batch_size(scores, boxes) is not None:
            return self.postprocess_batch(scores, boxes, decoded, quantization, backend)
        return self._postprocess(scores, boxes, decoded, quantization, backend)

    def _postprocess(self, scores, boxes, decoded: bool = False, quantization=None, backend: str = "c") -> Detections:
        """Detections of one image.

        scores: [N, 2] or [1, N, 2] probabilities (or logits if ``logits=True``); boxes: [N, 4] raw deltas, or
        corners if ``decoded``. float32, int8 (with ``quantization=((score_scale, score_zp), (box_scale, box_zp))``)
        or int32 fixed point (probabilities Q30, logits and boxes Q20). The NXP ultraslim tensor:
        ``postprocess(t172x6, None, decoded=True, quantization=(scale, zero_point))``.
        """
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        s, b, kind, quant = self._inputs(scores, boxes, decoded, quantization)
        fc, core = self.config(kind, decoded, quant)
        names = ("detections", "detections") if boxes is None else ("scores", "boxes")
        if backend == "c" and kind == "s8" and self.class_thresholds is None:
            self._plain[1 if decoded else 0].add_s8(core, quantization, 1 if boxes is None else 0)  # next time: C
        return Detections.from_fixed(run_outputs(backend, fc, core, s[None], b[None], names=names)[0])

    def reference(self, scores, boxes, decoded: bool = False, quantization=None) -> Detections:
        """The float64 reference (ultrapost.reference) on the same inputs, int8 dequantized first."""
        s, b, kind, quant = self._inputs(scores, boxes, decoded, quantization)
        if kind == "s8":
            (ss, sz), (bs, bz) = quant
            s, b = reference.dequantize(s, ss, sz), reference.dequantize(b, bs, bz)
        elif kind == "i32":
            s = s / (1 << 20 if self.logits else 1 << 30)
            b = b / (1 << 20)
        for name, arr in (("scores", s), ("boxes", b)):
            if not np.isfinite(arr).all():
                raise ValueError(f"NaN or Inf in {name}")
        if self.class_thresholds is not None:
            return self._reference_multiclass(s, b, decoded)
        boxes_out, scores_out, anchors = reference.ultraface(
            s,
            b,
            self.priors,
            decoded=decoded,
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
            candidate_limit=self.num_anchors if self.candidate_limit is None else self.candidate_limit,
            max_detections=self.max_detections,
            logits=self.logits,
            clip=self.clip,
            eps=self.eps,
            center_variance=self.center_variance,
            size_variance=self.size_variance,
            nms_kind=self.nms,
            inclusive=self.inclusive,
            pad=self._pad(),
            sigma=self.soft_sigma,
            soft_threshold=self.soft_threshold,
        )
        return Detections(boxes_out, scores_out, anchors)

    def _pad(self):
        return (0.0, 0.0) if self.pixel_size is None else (1.0 / self.pixel_size[0], 1.0 / self.pixel_size[1])

    def _reference_multiclass(self, s, b, decoded):
        parts = []
        for i, t in enumerate(self.class_thresholds):
            out = reference.ultraface(
                s,
                b,
                self.priors,
                decoded=decoded,
                score_threshold=t,
                iou_threshold=self.iou_threshold,
                candidate_limit=self.num_anchors if self.candidate_limit is None else self.candidate_limit,
                max_detections=self.max_detections,
                clip=self.clip,
                eps=self.eps,
                center_variance=self.center_variance,
                size_variance=self.size_variance,
                class_index=1 + i,
                nms_kind=self.nms,
                inclusive=self.inclusive,
                pad=self._pad(),
                sigma=self.soft_sigma,
                # one soft-NMS stop for every class, as the config has one
                soft_threshold=self.score_threshold if self.soft_threshold is None else self.soft_threshold,
            )
            parts.append((*out, np.full(len(out[2]), 1 + i, dtype=np.int64)))
        cat = [np.concatenate([p[k] for p in parts]) for k in range(4)]
        return Detections(cat[0], cat[1], cat[2], labels=cat[3])

    def __repr__(self) -> str:
        w, h = self.input_size
        return f"Ultraface({w}x{h}, {self.num_anchors} anchors, t={self.score_threshold}, iou={self.iou_threshold})"


def _pair(q):
    scale, zp = prepare.check_quantization(q, "tensor")
    return (scale, zp)
