"""YuNet in ``ultrapost bench``: ultrapost's post-processing against ``cv2.FaceDetectorYN``'s own and the numpy
paths, on the same outputs of the same frame, decisions compared in the same run.

Per photo, letterboxed into the frame (the model's fixed size, or 320x320 for the dynamic model), with OpenCV on one
thread and every time this thread's CPU time (time descheduled on a shared machine is not counted):

- ``ultrapost``: ``YuNet.postprocess`` on the compiled C, from the 12 outputs to Detections;
- ``golden``: the same on the numpy golden model (bit-identical to the C);
- ``numpy_nmsboxes``: OpenCV's path from Python: the numpy decode of the candidates, then ``cv2.dnn.NMSBoxes``;
- ``numpy_rules``: ``reference.yunet``, the numpy transcription of FaceDetectorYN's rules (its NMS a Python loop);
- ``faceyn``: FaceDetectorYN's own pre- plus post-processing (padding, blobFromImage, decode, NMSBoxes, the output
  Mat): ``FaceDetectorYN.detect(frame)`` and ``cv2.dnn`` forward of the same model on the same blob, timed in
  interleaved pairs; the median of the paired differences bounds it per call (its spread: the differences' IQR).

The outputs timed are those ``cv2.dnn`` forward gives (FaceDetectorYN's own network run), so every method's faces
are checked against ``FaceDetectorYN.detect``'s: the same count and order, boxes and landmarks within 1/16 px
(golden: the C's integers).
"""

from __future__ import annotations

import os
import time

import numpy as np

from ultrapost import reference
from ultrapost.bench.timing import time_calls
from ultrapost.core.yunet_config import padded_size
from ultrapost.families.yunet import YuNet

METHODS = (
    ("ultrapost", "ultrapost (C)"),
    ("golden", "ultrapost golden (numpy)"),
    ("numpy_nmsboxes", "numpy decode + cv2.dnn.NMSBoxes"),
    ("numpy_rules", "numpy FaceDetectorYN rules"),
)
FACEYN_LABEL = "cv2.FaceDetectorYN pre+post"
TOLERANCE_PX = 1 / 16


def _corners(faces: np.ndarray) -> np.ndarray:
    """OpenCV's [K, 15] rows (x, y, w, h, 10 landmarks, score) as [K, 14]: corners, then the landmarks."""
    f = np.asarray(faces, np.float64).reshape(-1, 15)
    return np.concatenate([f[:, :2], f[:, :2] + f[:, 2:4], f[:, 4:14]], axis=1)


def _detections_px(det, frame) -> np.ndarray:
    w, h = frame
    boxes = np.asarray(det.boxes, np.float64).reshape(-1, 4) * [w, h, w, h]
    marks = np.asarray(det.landmarks, np.float64).reshape(-1, 10) * np.tile([w, h], 5)
    return np.concatenate([boxes, marks], axis=1)


def _same(got: np.ndarray, want: np.ndarray) -> str:
    if got.shape != want.shape:
        return f"{len(got)} faces, FaceDetectorYN {len(want)}"
    err = float(np.abs(got - want).max()) if got.size else 0.0
    return "same" if err < TOLERANCE_PX else f"boxes or landmarks off by {err:.3g} px"


