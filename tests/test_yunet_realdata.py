"""YuNet on the shared photos: onnxruntime's outputs through the C against OpenCV's rules, the int8 model's outputs
against the same rules on their dequantized values, and the whole path against cv2.FaceDetectorYN itself."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import require, require_module

from ultrapost import reference
from ultrapost.core.yunet_config import padded_size
from ultrapost.families.yunet import YuNet

cv2 = require_module("cv2", "opencv-python-headless")
ort = require_module("onnxruntime", "onnxruntime")

DYNAMIC = "yunet/face_detection_yunet_2026may.onnx"
INT8OUT = "yunet/face_detection_yunet_2026may_int8_320_int8out.onnx"
INT8 = "yunet/face_detection_yunet_2026may_int8_320.onnx"


def photos() -> list[Path]:
    folder = require("images/nasa_group.jpg").parent
    return sorted(folder.glob("*.jpg"))


@functools.cache
def session(name: str):
    return ort.InferenceSession(str(require(name)), providers=["CPUExecutionProvider"])


@functools.cache
def own_size_outputs(path: Path) -> dict:
    """onnxruntime's outputs of the dynamic model for a photo at its own size (run once per test session)."""
    return run(session(DYNAMIC), padded_blob(cv2.imread(str(path))))


def run(sess, blob) -> dict:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {sess.get_inputs()[0].name: blob}), strict=True))


