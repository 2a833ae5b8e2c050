"""Per frame: ``FaceDetector`` against bare inference of the same tensor and against the naive pipeline.

Shared by ``ultrapost bench --frame`` and benchmarks/. One frame (a photo, or a built-in synthetic one) goes through:

- ``detector``: ``FaceDetector(frame)``: ultrapost's C pre-processing, the model, ultrapost's C post-processing;
- its stages, each timed alone: ``pre`` (``detector.preprocessor(frame)``), ``inference`` (``runner.run`` on that
  tensor: the floor, what the model costs whatever surrounds it), ``post`` (the post-processor on those outputs);
- ``naive``: what a user writes today around the same model (Ultraface families): ``cv2.resize`` (INTER_LINEAR) to
  the input size, the normalization in numpy (``(x - mean) / std`` as float32, or quantized to the input type), the
  same runner, then the Ultraface repository's ``predict()`` in numpy (``peers.predict`` / ``predict_raw``, on
  dequantized, softmaxed float32 copies made inside the timed call, as that user would).

Calls are timed interleaved (``timing.time_calls``); ratios are medians over the bare inference's median.
"""

from __future__ import annotations

import numpy as np

from ultrapost.bench import peers
from ultrapost.bench.timing import time_calls
from ultrapost.bench.workloads import _float_inputs
from ultrapost.families.ultraface import Ultraface

# (key, label) in table order
STAGES = (
    ("inference", "bare inference (same tensor)"),
    ("detector", "FaceDetector(frame)"),
    ("pre", "  its pre-processing (C)"),
    ("post", "  its post-processing (C)"),
    ("naive", "naive: cv2.resize + numpy + predict()"),
    ("naive_pre", "  its pre-processing (cv2 + numpy)"),
)
LABELS = dict(STAGES)


def builtin_frame(width: int = 640, height: int = 480) -> np.ndarray:
    """A deterministic RGB frame: smooth gradients with noise (no model sees faces in it; the stages' costs are
    those of a frame with few candidates)."""
    y, x = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(0).integers(0, 32, (height, width, 3))
    planes = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], axis=2)
    return ((planes + noise) % 256).astype(np.uint8)


def naive_preprocess(spec):
    """The naive pre-processing of a model (``spec``: its ``ModelSpec``): frame -> input tensor with cv2 and numpy."""
    import cv2

    w, h = spec.input_size
    mean = np.asarray(spec.mean, np.float32)
    std = np.asarray(spec.std, np.float32)
    bgr = spec.channel_order == "BGR"
    nchw = spec.layout == "NCHW"
    q = spec.input_quantization if spec.input_dtype != "float32" else None
    info = np.iinfo(spec.input_dtype) if q is not None else None

    def run(frame):
        img = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
        if bgr:
            img = img[:, :, ::-1]
        x = (img.astype(np.float32) - mean) / std
        if q is not None:
            x = np.clip(np.round(x / q[0] + q[1]), info.min, info.max).astype(spec.input_dtype)
        return np.ascontiguousarray(x.transpose(2, 0, 1) if nchw else x)[None]

    return run


def naive_pipeline(detector):
    """frame -> (boxes in input pixels, probabilities) the naive way, for an Ultraface-family detector; None for the
    other families (``predict()`` is Ultraface's)."""
    spec = detector.spec
    if spec.family not in ("ultraface", "ultraslim") or spec.num_classes != 2:
        return None
    pre, runner = naive_preprocess(spec), detector.runner
    w, h = spec.input_size
    t, iou = detector.options["score_threshold"], detector.options["iou_threshold"]
    priors = None if spec.decoded else Ultraface(**spec.ultraface_options()).priors

    def run(frame):
        probs, boxes = _float_inputs(spec, runner.run(pre(frame)))
        if spec.decoded:
            return peers.predict(w, h, probs[None], boxes[None], t, iou)
        return peers.predict_raw(w, h, probs[None], boxes[None], priors, t, iou)

    return run


