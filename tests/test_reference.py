"""Known-answer tests of the float64 reference (src/ultrapost/reference/)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import require

from ultrapost import reference
from ultrapost.core.priors import ultraface_priors

# Decimal fixtures are not exact in binary: hand-written corners are compared within a few float64 ulps.
ATOL = 1e-15
LN2_OVER_SV = 5 * math.log(2)  # dw that doubles a width: exp(dw * 0.2) == 2


# -- decode ---------------------------------------------------------------------------------------------------------


def test_decode_known_answers():
    priors = [
        [0.5, 0.5, 0.2, 0.2],
        [0.25, 0.75, 0.1, 0.4],
        [0.5, 0.5, 0.2, 0.2],
        [0.9, 0.875, 0.8, 1.0],  # the last prior at 320x240
    ]
    deltas = [
        [1.0, 0.0, 0.0, 0.0],  # cx = 1 * 0.1 * 0.2 + 0.5 = 0.52; w = h = 0.2 -> (0.42, 0.40, 0.62, 0.60)
        [0.0, -2.0, LN2_OVER_SV, 0.0],  # cy = -2 * 0.1 * 0.4 + 0.75 = 0.67; w = 2 * 0.1 -> (0.15, 0.47, 0.35, 0.87)
        [0.0, 0.0, -LN2_OVER_SV, -LN2_OVER_SV],  # w = h = 0.2 / 2 -> (0.45, 0.45, 0.55, 0.55)
        [0.0, 0.0, 0.0, 0.0],  # corners past 1 stay: (0.5, 0.375, 1.3, 1.375)
    ]
    expected = [
        [0.42, 0.40, 0.62, 0.60],
        [0.15, 0.47, 0.35, 0.87],
        [0.45, 0.45, 0.55, 0.55],
        [0.5, 0.375, 1.3, 1.375],
    ]
    got = reference.decode_deltas(np.array(deltas), np.array(priors))
    assert got.dtype == np.float64 and got.shape == (4, 4)
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)


def test_decode_first_prior_is_not_clipped():
    # First prior at 320x240: (0.0125, 1/60, 10/320, 10/240); zero deltas give its corners, x1 = -0.003125 and
    # y1 = 1/60 - 1/48 = -1/240.
    priors = ultraface_priors((320, 240))
    got = reference.decode_deltas(np.zeros((1, 4)), priors[:1])
    np.testing.assert_allclose(got, [[-0.003125, -1 / 240, 0.028125, 0.0375]], rtol=0, atol=ATOL)


def test_decode_variances_and_dtypes():
    deltas = np.array([[1.0, 1.0, 1.0, 1.0]], np.float32)
    prior = np.array([[0.5, 0.5, 0.25, 0.25]], np.float16)  # exact in float16
    # cx = 1 * 0.5 * 0.25 + 0.5 = 0.625; w = exp(1 * 0.5) * 0.25
    w = math.exp(0.5) * 0.25
    got = reference.decode_deltas(deltas, prior, center_variance=0.5, size_variance=0.5)
    c = 0.625
    np.testing.assert_allclose(got, [[c - w / 2, c - w / 2, c + w / 2, c + w / 2]], rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    ("deltas", "priors", "error"),
    [
        (np.zeros((3, 4)), np.zeros((2, 4)), ValueError),
        (np.zeros((3, 5)), np.zeros((3, 5)), ValueError),
        (np.zeros((3, 4), np.int32), np.zeros((3, 4)), TypeError),
        (np.full((1, 4), np.nan), np.zeros((1, 4)), ValueError),
    ],
)
def test_decode_rejects_bad_input(deltas, priors, error):
    with pytest.raises(error):
        reference.decode_deltas(deltas, priors)


# -- scores ---------------------------------------------------------------------------------------------------------


def test_face_probability_takes_the_column():
    scores = np.array([[0.25, 0.75], [0.9, 0.1]], np.float32)
    assert np.array_equal(reference.face_probability(scores), scores[:, 1].astype(np.float64))
    assert np.array_equal(reference.face_probability(scores, class_index=0), scores[:, 0].astype(np.float64))


def test_face_probability_logit_threshold():
    # p = 0.7 is the logit difference ln(0.7 / 0.3) = 0.8473 (REFERENCE.md section 1).
    d = math.log(0.7 / 0.3)
    assert abs(d - 0.8473) < 1e-4
    got = reference.face_probability(np.array([[0.0, d], [d, 0.0]]), logits=True)
    np.testing.assert_allclose(got, [0.7, 0.3], rtol=0, atol=ATOL)


def test_face_probability_logits_equal_softmax():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, size=(1000, 2))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax = e / e.sum(axis=1, keepdims=True)
    for c in (0, 1):
        got = reference.face_probability(logits, logits=True, class_index=c)
        np.testing.assert_allclose(got, softmax[:, c], rtol=1e-13, atol=0)


def test_face_probability_saturates_without_warnings():
    logits = np.array([[0.0, 1000.0], [1000.0, 0.0], [-800.0, 800.0], [800.0, -800.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = reference.face_probability(logits, logits=True)
    assert got.tolist() == [1.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("scores", "kwargs", "error"),
    [
        (np.zeros((4, 3)), {"logits": True}, ValueError),
        (np.zeros((4, 2)), {"logits": True, "class_index": 2}, ValueError),
        (np.zeros((4, 2)), {"class_index": 2}, ValueError),
        (np.zeros((4, 2)), {"class_index": 1.0}, TypeError),
        (np.zeros((4, 2), np.int8), {}, TypeError),
        (np.zeros(4), {}, ValueError),
    ],
)
def test_face_probability_rejects_bad_input(scores, kwargs, error):
    with pytest.raises(error):
        reference.face_probability(scores, **kwargs)


# -- NMS ------------------------------------------------------------------------------------------------------------

# Six boxes, x1 y1 x2 y2. A, B, C overlap (IoU A-B = A-C = 0.9 / 1.1 = 0.818, B-C = 0.8 / 1.2 = 0.667);
# D, E overlap (0.818); F stands alone. Order by score: D, A, B, C, E, F.
SIX_BOXES = np.array(
    [
        [0.0, 0.0, 1.0, 1.0],  # 0 A  0.90
        [0.1, 0.0, 1.1, 1.0],  # 1 B  0.75
        [-0.1, 0.0, 0.9, 1.0],  # 2 C  0.60
        [10.0, 0.0, 11.0, 1.0],  # 3 D  0.95
        [10.1, 0.0, 11.1, 1.0],  # 4 E  0.50
        [100.0, 0.0, 101.0, 1.0],  # 5 F  0.30
    ]
)
SIX_SCORES = np.array([0.9, 0.75, 0.6, 0.95, 0.5, 0.3])


def test_iou_known_answers():
    iou = reference.iou_matrix(SIX_BOXES, SIX_BOXES, eps=0.0)
    assert iou[0, 1] == pytest.approx(0.9 / 1.1, abs=ATOL)
    assert iou[0, 2] == pytest.approx(0.9 / 1.1, abs=ATOL)
    assert iou[1, 2] == pytest.approx(0.8 / 1.2, abs=ATOL)
    assert iou[0, 3] == 0.0 and iou[3, 5] == 0.0
    assert np.array_equal(np.diag(iou), np.ones(6))
    assert np.array_equal(iou, iou.T)
    # with eps: 0.9 / (1 + 1 - 0.9 + 1e-5)
    assert reference.iou_matrix(SIX_BOXES[:1], SIX_BOXES[1:2])[0, 0] == pytest.approx(0.9 / 1.10001, abs=ATOL)


@pytest.mark.parametrize(
    ("iou_threshold", "expected"),
    [
        (0.5, [3, 0, 5]),
        (0.7, [3, 0, 5]),  # B-C (0.667) no longer matters: B and C both fall to A
        (0.82, [3, 0, 1, 2, 4, 5]),  # 0.818 <= 0.82: nothing suppressed
        (0.0, [3, 0, 5]),  # any overlap suppresses; disjoint boxes stay
        (1.0, [3, 0, 1, 2, 4, 5]),
    ],
)
def test_nms_six_boxes(iou_threshold, expected):
    kept = reference.hard_nms(SIX_BOXES, SIX_SCORES, iou_threshold)
    assert kept.dtype == np.int64
    assert kept.tolist() == expected


def test_nms_suppression_is_against_kept_boxes_only():
    # A chain: X-Y and Y-Z overlap with IoU 0.5 / 1.5 = 0.333, X-Z not at all. Y falls to X; Z is compared with
    # kept boxes only, so it stays.
    chain = np.array([[0.0, 0.0, 1.0, 1.0], [0.5, 0.0, 1.5, 1.0], [1.0, 0.0, 2.0, 1.0]])
    assert reference.hard_nms(chain, [0.9, 0.8, 0.7], 0.3).tolist() == [0, 2]
    assert reference.hard_nms(chain, [0.7, 0.9, 0.8], 0.3).tolist() == [1]


def test_nms_ties_break_by_index():
    same = np.tile([[0.2, 0.2, 0.4, 0.4]], (3, 1))
    assert reference.hard_nms(same, [0.8, 0.8, 0.8], 0.3).tolist() == [0]
    disjoint = np.array([[0.0, 0, 0.1, 0.1], [0.2, 0, 0.3, 0.1], [0.4, 0, 0.5, 0.1], [0.6, 0, 0.7, 0.1]])
    assert reference.hard_nms(disjoint, [0.5, 0.8, 0.8, 0.8], 0.3).tolist() == [1, 2, 3, 0]
    # the tied pair (1, 3) is identical: the lower index survives, wherever it sits
    boxes = np.array([[0.6, 0.6, 0.9, 0.9], [0.1, 0.1, 0.3, 0.3], [0.0, 0.5, 0.2, 0.7], [0.1, 0.1, 0.3, 0.3]])
    assert reference.hard_nms(boxes, [0.7, 0.8, 0.9, 0.8], 0.3).tolist() == [2, 1, 0]


def test_nms_does_not_depend_on_input_order():
    rng = np.random.default_rng(3)
    centers = rng.uniform(0.2, 0.8, size=(60, 2))
    half = rng.uniform(0.02, 0.1, size=(60, 2))
    boxes = np.concatenate([centers - half, centers + half], axis=1)
    scores = rng.permutation(60) / 60.0  # distinct
    kept = reference.hard_nms(boxes, scores, 0.3)
    perm = rng.permutation(60)
    kept_perm = reference.hard_nms(boxes[perm], scores[perm], 0.3)
    assert perm[kept_perm].tolist() == kept.tolist()
    assert 5 < kept.size < 60  # the fixture exercises suppression


def test_nms_eps_effect():
    # A and B: intersection 0.5, union 1, IoU exactly 0.5; with eps 1e-5 it is 0.5 / 1.00001 = 0.499995.
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.5]])
    assert reference.hard_nms(boxes, [0.9, 0.8], 0.5).tolist() == [0, 1]  # not > 0.5
    assert reference.hard_nms(boxes, [0.9, 0.8], 0.499997, eps=0.0).tolist() == [0]
    assert reference.hard_nms(boxes, [0.9, 0.8], 0.499997).tolist() == [0, 1]
    # Two identical boxes of side 0.001: IoU = 1e-6 / (1e-6 + 1e-5) = 0.09 with eps, so tiny boxes never suppress.
    tiny = np.array([[0.5, 0.5, 0.501, 0.501]] * 2)
    assert reference.iou_matrix(tiny[:1], tiny[1:])[0, 0] == pytest.approx(1 / 11, rel=1e-9)
    assert reference.hard_nms(tiny, [0.9, 0.8], 0.3).tolist() == [0, 1]
    assert reference.hard_nms(tiny, [0.9, 0.8], 0.3, eps=0.0).tolist() == [0]


def test_nms_inverted_and_empty_boxes_never_suppress():
    inverted = np.array([[0.6, 0.6, 0.4, 0.4], [0.6, 0.6, 0.4, 0.4], [0.3, 0.3, 0.7, 0.7]])
    empty = np.array([[0.2, 0.2, 0.2, 0.4], [0.2, 0.2, 0.2, 0.4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # eps = 0 makes 0 / 0: handled, no warning
        for eps in (1e-5, 0.0):
            assert reference.hard_nms(inverted, [0.9, 0.8, 0.7], 0.3, eps=eps).tolist() == [0, 1, 2]
            assert reference.hard_nms(empty, [0.9, 0.8], 0.0, eps=eps).tolist() == [0, 1]
            assert np.array_equal(reference.iou_matrix(inverted, inverted, eps=eps)[:2, :2], np.zeros((2, 2)))


@pytest.mark.parametrize(
    ("candidate_limit", "expected"),
    [(1, [3]), (2, [3, 0]), (3, [3, 0]), (5, [3, 0]), (6, [3, 0, 5]), (100, [3, 0, 5]), (None, [3, 0, 5])],
)
def test_nms_candidate_limit_cuts_before_nms(candidate_limit, expected):
    # Candidates D, A, B, C, E, F: a suppressed candidate still uses a place.
    assert reference.hard_nms(SIX_BOXES, SIX_SCORES, 0.5, candidate_limit=candidate_limit).tolist() == expected


@pytest.mark.parametrize(("max_detections", "expected"), [(1, [3]), (2, [3, 0]), (3, [3, 0, 5]), (4, [3, 0, 5])])
def test_nms_max_detections(max_detections, expected):
    assert reference.hard_nms(SIX_BOXES, SIX_SCORES, 0.5, max_detections=max_detections).tolist() == expected


def test_nms_empty_input():
    kept = reference.hard_nms(np.zeros((0, 4)), np.zeros(0), 0.3)
    assert kept.dtype == np.int64 and kept.shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"boxes": SIX_BOXES[:5]}, ValueError),
        ({"scores": np.r_[SIX_SCORES[:5], np.nan]}, ValueError),
        ({"iou_threshold": 1.5}, ValueError),
        ({"iou_threshold": -0.1}, ValueError),
        ({"iou_threshold": "0.3"}, TypeError),
        ({"eps": -1e-5}, ValueError),
        ({"candidate_limit": 0}, ValueError),
        ({"max_detections": 2.0}, TypeError),
        ({"boxes": SIX_BOXES.astype(np.int32)}, TypeError),
    ],
)
def test_nms_rejects_bad_input(kwargs, error):
    args = {"boxes": SIX_BOXES, "scores": SIX_SCORES, "iou_threshold": 0.5, **kwargs}
    with pytest.raises(error):
        reference.hard_nms(args.pop("boxes"), args.pop("scores"), args.pop("iou_threshold"), **args)


# -- the whole pipeline ---------------------------------------------------------------------------------------------


def _small_scene():
    priors = np.array([[0.5, 0.5, 0.2, 0.2], [0.5, 0.5, 0.2, 0.2], [0.25, 0.75, 0.1, 0.4], [0.9, 0.875, 0.8, 1.0]])
    deltas = np.array([[1.0, 0, 0, 0], [0, 0, 0, 0], [0, -2.0, LN2_OVER_SV, 0], [0, 0, 0, 0]])
    p_face = np.array([0.8, 0.9, 0.7, 0.95])
    scores = np.stack([1 - p_face, p_face], axis=1)
    return scores, deltas, priors


def test_ultraface_known_answer():
    scores, deltas, priors = _small_scene()
    # Anchor 2 has p == 0.7: fails the strict test. Anchors 0 and 1 share a prior: decoded (0.42, 0.4, 0.62, 0.6)
    # and (0.4, 0.4, 0.6, 0.6), IoU 0.036 / 0.044 = 0.818, so 0 (0.8) falls to 1 (0.9). Anchor 3 comes first.
    boxes, probs, anchors = reference.ultraface(
        scores, deltas, priors, decoded=False, score_threshold=0.7, iou_threshold=0.3
    )
    assert anchors.dtype == np.int64 and boxes.dtype == np.float64 and probs.dtype == np.float64
    assert anchors.tolist() == [3, 1]
    assert probs.tolist() == [0.95, 0.9]
    np.testing.assert_allclose(boxes, [[0.5, 0.375, 1.3, 1.375], [0.4, 0.4, 0.6, 0.6]], rtol=0, atol=ATOL)
    # below 0.7 anchor 2 passes; at 0.85 IoU, anchor 0 survives too
    _, _, anchors = reference.ultraface(scores, deltas, priors, decoded=False, score_threshold=0.69, iou_threshold=0.85)
    assert anchors.tolist() == [3, 1, 0, 2]


def test_ultraface_clip():
    scores, deltas, priors = _small_scene()
    boxes, _, anchors = reference.ultraface(
        scores, deltas, priors, decoded=False, score_threshold=0.7, iou_threshold=0.3, clip=True
    )
    assert anchors.tolist() == [3, 1]
    np.testing.assert_allclose(boxes[0], [0.5, 0.375, 1.0, 1.0], rtol=0, atol=ATOL)


def test_ultraface_decoded_logits_and_batch_axis_agree():
    rng = np.random.default_rng(7)
    priors = ultraface_priors((160, 120))
    n = priors.shape[0]
    deltas = rng.normal(0, 1.5, size=(n, 4))
    logits = rng.normal(0, 2.5, size=(n, 2))
    probs = reference.face_probability(logits, logits=True)
    scores = np.stack([1 - probs, probs], axis=1)
    kwargs = {"score_threshold": 0.7, "iou_threshold": 0.3}
    base = reference.ultraface(scores, deltas, priors, decoded=False, **kwargs)
    assert 10 < base[2].size  # enough kept to mean something
    variants = [
        reference.ultraface(logits, deltas, priors, decoded=False, logits=True, **kwargs),
        reference.ultraface(scores, reference.decode_deltas(deltas, priors), decoded=True, **kwargs),
        reference.ultraface(scores[None], deltas[None], priors, decoded=False, **kwargs),
        reference.ultraface(scores.astype(np.float32), deltas, priors, decoded=False, **kwargs),
    ]
    for boxes, p, anchors in variants[:3]:
        assert anchors.tolist() == base[2].tolist()
        np.testing.assert_allclose(boxes, base[0], rtol=0, atol=1e-15)
        np.testing.assert_allclose(p, base[1], rtol=1e-14, atol=0)
    # float32 scores: the same decisions (no score within float32 rounding of 0.7 here)
    assert variants[3][2].tolist() == base[2].tolist()
    # outputs are the inputs at the kept anchors
    assert np.array_equal(base[1], probs[base[2]])
    assert np.array_equal(base[0], reference.decode_deltas(deltas, priors)[base[2]])


def test_ultraface_limits():
    scores, deltas, priors = _small_scene()
    kwargs = {"decoded": False, "score_threshold": 0.5, "iou_threshold": 0.3}
    assert reference.ultraface(scores, deltas, priors, max_detections=1, **kwargs)[2].tolist() == [3]
    # candidates 3, 1 (0.9), 0 (0.8): with two, anchor 2 (0.7) never enters
    assert reference.ultraface(scores, deltas, priors, candidate_limit=2, **kwargs)[2].tolist() == [3, 1]
    assert reference.ultraface(scores, deltas, priors, **kwargs)[2].tolist() == [3, 1, 2]
    empty = reference.ultraface(scores, deltas, priors, decoded=False, score_threshold=0.99, iou_threshold=0.3)
    assert [a.shape for a in empty] == [(0, 4), (0,), (0,)]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"priors": None}, ValueError),
        ({"boxes": np.zeros((3, 4))}, ValueError),
        ({"scores": np.zeros((4, 2), np.uint8)}, TypeError),
        ({"score_threshold": float("nan")}, ValueError),
        ({"score_threshold": None}, TypeError),
    ],
)
def test_ultraface_rejects_bad_input(change, error):
    scores, deltas, priors = _small_scene()
    args = {"scores": scores, "boxes": deltas, "priors": priors, "score_threshold": 0.7, **change}
    with pytest.raises(error):
        reference.ultraface(**args, decoded=False, iou_threshold=0.3)


# -- dequantize -----------------------------------------------------------------------------------------------------


def test_dequantize():
    q = np.array([-128, -1, 0, 127], np.int8)
    assert np.array_equal(reference.dequantize(q, 0.5, -1), np.array([-63.5, 0.0, 0.5, 64.0]))
    assert reference.dequantize(q, 1 / 256, -128)[0] == 0.0
    assert reference.dequantize(q, 0.5, -1).dtype == np.float64
    with pytest.raises(TypeError):
        reference.dequantize(q.astype(np.float32), 0.5, 0)
    with pytest.raises(ValueError):
        reference.dequantize(q, 0.0, 0)
    with pytest.raises(TypeError):
        reference.dequantize(q, 0.5, 0.5)


# -- against the shared data ----------------------------------------------------------------------------------------

# The shared int8 data holds, for 25 photos, model outputs in int8 and float and the anchors kept by threshold 0.7 +
# hard NMS 0.3 (in keep order). The reference must keep exactly those, through dequantize, logits and decode.


@pytest.mark.parametrize("model", ["version-RFB-320_raw_int8", "version-slim-320_raw_int8"])
@pytest.mark.parametrize("kind", ["float", "q"])
def test_matches_shared_detections_raw(model, kind):
    data = np.load(require(f"int8/outputs_{model}.npz"))
    priors = ultraface_priors((320, 240))
    total = 0
    for name in data["names"]:
        scores, deltas = data[f"{name}_scores_{kind}"], data[f"{name}_boxes_{kind}"]
        if kind == "q":
            scores = reference.dequantize(scores, float(data["scores_scale"]), int(data["scores_zero_point"]))
            deltas = reference.dequantize(deltas, float(data["boxes_scale"]), int(data["boxes_zero_point"]))
        _, _, anchors = reference.ultraface(
            scores, deltas, priors, decoded=False, logits=True, score_threshold=0.7, iou_threshold=0.3
        )
        assert anchors.tolist() == data[f"{name}_det_{kind}_idx"].tolist(), name
        total += anchors.size
    assert total > 500  # about 570 detections over the 25 photos


@pytest.mark.parametrize("kind", ["float", "q"])
def test_matches_shared_detections_ultraslim(kind):
    data = np.load(require("int8/outputs_ultraface_ultraslim_int8.npz"))
    total = 0
    for name in data["names"]:
        rows = data[f"{name}_{kind}"]
        if kind == "q":  # 256 levels: many exact score ties, broken by anchor index
            rows = reference.dequantize(rows, float(data["output_scale"]), int(data["output_zero_point"]))
        _, _, anchors = reference.ultraface(
            rows[:, :2], rows[:, 2:], decoded=True, score_threshold=0.7, iou_threshold=0.3
        )
        assert anchors.tolist() == data[f"{name}_det_{kind}_idx"].tolist(), name
        total += anchors.size
    assert total > 0
