"""The C pre-processing stage against cv2.resize and Pillow, and FaceDetector per frame against bare inference.

A 640x480 RGB frame (a shared photo resized, or a synthetic frame without the data) goes to 320x240. The whole
pre-processing (resize + normalization into the model's tensor) in each interpolation is timed in turns with
``cv2.resize(..., INTER_LINEAR)`` alone to the same size (the target: within 2x) and Pillow's ``resize`` (the
reference of "pil"). Per shared model family, ``FaceDetector`` on a frame is timed in turns with the bare inference
of the same tensor (the target: within 1.10x). Ratios are medians of one run, reported, never asserted.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import REQUIRE_DATA
from PIL import Image

from ultrapost.bench.timing import time_calls
from ultrapost.data import require_file
from ultrapost.pipeline.preprocessor import Preprocessor

MODELS = (
    "ultraface/version-RFB-320.onnx",
    "ultraface/version-slim-320.onnx",
    "int8/version-slim-320_raw_int8.tflite",
    "int8/ultraface_ultraslim_int8.tflite",
    "blazeface/face_detection_short_range.tflite",
)


def _frame() -> np.ndarray:
    try:
        path = require_file("images/ultraface_1.jpg")
    except BaseException:  # skipped: a synthetic frame with smooth gradients and noise
        if REQUIRE_DATA:
            raise
        y, x = np.mgrid[0:480, 0:640]
        noise = np.random.default_rng(0).integers(0, 32, (480, 640, 3))
        return ((np.stack([x * 255 // 639, y * 255 // 479, (x + y) % 256], axis=2) + noise) % 256).astype(np.uint8)
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB").resize((640, 480), Image.BILINEAR)))


def _report(request, title: str, timings: dict, base: str) -> None:
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [title] + [
        f"  {name:<34} {t.median_us:10.1f} us   {t.median_us / timings[base].median_us:6.2f}x {base}"
        for name, t in timings.items()
    ]
    if tr is not None:
        tr.write_line("")
        for line in lines:
            tr.write_line(line)


def test_preprocess_640x480_against_cv2_resize(request):
    frame = _frame()
    calls = {"cv2.resize INTER_LINEAR": lambda: cv2.resize(frame, (320, 240), interpolation=cv2.INTER_LINEAR)}
    for interp in ("pil", "cv2", "nearest"):
        prep = Preprocessor((320, 240), interpolation=interp, layout="NCHW", mean=127.0, std=128.0)
        calls[f"{interp}: float32 NCHW tensor"] = lambda p=prep: p(frame)
    int8 = Preprocessor((320, 240), layout="NHWC", dtype="int8", quantization=(1 / 128, -1))
    calls["pil: int8 NHWC tensor"] = lambda: int8(frame)
    calls["Pillow resize alone"] = lambda: Image.fromarray(frame).resize((320, 240), Image.BILINEAR)
    timings = time_calls(calls, budget=1.0)
    _report(request, "pre-processing of a 640x480 frame to 320x240 (target: within 2x cv2.resize)", timings,
            "cv2.resize INTER_LINEAR")  # fmt: skip
    assert all(t.median_us > 0 for t in timings.values())


def test_mediapipe_warp_640x480_against_cv2_warp(request):
    """BlazeFace's pre-processing (MediaPipe's letterbox warp) of a 640x480 frame to 128x128, against the installed
    cv2's warpAffine / warpPerspective with MediaPipe's matrix (uint8 out, no normalization)."""
    from ultrapost.core.warp_config import mediapipe_matrix

    frame = _frame()
    m = mediapipe_matrix((640, 480), (128, 128))
    kw = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    calls = {
        "cv2.warpAffine": lambda: cv2.warpAffine(frame, m[:2], (128, 128), **kw),
        "cv2.warpPerspective": lambda: cv2.warpPerspective(frame, m, (128, 128), **kw),
        "cv2.warpPerspective + float [-1, 1]": lambda: (
            cv2.warpPerspective(frame, m, (128, 128), **kw).astype(np.float32) * np.float32(2 / 255) - np.float32(1)
        ),
    }
    u8 = Preprocessor((128, 128), resize="letterbox", interpolation="mediapipe", layout="NHWC", mean=0.0, std=1.0,
                      dtype="uint8")  # fmt: skip
    f32 = Preprocessor((128, 128), resize="letterbox", interpolation="mediapipe", layout="NHWC", mean=127.5, std=127.5)
    calls["mediapipe: uint8 NHWC"] = lambda: u8(frame)
    calls["mediapipe: float32 NHWC (BlazeFace)"] = lambda: f32(frame)
    timings = time_calls(calls, budget=1.0)
    _report(request, "MediaPipe's warp of a 640x480 frame to 128x128 against cv2.warpAffine", timings,
            "cv2.warpAffine")  # fmt: skip
    assert all(t.median_us > 0 for t in timings.values())


@pytest.mark.parametrize("model", MODELS)
def test_face_detector_against_bare_inference(request, model):
    from ultrapost.pipeline.detect import FaceDetector

    detector = FaceDetector(require_file(model))
    frame = _frame()
    tensor, _ = detector.preprocessor(frame)
    calls = {
        "bare inference": lambda: detector.runner.run(tensor),
        "FaceDetector(frame)": lambda: detector(frame),
        "pre-processing": lambda: detector.preprocessor(frame),
    }
    timings = time_calls(calls, budget=1.0)
    _report(request, f"{model}: per frame (target: FaceDetector within 1.10x bare inference)", timings,
            "bare inference")  # fmt: skip
    assert len(detector(frame).scores) >= 0
