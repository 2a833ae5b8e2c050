"""BlazeFace: SSD anchors, C == golden bit-exact (float32, int8, int32; every NMS kind), and the real MediaPipe
models through LiteRT against the float64 MediaPipe-semantics reference."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ultrapost
from ultrapost.families.blazeface import ssd_anchors
from ultrapost.families.cases import blazeface_case

PHOTOS = [
    "ultraface_1.jpg",
    "ultraface_2.jpg",
    "ultraface_3.jpg",
    "ultraface_5.jpg",
    "ultraface_9.jpg",
    "ultraface_12.jpg",
    "nasa_group.jpg",
]


def test_anchor_counts_and_positions():
    short = ssd_anchors(128, (8, 16, 16, 16))
    assert len(short) == 896 and len(ssd_anchors(256, (16, 32, 32, 32))) == 896
    assert len(ssd_anchors(192, (4,), interpolated_anchors=False)) == 2304
    # 16x16 cells x 2, then 8x8 cells x 6; first anchor (0.5 / 16), w = h = 1
    assert np.allclose(short[0], [1 / 32, 1 / 32, 1, 1]) and np.allclose(short[1], short[0])
    assert np.allclose(short[512], [1 / 16, 1 / 16, 1, 1]) and np.allclose(short[517], short[512])
    assert np.allclose(short[-1], [15 / 16, 15 / 16, 1, 1])
    # the model of each input size by default
    assert ultrapost.BlazeFace(input_size=(192, 192)).num_anchors == 2304
    assert np.array_equal(ultrapost.BlazeFace(256).anchors, ssd_anchors(256, (16, 32, 32, 32)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["f32", "s8", "i32"]),
    nms=st.sampled_from(["weighted", "hard", "blend", "soft-linear", "soft-gaussian"]),
    model=st.sampled_from(["short", "full", "back"]),
)
def test_blazeface_c_equals_golden(seed, kind, nms, model):
    bf, s, r, q = blazeface_case(seed, kind, model=model, nms=nms)
    c = bf.postprocess(s, r, quantization=q, backend="c")
    g = bf.postprocess(s, r, quantization=q, backend="golden")
    assert c.fixed.keys() == g.fixed.keys() == {"boxes", "scores", "anchors", "keypoints"}
    for name in c.fixed:
        assert c.fixed[name].dtype == g.fixed[name].dtype == np.int32
        assert np.array_equal(c.fixed[name], g.fixed[name]), name
    assert c.landmarks.shape == (len(c), 6, 2) and c.landmarks.dtype == np.float64


def test_blazeface_batch_and_reference_on_synthetic():
    cases = [blazeface_case(seed, "f32", nms="weighted") for seed in range(1, 5)]
    bf = ultrapost.BlazeFace(128, score_threshold=0.5, iou_threshold=0.3)
    s = np.stack([c[1] for c in cases])
    r = np.stack([c[2] for c in cases])
    batch = bf.postprocess(s, r)
    assert len(batch) == 4
    for i, det in enumerate(batch):
        one = bf.postprocess(s[i], r[i])
        assert np.array_equal(det.fixed["keypoints"], one.fixed["keypoints"])
        ref = bf.reference(s[i], r[i])
        assert det.anchors.tolist() == ref.anchors.tolist()
        assert np.abs(det.landmarks - ref.landmarks).max(initial=0) * 128 < 1 / 16


@pytest.fixture(scope="module")
def real_outputs():
    from ultrapost.pipeline.preprocess import load_image, prepare
    from ultrapost.pipeline.recognize import detect_family
    from ultrapost.pipeline.runners import load_model

    out = {}
    for name in ("short_range", "full_range"):
        runner = load_model(require(f"blazeface/face_detection_{name}.tflite"))
        spec = detect_family(runner)
        rows = []
        for photo in PHOTOS:
            x, _ = prepare(load_image(require(f"images/{photo}")), spec)
            y = runner.run(x)
            rows.append((y[spec.scores], y[spec.boxes]))
        out[name] = (spec, rows)
    return out


@pytest.mark.parametrize("name, model", [("short_range", "short"), ("full_range", "full")])
def test_real_models_keep_the_reference_faces(real_outputs, name, model):
    """Same faces (anchors, order) as MediaPipe's float64 semantics; keypoints within 1/16 px at input size."""
    spec, rows = real_outputs[name]
    bf = ultrapost.BlazeFace.model(model)
    size = bf.input_size[0]
    total = 0
    worst = 0.0
    for scores, regressors in rows:
        det = bf.postprocess(scores, regressors)
        ref = bf.reference(scores, regressors)
        assert det.anchors.tolist() == ref.anchors.tolist()
        total += len(det)
        if len(det):
            worst = max(worst, np.abs(det.landmarks - ref.landmarks).max() * size)
            assert np.abs(det.boxes - ref.boxes).max() * size < 1 / 16
        gold = bf.postprocess(scores, regressors, backend="golden")
        assert np.array_equal(det.fixed["keypoints"], gold.fixed["keypoints"])
    assert total >= len(rows) and worst < 1 / 16


def test_bad_blazeface_configs():
    with pytest.raises(ValueError, match="strides must not be empty"):
        ultrapost.BlazeFace(128, strides=())
    with pytest.raises(ValueError, match="classificators has 896 rows but the config has 2304 anchors"):
        ultrapost.BlazeFace.model("full").postprocess(np.zeros((896, 1), np.float32), np.zeros((896, 16), np.float32))
    with pytest.raises(ValueError, match="anchors must be"):
        ultrapost.BlazeFace(128, anchors=np.zeros((10, 3)))
    with pytest.raises(ValueError, match="regressors has 896 rows but the config has 10"):
        ultrapost.BlazeFace(128, anchors=np.full((10, 4), 0.5)).postprocess(
            np.zeros((10, 1), np.float32), np.zeros((896, 16), np.float32)
        )
    with pytest.raises(ValueError, match="unknown BlazeFace model"):
        ultrapost.BlazeFace.model("tiny")
    with pytest.raises(ValueError, match="soft_sigma must be > 0"):
        ultrapost.BlazeFace(128, nms="soft-gaussian", soft_sigma=0.0)
    with pytest.raises(ValueError, match="nms must be one of"):
        ultrapost.BlazeFace(128, nms="fast")
