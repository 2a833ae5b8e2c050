"""Per-call time of ``postprocess`` for float32, int32 and int8 tensors of the same model on the same photo, one image
and batches (run: ``python benchmarks/bench_plain_path.py [calls]``).

BlazeFace short range (LiteRT) on the photo with most MediaPipe faces in ``blazeface/mediapipe_short_range_detections
.npz`` (its outputs quantized per tensor for int8: logits on [-20, 10], regressors symmetric; int32 as Q20), and
RetinaFace mnet0.25 640 on nasa_group.jpg (onnxruntime: the float32 model and the int8-output model; the packed
[1, 16800, 16] output and its three contiguous tensors). Median thread CPU time in microseconds (time descheduled on
a shared machine is not counted).
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

DATA = Path(os.environ.get("ULTRAPOST_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MNET = {"min_sizes": [[16, 32], [64, 128], [256, 512]], "steps": (8, 16, 32)}
BATCH = 4


def median_us(fn, calls: int) -> float:
    fn()
    times = []
    for _ in range(calls):
        t0 = time.thread_time_ns()
        fn()
        times.append(time.thread_time_ns() - t0)
    return float(np.median(times) / 1e3)


def quantize(x, scale, zp):
    return np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)


def blazeface_outputs():
    from ai_edge_litert.interpreter import Interpreter

    mp = np.load(DATA / "blazeface/mediapipe_short_range_detections.npz")
    name = max((str(n) for n in mp["names"]), key=lambda n: len(mp[f"{n}_scores"]))
    it = Interpreter(model_path=str(DATA / "blazeface/face_detection_short_range.tflite"))
    it.allocate_tensors()
    x = mp[f"{name}_input_u8"].astype(np.float32) * np.float32(2 / 255) - 1
    it.set_tensor(it.get_input_details()[0]["index"], x[None])
    it.invoke()
    outs = [it.get_tensor(d["index"]) for d in it.get_output_details()]
    reg = next(v for v in outs if v.shape[-1] == 16).copy()
    cls = next(v for v in outs if v.shape[-1] == 1).copy()
    return name, cls, reg


def letterbox(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = 640 / max(w, h)
    out = np.zeros((640, 640, 3), np.uint8)
    out[: round(h * s), : round(w * s)] = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR)
    return (out.astype(np.float32) - np.float32([104, 117, 123])).transpose(2, 0, 1)[None]


def main(calls: int = 1001) -> None:
    rows = []

    def add(label, fn, n=calls):
        det = fn()
        faces = sum(len(d) for d in det) if isinstance(det, list) else len(det)
        rows.append((label, faces, median_us(fn, n)))

    name, cls, reg = blazeface_outputs()
    bf = ultrapost.BlazeFace.model("short")
    q = ((30 / 255, -128 + round(20 * 255 / 30)), (float(np.abs(reg).max()) / 127, 0))
    cls8, reg8 = quantize(cls, *q[0]), quantize(reg, *q[1])
    cls32, reg32 = (np.round(v.astype(np.float64) * 2**20).astype(np.int32) for v in (cls, reg))
    add(f"BlazeFace short {name} float32", lambda: bf.postprocess(cls, reg))
    add(f"BlazeFace short {name} int8", lambda: bf.postprocess(cls8, reg8, quantization=q))
    add(f"BlazeFace short {name} int32", lambda: bf.postprocess(cls32, reg32))
    cb, rb, cb8, rb8 = (np.repeat(v, BATCH, 0) for v in (cls, reg, cls8, reg8))
    add(f"BlazeFace batch of {BATCH} float32", lambda: bf.postprocess(cb, rb))
    add(f"BlazeFace batch of {BATCH} int8", lambda: bf.postprocess(cb8, rb8, quantization=q))

    blob = letterbox(cv2.imread(str(DATA / "images/nasa_group.jpg")))
    providers = ["CPUExecutionProvider"]
    sf = ort.InferenceSession(str(DATA / "retinaface/retinaface_mnet025_640.onnx"), providers=providers)
    s8 = ort.InferenceSession(str(DATA / "retinaface/retinaface_mnet025_640_int8_int8out.onnx"), providers=providers)
    meta = json.loads(s8.get_modelmeta().custom_metadata_map["quant.output0"])
    rq = (meta["scale"], meta["zero_point"])
    pf, p8 = sf.run(None, {"input0": blob})[0], s8.run(None, {"input0": blob})[0]
    rf = ultrapost.RetinaFace(input_size=640, **MNET, logits=True, score_threshold=0.6)
    parts = [tuple(np.ascontiguousarray(p[..., a:b]) for a, b in ((4, 6), (0, 4), (6, 16))) for p in (pf, p8)]
    add("RetinaFace packed float32", lambda: rf.postprocess(pf))
    add("RetinaFace packed int8", lambda: rf.postprocess(p8, quantization=rq))
    add("RetinaFace three tensors float32", lambda: rf.postprocess(*parts[0]))
    add("RetinaFace three tensors int8", lambda: rf.postprocess(*parts[1], quantization=(rq,) * 3))
    pfb, p8b = np.repeat(pf, BATCH, 0), np.repeat(p8, BATCH, 0)
    add(f"RetinaFace packed batch of {BATCH} float32", lambda: rf.postprocess(pfb), max(calls // 5, 1))
    add(f"RetinaFace packed batch of {BATCH} int8", lambda: rf.postprocess(p8b, quantization=rq), max(calls // 5, 1))

    print(f"{'input':<44} {'faces':>6} {'us per call':>12}")
    for label, faces, us in rows:
        print(f"{label:<44} {faces:>6} {us:>12.1f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