def letterbox(img: np.ndarray, frame) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    s = min(frame[0] / w, frame[1] / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    out = np.zeros((frame[1], frame[0], 3), np.uint8)
    out[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out


def paired_cpu_us(fa, fb, pairs: int) -> dict:
    """fa and fb called in interleaved pairs (machine noise hits both alike), this thread's CPU time: the medians
    of each and of the paired differences fa - fb, and the differences' interquartile range, in microseconds."""
    fa(), fb()
    a, b = np.empty(pairs), np.empty(pairs)
    for i in range(pairs):
        t0 = time.thread_time_ns()
        fa()
        t1 = time.thread_time_ns()
        fb()
        t2 = time.thread_time_ns()
        a[i], b[i] = t1 - t0, t2 - t1
    d = (a - b) / 1e3
    q75, q25 = np.percentile(d, [75, 25])
    return {
        "detect_us": float(np.median(a) / 1e3),
        "forward_us": float(np.median(b) / 1e3),
        "median_us": float(np.median(d)),
        "iqr_us": float(q75 - q25),
        "pairs": pairs,
    }


def photo(model: str, net, names, image, frame, *, score, iou, top_k, budget, min_samples, pairs) -> dict:
    """One photo: decisions of every method against FaceDetectorYN.detect, then the timings."""
    import cv2

    img = cv2.imread(os.fspath(image))
    if img is None:
        raise ValueError(f"cannot read image {image}")
    pic = letterbox(img, frame)
    pw, ph = padded_size(*frame)
    padded = np.zeros((ph, pw, 3), np.uint8)
    padded[: frame[1], : frame[0]] = pic
    blob = cv2.dnn.blobFromImage(padded)  # FaceDetectorYN's: float32 BGR 0..255, NCHW, padded bottom / right

    def forward():
        net.setInput(blob)
        return net.forward(names)

    outs = dict(zip(names, forward(), strict=True))
    if any(v.dtype != np.float32 for v in outs.values()):
        raise ValueError(
            "the model's outputs are not float32: FaceDetectorYN reads int8 outputs as float (opencv/opencv#28798); "
            "bench a float YuNet model against it"
        )
    det = cv2.FaceDetectorYN.create(model, "", frame, score, iou, top_k)
    _, faces = det.detect(pic)
    want = _corners(np.zeros((0, 15)) if faces is None else faces)
    yn = YuNet(frame, score, iou, top_k)
    calls = {
        "ultrapost": lambda: yn.postprocess(outs),
        "golden": lambda: yn.postprocess(outs, backend="golden"),
        "numpy_nmsboxes": lambda: _numpy_nmsboxes(outs, pw, ph, score, iou, top_k),
        "numpy_rules": lambda: reference.yunet(outs, pw, ph, score_threshold=score, nms_threshold=iou, top_k=top_k),
    }
    c, g = yn.run_fixed(outs), yn.run_fixed(outs, backend="golden")
    decisions = {
        "ultrapost": _same(_detections_px(calls["ultrapost"](), frame), want),
        "golden": "same" if all(np.array_equal(c[k], g[k]) and c[k].dtype == g[k].dtype for k in c) else "differs",
        "numpy_nmsboxes": _same(_corners(calls["numpy_nmsboxes"]()), want),
        "numpy_rules": _same(_corners(calls["numpy_rules"]()[0]), want),
    }
    timings = time_calls(calls, budget=budget, min_samples=min_samples, clock=time.thread_time_ns)
    base = timings["ultrapost"].median_us
    methods = [
        {"method": k, "label": label, **timings[k].as_dict(), "ratio": round(timings[k].median_us / base, 3)}
        | {"decisions": decisions[k]}
        for k, label in METHODS
    ]
    faceyn = paired_cpu_us(lambda: det.detect(pic), forward, pairs)
    faceyn.update(label=FACEYN_LABEL, ratio=round(faceyn["median_us"] / base, 3), faces=len(want))
    name = os.path.basename(os.fspath(image))
    return {"image": name, "frame": f"{frame[0]}x{frame[1]}", "faces": len(want), "methods": methods, "faceyn": faceyn}


def _numpy_nmsboxes(outs, pw, ph, score, iou, top_k):
    """OpenCV's path from Python: the numpy decode of the candidates, then cv2.dnn.NMSBoxes on integer rectangles."""
    import cv2

    faces, _ = reference.yunet_candidates(outs, pw, ph, score)
    if len(faces) <= 1:
        return faces
    keep = cv2.dnn.NMSBoxes(faces[:, :4].astype(np.int32).tolist(), faces[:, 14].tolist(), score, iou, top_k=top_k)
    return faces[np.asarray(keep, dtype=np.int64).reshape(-1)]


def run(
    model, images, *, frame=None, score=0.6, iou=0.3, top_k=5000, budget=0.3, min_samples=15, pairs=101, progress=None
) -> dict:
    """Every photo through :func:`photo` (OpenCV on one thread for the run), then the medians over photos."""
    import cv2

    frame = tuple(frame or (320, 320))
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        net = cv2.dnn.readNet(os.fspath(model))
        names = list(net.getUnconnectedOutLayersNames())
        rows = []
        for image in images:
            if progress:
                progress(os.path.basename(os.fspath(image)))
            kw = dict(score=score, iou=iou, top_k=top_k, budget=budget, min_samples=min_samples, pairs=pairs)
            rows.append(photo(os.fspath(model), net, names, image, frame, **kw))
    finally:
        cv2.setNumThreads(threads)
    summary = {}
    for key, label in (*METHODS, ("faceyn", FACEYN_LABEL)):
        per = [r["faceyn"] if key == "faceyn" else next(m for m in r["methods"] if m["method"] == key) for r in rows]
        summary[key] = {
            "label": label,
            "median_us": round(float(np.median([m["median_us"] for m in per])), 3),
            "ratio_median": round(float(np.median([m["ratio"] for m in per])), 3),
        }
    same = all(m["decisions"] == "same" for r in rows for m in r["methods"])
    return {
        "model": os.path.basename(os.fspath(model)),
        "frame": f"{frame[0]}x{frame[1]}",
        "score_threshold": score,
        "iou_threshold": iou,
        "top_k": top_k,
        "photos": rows,
        "summary": summary,
        "faces": sum(r["faces"] for r in rows),
        "same_decisions": same,
    }


def table(result: dict) -> list[str]:
    """The per-photo lines and the summary, as ``ultrapost bench`` prints them."""
    lines = [
        f"{result['model']}: YuNet post-processing per call, frame {result['frame']}, score {result['score_threshold']}"
        f", NMS {result['iou_threshold']}, top_k {result['top_k']} (thread CPU us; x: time over ultrapost's C)",
        f"  {'photo':<22} {'faces':>5} {'ultrapost':>10} {'FaceDetectorYN':>16} {'NMSBoxes':>14} {'rules':>14} "
        f"{'golden':>14}",
    ]
    for r in result["photos"]:
        m = {x["method"]: x for x in r["methods"]}
        f = r["faceyn"]

        def cell(us, ratio):
            return f"{us:.1f} ({ratio:.1f}x)"

        peers = " ".join(
            f"{cell(m[k]['median_us'], m[k]['ratio']):>14}" for k in ("numpy_nmsboxes", "numpy_rules", "golden")
        )
        lines.append(
            f"  {r['image'][:22]:<22} {r['faces']:>5} {m['ultrapost']['median_us']:>10.1f} "
            f"{cell(f['median_us'], f['ratio']):>16} {peers}"
        )
    lines.append(f"median over {len(result['photos'])} photo(s) ({result['faces']} faces):")
    for key, s in result["summary"].items():
        extra = "" if key == "ultrapost" else f"  {s['ratio_median']:.2f}x ultrapost"
        lines.append(f"  {s['label']:<34} {s['median_us']:>10.1f} us{extra}")
    return lines
