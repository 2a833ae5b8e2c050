"""``ultrapost bench --nms``: ultrapost.nms against torchvision.ops.nms, cv2.dnn.NMSBoxes and onnxruntime's
NonMaxSuppression on generated box sets of 1,000 to 100,000 boxes, decisions compared in the same run.

Box sets (float32 pixel corners on a 1/16 grid in a 1920x1080 frame, float32 scores in [0.05, 1)):
  random     boxes anywhere, sides 10 to 60 px
  clustered  detector-like proposals: N/40 objects, each with about 40 jittered boxes around it
  crowd      a dense crowd: people-shaped boxes (about 30x75 px) on a jittered lattice, heavy overlap
Every method gets the same boxes in its own format (converted before timing), the same IoU threshold (the CLI's
--iou-threshold, 0.3 unless given; 0.5 in benchmarks/) and score threshold 0 (torchvision has none: every score is
above 0). ultrapost is timed as users call it: ultrapost.nms on the float32 arrays, preparation included.
"""

from __future__ import annotations

import gc
import importlib.util
import statistics
import time

import numpy as np

from ultrapost.families.boxes import nms

SETS = ("random", "clustered", "crowd")
SIZES = (1000, 3000, 10000, 30000, 100000)
QUICK_SIZES = (1000, 10000)
PEERS = ("torchvision", "opencv", "onnxruntime")
PEER_LABELS = {
    "ultrapost": "ultrapost.nms",
    "torchvision": "torchvision.ops.nms",
    "opencv": "cv2.dnn.NMSBoxes",
    "onnxruntime": "onnxruntime NonMaxSuppression",
}


def box_set(kind: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """float32 xyxy corners [n, 4] on a 1/16 pixel grid and float32 scores [n] in [0.05, 1)."""
    rng = np.random.default_rng(seed)
    if kind == "random":
        xy = rng.uniform(0, 1920, (n, 2))
        wh = rng.uniform(10, 60, (n, 2))
    elif kind == "clustered":
        objects = max(n // 40, 1)
        centers = rng.uniform(0, 1920, (objects, 2))
        sizes = rng.uniform(20, 200, (objects, 2))
        pick = rng.integers(0, objects, n)
        wh = sizes[pick] * rng.uniform(0.8, 1.25, (n, 2))
        xy = centers[pick] + rng.normal(0, 0.1, (n, 2)) * sizes[pick] - wh / 2
    elif kind == "crowd":
        side = int(np.ceil(np.sqrt(n / 4)))
        lattice = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2) * (1920 / side)
        xy = lattice[rng.integers(0, len(lattice), n)] + rng.normal(0, 8, (n, 2))
        wh = np.stack([rng.uniform(24, 36, n), rng.uniform(60, 90, n)], 1)
    else:
        raise ValueError(f"unknown box set {kind!r}; one of {', '.join(SETS)}")
    boxes = np.round(np.concatenate([xy, xy + wh], 1) * 16) / 16
    scores = rng.uniform(0.05, 1.0, n).astype(np.float32)
    return boxes.astype(np.float32), scores


def missing_peers() -> dict[str, str]:
    """Peers that cannot run here, with the package they need."""
    need = {"torchvision": "torchvision", "opencv": "cv2", "onnxruntime": "onnxruntime"}
    out = {p: mod for p, mod in need.items() if importlib.util.find_spec(mod) is None}
    if "onnxruntime" not in out and importlib.util.find_spec("onnx") is None:
        out["onnxruntime"] = "onnx"
    return out


def _ort_session():
    import onnxruntime as ort
    from onnx import TensorProto, helper

    names = ["boxes", "scores", "max_output_boxes_per_class", "iou_threshold", "score_threshold"]
    node = helper.make_node("NonMaxSuppression", names, ["selected"])
    ins = [
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, "N", 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, "N"]),
        helper.make_tensor_value_info("max_output_boxes_per_class", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("iou_threshold", TensorProto.FLOAT, [1]),
        helper.make_tensor_value_info("score_threshold", TensorProto.FLOAT, [1]),
    ]
    graph = helper.make_graph(
        [node], "nms", ins, [helper.make_tensor_value_info("selected", TensorProto.INT64, ["K", 3])]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def calls(boxes: np.ndarray, scores: np.ndarray, iou: float, peers=PEERS) -> dict:
    """Zero-argument callables returning int64 keep indices, inputs converted to each method's format first."""
    out = {"ultrapost": lambda: nms(boxes, scores, iou, 0.0)}
    missing = missing_peers()
    if "torchvision" in peers and "torchvision" not in missing:
        import torch
        import torchvision

        tb, ts = torch.from_numpy(boxes.copy()), torch.from_numpy(scores.copy())
        out["torchvision"] = lambda: torchvision.ops.nms(tb, ts, iou).numpy()
    if "opencv" in peers and "opencv" not in missing:
        import cv2

        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).astype(np.float64)
        out["opencv"] = lambda: np.asarray(cv2.dnn.NMSBoxes(xywh, scores, 0.0, iou), np.int64).reshape(-1)
    if "onnxruntime" in peers and "onnxruntime" not in missing:
        sess = _ort_session()
        feeds = {
            "boxes": np.ascontiguousarray(boxes[None][:, :, [1, 0, 3, 2]]),
            "scores": scores[None, None].copy(),
            "max_output_boxes_per_class": np.array([len(boxes)], np.int64),
            "iou_threshold": np.array([iou], np.float32),
            "score_threshold": np.array([0.0], np.float32),
        }
        out["onnxruntime"] = lambda: sess.run(None, feeds)[0][:, 2]
    return out


