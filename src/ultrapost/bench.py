"""Timing ultrapost against the post-processors people use today, on the same inputs in the same run.

Shared by ``ultrapost bench`` and benchmarks/. A ``Workload`` is one image's worth of Ultraface outputs (built-in
synthetic ones, or a real model's); ``peer_calls`` gives each method as a zero-argument call on it; ``time_calls``
times them interleaved; ``check_decisions`` tells whether each peer kept the same faces as ultrapost.

Methods (``METHODS``):

- ``ultrapost``: ``Ultraface.postprocess`` on the compiled C core, the outputs as the model gives them.
- ``golden``: the same call on the numpy golden model (bit-identical to the C, written for clarity, not speed).
- ``numpy_predict``: the Ultraface repository's ``predict()`` (``baselines.predict_raw`` on raw deltas: decode all
  anchors in float32, then threshold and hard NMS).
- ``opencv_nms``: ``baselines.decode_numpy`` (raw deltas only) + ``cv2.dnn.NMSBoxes`` with the same candidate limit.
- ``onnxruntime_nms``: ``baselines.decode_numpy`` (raw deltas only) + onnxruntime's ``NonMaxSuppression``.
- ``numpy_copy``: ``scores.copy(); boxes.copy()``, a floor: touching the two tensors once.

Peers need float probabilities: int8 or logit outputs are dequantized and softmaxed for them before timing.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ultrapost import baselines
from ultrapost.priors import ULTRAFACE_SIZES
from ultrapost.ultraface import Ultraface

# (key, label), in table order; ratios are against the first.
METHODS = (
    ("ultrapost", "ultrapost (C)"),
    ("golden", "ultrapost golden (numpy)"),
    ("numpy_predict", "numpy predict()"),
    ("opencv_nms", "numpy decode + OpenCV NMSBoxes"),
    ("onnxruntime_nms", "numpy decode + onnxruntime NMS"),
    ("numpy_copy", "numpy copy of the two inputs"),
)
LABELS = dict(METHODS)
PEERS = ("numpy_predict", "opencv_nms", "onnxruntime_nms")


# The library each peer needs beyond numpy, and how to get it.
NEEDS = {
    "opencv_nms": ("cv2", "opencv-python-headless"),
    "onnxruntime_nms": ("onnxruntime", "onnxruntime"),
}


def missing_methods() -> dict[str, str]:
    """Methods whose library is not installed -> the pip package that provides it."""
    import importlib.util

    out = {key: pkg for key, (mod, pkg) in NEEDS.items() if importlib.util.find_spec(mod) is None}
    if "onnxruntime_nms" not in out and importlib.util.find_spec("onnx") is None:
        out["onnxruntime_nms"] = "onnx"  # builds the one-node NonMaxSuppression graph
    return out


# -- timing ----------------------------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Per-call times of one method: each sample is the mean of ``number`` back-to-back calls, in nanoseconds."""

    name: str
    samples_ns: np.ndarray
    number: int

    @property
    def median_us(self) -> float:
        return float(np.median(self.samples_ns)) / 1e3

    @property
    def p90_us(self) -> float:
        return float(np.percentile(self.samples_ns, 90)) / 1e3

    def as_dict(self) -> dict:
        return {
            "median_us": round(self.median_us, 3),
            "p90_us": round(self.p90_us, 3),
            "samples": int(len(self.samples_ns)),
            "calls_per_sample": self.number,
        }


def time_calls(
    calls: Mapping[str, Callable[[], object]],
    *,
    budget: float = 0.5,
    min_samples: int = 15,
    max_samples: int = 5000,
    sample_ns: int = 20_000,
    chunk: int = 5,
) -> dict[str, Timing]:
    """Time each zero-argument call with ``time.perf_counter_ns``, interleaving methods in chunks of samples.

    Each method is warmed up once, then sampled until it has spent ``budget`` seconds and has ``min_samples``
    samples (or has ``max_samples``). A sample groups enough calls to last about ``sample_ns`` so the timer's own
    cost stays below 1% for microsecond calls. Interleaving spreads clock-frequency drift over all methods alike;
    the garbage collector is off while timing, as in ``timeit``.
    """
    if budget <= 0:
        raise ValueError(f"budget must be > 0 seconds, got {budget}")
    numbers = {}
    for name, fn in calls.items():
        fn()  # warm-up: lazy imports, caches, first-call allocations
        t0 = time.perf_counter_ns()
        fn()
        numbers[name] = max(1, sample_ns // max(time.perf_counter_ns() - t0, 1))
    samples: dict[str, list[float]] = {name: [] for name in calls}
    spent = dict.fromkeys(calls, 0)
    limit_ns = int(budget * 1e9)

    def done(name):
        n = len(samples[name])
        return n >= max_samples or (n >= min_samples and spent[name] >= limit_ns)

    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while not all(done(name) for name in calls):
            for name, fn in calls.items():
                if done(name):
                    continue
                number = numbers[name]
                out = samples[name]
                for _ in range(chunk):
                    t0 = time.perf_counter_ns()
                    for _ in range(number):
                        fn()
                    dt = time.perf_counter_ns() - t0
                    out.append(dt / number)
                    spent[name] += dt
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(name, np.asarray(samples[name]), numbers[name]) for name in calls}


