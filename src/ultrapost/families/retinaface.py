"""RetinaFace-style heads with landmarks (Face-Detector-1MB-with-landmark, zineos Blazeface): ``conf`` [N, 2]
softmax scores, ``loc`` [N, 4] raw deltas and ``landms`` [N, 10] raw landmarks, all against RetinaFace priors.

Priors come from ``min_sizes`` and ``steps`` (``ultrapost.core.priors.retinaface_priors``: row-major,
``cx = (j + 0.5) * step / W``, not clamped). Boxes decode as Ultraface's (variances 0.1, 0.2, exp sizes),
landmarks as ``p_xy + pre * 0.1 * p_wh``. Defaults are those of RetinaFace's test path (the ``retinaface``
preset): ``p > 0.3``, the 2000 best candidates, ``py_cpu_nms`` at 0.4 with "+1 pixel" areas on the input's pixel
grid and no eps, at most 1000 kept.
"""

from __future__ import annotations

import inspect
import threading

import numpy as np

from ultrapost import reference
from ultrapost.core import prepare
from ultrapost.core._core import PlainPath, retinaface_postprocess
from ultrapost.core.checks import check_count, check_flag, check_input_size, check_real
from ultrapost.core.config import MAX_KEYPOINTS
from ultrapost.core.detections import Detections
from ultrapost.core.priors import RETINAFACE_CONFIGS, ULTRAFACE_MIN_BOXES, ULTRAFACE_STRIDES, retinaface_priors
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

NUM_LANDMARKS = 5
TENSORS = ("conf", "loc", "landms")  # the heads, in the order of quantization's pairs