def time_call(fn, budget: float, max_runs: int = 15) -> tuple[list[float], object]:
    """Runs fn until `budget` seconds have passed (at least once, at most max_runs); per-call seconds."""
    times = []
    result = None
    gc_was = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        while len(times) < max_runs and (not times or time.perf_counter() - start < budget):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
    finally:
        if gc_was:
            gc.enable()
    return times, result


def run(
    sizes=SIZES,
    sets=SETS,
    peers=PEERS,
    *,
    iou: float = 0.5,
    budget: float = 1.0,
    peer_limit: float = 60.0,
    progress=None,
) -> dict:
    """The benchmark: a row per (set, N) with each method's median per call, ratio and decision check.

    A peer whose single call took more than `peer_limit` seconds is not run at larger N of the same set.
    """
    rows = []
    too_slow: dict[tuple[str, str], int] = {}
    for kind in sets:
        for n in sizes:
            boxes, scores = box_set(kind, n)
            fns = calls(boxes, scores, iou, peers)
            row = {"set": kind, "n": n, "methods": {}}
            ref = None
            for name, fn in fns.items():
                if name != "ultrapost" and (kind, name) in too_slow:
                    row["methods"][name] = {"skipped": f"over {peer_limit:g} s per call at N={too_slow[kind, name]}"}
                    continue
                if progress:
                    progress(f"{kind} N={n}: {PEER_LABELS[name]}")
                times, keep = time_call(fn, budget)
                keep = np.asarray(keep, dtype=np.int64)
                med = statistics.median(times)
                entry = {"median_ms": med * 1e3, "runs": len(times), "kept": int(len(keep))}
                if name == "ultrapost":
                    ref = keep
                else:
                    same = bool(np.array_equal(keep, ref))
                    entry["same_decisions"] = same
                    if not same:
                        entry["differ"] = int(len(np.setxor1d(keep, ref)))
                    entry["ratio"] = med / (row["methods"]["ultrapost"]["median_ms"] / 1e3)
                    if med > peer_limit:
                        too_slow[kind, name] = n
                row["methods"][name] = entry
            rows.append(row)
    return {"iou_threshold": iou, "rows": rows, "missing": missing_peers(), "versions": versions()}


def versions() -> dict:
    import sys

    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    for mod, name in (("cv2", "opencv"), ("onnxruntime", "onnxruntime"), ("torchvision", "torchvision")):
        if importlib.util.find_spec(mod) is not None:
            out[name] = __import__(mod).__version__
    return out


def format_table(result: dict) -> str:
    peers = [p for p in PEERS if any(p in r["methods"] for r in result["rows"])]
    head = f"{'set':<10} {'N':>7} {'kept':>6} {'ultrapost ms':>13}"
    for p in peers:
        head += f" | {PEER_LABELS[p] + ' ms':>30} {'x':>7} {'same':>5}"
    lines = [head, "-" * len(head)]
    for r in result["rows"]:
        u = r["methods"]["ultrapost"]
        line = f"{r['set']:<10} {r['n']:>7} {u['kept']:>6} {u['median_ms']:>13.3f}"
        for p in peers:
            e = r["methods"].get(p)
            if e is None or "skipped" in e:
                line += f" | {'(' + (e or {}).get('skipped', 'not run') + ')':>44}"
                continue
            same = "yes" if e["same_decisions"] else f"{e['differ']}"
            line += f" | {e['median_ms']:>30.3f} {e['ratio']:>6.1f}x {same:>5}"
        lines.append(line)
    for p, mod in result["missing"].items():
        lines.append(f"{PEER_LABELS[p]}: not installed ({mod}); not measured")
    lines.append(
        "x: the peer's median per call over ultrapost's; same: identical kept indices in the same order "
        "(else how many indices differ)"
    )
    return "\n".join(lines)
