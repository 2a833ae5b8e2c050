"""What the bench times: a ``Workload`` is one image's worth of Ultraface outputs, built-in synthetic ones
(``synthetic_workload``) or a real model's on a photo (``model_workload``), with the float inputs the peers get."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ultrapost.core.priors import ultraface_priors
from ultrapost.families.ultraface import Ultraface
from ultrapost.pipeline.detect import FaceDetector


@dataclass
class Workload:
    """One image's outputs: what ultrapost gets (``args`` for ``pp.postprocess``) and what the float peers get.

    ``probs`` float32 [N, 2] and ``boxes`` float32 [N, 4] (raw deltas unless ``decoded``) are the peers' inputs;
    ``width``/``height`` the pixel scale predict() multiplies by (the model input's size).
    """

    name: str
    pp: Ultraface
    args: dict
    probs: np.ndarray
    boxes: np.ndarray
    decoded: bool
    width: int
    height: int
    info: dict = field(default_factory=dict)

    @property
    def num_anchors(self) -> int:
        return self.pp.num_anchors

    @property
    def candidates(self) -> int:
        return int(np.count_nonzero(self.probs[:, 1] > np.float32(self.pp.score_threshold)))


def synthetic_outputs(input_size=(320, 240), *, faces: int = 20, per_face: int = 4, seed: int = 0):
    """float32 (probabilities [N, 2], raw deltas [N, 4]) shaped like Ultraface's on a group photo.

    ``faces`` faces on a grid (no two overlap), each seen by the ``per_face`` anchors whose priors overlap it most,
    with probabilities in [0.75, 0.995] and deltas that decode to the face within a few percent; every other anchor
    is background (probability below 0.6, deltas ~ N(0, 1.2) clipped to +-7, as on real photos). About 80
    candidates at 0.7 and 20 faces kept at every input size: real photos give 16..90 candidates and 2..44 faces at
    320x240. The numbers are far from the thresholds so float and fixed point decide alike.
    """
    rng = np.random.default_rng(seed)
    w_in, h_in = (input_size, input_size) if isinstance(input_size, int) else input_size
    priors = ultraface_priors((w_in, h_in))
    n = len(priors)
    p = 0.6 * rng.random(n) ** 8
    deltas = np.clip(rng.normal(0.0, 1.2, (n, 4)), -7.0, 7.0)
    cols = int(np.ceil(np.sqrt(faces * 1.25)))
    rows = int(np.ceil(faces / cols))
    pcorner = np.concatenate([priors[:, :2] - priors[:, 2:] / 2, priors[:, :2] + priors[:, 2:] / 2], axis=1)
    for f in range(faces):
        r, c = divmod(f, cols)
        fw = rng.uniform(0.35, 0.5) / cols  # normalized width; height 1.2x in pixels
        fh = min(fw * 1.2 * w_in / h_in, 0.5 / rows)
        cx = (c + 0.5) / cols + rng.uniform(-0.2, 0.2) / cols
        cy = (r + 0.5) / rows + rng.uniform(-0.2, 0.2) / rows
        face = np.array([cx - fw / 2, cy - fh / 2, cx + fw / 2, cy + fh / 2])
        lo = np.maximum(pcorner[:, :2], face[:2])
        hi = np.minimum(pcorner[:, 2:], face[2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
        union = np.prod(priors[:, 2:], axis=1) + fw * fh - inter
        best = np.argsort(-(inter / union), kind="stable")[:per_face]
        pri = priors[best]
        jitter = rng.normal(0.0, 0.03, (len(best), 4))
        deltas[best, 0] = ((cx + jitter[:, 0] * fw) - pri[:, 0]) / (0.1 * pri[:, 2])
        deltas[best, 1] = ((cy + jitter[:, 1] * fh) - pri[:, 1]) / (0.1 * pri[:, 3])
        deltas[best, 2] = np.log(fw * (1 + jitter[:, 2]) / pri[:, 2]) / 0.2
        deltas[best, 3] = np.log(fh * (1 + jitter[:, 3]) / pri[:, 3]) / 0.2
        p[best] = rng.uniform(0.75, 0.995, len(best))
    probs = np.stack([1.0 - p, p], axis=1).astype(np.float32)
    return probs, deltas.astype(np.float32)


def synthetic_workload(
    input_size=(320, 240), *, score_threshold: float = 0.7, iou_threshold: float = 0.3, seed: int = 0
) -> Workload:
    probs, deltas = synthetic_outputs(input_size, seed=seed)
    pp = Ultraface(input_size, score_threshold=score_threshold, iou_threshold=iou_threshold)
    w, h = pp.input_size
    return Workload(
        name=f"synthetic {w}x{h}",
        pp=pp,
        args=dict(scores=probs, boxes=deltas, decoded=False, quantization=None),
        probs=probs,
        boxes=deltas,
        decoded=False,
        width=w,
        height=h,
        info={"source": "synthetic", "seed": seed},
    )


def _float_inputs(spec, outputs) -> tuple[np.ndarray, np.ndarray]:
    """The peers' float32 probabilities [N, 2] and boxes [N, 4] from a model's outputs (dequantized, softmaxed)."""

    def real(name):
        a = np.asarray(outputs[name])
        a = a[0] if a.ndim == 3 else a
        q = spec.output_quantization.get(name)
        return a.astype(np.float64) if q is None else (a.astype(np.float64) - q[1]) * q[0]

    if spec.family == "ultraslim":
        t = real(spec.scores)
        scores, boxes = t[:, :2], t[:, 2:]
    else:
        scores, boxes = real(spec.scores), real(spec.boxes)
    if spec.num_classes != 2:
        raise ValueError(f"the bench compares face/background models; this one has {spec.num_classes} classes")
    if spec.logits:
        p = 1.0 / (1.0 + np.exp(scores[:, 0] - scores[:, 1]))
        scores = np.stack([1.0 - p, p], axis=1)
    return scores.astype(np.float32), boxes.astype(np.float32)


def model_workload(model, image, *, score_threshold: float = 0.7, iou_threshold: float = 0.3) -> Workload:
    """A real model's outputs on one photo: ``model`` a path or ``FaceDetector``, ``image`` a path or array."""
    det = model if isinstance(model, FaceDetector) else FaceDetector(model)
    spec = det.spec
    if spec.family not in ("ultraface", "ultraslim"):
        raise ValueError(f"the bench compares Ultraface-style post-processors; {det.runner.path.name} is {spec.family}")
    outputs, _transform = det.outputs(image)
    probs, boxes = _float_inputs(spec, outputs)
    pp = Ultraface(**spec.ultraface_options(), score_threshold=score_threshold, iou_threshold=iou_threshold)
    w, h = spec.input_size
    image_name = os.path.basename(os.fspath(image)) if isinstance(image, (str, os.PathLike)) else "array"
    return Workload(
        name=f"{det.runner.path.name} on {image_name}",
        pp=pp,
        args=spec.postprocess_args(outputs),
        probs=probs,
        boxes=boxes,
        decoded=bool(spec.decoded),
        width=w,
        height=h,
        info={"source": "model", "model": det.runner.path.name, "image": image_name},
    )