def frame_calls(detector, frame: np.ndarray) -> dict:
    """Zero-argument calls per stage (``STAGES`` keys; the naive ones only where ``naive_pipeline`` applies)."""
    if detector.preprocessor is None:
        raise ValueError("--frame needs a model with a fixed input size (a dynamic YuNet pads each frame instead)")
    tensor, transform = detector.preprocessor(frame)
    runner, post = detector.runner, detector._postprocess
    outputs = runner.run(tensor)
    if detector.spec.family == "yunet":
        size = transform.input_size
        calls = {"post": lambda: post(outputs, size)}
    else:
        calls = {"post": lambda: post(outputs)}
    calls = {
        "inference": lambda: runner.run(tensor),
        "detector": lambda: detector(frame),
        "pre": lambda: detector.preprocessor(frame),
        **calls,
    }
    naive = naive_pipeline(detector)
    if naive is not None:
        pre = naive_preprocess(detector.spec)
        calls["naive"] = lambda: naive(frame)
        calls["naive_pre"] = lambda: pre(frame)
    return calls


def run(detector, frame: np.ndarray, *, budget: float = 1.0, min_samples: int = 15) -> dict:
    """Times every stage on one frame: {"frame": [W, H], "model", "family", "faces", "naive_faces", "stages": [...],
    "ratios": {...}} with per-stage medians (us) and the ratios the targets are stated in."""
    calls = frame_calls(detector, frame)
    faces = len(detector(frame))
    naive = naive_pipeline(detector)
    naive_faces = None if naive is None else len(naive(frame)[1])
    timings = time_calls(calls, budget=budget, min_samples=min_samples)
    base = timings["inference"].median_us
    stages = [
        {"stage": k, "label": LABELS[k], **timings[k].as_dict(), "x_inference": timings[k].median_us / base}
        for k, _ in STAGES
        if k in timings
    ]
    med = {k: t.median_us for k, t in timings.items()}
    ratios = {
        "detector_over_inference": med["detector"] / base,
        "pre_share_of_detector": med["pre"] / med["detector"],
    }
    if "naive" in med:
        ratios["naive_over_detector"] = med["naive"] / med["detector"]
        ratios["naive_pre_over_pre"] = med["naive_pre"] / med["pre"]
    return {
        "model": detector.runner.path.name,
        "family": detector.spec.family,
        "frame": [int(frame.shape[1]), int(frame.shape[0])],
        "input_size": list(detector.spec.input_size),
        "interpolation": detector.interpolation,
        "faces": faces,
        "naive_faces": naive_faces,
        "stages": stages,
        "ratios": ratios,
    }


def format_table(result: dict) -> str:
    w, h = result["frame"]
    iw, ih = result["input_size"]
    r = result["ratios"]
    lines = [
        f"{result['model']} ({result['family']}, input {iw}x{ih}) on a {w}x{h} frame: median us per frame",
        f"  {'stage':<40} {'median':>10} {'p90':>10} {'x inference':>12}",
    ]
    for s in result["stages"]:
        lines.append(f"  {s['label']:<40} {s['median_us']:10.1f} {s['p90_us']:10.1f} {s['x_inference']:12.2f}")
    lines.append(
        f"FaceDetector per frame: {r['detector_over_inference']:.2f}x bare inference (target 1.10x); "
        f"pre-processing {100 * r['pre_share_of_detector']:.0f}% of the frame; faces: {result['faces']}"
    )
    if "naive_over_detector" in r:
        lines.append(
            f"naive pipeline: {r['naive_over_detector']:.2f}x FaceDetector's time (its pre-processing "
            f"{r['naive_pre_over_pre']:.2f}x ultrapost's); faces: {result['naive_faces']}"
        )
    else:
        lines.append(f"naive pipeline: not timed ({result['family']} has no numpy predict() peer)")
    return "\n".join(lines)


def plot(result: dict, path) -> None:
    """A bar per stage (median, with its p90), the bare inference's median drawn as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = result["stages"]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(stages) + 1.5))
    y = np.arange(len(stages))[::-1]
    med = [s["median_us"] for s in stages]
    err = [max(s["p90_us"] - s["median_us"], 0.0) for s in stages]
    ax.barh(y, med, xerr=[np.zeros(len(err)), err], color="#d62728", alpha=0.8)
    ax.axvline(stages[0]["median_us"], color="gray", ls="--", lw=1)
    ax.set_yticks(y, [s["label"].strip() for s in stages])
    ax.set_xlabel("median us per frame (bar: median, whisker: p90)")
    w, h = result["frame"]
    ax.set_title(f"{result['model']} on a {w}x{h} frame")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
