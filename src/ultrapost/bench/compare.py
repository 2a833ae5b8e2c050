"""Timing ultrapost against the post-processors people use today, on the same inputs in the same run.

Shared by ``ultrapost bench`` and benchmarks/. A ``Workload`` is one image's worth of Ultraface outputs (built-in
synthetic ones, or a real model's); ``peer_calls`` gives each method as a zero-argument call on it; ``time_calls``
times them interleaved; ``check_decisions`` tells whether each peer kept the same faces as ultrapost.

Methods (``METHODS``):

- ``ultrapost``: ``Ultraface.postprocess`` on the compiled C core, the outputs as the model gives them.
- ``golden``: the same call on the numpy golden model (bit-identical to the C, written for clarity, not speed).
- ``numpy_predict``: the Ultraface repository's ``predict()`` (``peers.predict_raw`` on raw deltas: decode all
  anchors in float32, then threshold and hard NMS).
- ``opencv_nms``: ``peers.decode_numpy`` (raw deltas only) + ``cv2.dnn.NMSBoxes`` with the same candidate limit.
- ``onnxruntime_nms``: ``peers.decode_numpy`` (raw deltas only) + onnxruntime's ``NonMaxSuppression``.
- ``numpy_copy``: ``scores.copy(); boxes.copy()``, a floor: touching the two tensors once.

Peers need float probabilities: int8 or logit outputs are dequantized and softmaxed for them before timing.
"""

from __future__ import annotations

import importlib.util
import platform
from collections.abc import Callable

import numpy as np

from ultrapost._version import __version__
from ultrapost.bench import peers
from ultrapost.bench.timing import time_calls
from ultrapost.bench.workloads import Workload, synthetic_workload
from ultrapost.core.priors import ULTRAFACE_SIZES

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
    out = {key: pkg for key, (mod, pkg) in NEEDS.items() if importlib.util.find_spec(mod) is None}
    if "onnxruntime_nms" not in out and importlib.util.find_spec("onnx") is None:
        out["onnxruntime_nms"] = "onnx"  # builds the one-node NonMaxSuppression graph
    return out


# -- the methods -----------------------------------------------------------------------------------------------------


def _tensors(wl: Workload) -> list[np.ndarray]:
    """The arrays ultrapost reads (two, or the one [N, 6] tensor of ultraslim)."""
    return [a for a in (wl.args["scores"], wl.args["boxes"]) if a is not None]


def _corners(wl: Workload) -> np.ndarray:
    return wl.boxes if wl.decoded else peers.decode_numpy(wl.boxes, wl.pp.priors)


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
    predict, predict_raw, decode = peers.predict, peers.predict_raw, peers.decode_numpy
    opencv_nms, ort_nms = peers.opencv_nms, peers.onnxruntime_nms
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
    v = {"ultrapost": __version__, "numpy": np.__version__, "python": platform.python_version()}
    for mod, name in (("cv2", "opencv"), ("onnxruntime", "onnxruntime")):
        try:
            v[name] = __import__(mod).__version__
        except ImportError:
            v[name] = None
    v["machine"] = platform.machine()
    return v
