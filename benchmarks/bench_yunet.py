"""YuNet post-processing speed on the shared photos (run: ``python benchmarks/bench_yunet.py``).

Per photo at its own size (the dynamic model, float32 outputs from onnxruntime, score 0.6, NMS 0.3, top_k 5000),
median microseconds per call of: ultrapost's C (``YuNet.postprocess``, from the outputs to Detections), its golden
numpy twin, the numpy transcription of OpenCV's rules (``reference.yunet``, its NMS a Python loop), and OpenCV's
path from Python (the numpy decode, then ``cv2.dnn.NMSBoxes``). Plus the int8-output model at 320x320 through the C.

FaceDetectorYN's own post-processing (``faceyn``, run with ``--faceyn``): per photo letterboxed into 320x320 (the
float dynamic model, OpenCV's single-threaded dnn), ``FaceDetectorYN.detect(frame)`` and ``cv2.dnn`` running the
same model (readNet, setInput of the same blob, forward of the 12 output names) are timed in interleaved pairs,
many repeats; the median of the paired differences bounds FaceDetectorYN's pre- plus post-processing (padding,
blobFromImage, decode, NMSBoxes, the output Mat) per call. Timed as this thread's CPU time (OpenCV with one
thread; time descheduled on a shared machine not counted), the wall-clock difference printed beside it.
ultrapost's C and the numpy paths are timed the same way on the outputs that ``cv2.dnn`` forward gave for that
frame (the same faces as FaceDetectorYN's: checked).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from ultrapost import reference
from ultrapost.core.yunet_config import padded_size
from ultrapost.families.yunet import YuNet

DATA = Path(os.environ.get("ULTRAPOST_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def median_us(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e6)


def numpy_opencv_nms(outs: dict, pw: int, ph: int):
    """OpenCV's path from Python: the numpy decode of the candidates, then cv2.dnn.NMSBoxes on integer rectangles."""
    faces, _ = reference.yunet_candidates(outs, pw, ph, 0.6)
    if len(faces) <= 1:
        return faces
    keep = cv2.dnn.NMSBoxes(faces[:, :4].astype(np.int32).tolist(), faces[:, 14].tolist(), 0.6, 0.3, top_k=5000)
    return faces[np.asarray(keep, dtype=np.int64).reshape(-1)]


