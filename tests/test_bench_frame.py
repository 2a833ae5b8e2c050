"""``ultrapost bench --frame``: FaceDetector per frame against bare inference and the naive pipeline.

Timings are reported, never asserted: these tests check the stages are the ones named, the ratios are computed from
the medians shown, the faces counted are the detector's and the naive pipeline's, and bad arguments are one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import require
from test_cli import NASA, one_error_line, run

from ultrapost.bench import frame as bench_frame

ULTRASLIM = "int8/ultraface_ultraslim_int8.tflite"
RFB = "ultraface/version-RFB-320.onnx"


def test_frame_json_and_plot_on_the_ultraslim_int8_model(capsys, tmp_path):
    plot = tmp_path / "frame.png"
    code, out, err = run(capsys, "bench", "--frame", "--model", require(ULTRASLIM), "--quick", "--json", "--plot", plot)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["frame"] == [640, 480] and doc["input_size"] == [128, 128] and doc["image"] == "built-in"
    med = {s["stage"]: s["median_us"] for s in doc["stages"]}
    assert list(med) == [k for k, _ in bench_frame.STAGES]
    assert doc["ratios"]["detector_over_inference"] == pytest.approx(med["detector"] / med["inference"], rel=1e-3)
    assert doc["ratios"]["naive_over_detector"] == pytest.approx(med["naive"] / med["detector"], rel=1e-3)
    assert plot.stat().st_size > 10_000


def test_frame_on_a_photo_counts_the_faces_of_both_pipelines(capsys):
    """On the group photo at 640x480 both pipelines find faces; the detector's count is FaceDetector's own."""
    from ultrapost.pipeline.detect import FaceDetector

    code, out, err = run(capsys, "bench", "--frame", "--model", require(RFB), "--image", require(NASA), "--quick")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("version-RFB-320.onnx (ultraface, input 320x240) on a 640x480 frame")
    for _, label in bench_frame.STAGES:
        assert any(line.startswith(f"  {label}") for line in lines), label
    import cv2

    from ultrapost.pipeline.preprocess import load_image

    frame = np.ascontiguousarray(cv2.resize(load_image(require(NASA)), (640, 480), interpolation=cv2.INTER_AREA))
    detector = FaceDetector(require(RFB))
    faces = len(detector(frame))
    naive = len(bench_frame.naive_pipeline(detector)(frame)[1])
    assert faces > 5 and naive > 5
    assert f"faces: {faces}" in lines[-2] and f"faces: {naive}" in lines[-1]


def test_frame_with_another_interpolation(capsys):
    argv = ["bench", "--frame", "--model", require(ULTRASLIM), "--quick", "--json", "--interpolation", "nearest"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert json.loads(out)["interpolation"] == "nearest"
    code, _, err = run(capsys, "bench", "--frame", "--model", require(ULTRASLIM), "--interpolation", "area")
    assert code == 1 and "interpolation must be one of" in one_error_line(err, "bench")


def test_frame_on_blazeface_says_why_the_naive_pipeline_is_not_timed(capsys):
    model = require("blazeface/face_detection_short_range.tflite")
    code, out, err = run(capsys, "bench", "--frame", "--model", model, "--quick", "--frame-size", "320x240")
    assert code == 0, err
    assert "on a 320x240 frame" in out and "blazeface has no numpy predict() peer" in out


def test_naive_preprocessing_is_cv2_and_numpy_in_the_models_layout():
    from ultrapost.pipeline.recognize import ModelSpec

    frame = bench_frame.builtin_frame(64, 48)
    spec = ModelSpec("ultraface", (32, 24), decoded=True, scores="scores", boxes="boxes")
    x = bench_frame.naive_preprocess(spec)(frame)
    import cv2

    want = (cv2.resize(frame, (32, 24), interpolation=cv2.INTER_LINEAR).astype(np.float32) - 127.0) / 128.0
    assert x.dtype == np.float32 and x.shape == (1, 3, 24, 32)
    assert np.array_equal(x[0], want.transpose(2, 0, 1))


@pytest.mark.parametrize(
    "argv, expect",
    [
        (["--frame"], "--frame times a model per frame: give --model"),
        (["--frame", "--model", "m.onnx", "--frame-size", "640"], "--frame-size must be WxH"),
        (["--frame", "--model", "m.onnx", "--frame-size", "8x8"], "sides must be 16..8192"),
        (["--frame", "--nms"], "--frame and --nms are separate"),
    ],
)
def test_frame_argument_errors_are_one_line(capsys, argv, expect):
    code, _, err = run(capsys, "bench", *argv)
    assert code == 1 and expect in one_error_line(err, "bench")
