"""YuNet post-processing speed on the shared photos (run: ``python benchmarks/bench_yunet.py``).

Per photo at its own size (the dynamic model, float32 outputs from onnxruntime, score 0.6, NMS 0.3, top_k 5000),
median microseconds per call of: ultrapost's C (``YuNet.postprocess``, from the outputs to Detections), its golden
numpy twin, the numpy transcription of OpenCV's rules (``reference.yunet``, its NMS a Python loop), and OpenCV's
path from Python (the numpy decode, then ``cv2.dnn.NMSBoxes``). FaceDetectorYN's own post-processing runs inside
``detect()`` with the network and cannot be timed apart from Python: the difference of ``detect()`` at two
thresholds varied by tens of milliseconds between runs on a shared machine, far above the quantity itself. Plus the
int8-output model at 320x320 through the C.
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
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