# -- workloads -------------------------------------------------------------------------------------------------------


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
    from ultrapost.priors import ultraface_priors

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
    import os

    from ultrapost.detect import FaceDetector

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


# -- the methods -----------------------------------------------------------------------------------------------------


def _tensors(wl: Workload) -> list[np.ndarray]:
    """The arrays ultrapost reads (two, or the one [N, 6] tensor of ultraslim)."""
    return [a for a in (wl.args["scores"], wl.args["boxes"]) if a is not None]


def _corners(wl: Workload) -> np.ndarray:
    return wl.boxes if wl.decoded else baselines.decode_numpy(wl.boxes, wl.pp.priors)


def run_method(wl: Workload, key: str):
    """One call of a method on the workload (exactly what ``peer_calls`` times), returning its result."""
    return peer_calls(wl, [key])[key]()


def peer_calls(wl: Workload, methods=None) -> dict[str, Callable[[], object]]:
    """Zero-argument calls, one per method, on the same arrays (nothing is converted inside the timed call)."""
    keys = [k for k, _ in METHODS] if methods is None else list(methods)
    for key in keys:
        if key not in LABELS:
            raise ValueError(f"unknown method {key!r}; known: {list(LABELS)}")
    # Bind the arguments now: each call is exactly the method, with no lookups that another method would not pay.
    pp, args, t, iou = wl.pp, wl.args, wl.pp.score_threshold, wl.pp.iou_threshold
    s, b, s1, priors, width, height = wl.probs, wl.boxes, wl.probs[:, 1], wl.pp.priors, wl.width, wl.height
    s3, b3 = s[None], b[None]
    top_k = pp.candidate_limit or 0
    predict, predict_raw, decode = baselines.predict, baselines.predict_raw, baselines.decode_numpy
    opencv_nms, ort_nms = baselines.opencv_nms, baselines.onnxruntime_nms
    tensors = _tensors(wl)
    post, a_s, a_b, a_dec, a_q = pp.postprocess, args["scores"], args["boxes"], args["decoded"], args["quantization"]
    calls = {
        "ultrapost": lambda: post(a_s, a_b, a_dec, a_q),
        "golden": lambda: post(a_s, a_b, a_dec, a_q, "golden"),
        "numpy_predict": (
            (lambda: predict(width, height, s3, b3, t, iou))
            if wl.decoded
            else (lambda: predict_raw(width, height, s3, b3, priors, t, iou))
        ),
        "opencv_nms": (
            (lambda: opencv_nms(b, s1, t, iou, top_k=top_k))
            if wl.decoded
            else (lambda: opencv_nms(decode(b, priors), s1, t, iou, top_k=top_k))
        ),
        "onnxruntime_nms": (
            (lambda: ort_nms(b, s1, t, iou)) if wl.decoded else (lambda: ort_nms(b, s1, t, iou, priors=priors))
        ),
        "numpy_copy": (
            (lambda: (tensors[0].copy(), tensors[1].copy())) if len(tensors) == 2 else (lambda: tensors[0].copy())
        ),
    }
    return {k: calls[k] for k in keys}


# -- decisions -------------------------------------------------------------------------------------------------------


def _predict_rows(boxes_px, probs) -> np.ndarray:
    """predict()'s output as int64 rows (x1, y1, x2, y2, bits of the float32 probability), sorted."""
    rows = np.concatenate(
        [np.asarray(boxes_px, np.int64).reshape(-1, 4), np.asarray(probs, np.float32).view(np.int32)[:, None]], axis=1
    )
    return rows[np.lexsort(rows.T[::-1])] if len(rows) else rows


