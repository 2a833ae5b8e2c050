"""From a photo and a detector file to faces in the photo's pixels: ``detect()`` and ``FaceDetector``.

    faces = ultrapost.detect("group.jpg", model="version-RFB-320.onnx", score_threshold=0.7)
    faces.boxes     # float64 [K, 4] x1, y1, x2, y2 in the photo's pixels, clipped to the photo
    faces.scores    # float64 [K], in keep order (score descending, then anchor index ascending)

    detector = ultrapost.FaceDetector("version-RFB-320.onnx")   # loads the model once
    for frame in frames:                                        # e.g. RGB uint8 arrays from a video
        faces = detector(frame)

The model's family (``ultrapost.pipeline.recognize.detect_family``) picks the preprocessing and, through
``POSTPROCESSORS``, the post-processor. The post-processor runs on the model's outputs exactly as the model gives them
(int8 stays int8).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ultrapost._version import __version__
from ultrapost.core.checks import check_flag
from ultrapost.core.detections import Detections
from ultrapost.core.priors import RETINAFACE_CONFIGS, retinaface_priors
from ultrapost.families.blazeface import BlazeFace
from ultrapost.families.retinaface import RetinaFace
from ultrapost.families.ultraface import Ultraface
from ultrapost.families.yunet import YuNet
from ultrapost.pipeline.recognize import YUNET_OUTPUTS, ModelSpec, detect_family
from ultrapost.pipeline.runners import Runner, load_model

if TYPE_CHECKING:  # preprocess needs Pillow, an optional dependency: imported when a photo is first prepared
    from ultrapost.pipeline.preprocess import Transform

__all__ = ["POSTPROCESSORS", "DEFAULTS", "Faces", "FaceDetector", "detect"]

# Per family, the decisions of its reference pipeline (REFERENCE.md): Ultraface's predict() keeps p > 0.7 and
# suppresses at IoU 0.3 (every class of a multi-class model alike); NXP's ultraslim example keeps p > 0.5; MediaPipe
# keeps BlazeFace scores >= 0.5, weighted NMS at IoU 0.3; RetinaFace's test path keeps p > 0.3, the 2000 best,
# py_cpu_nms at 0.4 with "+1 pixel" areas, at most 1000; a packed RetinaFace (Pytorch_Retinaface) is drawn by its
# detect.py when score >= 0.6 after its py_cpu_nms at 0.4 (the 5000 best, the first 750 kept); FaceDetectorYN's
# defaults are score 0.9, NMS 0.3, top_k 5000.
# The packed RetinaFace's (a variant of the retinaface family).
PACKED_RETINAFACE_DEFAULTS = dict(score_threshold=0.6, iou_threshold=0.4, candidate_limit=5000, max_detections=750)
DEFAULTS: dict[str, dict] = {
    "yunet": dict(score_threshold=0.9, iou_threshold=0.3, candidate_limit=5000),
    "ultraface": dict(score_threshold=0.7, iou_threshold=0.3, candidate_limit=200),
    "ultraslim": dict(score_threshold=0.5, iou_threshold=0.3, candidate_limit=200),
    "blazeface": dict(score_threshold=0.5, iou_threshold=0.3),
    "retinaface": dict(score_threshold=0.3, iou_threshold=0.4, candidate_limit=2000, max_detections=1000),
}

PostProcessor = Callable[[Mapping[str, np.ndarray]], Detections]


def _quantization(spec: ModelSpec, *names: str):
    """The (scale, zero_point) of each named output, or None when they are all float."""
    qs = [spec.output_quantization.get(n) for n in names]
    if all(q is None for q in qs):
        return None
    if any(q is None for q in qs):
        raise ValueError(f"outputs {names} must be all quantized or all float, got {qs}")
    return tuple(qs)


def _ultraface(spec: ModelSpec, options: dict, backend: str) -> PostProcessor:
    kwargs = spec.ultraface_options()
    if spec.num_classes > 2:  # background + several classes: each class column from 1 on, one threshold for all
        kwargs["class_thresholds"] = (options["score_threshold"],) * (spec.num_classes - 1)
    pp = Ultraface(**kwargs, **options)

    def run(outputs):
        return pp.postprocess(**spec.postprocess_args(outputs), backend=backend)

    run.postprocessor = pp
    return run


def _blazeface(spec: ModelSpec, options: dict, backend: str) -> PostProcessor:
    pp = BlazeFace(input_size=spec.input_size, **options)
    if pp.num_anchors != spec.num_anchors:
        raise ValueError(f"BlazeFace at {spec.input_size} has {pp.num_anchors} anchors, the model {spec.num_anchors}")
    quantization = _quantization(spec, spec.scores, spec.boxes)

    def run(outputs):
        return pp.postprocess(outputs[spec.scores], outputs[spec.boxes], quantization=quantization, backend=backend)

    run.postprocessor = pp
    return run


def _yunet(spec: ModelSpec, options: dict, backend: str) -> PostProcessor:
    top_k = options.pop("candidate_limit", 5000)
    pp = YuNet(
        spec.input_size,
        options["score_threshold"],
        options["iou_threshold"],
        0 if top_k is None else top_k,
        max_detections=options.get("max_detections"),
    )
    quantization = _quantization(spec, *YUNET_OUTPUTS)
    if quantization is not None:
        quantization = dict(zip(YUNET_OUTPUTS, quantization, strict=True))

    def run(outputs, frame_size=None):
        return pp.postprocess(outputs, quantization=quantization, input_size=frame_size, backend=backend)

    run.postprocessor = pp
    return run


def _retinaface(spec: ModelSpec, options: dict, backend: str) -> PostProcessor:
    packed = spec.scores == spec.boxes == spec.keypoints
    if packed:  # Pytorch_Retinaface's decisions; its drawn faces are score >= t
        options = dict(options, logits=spec.logits, preset="pytorch_retinaface", score_test=">=")
    # The prior config whose anchor count is the model's (Face-Detector-1MB's, zineos Blazeface's, then
    # Pytorch_Retinaface's mobilenet0.25).
    pp = None
    for name in RETINAFACE_CONFIGS:
        candidate = RetinaFace.model(name, spec.input_size, **options)
        if candidate.num_anchors == spec.num_anchors:
            pp = candidate
            break
    if pp is None:
        counts = ", ".join(
            f"{name}: {len(retinaface_priors(spec.input_size, **cfg))}" for name, cfg in RETINAFACE_CONFIGS.items()
        )
        raise ValueError(
            f"a RetinaFace-style model at {spec.input_size} with {spec.num_anchors} anchors matches no "
            f"known prior config ({counts}); use ultrapost.RetinaFace with its min_sizes and steps"
        )
    quantization = _quantization(spec, spec.scores, spec.boxes, spec.keypoints)
    if packed:
        quantization = None if quantization is None else quantization[0]

        def run_packed(outputs):
            return pp.postprocess(outputs[spec.scores], quantization=quantization, backend=backend)

        run_packed.postprocessor = pp
        return run_packed

    def run(outputs):
        return pp.postprocess(
            outputs[spec.scores],
            outputs[spec.boxes],
            outputs[spec.keypoints],
            quantization=quantization,
            backend=backend,
        )

    run.postprocessor = pp
    return run


# family -> factory(spec, options, backend) -> outputs -> Detections. The one place a family meets its post-processor.
POSTPROCESSORS: dict[str, Callable[[ModelSpec, dict, str], PostProcessor]] = {
    "ultraface": _ultraface,
    "ultraslim": _ultraface,
    "blazeface": _blazeface,
    "retinaface": _retinaface,
    "yunet": _yunet,
}


@dataclass(frozen=True, eq=False)
class Faces:
    """The faces found in one photo.

    ``boxes`` float64 [K, 4] x1, y1, x2, y2 in the photo's pixels (continuous coordinates: 0 is the left edge of
    the first pixel, ``width`` the right edge of the last), clipped to the photo unless asked otherwise; ``scores``
    float64 [K] face probabilities; ``landmarks`` float64 [K, P, 2] photo pixels (never clipped) or None;
    ``labels`` int64 [K] or None; ``detections`` the post-processor's result in the model input's normalized
    coordinates; ``transform`` how the photo was placed in the model input; ``image_size`` (width, height).
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray | None
    labels: np.ndarray | None
    detections: Detections
    transform: Transform
    image_size: tuple[int, int]

    @classmethod
    def from_detections(cls, det: Detections, transform: Transform, *, clip: bool = True) -> Faces:
        w, h = transform.image_size
        boxes = det.boxes
        boxes = transform.boxes_to_image(boxes) if len(boxes) else np.zeros((0, 4))
        landmarks = det.landmarks
        if landmarks is not None:
            k, p = landmarks.shape[:2]
            flat = landmarks.reshape(k, p * 2)
            landmarks = (transform.points_to_image(flat) if k else flat).reshape(k, p, 2)
        if clip:
            boxes = np.clip(boxes, 0.0, np.array([w, h, w, h], dtype=np.float64))
        return cls(boxes, det.scores, landmarks, det.labels, det, transform, (w, h))

    def __len__(self) -> int:
        return len(self.scores)

    def __repr__(self) -> str:
        w, h = self.image_size
        return f"Faces({len(self)} in a {w}x{h} photo)"

    def to_records(self, decimals: int = 2) -> list[dict]:
        """One dict per face ({"box": [x1, y1, x2, y2], "score": p, ...}), rounded, ready for ``json.dumps``."""
        out = []
        for i in range(len(self)):
            rec = {"box": [round(float(v), decimals) for v in self.boxes[i]], "score": round(float(self.scores[i]), 6)}
            if self.landmarks is not None:
                rec["landmarks"] = [
                    [round(float(x), decimals), round(float(y), decimals)] for x, y in self.landmarks[i]
                ]
            if self.labels is not None:
                rec["label"] = int(self.labels[i])
            out.append(rec)
        return out

    def to_json(self, **extra) -> str:
        w, h = self.image_size
        return json.dumps({**extra, "width": w, "height": h, "faces": self.to_records()})


