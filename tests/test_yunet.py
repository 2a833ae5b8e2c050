"""YuNet: the C stage (csrc/up_yunet.c) against the golden model, bit for bit, and its exact decisions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ultrapost
from ultrapost import reference
from ultrapost.core import _yunet
from ultrapost.core.config import INPUT_F32
from ultrapost.core.yunet_config import f32_bits, iou_rule, padded_size, product_bound
from ultrapost.families.yunet import YuNet
from ultrapost.families.yunet_cases import MODES, make_outputs
from ultrapost.golden import yunet as golden_yunet

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def assert_same(yn, outs, quant, frame):
    c = yn.run_fixed(outs, quant, frame, backend="c")
    g = yn.run_fixed(outs, quant, frame, backend="golden")
    assert c.keys() == g.keys()
    for k in c:
        assert c[k].dtype == g[k].dtype == np.int32, k
        assert np.array_equal(c[k], g[k]), f"{k} differs"
    return c


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    w=st.integers(1, 160),
    h=st.integers(1, 160),
    mode=st.sampled_from(MODES),
    int8=st.booleans(),
    t=st.sampled_from([0.0, 0.3, 0.5, 0.6, 0.9, 1.0]),
    nms=st.sampled_from([0.0, 0.3, 0.45, 1.0]),
    top_k=st.sampled_from([5000, 0, -1, 1, 3]),
    max_det=st.sampled_from([None, 1, 2]),
    preset=st.sampled_from(["opencv", "single-test"]),
)
def test_c_equals_golden(seed, w, h, mode, int8, t, nms, top_k, max_det, preset):
    outs, quant = make_outputs(seed, (w, h), mode, t, int8)
    yn = YuNet((w, h), t, nms, top_k, preset, max_detections=max_det)
    c = assert_same(yn, outs, quant, None)
    if mode == "none" and t >= 0.3:
        assert len(c["scores"]) == 0


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), mode=st.sampled_from(MODES), int8=st.booleans())
def test_c_equals_golden_large_frames(seed, mode, int8):
    frame = (640, 352) if seed % 2 else (1001, 617)
    outs, quant = make_outputs(seed, frame, mode, 0.5, int8)
    assert_same(YuNet(frame, 0.5, 0.3), outs, quant, None)


def test_float_decisions_equal_opencv_rules_on_generated_cases():
    """Float32 outputs: the same faces, in the same order, as the transcription of OpenCV's rules. (Not the
    "clustered" mode, whose boxes sit on integer corners on purpose: there the truncation of OpenCV's float32
    corners and of the fixed-point ones can differ by one pixel, an edge of the decode, not of the decisions.)"""
    modes = [m for m in MODES if m != "clustered"]
    for seed in range(60):
        frame = (96 + seed, 64 + 2 * seed)
        outs, _ = make_outputs(seed, frame, modes[seed % len(modes)], 0.6)
        yn = YuNet(frame, 0.6, 0.3)
        det, ref = yn.postprocess(outs), yn.reference(outs)
        assert np.array_equal(det.anchors, ref.anchors), seed
        if len(det):
            assert np.abs(det.scores - ref.scores).max() <= 2**-30
            assert np.abs((det.boxes - ref.boxes) * [*frame, *frame]).max() < 1 / 16


def test_lone_candidate_on_the_threshold():
    """OpenCV keeps a lone candidate whose score equals the threshold, and drops it among several."""
    frame = (64, 64)
    outs, _ = make_outputs(1, frame, "none")
    for k in ("cls_8", "obj_8"):
        outs[k] = np.zeros_like(outs[k])
    outs["cls_8"][0, 5, 0], outs["obj_8"][0, 5, 0] = 1.0, 0.25  # score exactly 0.5
    yn = YuNet(frame, 0.5, 0.3)
    assert list(yn.postprocess(outs).anchors) == [5]
    assert len(YuNet(frame, 0.5, 0.3, preset="single-test").postprocess(outs)) == 1
    outs["cls_8"][0, 40, 0], outs["obj_8"][0, 40, 0] = 1.0, 0.81  # a second candidate (0.9)
    assert list(yn.postprocess(outs).anchors) == [40]
    assert list(reference.yunet(outs, 64, 64, score_threshold=0.5)[1]) == [40]
    assert sorted(YuNet(frame, 0.5, 0.3, preset="single-test").postprocess(outs).anchors) == [5, 40]


@pytest.mark.parametrize("t", [0.0, 1e-30, 0.1, 0.3, 0.5, 0.6, 0.7, 0.9, 0.95, 1.0])
def test_product_bound_is_the_edge(t):
    """Products up to the bound have sqrtf below t, the next float32 reaches it."""
    b = product_bound(t)
    as_f = lambda bits: np.array(bits, np.int32).view(np.float32)  # noqa: E731
    t32 = np.float32(t)
    assert np.sqrt(as_f(b + 1)) >= t32
    if b >= 0:
        assert np.sqrt(as_f(b)) < t32
    assert f32_bits(t) == int(np.array(t32).view(np.int32))


@pytest.mark.parametrize("t", [0.0, 0.1, 0.3, 0.3000001, 0.45, 0.5, 0.7, 0.999])
def test_iou_rule_matches_opencv_overlap(t):
    """The exact integer test agrees with OpenCV's float overlap on random and on-the-edge rectangles."""
    rng = np.random.default_rng(int(t * 1000))
    yn_cfg = YuNet((64, 64), 0.5, t).config(INPUT_F32, (64, 64))[0]
    pairs = [
        ((0, 0, 10, 10), (0, 0, 10, 3)),
        ((0, 0, 10, 10), (7, 0, 10, 10)),
        ((0, 0, 0, 0), (0, 0, 0, 0)),
        ((0, 0, 0, 5), (0, 0, 7, 0)),
        ((0, 0, 13, 1), (0, 0, 4, 1)),
        ((0, 0, 100, 1), (0, 0, 30, 1)),
    ]
    for num in range(1, 200):  # I / U = num / den near t
        den = max(1, int(round(num / t))) if t > 0 else num + 1
        for d in (den - 1, den, den + 1):
            if d >= num:
                pairs.append(((0, 0, num, 1), (0, 0, d, 1)))
    for _ in range(3000):
        a = tuple(int(v) for v in rng.integers(-20, 40, 2)) + tuple(int(v) for v in rng.integers(0, 30, 2))
        b = tuple(int(v) for v in rng.integers(-20, 40, 2)) + tuple(int(v) for v in rng.integers(0, 30, 2))
        pairs.append((a, b))
    for a, b in pairs:
        want = reference.opencv_overlap(a, b) > np.float32(t)
        assert golden_yunet.suppresses(yn_cfg, a, b) == want, (a, b)