def padded_blob(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    pw, ph = padded_size(w, h)
    pad = np.zeros((ph, pw, 3), np.uint8)
    pad[:h, :w] = img
    return pad.transpose(2, 0, 1)[None].astype(np.float32)


def letterbox_320(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = 320 / max(w, h)
    nw, nh = round(w * s), round(h * s)
    out = np.zeros((320, 320, 3), np.uint8)
    out[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out


def model_quantization(sess) -> dict:
    meta = sess.get_modelmeta().custom_metadata_map
    out = {}
    for k, v in meta.items():
        if k.startswith("quant."):
            d = json.loads(v)
            out[k[len("quant.") :]] = (d["scale"], d["zero_point"])
    return out


@pytest.mark.parametrize("t", [0.3, 0.6, 0.9])
def test_float_outputs_opencv_preset_equals_opencv_rules(t):
    """onnxruntime's outputs at each photo's own size: the C keeps the faces OpenCV's rules keep, in the same order,
    boxes and landmarks within 1/16 px, scores within 2^-30 (the float32 score, rounded to Q30)."""
    total = 0
    for p in photos():
        outs = own_size_outputs(p)
        h, w = cv2.imread(str(p)).shape[:2]
        yn = YuNet((w, h), t, 0.3, 5000)
        det, ref = yn.postprocess(outs), yn.reference(outs)
        assert np.array_equal(det.anchors, ref.anchors), p.name
        if len(det):
            assert np.abs((det.boxes - ref.boxes) * [w, h, w, h]).max() < 1 / 16, p.name
            assert np.abs((det.landmarks - ref.landmarks) * [w, h]).max() < 1 / 16, p.name
            assert np.abs(det.scores - ref.scores).max() <= 2**-30, p.name
        if t == 0.6:  # the golden twin once (the C == golden tests cover the rest)
            golden = yn.postprocess(outs, backend="golden")
            assert np.array_equal(golden.anchors, det.anchors) and np.array_equal(golden.boxes, det.boxes)
        total += len(det)
    assert total > 0


def test_opencv_rules_equal_face_detector_yn():
    """The transcription of OpenCV's rules on onnxruntime's outputs gives cv2.FaceDetectorYN's faces on every
    photo (the networks run in different runtimes; their faces agree within 2e-4 px)."""
    model = str(require(DYNAMIC))
    sess = session(DYNAMIC)
    for p in photos():
        img = cv2.imread(str(p))
        h, w = img.shape[:2]
        faces, _ = reference.yunet(
            run(sess, padded_blob(img)), *padded_size(w, h), score_threshold=0.6, nms_threshold=0.3, top_k=5000
        )
        det = cv2.FaceDetectorYN.create(model, "", (w, h), 0.6, 0.3, 5000)
        _, cv_faces = det.detect(img)
        cv_faces = np.zeros((0, 15)) if cv_faces is None else cv_faces
        assert cv_faces.shape == faces.shape, p.name
        assert np.abs(cv_faces - faces).max() < 2e-4, p.name


def test_int8_outputs_equal_reference_on_dequantized():
    """The int8-output model: the C's decisions are those of OpenCV's rules on the dequantized outputs, on every
    photo; the dequantized outputs are the QDQ model's float outputs bit for bit."""
    sess8, sessq = session(INT8OUT), session(INT8)
    quant = model_quantization(sess8)
    assert len(quant) == 12
    yn = YuNet((320, 320), 0.6, 0.3)
    total = 0
    for p in photos():
        blob = letterbox_320(cv2.imread(str(p))).transpose(2, 0, 1)[None].astype(np.float32)
        q8 = run(sess8, blob)
        deq = {k: reference.dequantize_f32(v, *quant[k]) for k, v in q8.items()}
        fq = run(sessq, blob)
        assert all(np.array_equal(deq[k], fq[k]) for k in fq)
        det = yn.postprocess(q8, quant)
        ref = yn.reference(q8, quant)
        assert np.array_equal(det.anchors, ref.anchors), p.name
        assert np.array_equal(det.anchors, yn.postprocess(fq).anchors), p.name
        if len(det):
            assert np.abs((det.boxes - ref.boxes) * 320).max() < 1 / 16, p.name
            assert np.abs((det.landmarks - ref.landmarks) * 320).max() < 1 / 16, p.name
        c = yn.run_fixed(q8, quant)
        g = yn.run_fixed(q8, quant, backend="golden")
        assert all(np.array_equal(c[k], g[k]) for k in c)
        total += len(det)
    assert total > 300


def test_face_detector_equals_face_detector_yn_on_every_photo():
    """End to end: FaceDetector on the dynamic model (recognized from the file, frame padded as OpenCV pads it, the
    network in onnxruntime, post-processing in the C) against cv2.FaceDetectorYN on the same pixels: the same faces
    on every photo, boxes and landmarks within 1e-3 px (the runtimes' outputs differ by up to 2e-4 px)."""
    import ultrapost

    model = str(require(DYNAMIC))
    fd = ultrapost.FaceDetector(model, score_threshold=0.6, iou_threshold=0.3)
    assert fd.spec.family == "yunet" and fd.spec.input_size is None
    total = 0
    for p in photos():
        bgr = cv2.imread(str(p))
        h, w = bgr.shape[:2]
        faces = fd(np.ascontiguousarray(bgr[:, :, ::-1]))
        _, cv_faces = cv2.FaceDetectorYN.create(model, "", (w, h), 0.6, 0.3, 5000).detect(bgr)
        cv_faces = np.zeros((0, 15)) if cv_faces is None else cv_faces
        assert len(faces) == len(cv_faces), p.name
        if len(cv_faces):
            x, y, bw, bh = cv_faces[:, :4].T
            want = np.stack([x, y, x + bw, y + bh], 1)
            assert np.abs(faces.boxes - np.clip(want, 0, [w, h, w, h])).max() < 1e-3, p.name
            assert np.abs(faces.landmarks.reshape(-1, 10) - cv_faces[:, 4:14]).max() < 1e-3, p.name
            assert np.abs(faces.scores - cv_faces[:, 14]).max() < 1e-6, p.name
        total += len(faces)
    assert total == 1264  # MANIFEST.md: FaceDetectorYN at 0.6 / 0.3 at each photo's own size


@pytest.mark.parametrize("name", [DYNAMIC, "yunet/face_detection_yunet_2026may_320.onnx", INT8, INT8OUT])
def test_recognized_from_the_file(name):
    """Every YuNet variant is recognized and finds nasa_group.jpg's 14 people at 0.6."""
    import ultrapost

    fd = ultrapost.FaceDetector(str(require(name)), score_threshold=0.6)
    assert fd.spec.family == "yunet"
    if name == INT8OUT:
        assert fd.spec.output_quantization["cls_8"] == (pytest.approx(0.003669546451419592), -128)
    assert len(fd(require("images/nasa_group.jpg"))) == 14