_UNSET = object()


class FaceDetector:
    """A detector file loaded once, with its preprocessing and post-processor, for many photos or video frames.

    ``model``: a .onnx or .tflite path, or a loaded ``ultrapost.pipeline.runners.Runner``. ``spec``: a ``ModelSpec`` for
    a model whose family cannot be recognized from its tensors (default: ``detect_family``). Thresholds left ``None``
    take the family's defaults (``DEFAULTS``). ``backend``: ``"c"`` (the compiled core) or ``"golden"`` (its numpy twin,
    bit-identical and slower), for the pre-processing and the post-processing alike. ``op_resolver``/``num_threads``
    go to ``load_model``. ``interpolation`` goes to ``preprocessor``, the C pre-processing stage set up from the
    family's spec (``preprocessor_for``): by default the family reference's, ``"mediapipe"`` for BlazeFace (MediaPipe's
    letterbox warp) and ``"pil"`` (Pillow bilinear) for the others; or "cv2", "nearest".
    ``clip=False`` keeps boxes that reach past the photo's edges unclipped.

    A detector holds one model session: use one detector per thread (LiteRT interpreters are not thread-safe).
    """

    def __init__(
        self,
        model,
        *,
        score_threshold: float | None = None,
        iou_threshold: float | None = None,
        candidate_limit=_UNSET,
        max_detections: int | None = None,
        spec: ModelSpec | None = None,
        backend: str = "c",
        op_resolver: str = "default",
        num_threads: int | None = None,
        interpolation: str | None = None,
        clip: bool = True,
    ):
        from ultrapost.pipeline.preprocessor import INTERPOLATIONS, preprocessor_for

        if backend not in ("c", "golden"):
            raise ValueError(f"backend must be 'c' or 'golden', got {backend!r}")
        if interpolation is not None and interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        self.runner = (
            model if isinstance(model, Runner) else load_model(model, op_resolver=op_resolver, num_threads=num_threads)
        )
        if spec is not None and not isinstance(spec, ModelSpec):
            raise TypeError(f"spec must be a ModelSpec, got {type(spec).__name__}")
        self.spec = spec if spec is not None else detect_family(self.runner)
        factory = POSTPROCESSORS.get(self.spec.family)
        if factory is None:
            raise ValueError(
                f"{self.runner.path.name}: {self.spec.family} models are recognized but their post-processing "
                f"isn't available in this version of ultrapost ({__version__})"
            )
        packed = self.spec.family == "retinaface" and self.spec.scores == self.spec.boxes
        options = dict(PACKED_RETINAFACE_DEFAULTS if packed else DEFAULTS.get(self.spec.family, {}))
        given = dict(score_threshold=score_threshold, iou_threshold=iou_threshold, max_detections=max_detections)
        options.update({k: v for k, v in given.items() if v is not None})
        if candidate_limit is not _UNSET:
            options["candidate_limit"] = candidate_limit
        self.options = options
        if interpolation is None:
            interpolation = "mediapipe" if self.spec.family == "blazeface" else "pil"
        self.interpolation = interpolation
        # YuNet with a dynamic input size pads each frame to multiples of 32 instead (preprocess_yunet)
        self.preprocessor = None if self.spec.input_size is None else preprocessor_for(self.spec, interpolation)
        self.backend = backend
        self.clip = check_flag(clip, "clip")
        self._postprocess = factory(self.spec, dict(options), backend)
        self.postprocessor = getattr(self._postprocess, "postprocessor", None)

    def outputs(self, image) -> tuple[dict[str, np.ndarray], Transform]:
        """The model's raw outputs for a photo, and how the photo was placed in the model input."""
        from ultrapost.pipeline.preprocess import load_image

        if self.spec.family == "yunet" and self.spec.input_size is None:
            from ultrapost.pipeline.preprocess_yunet import pad_frame

            tensor, transform = pad_frame(image)
        else:
            tensor, transform = self.preprocessor(load_image(image), backend=self.backend)
        return self.runner.run(tensor), transform

    def detect(self, image) -> Faces:
        """Faces in a photo: a path, a PIL image, or a uint8 RGB array [H, W, 3] (see ``preprocess.load_image``)."""
        outputs, transform = self.outputs(image)
        if self.spec.family == "yunet":  # normalized to the frame (the model input) it was given
            return Faces.from_detections(self._postprocess(outputs, transform.input_size), transform, clip=self.clip)
        return Faces.from_detections(self._postprocess(outputs), transform, clip=self.clip)

    __call__ = detect

    def __repr__(self) -> str:
        size = "dynamic" if self.spec.input_size is None else "{}x{}".format(*self.spec.input_size)
        opts = ", ".join(f"{k}={v}" for k, v in self.options.items())
        return f"<FaceDetector {self.runner.path.name}: {self.spec.family} {size}, {opts}>"


def detect(image, *, model, **options) -> Faces:
    """Faces in one photo, in the photo's pixels. ``model``: a detector file path (or a loaded Runner).

    ``options`` are those of ``FaceDetector`` (``score_threshold``, ``iou_threshold``, ``candidate_limit``,
    ``max_detections``, ``backend``, ...). This loads the model on every call: for many photos or a video, make one
    ``FaceDetector`` and call it.
    """
    return FaceDetector(model, **options).detect(image)
