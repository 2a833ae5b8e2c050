"""The peer post-processors (src/ultrapost/bench/peers.py) against the float64 reference, and their documented
differences from it."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import require, require_tool

from ultrapost import reference
from ultrapost.bench import peers as baselines
from ultrapost.core.priors import ultraface_priors

SIX_BOXES = np.array(  # see tests/test_reference.py: keeps D, A, F = [3, 0, 5] at IoU 0.5
    [
        [0.0, 0.0, 1.0, 1.0],
        [0.1, 0.0, 1.1, 1.0],
        [-0.1, 0.0, 0.9, 1.0],
        [10.0, 0.0, 11.0, 1.0],
        [10.1, 0.0, 11.1, 1.0],
        [100.0, 0.0, 101.0, 1.0],
    ],
    np.float32,
)
SIX_SCORES = np.array([0.9, 0.75, 0.6, 0.95, 0.5, 0.3], np.float32)


def _scene(seed: int, iou_threshold: float, n: int = 320):
    """Clustered float32 boxes with distinct scores and no IoU near the threshold.

    float32 (the peers) and float64 (the reference) may decide an IoU that close to the threshold differently, the
    ``+ 1e-5`` term moves small boxes' IoU by up to about 1e-3 (OpenCV and onnxruntime have none), and
    ``np.argsort`` orders exact ties arbitrarily: none of these is allowed here. A box is dropped when its IoU with
    an earlier box, with or without the term, lies within 1e-4 of the threshold.
    """
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0.15, 0.85, size=(15, 2))
    c = centers[rng.integers(0, 15, n)] + rng.normal(0, 0.03, size=(n, 2))
    half = rng.uniform(0.02, 0.1, size=(n, 2))
    boxes = np.concatenate([c - half, c + half], axis=1).astype(np.float32)
    probs = ((rng.permutation(n) + 0.5) / n * 0.6 + 0.35).astype(np.float32)  # distinct, none equal to 0.5
    with_eps, without = reference.iou_matrix(boxes, boxes), reference.iou_matrix(boxes, boxes, eps=0.0)
    near = (with_eps - 1e-4 < iou_threshold) & (iou_threshold < without + 1e-4)
    keep = np.ones(n, bool)
    for i in range(n):
        if near[i, :i][keep[:i]].any():
            keep[i] = False
    boxes, probs = boxes[keep], probs[keep]
    return boxes, probs


def _pixels(corners32: np.ndarray, width: int, height: int) -> np.ndarray:
    """What predict() turns float32 corners into: x * width, y * height in float32, truncated to int32."""
    return (corners32 * np.array([width, height, width, height], np.float32)).astype(np.int32)


def _reference(boxes, probs, **kwargs):
    scores = np.stack([1 - probs.astype(np.float64), probs], axis=1)
    return reference.ultraface(scores, boxes, decoded=True, **kwargs)


# -- predict --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("iou_threshold", [0.3, 0.5])
def test_predict_matches_reference_on_random_scenes(seed, iou_threshold):
    boxes, probs = _scene(seed, iou_threshold)
    confidences = np.stack([1 - probs, probs], axis=1)[None]
    assert (probs > 0.5).sum() > 200  # the 200-candidate cut is exercised
    got_boxes, labels, got_probs = baselines.predict(640, 480, confidences, boxes[None], 0.5, iou_threshold)
    _, _, anchors = _reference(boxes, probs, score_threshold=0.5, iou_threshold=iou_threshold)
    assert 10 < anchors.size < 200
    assert got_boxes.dtype == np.int32 and got_probs.dtype == np.float32
    assert np.array_equal(got_boxes, _pixels(boxes[anchors], 640, 480))
    assert np.array_equal(got_probs, probs[anchors])
    assert labels.tolist() == [1] * anchors.size
    # top_k is max_detections
    got_boxes, _, _ = baselines.predict(640, 480, confidences, boxes[None], 0.5, iou_threshold, top_k=5)
    assert np.array_equal(got_boxes, _pixels(boxes[anchors[:5]], 640, 480))


def test_predict_pixels_truncate_without_clipping():
    # float32: -0.013 * 100 = -1.3000001 -> -1 (toward zero), 0.1 * 50 = 5, 1.27 * 100 = 127 (past the image),
    # 0.53 * 100 = 52.999996 -> 52
    boxes = np.array([[[-0.013, 0.1, 1.27, 0.53]]], np.float32)
    confidences = np.array([[[0.1, 0.9]]], np.float32)
    got, labels, probs = baselines.predict(100, 100, confidences, boxes, 0.7)
    assert got.tolist() == [[-1, 10, 127, 52]]
    assert labels.tolist() == [1] and probs.tolist() == [np.float32(0.9)]


def test_predict_empty_and_bad_input():
    confidences = np.array([[[0.9, 0.1], [0.8, 0.2]]], np.float32)
    boxes = np.zeros((1, 2, 4), np.float32)
    got, labels, probs = baselines.predict(320, 240, confidences, boxes, 0.7)
    assert (got.shape, got.dtype, labels.shape, probs.shape) == ((0, 4), np.int32, (0,), (0,))
    with pytest.raises(ValueError):
        baselines.predict(320, 240, confidences[0], boxes[0], 0.7)  # no batch axis
    with pytest.raises(ValueError):
        baselines.predict(320, 240, confidences, boxes[:, :1], 0.7)
    with pytest.raises(TypeError):
        baselines.predict(320, 240, confidences.astype(np.int8), boxes, 0.7)


def test_predict_threshold_is_rounded_to_float32():
    # float32(0.6) = 0.60000002 > 0.6: the reference (float64) passes it, predict() compares in float32 and does not.
    confidences = np.array([[[0.4, 0.6]]], np.float32)
    boxes = np.array([[[0.1, 0.1, 0.2, 0.2]]], np.float32)
    assert baselines.predict(100, 100, confidences, boxes, 0.6)[0].shape == (0, 4)
    assert reference.ultraface(confidences, boxes, decoded=True, score_threshold=0.6, iou_threshold=0.3)[2].size == 1


def test_decode_numpy_known_answer():
    # prior (0.5, 0.5, 0.2, 0.2) with deltas (1, 0, 0, 0): cx = 0.52 -> (0.42, 0.4, 0.62, 0.6), in float32
    got = baselines.decode_numpy(np.array([[1.0, 0, 0, 0]]), np.array([[0.5, 0.5, 0.2, 0.2]]))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [[0.42, 0.4, 0.62, 0.6]], rtol=0, atol=6e-8)  # float32 rounding
    assert baselines.decode_numpy(np.zeros((1, 3, 4)), np.full((3, 4), 0.5)).shape == (1, 3, 4)
    with pytest.raises(ValueError):
        baselines.decode_numpy(np.zeros((3, 4)), np.zeros((2, 4)))


# -- OpenCV ---------------------------------------------------------------------------------------------------------


def test_opencv_six_boxes_and_rules():
    assert baselines.opencv_nms(SIX_BOXES, SIX_SCORES, 0.1, 0.5).tolist() == [3, 0, 5]
    # top_k limits candidates (D, A, B), not outputs, like candidate_limit
    assert baselines.opencv_nms(SIX_BOXES, SIX_SCORES, 0.1, 0.5, top_k=3).tolist() == [3, 0]
    # strict score test: 0.3 == threshold fails
    assert baselines.opencv_nms(SIX_BOXES, SIX_SCORES, 0.3, 0.5).tolist() == [3, 0]
    # IoU exactly 0.5 is kept; equal scores go by index
    half = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.25], [0.0, 0.0, 0.5, 0.5]], np.float32)
    assert baselines.opencv_nms(half, np.full(3, 0.8, np.float32), 0.1, 0.5).tolist() == [0, 1]


def test_opencv_differs_without_eps():
    # documented differences: no eps, so tiny identical boxes suppress each other; zero-area boxes have IoU 1
    tiny = np.array([[0.5, 0.5, 0.501, 0.501]] * 2, np.float32)
    empty = np.array([[0.2, 0.2, 0.2, 0.4]] * 2, np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    for boxes in (tiny, empty):
        assert baselines.opencv_nms(boxes, scores, 0.1, 0.3).tolist() == [0]
        assert reference.hard_nms(boxes, scores, 0.3).tolist() == [0, 1]


@pytest.mark.parametrize("seed", range(3))
def test_opencv_matches_reference_on_random_scenes(seed):
    boxes, probs = _scene(seed, 0.3)
    kept = baselines.opencv_nms(boxes, probs, 0.5, 0.3, top_k=200)
    _, _, anchors = _reference(boxes, probs, score_threshold=0.5, iou_threshold=0.3, candidate_limit=200)
    assert kept.dtype == np.int64
    assert kept.tolist() == anchors.tolist()


# -- onnxruntime ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def need_onnx():
    require_tool(importlib.util.find_spec("onnx") is not None, "the onnx package (builds the NMS graph)")


def test_onnxruntime_six_boxes_and_rules(need_onnx):
    assert baselines.onnxruntime_nms(SIX_BOXES, SIX_SCORES, 0.1, 0.5).tolist() == [3, 0, 5]
    assert baselines.onnxruntime_nms(SIX_BOXES, SIX_SCORES, 0.1, 0.5, max_detections=2).tolist() == [3, 0]
    # strict score test (score == threshold fails), IoU == threshold kept, ties by index
    assert baselines.onnxruntime_nms(SIX_BOXES, SIX_SCORES, 0.3, 0.5).tolist() == [3, 0]
    half = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.25], [0.0, 0.0, 0.5, 0.5]], np.float32)
    assert baselines.onnxruntime_nms(half, np.full(3, 0.8, np.float32), 0.1, 0.5).tolist() == [0, 1]
    with pytest.raises(ValueError):
        baselines.onnxruntime_nms(SIX_BOXES, SIX_SCORES, 0.1, 0.5, max_detections=0)


def test_onnxruntime_documented_differences(need_onnx):
    scores = np.array([0.9, 0.8], np.float32)
    tiny = np.array([[0.5, 0.5, 0.501, 0.501]] * 2, np.float32)  # no eps: suppressed
    inverted = np.array([[0.6, 0.6, 0.4, 0.4]] * 2, np.float32)  # corners reordered: a real box to ORT
    empty = np.array([[0.2, 0.2, 0.2, 0.4]] * 2, np.float32)  # zero area never suppresses, as in the reference
    assert baselines.onnxruntime_nms(tiny, scores, 0.1, 0.3).tolist() == [0]
    assert baselines.onnxruntime_nms(inverted, scores, 0.1, 0.3).tolist() == [0]
    assert baselines.onnxruntime_nms(empty, scores, 0.1, 0.3).tolist() == [0, 1]
    for boxes in (tiny, inverted, empty):
        assert reference.hard_nms(boxes, scores, 0.3).tolist() == [0, 1]


@pytest.mark.parametrize("seed", range(3))
def test_onnxruntime_matches_reference_on_random_scenes(seed, need_onnx):
    boxes, probs = _scene(seed, 0.3)
    kept = baselines.onnxruntime_nms(boxes, probs, 0.5, 0.3)
    # no candidate limit in onnxruntime
    _, _, anchors = _reference(boxes, probs, score_threshold=0.5, iou_threshold=0.3, candidate_limit=None)
    assert kept.dtype == np.int64
    assert kept.tolist() == anchors.tolist()


def test_onnxruntime_decodes_with_priors(need_onnx):
    rng = np.random.default_rng(5)
    priors = ultraface_priors((128, 96))
    deltas = rng.normal(0, 1, size=(priors.shape[0], 4)).astype(np.float32)
    probs = rng.uniform(0, 1, size=priors.shape[0]).astype(np.float32)
    kept = baselines.onnxruntime_nms(deltas, probs, 0.7, 0.3, priors=priors)
    assert kept.size > 10
    assert kept.tolist() == baselines.onnxruntime_nms(baselines.decode_numpy(deltas, priors), probs, 0.7, 0.3).tolist()


# -- the real model: RFB-320 on shared photos ------------------------------------------------------------------------

PHOTOS = ["ultraface_1", "ultraface_17", "nasa_group"]


@pytest.fixture(scope="module")
def rfb320_outputs():
    """RFB-320 (decoded and raw-delta variants) run by onnxruntime on three photos: {name: (W, H, outs)}."""
    import onnxruntime as ort
    from PIL import Image

    options = ort.SessionOptions()
    options.log_severity_level = 3  # these exports list initializers as inputs; onnxruntime warns about each
    sessions = [
        ort.InferenceSession(str(require(f"ultraface/{f}")), options, providers=["CPUExecutionProvider"])
        for f in ("version-RFB-320.onnx", "version-RFB-320_without_postprocessing.onnx")
    ]
    out = {}
    for name in PHOTOS:
        image = Image.open(require(f"images/{name}.jpg")).convert("RGB")
        x = (np.asarray(image.resize((320, 240), Image.BILINEAR), np.float32) - 127) / 128
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        decoded = sessions[0].run(["scores", "boxes"], {"input": x})
        raw = sessions[1].run(["scores", "boxes"], {"input": x})
        out[name] = (image.width, image.height, decoded, raw)
    return out


@pytest.mark.parametrize("name", PHOTOS)
def test_predict_matches_reference_on_rfb320(rfb320_outputs, name):
    width, height, (scores, boxes), _ = rfb320_outputs[name]
    p = scores[0, :, 1]
    candidates = p[p > 0.7]
    assert np.unique(candidates).size == candidates.size  # no exact ties, so argsort's order is defined here
    got, _, probs = baselines.predict(width, height, scores, boxes, 0.7, 0.3)
    _, ref_probs, anchors = reference.ultraface(scores, boxes, decoded=True, score_threshold=0.7, iou_threshold=0.3)
    assert anchors.size >= 14
    assert np.array_equal(got, _pixels(boxes[0, anchors], width, height))
    assert np.array_equal(probs.astype(np.float64), ref_probs)
    # the other peers keep the same anchors on real outputs
    assert baselines.opencv_nms(boxes, p, 0.7, 0.3, top_k=200).tolist() == anchors.tolist()
    if importlib.util.find_spec("onnx") is not None:
        assert baselines.onnxruntime_nms(boxes, p, 0.7, 0.3).tolist() == anchors.tolist()


@pytest.mark.parametrize("name", PHOTOS)
def test_raw_decode_matches_the_graph(rfb320_outputs, name):
    width, height, (scores, boxes), (raw_scores, deltas) = rfb320_outputs[name]
    priors = ultraface_priors((320, 240))
    assert np.array_equal(scores, raw_scores)  # same weights; only the decode differs
    # The graph decodes in float32: ours are within 2.5e-7 (about 2 float32 ulps of values up to 1.3; measured
    # 1.2e-7 for the float32 decode, 1.1e-7 for the float64 one).
    assert np.abs(baselines.decode_numpy(deltas[0], priors) - boxes[0]).max() <= 2.5e-7
    assert np.abs(reference.decode_deltas(deltas, priors) - boxes[0]).max() <= 2.5e-7
    got, _, _ = baselines.predict_raw(width, height, raw_scores, deltas, priors, 0.7, 0.3)
    _, _, anchors = reference.ultraface(
        raw_scores, deltas, priors, decoded=False, score_threshold=0.7, iou_threshold=0.3
    )
    assert np.array_equal(got, _pixels(baselines.decode_numpy(deltas[0], priors)[anchors], width, height))