def test_iou_rule_keep_all():
    assert iou_rule(1.0)[0] and not iou_rule(0.999)[0]


def test_float_arithmetic_helpers_c_golden_numpy():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 0x3F800001, 3000)
    b = rng.integers(0, 0x3F800001, 3000)
    a[:300] = rng.integers(0, 1 << 23, 300)  # subnormals
    f = lambda x: np.array(x, np.int64).astype(np.int32).view(np.float32)  # noqa: E731
    want_mul = (f(a) * f(b)).view(np.int32)
    want_sqrt = np.sqrt(f(a)).view(np.int32)
    assert np.array_equal(golden_yunet.f32_mul_bits(a, b), want_mul)
    assert np.array_equal(golden_yunet.f32_sqrt_bits(a), want_sqrt)
    assert [_yunet.f32_mul_bits(int(x), int(y)) for x, y in zip(a, b, strict=True)] == want_mul.tolist()
    assert [_yunet.f32_sqrt_bits(int(x)) for x in a] == want_sqrt.tolist()


def test_dynamic_size_and_api():
    outs, _ = make_outputs(3, (100, 70), "random", 0.6)
    yn = YuNet(None, 0.6, 0.3)
    d = yn.postprocess(outs, input_size=(100, 70))
    assert d.landmarks.shape == (len(d), 5, 2)
    assert np.array_equal(d.anchors, YuNet((100, 70), 0.6).postprocess(outs).anchors)
    assert isinstance(
        ultrapost.YuNet(input_size=(320, 320), score_threshold=0.6, iou_threshold=0.3, top_k=5000, preset="opencv"),
        YuNet,
    )
    assert padded_size(100, 70) == (128, 96)


def test_errors():
    outs, _ = make_outputs(3, (64, 64))
    with pytest.raises(ValueError, match="input_size"):
        YuNet(None).postprocess(outs)
    with pytest.raises(ValueError, match="rows"):
        YuNet((96, 64)).postprocess(outs)
    with pytest.raises(ValueError, match="lack"):
        YuNet((64, 64)).postprocess({k: v for k, v in outs.items() if k != "kps_32"})
    with pytest.raises(ValueError, match="preset"):
        YuNet((64, 64), preset="nope")
    with pytest.raises(ValueError, match="score_threshold"):
        YuNet((64, 64), 1.5)
    bad = dict(outs)
    bad["cls_16"] = bad["cls_16"].copy()
    bad["cls_16"][0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        YuNet((64, 64)).postprocess(bad)
    with pytest.raises(ValueError, match="NaN"):
        YuNet((64, 64)).postprocess(bad, backend="golden")
    bad = dict(outs)
    bad["bbox_8"] = bad["bbox_8"] * 4000
    for backend in ("c", "golden"):
        with pytest.raises(ValueError, match="beyond"):
            YuNet((64, 64), 0.0).postprocess(bad, backend=backend)
    bad = dict(outs)
    bad["kps_32"] = np.full_like(bad["kps_32"], np.inf)
    for backend in ("c", "golden"):
        with pytest.raises(ValueError, match="NaN, Inf"):
            YuNet((64, 64), 0.0).postprocess(bad, backend=backend)
    q8, quant = make_outputs(3, (64, 64), int8=True)
    with pytest.raises(ValueError, match="quantization"):
        YuNet((64, 64)).postprocess(q8)
    with pytest.raises(TypeError, match="float32 or all int8"):
        YuNet((64, 64)).postprocess({**q8, "cls_8": outs["cls_8"]}, quant)
    with pytest.raises(ValueError, match="lacks"):
        YuNet((64, 64)).postprocess(q8, {k: v for k, v in quant.items() if k != "obj_8"})
