"""Which kind of face detector a model file is, and how to feed it and read it: a ``ModelSpec``.

    runner = load_model("version-RFB-320.onnx")
    spec = detect_family(runner)          # ModelSpec(family='ultraface', input_size=(320, 240), decoded=True, ...)
    pp = ultrapost.Ultraface(**spec.ultraface_options())
    det = pp.postprocess(**spec.postprocess_args(runner.run(tensor)))

Families are told apart by their output tensors' shapes (names differ between exports):

- ``ultraface``: scores [1,N,2|3] + boxes [1,N,4], N the Ultraface priors of the input size (or of the size without
  the finest level). Boxes either decoded (corner form, normalized) or raw deltas; scores softmaxed or raw logits.
- ``ultraslim``: one [1,N,6] tensor, rows [p_bg, p_face, x1, y1, x2, y2] (NXP eIQ; softmax and decode in the graph),
  N the priors without the finest level (172 at 128x128), so ``drop_finest_level=True``.
- ``blazeface``: regressors [1,896|2304,16] + classificators [1,896|2304,1] (logits), MediaPipe.
- ``retinaface``: loc [1,N,4] + conf [1,N,2] + landms [1,N,10] (Face-Detector-1MB-with-landmark style).

Decoded or raw, probabilities or logits (Ultraface): tensor names decide when they say so (``*_raw``, ``*delta*``,
``*logit*``, ``*decoded*``). Otherwise -- the decoded and the raw ONNX exports are both named ``scores``/``boxes``,
the float .tflite ones ``Identity``/``Identity_1`` -- one probe run on a uniform mid-gray input decides, reading the
four box values of every anchor as corners (x1, y1, x2, y2):

- decoded iff at least 90% of anchors have x2 > x1 and y2 > y1 AND the median distance between the box center and
  its prior's center is below 2 prior sizes; raw iff at most 50% are ordered AND that median is above 5 prior sizes;
  anything in between is reported as ambiguous. Measured on the shared models: decoded 100% ordered, median
  0.02-0.06; raw 0.4-5.5% ordered, median 24-26.
- probabilities iff every score lies in [-0.01, 1.01] and every row sums to 1 within 0.02 (an int8 softmax with
  scale 1/256 is off by at most about 0.008); otherwise logits. Measured: softmaxed rows sum to 1 within 1e-6;
  the int8 logits rows sum to -0.06..0.06 with values up to 3.3.

The rule depends on neither file names nor graph internals, so renamed or re-exported files are still recognized.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ultrapost.core.checks import check_input_size
from ultrapost.core.priors import ultraface_priors
from ultrapost.pipeline.runners import Runner, TensorInfo

FAMILIES = ("ultraface", "ultraslim", "blazeface", "retinaface", "yunet")
# YuNet's outputs, as every libfacedetection / opencv_zoo export names them
YUNET_OUTPUTS = tuple(f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in (8, 16, 32))
LAYOUTS = ("NCHW", "NHWC")
CHANNEL_ORDERS = ("RGB", "BGR")
RESIZE_MODES = ("stretch", "letterbox")
INPUT_DTYPES = ("float32", "int8", "uint8")

# Per family: how its reference pipeline feeds the model. Ultraface: (x - 127) / 128 on RGB, stretched to the input
# size. BlazeFace: [-1, 1] on RGB, aspect kept with a zero border (MediaPipe's ImageToTensorCalculator settings).
# RetinaFace-style: BGR (cv2.imread) minus (104, 117, 123), no scaling, aspect kept.
_FAMILY_DEFAULTS = {
    # FaceDetectorYN: the BGR frame as it is, 0..255, no mean, no scale (padded bottom / right to multiples of 32)
    "yunet": dict(
        layout="NCHW",
        mean=0.0,
        std=1.0,
        channel_order="BGR",
        resize="letterbox",
        decoded=False,
        logits=False,
        num_classes=1,
        num_keypoints=5,
    ),
    "ultraface": dict(
        layout="NCHW",
        mean=127.0,
        std=128.0,
        channel_order="RGB",
        resize="stretch",
        logits=False,
        num_classes=2,
        num_keypoints=0,
    ),
    "ultraslim": dict(
        layout="NHWC",
        mean=127.0,
        std=128.0,
        channel_order="RGB",
        resize="stretch",
        decoded=True,
        logits=False,
        num_classes=2,
        num_keypoints=0,
    ),
    "blazeface": dict(
        layout="NHWC",
        mean=127.5,
        std=127.5,
        channel_order="RGB",
        resize="letterbox",
        decoded=False,
        logits=True,
        num_classes=1,
        num_keypoints=6,
    ),
    "retinaface": dict(
        layout="NCHW",
        mean=(104.0, 117.0, 123.0),
        std=1.0,
        channel_order="BGR",
        resize="letterbox",
        decoded=False,
        logits=False,
        num_classes=2,
        num_keypoints=5,
    ),
}

# (input side, anchors) of the three MediaPipe face detectors: short range, full range, back camera.
BLAZEFACE_CONFIGS = {(128, 896): "short range", (192, 2304): "full range", (256, 896): "back camera"}

_RAW_BOX_HINTS = ("raw", "delta")
_DECODED_BOX_HINTS = ("decoded", "corner")
_LOGIT_HINTS = ("raw", "logit")
_PROB_HINTS = ("prob", "softmax")


def _triple(value, what: str) -> tuple[float, float, float]:
    v = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if v.shape not in ((1,), (3,)) or not np.all(np.isfinite(v)):
        raise ValueError(f"{what} must be a finite number or three of them, got {value!r}")
    v = np.broadcast_to(v, (3,))
    return tuple(float(x) for x in v)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to feed a detector and to hand its outputs to the post-processor.

    Fields left ``None`` take the family's defaults (see ``_FAMILY_DEFAULTS``); ``decoded`` has none for
    ``ultraface`` because a wrong guess would give wrong boxes silently. ``scores``/``boxes``/``keypoints`` are
    output tensor names: ultraslim keeps scores and boxes in its single tensor (``scores`` names it, ``boxes`` is
    ``None``); BlazeFace keeps its 6 keypoints in columns 4..15 of the regressors (``keypoints == boxes``).
    ``output_quantization`` maps output name -> (scale, zero_point) or ``None`` for float outputs.
    """

    family: str
    input_size: tuple[int, int]  # (W, H)
    layout: str | None = None
    input_name: str | None = None
    input_dtype: str = "float32"
    input_quantization: tuple[float, int] | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    channel_order: str | None = None
    resize: str | None = None
    scores: str | None = None
    boxes: str | None = None
    keypoints: str | None = None
    num_keypoints: int | None = None
    decoded: bool | None = None
    logits: bool | None = None
    num_classes: int | None = None
    output_quantization: Mapping[str, tuple[float, int] | None] = field(default_factory=dict)
    num_anchors: int | None = None
    drop_finest_level: bool = False

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        for key, value in _FAMILY_DEFAULTS[self.family].items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        if not (self.input_size is None and self.family == "yunet"):  # None: a dynamic YuNet, each frame its size
            object.__setattr__(self, "input_size", check_input_size(self.input_size))
        object.__setattr__(self, "mean", _triple(self.mean, "mean"))
        object.__setattr__(self, "std", _triple(self.std, "std"))
        if any(s == 0 for s in self.std):
            raise ValueError(f"std must be non-zero, got {self.std}")
        for name, value, allowed in (
            ("layout", self.layout, LAYOUTS),
            ("channel_order", self.channel_order, CHANNEL_ORDERS),
            ("resize", self.resize, RESIZE_MODES),
            ("input_dtype", self.input_dtype, INPUT_DTYPES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.input_dtype != "float32":
            q = self.input_quantization
            if q is None or len(q) != 2 or not float(q[0]) > 0:
                raise ValueError(f"an {self.input_dtype} input needs input_quantization=(scale > 0, zero_point)")
            object.__setattr__(self, "input_quantization", (float(q[0]), int(q[1])))
        if self.decoded is None:
            raise ValueError(f"family {self.family!r} needs decoded=True (corner boxes) or False (raw deltas)")
        if self.scores is None:
            raise ValueError("scores must name the output tensor that holds the scores")
        if self.family == "ultraface" and self.boxes is None:
            raise ValueError("an ultraface spec needs boxes, the name of the box output tensor")
        object.__setattr__(self, "output_quantization", dict(self.output_quantization))

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        if self.input_size is None:
            raise ValueError("a dynamic YuNet has no fixed input shape: each frame is its own size")
        w, h = self.input_size
        return (1, 3, h, w) if self.layout == "NCHW" else (1, h, w, 3)

    def ultraface_options(self) -> dict:
        """Keyword arguments for ``ultrapost.Ultraface`` that match this model."""
        if self.family not in ("ultraface", "ultraslim"):
            raise ValueError(f"ultrapost.Ultraface post-processes ultraface/ultraslim models, not {self.family!r}")
        return dict(input_size=self.input_size, drop_finest_level=self.drop_finest_level, logits=self.logits)

    def postprocess_args(self, outputs: Mapping[str, np.ndarray]) -> dict:
        """Keyword arguments for ``Ultraface.postprocess`` from a runner's outputs (int8 stays int8)."""
        if self.family not in ("ultraface", "ultraslim"):
            raise ValueError(
                f"ultrapost.Ultraface post-processes ultraface/ultraslim models, not {self.family!r}; "
                f"its outputs are scores={self.scores!r}, boxes={self.boxes!r}, keypoints={self.keypoints!r}"
            )
        names = [self.scores] + ([self.boxes] if self.family == "ultraface" else [])
        missing = [n for n in names if n not in outputs]
        if missing:
            raise KeyError(f"outputs lack {missing}; got {sorted(outputs)}")
        if self.family == "ultraslim":
            q = self.output_quantization.get(self.scores)
            return dict(scores=outputs[self.scores], boxes=None, decoded=True, quantization=q)
        sq, bq = self.output_quantization.get(self.scores), self.output_quantization.get(self.boxes)
        if (sq is None) != (bq is None):
            raise ValueError("scores and boxes must be both quantized or both float")
        q = None if sq is None else (sq, bq)
        return dict(scores=outputs[self.scores], boxes=outputs[self.boxes], decoded=self.decoded, quantization=q)


Probe = Callable[[np.ndarray], Mapping[str, np.ndarray]]


def detect_family(runner: Runner, *, probe: bool = True) -> ModelSpec:
    """The ``ModelSpec`` of a loaded model; may run it once on a mid-gray input (see the module doc)."""
    return spec_from_tensors(
        runner.inputs, runner.outputs, probe=runner.run if probe else None, source=runner.path.name
    )


def _unknown(source: str, inputs, outputs, why: str) -> ValueError:
    ins = "; ".join(t.describe() for t in inputs) or "none"
    outs = "; ".join(t.describe() for t in outputs) or "none"
    return ValueError(
        f"{source}: {why}. Found inputs: {ins}. Outputs: {outs}. Known layouts: Ultraface (scores [1,N,2|3] + "
        f"boxes [1,N,4]), NXP ultraslim ([1,N,6]), BlazeFace (regressors [1,896|2304,16] + classificators "
        f"[1,896|2304,1]), RetinaFace (loc [1,N,4] + conf [1,N,2] + landms [1,N,10]). To use another model, "
        f"describe it by hand, e.g. ModelSpec(family='ultraface', input_size=(320, 240), layout='NCHW', "
        f"scores='<scores output>', boxes='<boxes output>', decoded=False, logits=False), and pass that spec "
        f"instead of detecting one."
    )


def _rows(t: TensorInfo) -> tuple[int, int] | None:
    """(N, C) of an output shaped [1,N,C] or [N,C] with known N and C."""
    s = t.shape
    if len(s) == 3 and s[0] in (1, None):
        s = s[1:]
    if len(s) != 2 or s[0] is None or s[1] is None:
        return None
    return s[0], s[1]


def _probe_input(t: TensorInfo, shape) -> np.ndarray:
    # Normalized 0 is mid-gray for every family; quantized it is the zero point.
    if t.dtype.kind == "f":
        return np.zeros(shape, dtype=t.dtype)
    zero_point = t.quantization[1] if t.per_tensor else 0
    return np.full(shape, zero_point, dtype=t.dtype)


def _hint(name: str, yes: Sequence[str], no: Sequence[str]) -> bool | None:
    n = name.lower()
    if any(h in n for h in yes):
        return True
    if any(h in n for h in no):
        return False
    return None


def _decoded_from_probe(boxes: np.ndarray, priors: np.ndarray, source: str) -> bool:
    b = boxes.reshape(-1, 4)
    ordered = float(np.mean((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])))
    off_x = np.abs((b[:, 0] + b[:, 2]) / 2 - priors[:, 0]) / priors[:, 2]
    off_y = np.abs((b[:, 1] + b[:, 3]) / 2 - priors[:, 1]) / priors[:, 3]
    dev = float(np.median(np.maximum(off_x, off_y)))
    if ordered >= 0.9 and dev < 2.0:
        return True
    if ordered <= 0.5 and dev > 5.0:
        return False
    raise ValueError(
        f"{source}: cannot tell decoded boxes from raw deltas ({ordered:.1%} of anchors have x2 > x1 and y2 > y1, "
        f"median center offset {dev:.2f} prior sizes); pass a ModelSpec with decoded=True or False"
    )


def _logits_from_probe(scores: np.ndarray) -> bool:
    s = scores.reshape(-1, scores.shape[-1])
    probabilities = s.min() >= -0.01 and s.max() <= 1.01 and np.max(np.abs(s.sum(axis=1) - 1.0)) <= 0.02
    return not probabilities


def spec_from_tensors(
    inputs: Sequence[TensorInfo],
    outputs: Sequence[TensorInfo],
    *,
    probe: Probe | None = None,
    source: str = "model",
) -> ModelSpec:
    """The ``ModelSpec`` for a model with these tensors.

    ``probe`` runs the model on an input array and returns its outputs; it is called at most once, and only for an
    Ultraface model whose tensor names do not tell decoded from raw or probabilities from logits. Without it such a
    model raises ValueError.
    """
    inputs, outputs = list(inputs), list(outputs)
    if len(inputs) != 1:
        raise _unknown(source, inputs, outputs, f"expected one image input, found {len(inputs)}")
    inp = inputs[0]
    s = inp.shape
    if len(s) != 4 or s[0] not in (1, None):
        raise _unknown(source, inputs, outputs, "the input is not a single image [1,3,H,W] or [1,H,W,3]")
    if s[1] == 3 and s[3] != 3:
        layout, h, w = "NCHW", s[2], s[3]
    elif s[3] == 3:
        layout, h, w = "NHWC", s[1], s[2]
    else:
        raise _unknown(source, inputs, outputs, "the input has no 3-channel axis")
    names = {t.name for t in outputs}
    if set(YUNET_OUTPUTS) <= names:
        return _yunet_spec(inp, outputs, layout, w, h, source)
    if h is None or w is None:
        raise _unknown(source, inputs, outputs, "the input size is not fixed in the model")
    dtype = np.dtype(inp.dtype).name
    if dtype not in INPUT_DTYPES:
        raise _unknown(source, inputs, outputs, f"input type {dtype} is not supported")
    if dtype != "float32" and not inp.per_tensor:
        raise _unknown(source, inputs, outputs, f"the {dtype} input has no per-tensor quantization")
    size = (w, h)
    common = dict(
        input_size=size,
        layout=layout,
        input_name=inp.name,
        input_dtype=dtype,
        input_quantization=inp.quantization if dtype != "float32" else None,
        output_quantization={t.name: t.quantization for t in outputs},
    )
    rows = [_rows(t) for t in outputs]
    if any(r is None for r in rows):
        raise _unknown(source, inputs, outputs, "an output is not shaped [1,N,C]")
    by_c = {}
    for t, (_n, c) in zip(outputs, rows, strict=True):
        by_c.setdefault(c, []).append(t)
    ns = {n for n, _c in rows}
    cs = sorted(c for _n, c in rows)
    n = next(iter(ns)) if len(ns) == 1 else None
    full = len(ultraface_priors(size))
    without_finest = len(ultraface_priors(size, drop_finest_level=True))

    if cs == [6]:
        if n not in (full, without_finest):
            raise _unknown(
                source,
                inputs,
                outputs,
                f"a [1,N,6] output needs N = {without_finest} (Ultraface priors at {w}x{h} without the finest "
                f"level) or {full}, found {n}",
            )
        return ModelSpec(
            family="ultraslim",
            scores=outputs[0].name,
            boxes=None,
            decoded=True,
            logits=False,
            num_classes=2,
            num_anchors=n,
            drop_finest_level=n == without_finest,
            **common,
        )

    if cs == [16] and n is not None:
        return _packed_retinaface_spec(inp, outputs[0], n, size, probe, source, common)

    if cs == [2, 4, 10] and n is not None:
        return ModelSpec(
            family="retinaface",
            scores=by_c[2][0].name,
            boxes=by_c[4][0].name,
            keypoints=by_c[10][0].name,
            num_anchors=n,
            **common,
        )

    if cs == [1, 16] and n is not None:
        if (w, h) not in ((k, k) for k, _ in BLAZEFACE_CONFIGS) or (w, n) not in BLAZEFACE_CONFIGS:
            known = ", ".join(f"{k}x{k} -> {a} anchors ({v})" for (k, a), v in BLAZEFACE_CONFIGS.items())
            raise _unknown(source, inputs, outputs, f"BlazeFace-shaped outputs at {w}x{h} with {n} anchors ({known})")
        regressors = by_c[16][0].name
        return ModelSpec(
            family="blazeface",
            scores=by_c[1][0].name,
            boxes=regressors,
            keypoints=regressors,
            num_anchors=n,
            **common,
        )

    if len(cs) == 2 and cs[1] == 4 and cs[0] in (2, 3) and n is not None:
        scores, boxes = by_c[cs[0]][0], by_c[4][0]
        if n not in (full, without_finest):
            raise _unknown(
                source,
                inputs,
                outputs,
                f"Ultraface-shaped outputs with {n} anchors, but Ultraface at {w}x{h} has {full} "
                f"({without_finest} without the finest level)",
            )
        drop = n != full
        decoded = _hint(boxes.name, _DECODED_BOX_HINTS, _RAW_BOX_HINTS)
        logits = _hint(scores.name, _LOGIT_HINTS, _PROB_HINTS)
        if decoded is None or logits is None:
            if probe is None:
                raise ValueError(
                    f"{source}: Ultraface outputs {scores.name!r}/{boxes.name!r} do not say whether boxes are decoded "
                    f"and scores are logits; detect with a probe run or pass a ModelSpec"
                )
            got = probe(_probe_input(inp, (1, *inp.shape[1:])))
            if decoded is None:
                priors = ultraface_priors(size, drop_finest_level=drop)
                decoded = _decoded_from_probe(boxes.dequantize(got[boxes.name]), priors, source)
            if logits is None:
                logits = _logits_from_probe(scores.dequantize(got[scores.name]))
        return ModelSpec(
            family="ultraface",
            scores=scores.name,
            boxes=boxes.name,
            decoded=decoded,
            logits=logits,
            num_classes=cs[0],
            num_anchors=n,
            drop_finest_level=drop,
            **common,
        )

    raise _unknown(source, inputs, outputs, "the outputs match no known face detector")


def _yunet_spec(inp: TensorInfo, outputs, layout: str, w, h, source: str) -> ModelSpec:
    """YuNet: its 12 named outputs; a fixed or a dynamic ([1, 3, H, W] with H, W open) input."""
    if layout != "NCHW" or np.dtype(inp.dtype).name != "float32":
        raise _unknown(source, [inp], outputs, "YuNet-named outputs, but the input is not float32 NCHW")
    dynamic = h is None or w is None
    if not dynamic and (w % 32 or h % 32):
        raise _unknown(source, [inp], outputs, f"a YuNet input must be a multiple of 32, got {w}x{h}")
    return ModelSpec(
        family="yunet",
        input_size=None if dynamic else (w, h),
        layout=layout,
        input_name=inp.name,
        scores="cls_8",
        boxes="bbox_8",
        keypoints="kps_8",
        output_quantization={t.name: t.quantization for t in outputs},
    )


def _packed_retinaface_spec(inp, out: TensorInfo, n: int, size, probe, source: str, common: dict) -> ModelSpec:
    """One [1, N, 16] output of loc (4), class pair (2) and landmarks (10), N the priors of a known config."""
    from ultrapost.core.priors import RETINAFACE_CONFIGS, retinaface_priors

    counts = {name: len(retinaface_priors(size, **cfg)) for name, cfg in RETINAFACE_CONFIGS.items()}
    if n not in counts.values():
        known = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise _unknown(source, [inp], [out], f"a packed [1,N,16] output, N = {n}; RetinaFace priors at {size}: {known}")
    logits = _hint(out.name, _LOGIT_HINTS, _PROB_HINTS)
    if logits is None:
        if probe is None:
            raise ValueError(f"{source}: packed output {out.name!r} does not say whether its class pair is logits")
        got = probe(_probe_input(inp, (1, *inp.shape[1:])))
        logits = _logits_from_probe(out.dequantize(got[out.name])[..., 4:6])
    return ModelSpec(
        family="retinaface",
        scores=out.name,
        boxes=out.name,
        keypoints=out.name,
        logits=logits,
        num_anchors=n,
        **common,
    )


__all__ = ["FAMILIES", "ModelSpec", "YUNET_OUTPUTS", "detect_family", "spec_from_tensors"]
