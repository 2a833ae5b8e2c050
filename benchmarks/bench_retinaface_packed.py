"""Packed RetinaFace (Pytorch_Retinaface mobilenet0.25, one [1, 16800, 16] output) post-processing speed on the
shared photos (run: ``python benchmarks/bench_retinaface_packed.py [repeat]``).

Per photo letterboxed to 640x640 (BGR minus (104, 117, 123)), the float32 and the int8-output models through
onnxruntime, ``detect.py``'s decisions (p > 0.02, 5000 best, py_cpu_nms 0.4, 750 kept; faces drawn at score >= 0.6):
median microseconds per call of ultrapost's C (``RetinaFace(preset="pytorch_retinaface").postprocess(packed)``,
from the tensor to Detections), its golden numpy twin, and detect.py's path in numpy (``reference.pytorch_retinaface``:
softmax, decode, argsort, ``py_cpu_nms``, float64 as the repository's numpy code; the int8 output dequantized
first). Times are this thread's CPU time (time descheduled on a shared machine is not counted). The faces kept are
checked equal (anchors, order) before timing.
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

import ultrapost
from ultrapost.core.priors import retinaface_priors
from ultrapost.reference import pytorch_retinaface

DATA = Path(os.environ.get("ULTRAPOST_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MNET = {"min_sizes": [[16, 32], [64, 128], [256, 512]], "steps": (8, 16, 32)}


def median_us(fn, repeat: int) -> float:
    """Median thread CPU time of fn in microseconds (time descheduled on a shared machine is not counted)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.thread_time_ns()
        fn()
        times.append(time.thread_time_ns() - t0)
    return float(np.median(times) / 1e3)


def letterbox(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = 640 / max(w, h)
    out = np.zeros((640, 640, 3), np.uint8)
    out[: round(h * s), : round(w * s)] = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR)
    return (out.astype(np.float32) - np.float32([104, 117, 123])).transpose(2, 0, 1)[None]


def main(repeat: int = 21) -> None:
    sf = ort.InferenceSession(str(DATA / "retinaface/retinaface_mnet025_640.onnx"), providers=["CPUExecutionProvider"])
    s8 = ort.InferenceSession(
        str(DATA / "retinaface/retinaface_mnet025_640_int8_int8out.onnx"), providers=["CPUExecutionProvider"]
    )
    meta = json.loads(s8.get_modelmeta().custom_metadata_map["quant.output0"])
    quant = (meta["scale"], meta["zero_point"])
    priors = retinaface_priors(640, **MNET)
    rf = ultrapost.RetinaFace(input_size=640, **MNET, logits=True, preset="pytorch_retinaface")
    rows = []
    for p in sorted((DATA / "images").glob("*.jpg")):
        blob = letterbox(cv2.imread(str(p)))
        row = [p.name]
        for sess, q in ((sf, None), (s8, quant)):
            out = sess.run(None, {"input0": blob})[0]
            values = out[0].astype(np.float64) if q is None else (out[0].astype(np.float64) - q[1]) * q[0]
            det = rf.postprocess(out, quantization=q)
            _, scores, _, anchors = pytorch_retinaface(values, priors, 640)
            if not np.array_equal(det.anchors, anchors):
                raise RuntimeError(f"{p.name}: ultrapost and detect.py's path keep different faces")
            c = median_us(lambda out=out, q=q: rf.postprocess(out, quantization=q), repeat)
            g = median_us(lambda out=out, q=q: rf.postprocess(out, quantization=q, backend="golden"), 3)
            ref = median_us(
                lambda out=out, q=q: pytorch_retinaface(
                    out[0].astype(np.float64) if q is None else (out[0].astype(np.float64) - q[1]) * q[0], priors, 640
                ),
                repeat,
            )
            row += [int((scores >= 0.6).sum()), c, g, ref]
        rows.append(row)
        print(
            f"{p.name:18s} float: faces {row[1]:3d}  C {row[2]:7.1f}  golden {row[3]:9.1f}"
            f"  detect.py numpy {row[4]:8.1f}"
            f"  | int8: faces {row[5]:3d}  C {row[6]:7.1f}  golden {row[7]:9.1f}  detect.py numpy {row[8]:8.1f}",
            flush=True,
        )
    a = np.array([r[1:] for r in rows], dtype=np.float64)
    for off, kind in ((0, "float32"), (4, "int8")):
        faces, c, g, ref = a[:, off], a[:, off + 1], a[:, off + 2], a[:, off + 3]
        print(
            f"{kind}: {int(faces.sum())} faces at >= 0.6 on {len(rows)} photos; medians over photos, us per call: "
            f"C {np.median(c):.1f}, golden {np.median(g):.1f}, detect.py numpy {np.median(ref):.1f}; "
            f"detect.py numpy / C {np.median(ref / c):.1f}x (least {np.min(ref / c):.1f}x, most {np.max(ref / c):.1f}x)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
