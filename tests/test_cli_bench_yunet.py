"""`ultrapost bench` with a YuNet model: ultrapost's C against cv2.FaceDetectorYN's own pre- and post-processing and
the numpy paths on the outputs of the same forward, every method's faces checked against FaceDetectorYN.detect's in
the same run. Quick mode: decisions and report shape only (speed is measured in the bench, never asserted)."""

from __future__ import annotations

import json

from conftest import require, require_module

from ultrapost import cli

DYNAMIC = "yunet/face_detection_yunet_2026may.onnx"
INT8OUT = "yunet/face_detection_yunet_2026may_int8_320_int8out.onnx"


def test_bench_yunet_quick_json(capsys):
    require_module("cv2", "opencv-python-headless")
    model, photo = str(require(DYNAMIC)), str(require("images/nasa_group.jpg"))
    code = cli.main(["bench", "--model", model, "--image", photo, "--quick", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["same_decisions"] is True
    y = report["yunet"]
    assert (y["frame"], y["score_threshold"], y["iou_threshold"], y["top_k"]) == ("320x320", 0.6, 0.3, 5000)
    (row,) = y["photos"]
    assert row["image"] == "nasa_group.jpg" and row["faces"] == 14 == y["faces"]  # FaceDetectorYN's count
    methods = {m["method"]: m for m in row["methods"]}
    assert set(methods) == {"ultrapost", "golden", "numpy_nmsboxes", "numpy_rules"}
    assert all(m["decisions"] == "same" and m["median_us"] > 0 and m["samples"] >= 5 for m in methods.values())
    assert methods["ultrapost"]["ratio"] == 1.0
    f = row["faceyn"]
    assert f["faces"] == 14 and f["pairs"] == 31 and f["detect_us"] > f["forward_us"] > 0
    assert f["ratio"] == round(f["median_us"] / methods["ultrapost"]["median_us"], 3)
    assert set(y["summary"]) == {"ultrapost", "golden", "numpy_nmsboxes", "numpy_rules", "faceyn"}


def test_bench_yunet_table_and_int8_refusal(capsys):
    require_module("cv2", "opencv-python-headless")
    model, photo = str(require(DYNAMIC)), str(require("images/nasa_group.jpg"))
    assert cli.main(["bench", "--model", model, "--image", photo, "--quick", "--score-threshold", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "cv2.FaceDetectorYN pre+post" in out and "score 0.9" in out
    assert "every method kept the same faces as ultrapost" in out
    assert cli.main(["bench", "--model", str(require(INT8OUT)), "--image", photo, "--quick"]) == 1
    assert "int8 outputs" in capsys.readouterr().err