class RetinaFace:
    """Post-processing for RetinaFace-style heads in fixed point: score test, top candidates, decode of boxes and
    landmarks, NMS.

    ``min_sizes``/``steps``: the prior config (default Face-Detector-1MB's slim/RFB/mobilenet one;
    ``RetinaFace.model("blazeface", ...)`` for zineos Blazeface). ``nms``: "hard", "blend", "weighted",
    "soft-linear", "soft-gaussian". ``pixel_size``: "input" (default, "+1 pixel" areas on the input size grid, as
    ``py_cpu_nms`` on input pixels), a (W, H) pair, or None (plain areas). ``logits``: conf holds two-class logits
    instead of softmax probabilities. ``score_test`` ">" or ">=". ``preset``: a reference post-processor's
    decisions (ultrapost.families.presets, e.g. "pytorch_retinaface") for every parameter left at its default.

    A packed model's one output (Pytorch_Retinaface exports: rows ``[loc 4 | conf 2 | landms 10]``) goes in as it is:
    ``postprocess(packed)``, read through views of its columns (no copy).
    """

    def __init__(
        self,
        input_size=(320, 240),
        min_sizes=ULTRAFACE_MIN_BOXES,
        steps=ULTRAFACE_STRIDES,
        score_threshold: float = 0.3,
        iou_threshold: float = 0.4,
        nms: str = "hard",
        *,
        candidate_limit: int | None = 2000,
        max_detections: int | None = 1000,
        eps: float = 0.0,
        pixel_size="input",
        score_test: str = ">",
        logits: bool = False,
        center_variance: float = 0.1,
        size_variance: float = 0.2,
        num_landmarks: int = NUM_LANDMARKS,
        soft_sigma: float = 0.5,
        soft_threshold: float | None = None,
        preset: str | None = None,
    ):
        if preset is not None:
            given = dict(
                score_threshold=score_threshold,
                iou_threshold=iou_threshold,
                nms=nms,
                candidate_limit=candidate_limit,
                max_detections=max_detections,
                eps=eps,
                pixel_size=pixel_size,
                score_test=score_test,
            )
            chosen = _preset_choices(preset, input_size, given)
            score_threshold, iou_threshold, nms = chosen["score_threshold"], chosen["iou_threshold"], chosen["nms"]
            candidate_limit, max_detections, eps = chosen["candidate_limit"], chosen["max_detections"], chosen["eps"]
            pixel_size, score_test = chosen["pixel_size"], chosen["score_test"]
        self.preset_name = preset
        self.input_size = check_input_size(input_size)
        self.priors = retinaface_priors(self.input_size, min_sizes=min_sizes, steps=steps)
        self.num_anchors = len(self.priors)
        self.min_sizes = tuple(tuple(level) for level in min_sizes)
        self.steps = tuple(int(s) for s in steps)
        self.score_threshold = prepare.check_unit_interval(score_threshold, "score_threshold")
        self.iou_threshold = prepare.check_unit_interval(iou_threshold, "iou_threshold")
        self.nms = check_nms(nms)
        self.candidate_limit = check_count(candidate_limit, "candidate_limit", allow_none=True)
        self.max_detections = check_count(max_detections, "max_detections", allow_none=True)
        self.eps = check_real(eps, "eps")
        if isinstance(pixel_size, str) and pixel_size == "input":
            pixel_size = self.input_size
        self.pixel_size = prepare.check_pixel_size(pixel_size)
        self.score_test = score_test
        self.inclusive = check_score_test(score_test)
        self.logits = check_flag(logits, "logits")
        self.center_variance = check_real(center_variance, "center_variance")
        self.size_variance = check_real(size_variance, "size_variance")
        if isinstance(num_landmarks, bool) or not isinstance(num_landmarks, (int, np.integer)):
            raise TypeError(f"num_landmarks must be an int, got {num_landmarks!r}")
        if not 1 <= num_landmarks <= MAX_KEYPOINTS:
            raise ValueError(f"num_landmarks must be in [1, {MAX_KEYPOINTS}], got {num_landmarks}")
        self.num_landmarks = int(num_landmarks)
        self.soft_sigma = soft_sigma
        self.soft_threshold = soft_threshold
        self._configs: dict = {}
        self._plain = PlainPath()  # tensors as models return them straight to C
        self._lock = threading.Lock()
        self.config("f32")  # validates every parameter now, not at the first call

    @classmethod
    def model(cls, name: str, input_size=(320, 240), **kw) -> RetinaFace:
        """A known prior config: "slim" (Face-Detector-1MB's slim / RFB / mobilenet) or "blazeface" (zineos)."""
        if name not in RETINAFACE_CONFIGS:
            raise ValueError(f"unknown RetinaFace config {name!r}; configs: {', '.join(RETINAFACE_CONFIGS)}")
        return cls(input_size, **{**RETINAFACE_CONFIGS[name], **kw})

    @classmethod
    def preset(cls, name: str, input_size=(320, 240), **overrides) -> RetinaFace:
        """A RetinaFace with the decisions of one reference post-processor (ultrapost.families.presets); RetinaFace
        priors are always the stride convention, so presets that name trained priors are refused."""
        opts = preset_options(name, input_size)
        if opts.pop("priors", "stride") != "stride":
            raise ValueError(f"preset {name!r} uses Ultraface's trained priors; RetinaFace priors are stride priors")
        if opts.pop("clip", False):
            raise ValueError(f"preset {name!r} clips boxes; RetinaFace's reference does not")
        opts.setdefault("pixel_size", None)
        opts.update(overrides)
        return cls(input_size, **opts)

    def config(self, kind: str, quantization=None):
        """The prepared (FixedConfig, C Core) pair for one input kind, made once and cached."""

        def build():
            sq, bq, kq = split_quantization(quantization, TENSORS) if kind == "s8" else (None, None, None)
            return prepare.prepare(
                num_anchors=self.num_anchors,
                priors=self.priors,
                input_kind=kind,
                decoded=False,
                logits=self.logits,
                score_threshold=self.score_threshold,
                iou_threshold=self.iou_threshold,
                candidate_limit=self.candidate_limit,
                max_detections=self.max_detections,
                score_quant=sq,
                box_quant=bq,
                keypoint_quant=kq,
                num_classes=2,
                class_index=1,
                eps=self.eps,
                center_variance=self.center_variance,
                size_variance=self.size_variance,
                nms=self.nms,
                inclusive=self.inclusive,
                pixel_size=self.pixel_size,
                soft_sigma=self.soft_sigma,
                soft_threshold=self.soft_threshold,
                num_keypoints=self.num_landmarks,
            )

        def register(core):
            if quantization is None:  # float32 / int32 tensors as models return them take the plain path
                self._plain.add(core)

        return cached_config(self, (kind, quantization), kind, quantization, build, register)

    def _inputs(self, conf, loc, landms, quantization, batch):
        s = as_rows(conf, "conf", self.num_anchors, 2, batch)
        b = as_rows(loc, "loc", self.num_anchors, 4, batch)
        k = as_rows(landms, "landms", self.num_anchors, 2 * self.num_landmarks, batch)
        if not s.dtype == b.dtype == k.dtype:
            raise TypeError(f"conf, loc and landms must have the same dtype, got {s.dtype}, {b.dtype} and {k.dtype}")
        if batch and not s.shape[0] == b.shape[0] == k.shape[0]:
            raise ValueError(f"conf, loc and landms batches differ: {s.shape[0]}, {b.shape[0]}, {k.shape[0]}")
        kind = KIND_OF_DTYPE[s.dtype]
        if kind == "s8":
            if quantization is None:
                raise ValueError(
                    "int8 inputs need quantization=((conf_scale, conf_zp), (loc_scale, loc_zp), "
                    "(landms_scale, landms_zp))"
                )
            quantization = split_quantization(quantization, TENSORS)
        return s, b, k, kind, quantization

    def unpack(self, packed, quantization=None):
        """(conf, loc, landms, quantization) views of a packed [N, 4 + 2 + 2P] output (or [1, N, ...], [B, N, ...]);
        an int8 one has one (scale, zero_point) for every column."""
        if not isinstance(packed, np.ndarray):
            raise TypeError(f"packed must be a numpy array, got {type(packed).__name__}")
        cols = 6 + 2 * self.num_landmarks
        if packed.ndim not in (2, 3) or packed.shape[-1] != cols:
            raise ValueError(
                f"a packed RetinaFace output must be [N, {cols}] (loc 4, conf 2, landms "
                f"{2 * self.num_landmarks}) or [B, N, {cols}], got shape {packed.shape}"
            )
        if quantization is not None and len(quantization) == 2 and np.isscalar(quantization[0]):
            quantization = (tuple(quantization),) * 3
        return packed[..., 4:6], packed[..., :4], packed[..., 6:], quantization

    # postprocess(conf, loc=None, landms=None, quantization=None, backend="c"): detections with ``landmarks``; a list
    # for a batch B > 1. Compiled (_core.retinaface_postprocess, which documents the arguments): tensors as models
    # return them go to C without a Python frame; any other input comes back to _postprocess_any.
    postprocess = retinaface_postprocess

    def _postprocess_any(self, conf, loc=None, landms=None, quantization=None, backend: str = "c"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        given = quantization
        packed = loc is None and landms is None
        if packed:
            conf, loc, landms, quantization = self.unpack(conf, quantization)
        elif loc is None or landms is None:
            raise TypeError("pass conf, loc and landms, or one packed output alone")
        batch = batch_size(conf, loc, landms) is not None
        s, b, k, kind, quant = self._inputs(conf, loc, landms, quantization, batch)
        fc, core = self.config(kind, quant)
        if backend == "c" and kind == "s8":  # next time straight to C: one packed tensor (layout 2) or three
            self._plain.add_s8(core, given, 2 if packed else 0, not packed)
        if not batch:
            s, b, k = s[None], b[None], k[None]
        outs = run_outputs(backend, fc, core, s, b, k, names=("conf", "loc", "landms"))
        dets = [Detections.from_fixed(o) for o in outs]
        return dets if batch else dets[0]

    def reference(self, conf, loc=None, landms=None, quantization=None) -> Detections:
        """RetinaFace's test path in float64 (ultrapost.reference.retinaface) on the same inputs, int8
        dequantized first."""
        if loc is None and landms is None:
            conf, loc, landms, quantization = self.unpack(conf, quantization)
        s, b, k, kind, quant = self._inputs(conf, loc, landms, quantization, False)
        if kind == "s8":
            s, b, k = (reference.dequantize(x, *q) for x, q in zip((s, b, k), quant, strict=True))
        elif kind == "i32":
            s, b, k = s / (1 << 20 if self.logits else 1 << 30), b / (1 << 20), k / (1 << 20)
        pad = (0.0, 0.0) if self.pixel_size is None else (1.0 / self.pixel_size[0], 1.0 / self.pixel_size[1])
        boxes, scores, landmarks, anchors = reference.retinaface(
            s,
            b,
            k,
            self.priors,
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
            candidate_limit=self.num_anchors if self.candidate_limit is None else self.candidate_limit,
            max_detections=self.max_detections,
            logits=self.logits,
            eps=self.eps,
            center_variance=self.center_variance,
            size_variance=self.size_variance,
            nms_kind=self.nms,
            inclusive=self.inclusive,
            pad=pad,
            sigma=self.soft_sigma,
            soft_threshold=self.soft_threshold,
        )
        return Detections(boxes, scores, anchors, landmarks=landmarks)

    def __repr__(self) -> str:
        w, h = self.input_size
        return f"RetinaFace({w}x{h}, {self.num_anchors} anchors, t={self.score_threshold}, nms={self.nms})"


def _preset_choices(name: str, input_size, given: dict) -> dict:
    """The preset's value of each parameter left at RetinaFace's default (an explicit other value wins)."""
    defaults = {k: p.default for k, p in inspect.signature(RetinaFace.__init__).parameters.items()}
    opts = preset_options(name, input_size)
    if opts.pop("priors", "stride") != "stride":
        raise ValueError(f"preset {name!r} uses Ultraface's trained priors; RetinaFace priors are stride priors")
    if opts.pop("clip", False):
        raise ValueError(f"preset {name!r} clips boxes; RetinaFace's reference does not")
    opts.setdefault("pixel_size", None)
    out = dict(given)
    for key, value in opts.items():
        if key in out and out[key] == defaults[key]:
            out[key] = value
    return out