def photo(p: Path, model: str, sess, sess8, quant: dict, names: list, repeat: int) -> tuple:
    """One photo's row: name, size, faces, C, golden, numpy rules, cv2 post-processing, int8 faces, int8 C."""
    img = cv2.imread(str(p))
    h, w = img.shape[:2]
    pw, ph = padded_size(w, h)
    pad = np.zeros((ph, pw, 3), np.uint8)
    pad[:h, :w] = img
    outs = dict(zip(names, sess.run(names, {"input": pad.transpose(2, 0, 1)[None].astype(np.float32)}), strict=True))
    yn = YuNet((w, h), 0.6, 0.3, 5000)
    n = len(yn.postprocess(outs))
    c = median_us(lambda: yn.postprocess(outs), repeat)
    g = median_us(lambda: yn.postprocess(outs, backend="golden"), max(3, repeat // 5))
    ref = median_us(lambda: reference.yunet(outs, pw, ph, score_threshold=0.6, nms_threshold=0.3), 3)
    cv_post = median_us(lambda: numpy_opencv_nms(outs, pw, ph), repeat)
    s = 320 / max(w, h)
    box = np.zeros((320, 320, 3), np.uint8)
    box[: round(h * s), : round(w * s)] = cv2.resize(img, (round(w * s), round(h * s)))
    q8 = dict(zip(names, sess8.run(names, {"input": box.transpose(2, 0, 1)[None].astype(np.float32)}), strict=True))
    yn8 = YuNet((320, 320), 0.6, 0.3, 5000)
    n8 = len(yn8.postprocess(q8, quant))
    c8 = median_us(lambda: yn8.postprocess(q8, quant), repeat)
    print(
        f"{p.name:18s} {w}x{h:<5} faces {n:4d}  C {c:8.1f}  golden {g:9.1f}  numpy-opencv {ref:9.1f}  "
        f"numpy+NMSBoxes {cv_post:9.1f}  | int8 320: faces {n8:3d}  C {c8:7.1f}",
        flush=True,
    )
    return (p.name, f"{w}x{h}", n, c, g, ref, cv_post, n8, c8)


def cpu_median_us(fn, repeat: int) -> float:
    """Median thread CPU time of fn, in microseconds (time spent descheduled on a shared machine is not counted)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.thread_time_ns()
        fn()
        times.append(time.thread_time_ns() - t0)
    return float(np.median(times) / 1e3)


def paired_us(fa, fb, repeat: int) -> dict:
    """fa and fb called in interleaved pairs (machine noise hits both alike): per clock (wall: perf_counter; cpu:
    this thread's CPU time), the medians of fa and of fb, the median of the paired differences fa - fb and their
    interquartile range, in microseconds."""
    fa(), fb()
    t = {"wall": ([], []), "cpu": ([], [])}
    for _ in range(repeat):
        w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        fa()
        w1, c1 = time.perf_counter_ns(), time.thread_time_ns()
        fb()
        w2, c2 = time.perf_counter_ns(), time.thread_time_ns()
        t["wall"][0].append(w1 - w0), t["wall"][1].append(w2 - w1)
        t["cpu"][0].append(c1 - c0), t["cpu"][1].append(c2 - c1)
    out = {}
    for clock, (a, b) in t.items():
        a, b = np.array(a) / 1e3, np.array(b) / 1e3
        d = a - b
        q75, q25 = np.percentile(d, [75, 25])
        out[clock] = (float(np.median(a)), float(np.median(b)), float(np.median(d)), float(q75 - q25))
    return out


def faceyn_photo(p: Path, model: str, net, names: list, repeat: int) -> tuple:
    """One photo letterboxed into 320x320: FaceDetectorYN.detect against cv2.dnn forward of the same blob, and
    ultrapost's C and the numpy paths on that forward's outputs (thread CPU time)."""
    img = cv2.imread(str(p))
    h, w = img.shape[:2]
    s = 320 / max(w, h)
    frame = np.zeros((320, 320, 3), np.uint8)
    frame[: round(h * s), : round(w * s)] = cv2.resize(img, (round(w * s), round(h * s)))
    det = cv2.FaceDetectorYN.create(model, "", (320, 320), 0.6, 0.3, 5000)
    blob = cv2.dnn.blobFromImage(frame)  # FaceDetectorYN's: float32 BGR 0..255, NCHW (320 needs no padding)

    def forward():
        net.setInput(blob)
        return net.forward(names)

    outs = dict(zip(names, forward(), strict=True))
    faces = det.detect(frame)[1]
    yn = YuNet((320, 320), 0.6, 0.3, 5000)
    got = yn.postprocess(outs)
    n = 0 if faces is None else len(faces)
    if len(got) != n:
        raise RuntimeError(f"{p.name}: FaceDetectorYN {n} faces, ultrapost {len(got)} on cv2.dnn's outputs")
    pair = paired_us(lambda: det.detect(frame), forward, repeat)
    c = cpu_median_us(lambda: yn.postprocess(outs), 201)
    g = cpu_median_us(lambda: yn.postprocess(outs, backend="golden"), 11)
    cv_post = cpu_median_us(lambda: numpy_opencv_nms(outs, 320, 320), 201)
    det_c, fwd_c, post_c, iqr_c = pair["cpu"]
    det_w, fwd_w, post_w, iqr_w = pair["wall"]
    print(
        f"{p.name:18s} faces {n:3d}  cpu: detect {det_c:7.0f} forward {fwd_c:7.0f} faceyn pre+post {post_c:6.1f} "
        f"(IQR {iqr_c:6.1f}); wall: {post_w:7.1f} (IQR {iqr_w:7.1f})  C {c:6.1f}  golden {g:8.1f}  "
        f"numpy+NMSBoxes {cv_post:6.1f}",
        flush=True,
    )
    return n, det_c, fwd_c, post_c, iqr_c, post_w, iqr_w, c, g, cv_post


def faceyn(repeat: int) -> None:
    cv2.setNumThreads(1)
    model = str(DATA / "yunet/face_detection_yunet_2026may.onnx")
    net = cv2.dnn.readNet(model)
    names = list(net.getUnconnectedOutLayersNames())
    rows = np.array([faceyn_photo(p, model, net, names, repeat) for p in sorted((DATA / "images").glob("*.jpg"))])
    n, det, fwd, post, iqr, post_w, iqr_w, c, g, cvp = rows.T
    print(f"{len(rows)} photos at 320x320, {int(n.sum())} faces, {repeat} pairs each; medians over photos (us):")
    print(f"  thread CPU time: FaceDetectorYN.detect {np.median(det):.0f}, cv2.dnn forward {np.median(fwd):.0f}")
    print(
        f"  FaceDetectorYN pre+post (median paired difference): cpu {np.median(post):.1f} (per-photo IQR median "
        f"{np.median(iqr):.1f}), wall {np.median(post_w):.1f} (IQR median {np.median(iqr_w):.1f})"
    )
    print(
        f"  ultrapost C {np.median(c):.1f}, golden numpy {np.median(g):.1f},"
        f" numpy decode + NMSBoxes {np.median(cvp):.1f}"
    )
    print(
        f"  ratios (median over photos): FaceDetectorYN pre+post / C {np.median(post / c):.1f}x, "
        f"numpy + NMSBoxes / C {np.median(cvp / c):.1f}x, golden / C {np.median(g / c):.1f}x"
    )


def main(repeat: int = 21) -> None:
    cv2.setNumThreads(1)
    model = str(DATA / "yunet/face_detection_yunet_2026may.onnx")
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    sess8 = ort.InferenceSession(
        str(DATA / "yunet/face_detection_yunet_2026may_int8_320_int8out.onnx"), providers=["CPUExecutionProvider"]
    )
    meta = sess8.get_modelmeta().custom_metadata_map
    quant = {
        k[6:]: (json.loads(v)["scale"], json.loads(v)["zero_point"]) for k, v in meta.items() if k.startswith("quant.")
    }
    names = [o.name for o in sess.get_outputs()]
    rows = [photo(p, model, sess, sess8, quant, names, repeat) for p in sorted((DATA / "images").glob("*.jpg"))]
    arr = np.array([r[2:] for r in rows], dtype=np.float64)
    print(f"faces: float {int(arr[:, 0].sum())}, int8 320x320 {int(arr[:, 5].sum())}")
    for i, name in (
        (1, "C"),
        (2, "golden"),
        (3, "numpy OpenCV rules"),
        (4, "numpy decode + cv2.dnn.NMSBoxes"),
        (6, "C int8 320x320"),
    ):
        print(
            f"median over photos, {name}: {np.median(arr[:, i]):.1f} us (min {arr[:, i].min():.1f}, "
            f"max {arr[:, i].max():.1f})"
        )
    print(
        "numpy + NMSBoxes / C: median ratio",
        f"{np.median(arr[:, 4] / arr[:, 1]):.1f}x;",
        "numpy rules / C:",
        f"{np.median(arr[:, 3] / arr[:, 1]):.1f}x",
    )


if __name__ == "__main__":
    if "--faceyn" in sys.argv:
        faceyn(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 301)
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
