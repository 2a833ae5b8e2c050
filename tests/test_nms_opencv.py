"""ultrapost.nms against OpenCV's cv2.dnn.NMSBoxes, NMSBoxesBatched and softNMSBoxes on generated sets.

OpenCV's conventions, each a switch: boxes are Rect2d / Rect (box_format="xywh"); scores and both thresholds are
float (score_float32=True, and the thresholds passed as float32 values); two boxes of area 0 overlap fully
(zero_area_overlap=True); eta (adaptive threshold) and top_k (candidates entering NMS) as OpenCV defines them;
softNMSBoxes keeps a box while its score >= the threshold (score_test=">=") and its top_k caps the outputs
(max_output). Disagreements on hard NMS are shown to be OpenCV's float32 overlap (1.f - (float)(1 - I / U)).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2", reason="opencv-python-headless (the [models] extra)")

from nms_exact import exact_exceeds, exact_nms, fractions_xyxy, opencv_overlap_f32  # noqa: E402

from ultrapost import nms  # noqa: E402
from ultrapost.core.boxes import _eta_schedule  # noqa: E402


def _sets(rng, n_max=60, zero_area=True, integer=False):
    n = int(rng.integers(1, n_max))
    kind = rng.integers(3)
    if integer or kind == 0:  # small integers: exact IoU ties
        xy = rng.integers(0, 30, (n, 2)).astype(np.float64)
        wh = rng.integers(1, 18, (n, 2)).astype(np.float64)
    elif kind == 1:  # clustered pixels on a 1/8 grid
        centers = rng.uniform(0, 800, (4, 2))
        xy = np.round((centers[rng.integers(0, 4, n)] + rng.normal(0, 15, (n, 2))) * 8) / 8
        wh = np.round(rng.uniform(10, 120, (n, 2)) * 8) / 8
    else:  # normalized, float32 values
        xy = rng.uniform(0, 0.8, (n, 2)).astype(np.float32).astype(np.float64)
        wh = rng.uniform(0.01, 0.3, (n, 2)).astype(np.float32).astype(np.float64)
    if zero_area and rng.random() < 0.3:
        wh[rng.random(n) < 0.2, rng.integers(0, 2)] = 0
    boxes = np.concatenate([xy, wh], axis=1)
    if rng.random() < 0.5:
        scores = rng.choice(np.linspace(0, 1, 11), n).astype(np.float32)  # many ties
    else:
        scores = rng.random(n).astype(np.float32)
    return boxes, scores


def _f32(x) -> float:
    return float(np.float32(x))


def _opencv_rule(boxes, t):
    return lambda i, j: opencv_overlap_f32(boxes[i], boxes[j]) > t


def _check_hard(boxes, scores, st, t, eta, top_k, got, peer, classes=None, offsets=None):
    """got == exact rational NMS on OpenCV's float32 scores; peer == the same loop with OpenCV's float32 overlap."""
    steps = _eta_schedule(t, eta)
    corners = fractions_xyxy(boxes, "xywh")
    exact = exact_nms(
        corners,
        scores,
        None,
        st,
        classes=classes,
        top_k=top_k,
        thresholds=[exact_exceeds(s, zero_area_overlap=True) for s in steps],
    )
    np.testing.assert_array_equal(got, exact, err_msg="ultrapost differs from exact arithmetic")
    if not np.array_equal(peer, exact):
        shifted = boxes if offsets is None else boxes + np.concatenate([offsets, offsets, 0 * offsets, 0 * offsets], 1)
        f32 = exact_nms(None, scores, None, st, top_k=top_k, thresholds=[_opencv_rule(shifted, s) for s in steps])
        np.testing.assert_array_equal(peer, f32, err_msg="OpenCV differs beyond its float32 overlap")
        return 1
    return 0


def test_nmsboxes_generated():
    rng = np.random.default_rng(16)
    differ = 0
    for _ in range(250):
        boxes, scores = _sets(rng)
        t = _f32(rng.choice([0.0, 0.3, 0.4, 0.5, 0.65, 0.7, 1.0, rng.random()]))
        st = _f32(rng.choice([0.0, 0.2, 0.5, rng.random()]))
        eta = float(rng.choice([1.0, 1.0, 0.9, 0.7]))
        top_k = int(rng.choice([0, 0, 3, 10]))
        if rng.random() < 0.25 and len(boxes) > 1:  # large boxes, t at the float32 overlap of the top pair
            boxes = np.concatenate(
                [rng.integers(0, 3000, (len(boxes), 2)), rng.integers(400, 3000, (len(boxes), 2))], 1
            ).astype(np.float64)
            boxes[1, :2] = boxes[0, :2] + rng.integers(-300, 300, 2)
            scores[0], scores[1] = 1.0, 0.99
            t, st, eta, top_k = opencv_overlap_f32(boxes[0], boxes[1]), 0.0, 1.0, 0
        peer = np.asarray(cv2.dnn.NMSBoxes(boxes, scores, st, t, eta=eta, top_k=top_k), np.int64).reshape(-1)
        for backend in ("c", "golden"):
            got = nms(
                boxes,
                scores,
                t,
                st,
                box_format="xywh",
                score_float32=True,
                zero_area_overlap=True,
                eta=eta,
                top_k=top_k or None,
                backend=backend,
            )
            assert got.dtype == np.int64
            d = _check_hard(boxes, scores, st, t, eta, top_k, got, peer)
        differ += d
    assert differ <= 40, differ  # near-ties made on purpose; each difference explained by _check_hard


def test_nmsboxes_batched_generated():
    """NMSBoxesBatched == nms(classes=...) (boxes of positive area: OpenCV's class offset does not separate boxes
    of area 0, which then suppress each other across classes under its zero-area rule)."""
    rng = np.random.default_rng(17)
    differ = 0
    for _ in range(200):
        boxes, scores = _sets(rng, zero_area=False)
        classes = rng.integers(0, int(rng.integers(1, 5)), len(boxes)).astype(np.int32)
        t = _f32(rng.choice([0.3, 0.45, 0.5, 0.7, rng.random()]))
        st = _f32(rng.choice([0.0, 0.3, rng.random()]))
        peer = np.asarray(cv2.dnn.NMSBoxesBatched(boxes, scores, classes, st, t), np.int64).reshape(-1)
        got = nms(boxes, scores, t, st, classes=classes, box_format="xywh", score_float32=True, zero_area_overlap=True)
        np.testing.assert_array_equal(
            got,
            nms(
                boxes,
                scores,
                t,
                st,
                classes=classes,
                box_format="xywh",
                score_float32=True,
                zero_area_overlap=True,
                backend="golden",
            ),
        )
        max_coord = max(0.0, float(np.max(boxes[:, :2] + boxes[:, 2:])), float(np.max(boxes[:, :2])))
        offsets = (classes * (max_coord + 1)).astype(np.float64)[:, None]
        differ += _check_hard(boxes, scores, st, t, 1.0, 0, got, peer, classes=classes, offsets=offsets)
    assert differ <= 5, differ


def test_nmsboxes_zero_area_convention():
    """OpenCV: two boxes of area 0 overlap fully (suppressed at t < 1); by default they have IoU 0 (kept)."""
    boxes = np.array([[0, 0, 0, 0], [5, 5, 0, 3], [1, 1, 4, 4]], np.float64)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    peer = np.asarray(cv2.dnn.NMSBoxes(boxes, scores, 0.0, 0.5), np.int64).reshape(-1)
    assert peer.tolist() == [0, 2]
    assert nms(boxes, scores, 0.5, 0.0, box_format="xywh", zero_area_overlap=True).tolist() == [0, 2]
    assert nms(boxes, scores, 0.5, 0.0, box_format="xywh").tolist() == [0, 1, 2]


def test_nmsboxes_float32_score_test():
    """OpenCV rounds scores and the threshold to float32: 0.30000001 (float64) vs threshold 0.3 passes exactly
    (0.30000001 > 0.3) but not in float32 (both round to 0.300000011920929)."""
    boxes = np.array([[0, 0, 10, 10], [20, 20, 10, 10]], np.float64)
    scores = np.array([0.30000001, 0.9])
    assert np.float32(0.30000001) == np.float32(0.3)
    peer = np.asarray(cv2.dnn.NMSBoxes(boxes, scores.astype(np.float32), 0.3, 0.5), np.int64).reshape(-1)
    assert peer.tolist() == [1]
    assert nms(boxes, scores, 0.5, 0.3, box_format="xywh", score_float32=True).tolist() == [1]
    assert nms(boxes, scores, 0.5, 0.3, box_format="xywh").tolist() == [1, 0]


def test_nmsboxes_eta_schedule():
    """eta: after each kept box, while t > 0.5, t *= eta (float32), as OpenCV's NMSFast_ does."""
    assert _eta_schedule(0.9, 0.9) == [
        0.9,
        _f32(np.float32(0.9) * np.float32(0.9)),
        _f32(np.float32(_f32(np.float32(0.9) * np.float32(0.9))) * np.float32(0.9)),
        *_eta_schedule(0.9, 0.9)[3:],
    ]
    assert _eta_schedule(0.9, 0.9)[-1] <= 0.5 < _eta_schedule(0.9, 0.9)[-2]
    boxes = np.array([[0, 0, 10, 10], [30, 0, 10, 10], [31, 0, 10, 10], [3, 0, 10, 10]], np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    # IoU(2, 1) = 90/110 = 0.818; IoU(3, 0) = 70/130 = 0.538: kept at t = 0.9, suppressed once t fell below it
    for eta in (1.0, 0.9, 0.6):
        peer = np.asarray(cv2.dnn.NMSBoxes(boxes, scores, 0.0, 0.9, eta=eta), np.int64).reshape(-1)
        assert nms(boxes, scores, _f32(0.9), 0.0, box_format="xywh", eta=eta).tolist() == peer.tolist()


def test_opencv_float32_overlap_shown():
    """OpenCV's overlap 1.f - (float)(1 - I / U) rounds an exact IoU below t up to t... see the exact values."""
    rng = np.random.default_rng(5)
    for _ in range(200000):  # a pair whose float32 overlap and exact IoU fall on different sides of t
        a = rng.integers(0, 4000, 4).astype(np.float64)
        a[2:] += 500
        b = a + rng.integers(-200, 200, 4)
        ov = opencv_overlap_f32(a, b)
        t = _f32(ov)
        inter, union = __import__("nms_exact").exact_iou(*fractions_xyxy(np.stack([a, b]), "xywh"))
        if union > 0 and (inter / union > Fraction(t)) != (ov > t):
            break
    else:
        pytest.fail("no pair found")
    iou = inter / union
    scores = np.array([0.9, 0.8], np.float32)
    peer = np.asarray(cv2.dnn.NMSBoxes(np.stack([a, b]), scores, 0.0, t), np.int64).reshape(-1).tolist()
    exact_keep = [0] if iou > Fraction(t) else [0, 1]
    assert peer == ([0, 1] if ov <= t else [0])  # OpenCV follows its float32 overlap
    assert peer != exact_keep
    assert nms(np.stack([a, b]), scores, t, 0.0, box_format="xywh").tolist() == exact_keep


@pytest.mark.parametrize("method", ["soft-linear", "soft-gaussian"])
def test_softnmsboxes_generated(method):
    """softNMSBoxes: same boxes in the same order with decayed scores within 2e-4 (fixed-point decay against
    OpenCV's float32), except where two decayed scores lie closer than that and may swap."""
    rng = np.random.default_rng(18 if method == "soft-linear" else 19)
    cv_method = (
        cv2.dnn.SOFT_NMSMETHOD_SOFTNMS_LINEAR if method == "soft-linear" else (cv2.dnn.SOFT_NMSMETHOD_SOFTNMS_GAUSSIAN)
    )
    worst = 0.0
    swaps = 0
    for _ in range(150):
        boxes, scores = _sets(rng, n_max=40, integer=True)
        boxes = boxes.astype(np.int32)
        t = _f32(rng.choice([0.3, 0.5, 0.7, rng.random()]))
        st = _f32(rng.choice([0.0, 0.1, 0.3]))
        sigma = _f32(rng.choice([0.5, 0.3, 1.0]))
        top_k = int(rng.choice([0, 5]))
        peer_s, peer_i = cv2.dnn.softNMSBoxes(boxes, scores, st, t, top_k=top_k, sigma=sigma, method=cv_method)
        peer_i = np.asarray(peer_i, np.int64).reshape(-1)
        peer_s = np.asarray(peer_s, np.float64).reshape(-1)
        kw = dict(
            box_format="xywh",
            method=method,
            sigma=sigma,
            score_test=">=",
            score_float32=True,
            zero_area_overlap=True,
            max_output=top_k or None,
        )
        idx, sc = nms(boxes, scores, t, st, **kw)
        gi, gs = nms(boxes, scores, t, st, backend="golden", **kw)
        np.testing.assert_array_equal(idx, gi)
        np.testing.assert_array_equal(sc, gs)
        k = min(len(idx), len(peer_i))
        same = idx[:k] == peer_i[:k]
        first = k if same.all() else int(np.argmin(same))
        if first < k or len(idx) != len(peer_i):
            # a swap of two near-equal decayed scores, or a box at the threshold within the tolerance
            gap = (
                abs(float(sc[first]) - float(peer_s[first]))
                if first < k
                else abs(float((sc if len(sc) > k else peer_s)[k]) - st)
            )
            assert gap < 2e-4, (idx, peer_i, sc, peer_s)
            swaps += 1
        if first:
            worst = max(worst, float(np.max(np.abs(sc[:first] - peer_s[:first]))))
    assert worst < 2e-4, worst
    assert swaps <= 5, swaps
