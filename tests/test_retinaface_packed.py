"""The trained packed RetinaFace (Pytorch_Retinaface mobilenet0.25, one [1, 16800, 16] output): the family on the
tensor as it is, against a float64 transcription of that repository's detect.py path on every photo."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import require, require_module

import ultrapost
from ultrapost.core.priors import retinaface_priors
from ultrapost.reference import pytorch_retinaface

MNET = dict(min_sizes=[[16, 32], [64, 128], [256, 512]], steps=(8, 16, 32))
FLOAT = "retinaface/retinaface_mnet025_640.onnx"
INT8OUT = "retinaface/retinaface_mnet025_640_int8_int8out.onnx"


def test_packed_api_and_views():
    rng = np.random.default_rng(0)
    packed = rng.normal(0, 1.5, (1, 16800, 16)).astype(np.float32)
    rf = ultrapost.RetinaFace(input_size=640, **MNET, logits=True, preset="pytorch_retinaface")
    a, b = rf.postprocess(packed), rf.postprocess(packed[0])
    assert np.array_equal(a.anchors, b.anchors) and np.array_equal(a.boxes, b.boxes)
    g = rf.postprocess(packed, backend="golden")
    assert np.array_equal(a.fixed["boxes"], g.fixed["boxes"]) and np.array_equal(a.anchors, g.anchors)
    q = np.clip(np.round(packed / 0.1) + 2, -128, 127).astype(np.int8)
    c8, g8 = rf.postprocess(q, quantization=(0.1, 2)), rf.postprocess(q, quantization=(0.1, 2), backend="golden")
    assert np.array_equal(c8.fixed["boxes"], g8.fixed["boxes"]) and np.array_equal(c8.anchors, g8.anchors)
    with pytest.raises(ValueError, match="16"):
        rf.postprocess(packed[..., :15])
    with pytest.raises(ValueError, match="quantization"):
        rf.postprocess(q)
    assert (rf.score_threshold, rf.iou_threshold, rf.candidate_limit, rf.max_detections) == (0.02, 0.4, 5000, 750)


def _letterbox(cv2, img):
    h, w = img.shape[:2]
    s = 640 / max(w, h)
    nw, nh = round(w * s), round(h * s)
    out = np.zeros((640, 640, 3), np.uint8)
    out[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return (out.astype(np.float32) - np.float32([104, 117, 123])).transpose(2, 0, 1)[None]


def test_photos_detect_py_faces_float_and_int8():
    """Float and int8-output models on the 25 photos letterboxed to 640: the faces of detect.py's path (every face it
    keeps, in its order), landmarks and boxes within 1/16 px."""
    cv2 = require_module("cv2", "opencv-python-headless")
    ort = require_module("onnxruntime", "onnxruntime")
    sf = ort.InferenceSession(str(require(FLOAT)), providers=["CPUExecutionProvider"])
    s8 = ort.InferenceSession(str(require(INT8OUT)), providers=["CPUExecutionProvider"])
    meta = json.loads(s8.get_modelmeta().custom_metadata_map["quant.output0"])
    quant = (meta["scale"], meta["zero_point"])
    priors = retinaface_priors(640, **MNET)
    rf = ultrapost.RetinaFace(input_size=640, **MNET, logits=True, preset="pytorch_retinaface")
    counts = {"float": 0, "int8": 0}
    for p in sorted(require("images/nasa_group.jpg").parent.glob("*.jpg")):
        blob = _letterbox(cv2, cv2.imread(str(p)))
        for kind, sess in (("float", sf), ("int8", s8)):
            out = sess.run(None, {"input0": blob})[0]
            det = rf.postprocess(out, quantization=quant if kind == "int8" else None)
            values = out[0].astype(np.float64)
            if kind == "int8":
                values = (values - quant[1]) * quant[0]
            boxes, scores, landmarks, anchors = pytorch_retinaface(values, priors, 640)
            assert np.array_equal(det.anchors, anchors), (p.name, kind)
            if len(anchors):
                assert np.abs(det.landmarks * 640 - landmarks).max() < 1 / 16
                assert np.abs(det.boxes * 640 - boxes).max() < 1 / 16
            counts[kind] += int((scores >= 0.6).sum())
    assert counts == {"float": 606, "int8": 589}


@pytest.mark.parametrize("name", [FLOAT, INT8OUT, "retinaface/retinaface_mnet025_640_int8.onnx"])
def test_recognized_from_the_file(name):
    """The packed model and its int8 variants are recognized (logits, Pytorch_Retinaface's priors and decisions) and
    find nasa_group.jpg's 14 people."""
    fd = ultrapost.FaceDetector(str(require(name)))
    assert fd.spec.family == "retinaface" and fd.spec.logits and fd.spec.scores == fd.spec.boxes
    assert fd.postprocessor.min_sizes == ((16, 32), (64, 128), (256, 512))
    assert len(fd(require("images/nasa_group.jpg"))) == 14