def same_as(wl: Workload, key: str, got, det) -> str:
    """ "same" if ``got``, the result of method ``key`` on the workload, kept the faces ultrapost kept (``det``).

    golden: every fixed-point output array equal (``np.array_equal`` and dtype). OpenCV and onnxruntime: the kept
    anchor indices, in order. predict(): its pixel boxes and float32 probabilities equal, as a set (it orders exact
    ties arbitrarily), to what predict() makes of ultrapost's kept anchors. Otherwise a description of the
    difference. onnxruntime has no candidate limit: with more candidates than ultrapost's limit it may keep more,
    which is reported, not hidden.
    """
    kept = det.anchors
    if key == "golden":
        same = det.fixed.keys() == got.fixed.keys() and all(
            det.fixed[n].dtype == got.fixed[n].dtype and np.array_equal(det.fixed[n], got.fixed[n]) for n in det.fixed
        )
        return "same" if same else "C and golden outputs differ"
    if key == "numpy_predict":
        boxes_px, _labels, probs = got
        corners = _corners(wl)[kept]
        scale = np.array([wl.width, wl.height, wl.width, wl.height], np.float32)
        expect = _predict_rows((corners * scale).astype(np.int32), wl.probs[kept, 1])
        rows = _predict_rows(boxes_px, probs)
        if rows.shape == expect.shape and np.array_equal(rows, expect):
            return "same"
        return f"kept {len(rows)} faces, ultrapost {len(kept)}; boxes or scores differ"
    if key in ("opencv_nms", "onnxruntime_nms"):
        if np.array_equal(got, kept):
            return "same"
        extra = ""
        if key == "onnxruntime_nms" and wl.pp.candidate_limit and wl.candidates > wl.pp.candidate_limit:
            extra = f" ({wl.candidates} candidates; onnxruntime has no candidate limit)"
        return f"kept anchors {got.tolist()[:8]}..., ultrapost {kept.tolist()[:8]}...{extra}"
    raise ValueError(f"no decisions to compare for {key!r}")


def check_decisions(wl: Workload, methods=None) -> dict[str, str]:
    """Per method (default: all but ultrapost and the copy), ``same_as`` on one call of it."""
    keys = [k for k, _ in METHODS if k not in ("ultrapost", "numpy_copy")] if methods is None else list(methods)
    det = run_method(wl, "ultrapost")
    return {key: same_as(wl, key, run_method(wl, key), det) for key in keys}


# -- the whole comparison --------------------------------------------------------------------------------------------


def compare(wl: Workload, *, budget: float = 0.5, methods=None, min_samples: int = 15) -> dict:
    """Decisions checked, then every method timed on the workload: a JSON-ready dict."""
    keys = [k for k, _ in METHODS] if methods is None else list(methods)
    decisions = check_decisions(wl, [k for k in keys if k not in ("ultrapost", "numpy_copy")])
    timings = time_calls(peer_calls(wl, keys), budget=budget, min_samples=min_samples)
    base = timings["ultrapost"].median_us if "ultrapost" in timings else None
    rows = []
    for key in keys:
        row = {"method": key, "label": LABELS[key], **timings[key].as_dict()}
        if base:
            row["ratio"] = round(timings[key].median_us / base, 2)
        if key in decisions:
            row["decisions"] = decisions[key]
        rows.append(row)
    return {
        "workload": {
            "name": wl.name,
            "anchors": wl.num_anchors,
            "candidates": wl.candidates,
            "kept": len(run_method(wl, "ultrapost")),
            "score_threshold": wl.pp.score_threshold,
            "iou_threshold": wl.pp.iou_threshold,
            "candidate_limit": wl.pp.candidate_limit,
            **wl.info,
        },
        "methods": rows,
        "same_decisions": all(v == "same" for v in decisions.values()),
    }


def summarize(results: list[dict]) -> dict:
    """Per method over several ``compare`` results (one per photo): the total of the medians, the ratio of totals
    (time for the whole set, x ultrapost's) and the spread of the per-photo ratios."""
    medians = [{m["method"]: m["median_us"] for m in r["methods"]} for r in results]
    base = np.array([m["ultrapost"] for m in medians])
    out = {}
    for key in medians[0]:
        times = np.array([m[key] for m in medians])
        ratios = times / base
        total = float(times.sum())
        out[key] = {
            "label": LABELS[key],
            "total_us": round(total, 3),
            "ratio_of_totals": round(total / float(base.sum()), 2),
            "ratio_min": round(float(ratios.min()), 2),
            "ratio_median": round(float(np.median(ratios)), 2),
            "ratio_max": round(float(ratios.max()), 2),
        }
    return {"photos": len(results), "methods": out, "same_decisions": all(r["same_decisions"] for r in results)}


def scaling(
    sizes=ULTRAFACE_SIZES, *, budget: float = 0.15, methods=None, min_samples: int = 7, progress=None
) -> list[dict]:
    """``compare`` on synthetic outputs at each input size (708 to 70500 anchors for ``ULTRAFACE_SIZES``)."""
    out = []
    for size in sizes:
        if progress:
            progress(f"synthetic {size[0]}x{size[1]}")
        out.append(compare(synthetic_workload(size), budget=budget, methods=methods, min_samples=min_samples))
    return out


def versions() -> dict:
    import platform

    import ultrapost

    v = {"ultrapost": ultrapost.__version__, "numpy": np.__version__, "python": platform.python_version()}
    for mod, name in (("cv2", "opencv"), ("onnxruntime", "onnxruntime")):
        try:
            v[name] = __import__(mod).__version__
        except ImportError:
            v[name] = None
    v["machine"] = platform.machine()
    return v
