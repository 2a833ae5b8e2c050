"""ultrapost against numpy predict(), OpenCV NMSBoxes and onnxruntime NMS on real RFB-320 outputs.

The two RFB-320 ONNX exports (raw deltas and decoded boxes) run once on three photos (2, 14 and 111 faces kept);
every method is then timed on the same output arrays, and every timed result is checked against ultrapost's
decisions in the same run. ``numpy_copy`` (``scores.copy(); boxes.copy()``) is the floor ultrapost is measured
against. The summary at the end of the run (conftest.py) prints the ratios and the targets, from pytest-benchmark's
medians and from a second measurement with the methods timed in turns (``test_ratios_in_turns``).
"""

from __future__ import annotations

import pytest
from conftest import record, record_interleaved, shared

from ultrapost import bench
from ultrapost.pipeline.detect import FaceDetector

MODELS = ("ultraface/version-RFB-320_without_postprocessing.onnx", "ultraface/version-RFB-320.onnx")
PHOTOS = ("nasa_group.jpg", "ultraface_13.jpg", "ultraface_17.jpg")
METHODS = ("ultrapost", "numpy_predict", "opencv_nms", "onnxruntime_nms", "numpy_copy")


@pytest.fixture(scope="module")
def workloads():
    """(model, photo) -> bench.Workload: each model loaded once, run once per photo."""
    out = {}
    for model in MODELS:
        detector = FaceDetector(shared(model))
        for photo in PHOTOS:
            out[model, photo] = bench.model_workload(detector, shared(f"images/{photo}"))
    return out


@pytest.mark.parametrize("photo", PHOTOS)
@pytest.mark.parametrize("model", MODELS)
def test_every_peer_keeps_the_same_faces(workloads, model, photo):
    wl = workloads[model, photo]
    decisions = bench.check_decisions(wl, ["golden", "numpy_predict", "opencv_nms", "onnxruntime_nms"])
    assert decisions == dict.fromkeys(decisions, "same")
    assert len(bench.run_method(wl, "ultrapost")) >= 2


@pytest.mark.benchmark(max_time=1.0, min_rounds=20)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("photo", PHOTOS)
@pytest.mark.parametrize("model", MODELS)
def test_bench(benchmark, workloads, model, photo, method):
    wl = workloads[model, photo]
    call = bench.peer_calls(wl, [method])[method]
    benchmark.group = wl.name
    benchmark.name = method
    result = benchmark(call)
    record(wl.name, method, benchmark)
    # The result of the timed call itself must carry ultrapost's decisions.
    if method == "ultrapost":
        assert len(result) == len(bench.run_method(wl, "ultrapost"))
    elif method != "numpy_copy":
        assert bench.same_as(wl, method, result, bench.run_method(wl, "ultrapost")) == "same"


@pytest.mark.parametrize("photo", PHOTOS)
@pytest.mark.parametrize("model", MODELS)
def test_ratios_in_turns(request, workloads, model, photo):
    """The same calls timed in turns (bench.time_calls: 5 samples of one method, then the next, 0.5 s each), so
    that a slow phase of a shared machine falls on every method alike rather than on one test."""
    wl = workloads[model, photo]
    calls = bench.peer_calls(wl, ["ultrapost", "numpy_predict", "opencv_nms", "numpy_copy"])
    if request.config.getoption("benchmark_disable", False):
        for call in calls.values():
            call()
        return
    timings = bench.time_calls(calls, budget=0.5)
    record_interleaved(wl.name, timings)
    assert all(t.median_us > 0 for t in timings.values())
