"""ultrapost.nms: C == golden bit for bit (hypothesis), exact decisions at every edge, and clear errors."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nms_exact import exact_exceeds, exact_nms, fractions_xyxy
from ultrapost.core._core import boxes_nms as c_boxes_nms

from ultrapost import nms
from ultrapost.core import boxes as gb
from ultrapost.core.boxes import METHODS, prepare

FORMATS = ("xyxy", "xywh", "cxcywh", "yxyx")


def _same(a, b):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a.dtype == b.dtype and np.array_equal(a, b), (a, b)


@st.composite
def box_sets(draw):
    batch = draw(st.sampled_from([None, None, 1, 3]))
    n = draw(st.integers(0, 40))
    shape = (n,) if batch is None else (batch, n)
    grid = draw(st.sampled_from(["int", "f32norm", "f64pix", "huge", "tiny"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if grid == "int":
        lo = rng.integers(-5, 25, shape + (2,))
        size = rng.integers(0, 15, shape + (2,))
        dtype = draw(st.sampled_from([np.int32, np.int64, np.float32]))
    elif grid == "f32norm":
        lo = rng.uniform(0, 0.8, shape + (2,))
        size = rng.uniform(0, 0.3, shape + (2,))
        dtype = np.float32
    elif grid == "f64pix":
        lo = rng.uniform(-50, 1900, shape + (2,))
        size = rng.uniform(0, 300, shape + (2,))
        dtype = np.float64
    elif grid == "huge":  # far beyond the +-4 of the families' Q20 boxes
        lo = rng.uniform(-1e7, 1e7, shape + (2,))
        size = rng.uniform(0, 5e6, shape + (2,))
        dtype = np.float64
    else:
        lo = rng.uniform(0, 1e-6, shape + (2,))
        size = rng.uniform(1e-8, 1e-6, shape + (2,))
        dtype = np.float64
    fmt = draw(st.sampled_from(FORMATS))
    if fmt == "xyxy":
        boxes = np.concatenate([lo, lo + size], -1)
    elif fmt == "yxyx":
        boxes = np.concatenate([lo[..., ::-1], (lo + size)[..., ::-1]], -1)
    elif fmt == "xywh":
        boxes = np.concatenate([lo, size], -1)
    else:
        boxes = np.concatenate([lo + size / 2, size], -1)
    boxes = boxes.astype(dtype)
    score_kind = draw(st.sampled_from(["prob", "ties", "logit", "int"]))
    if score_kind == "prob":
        scores = rng.random(shape).astype(draw(st.sampled_from([np.float32, np.float64])))
    elif score_kind == "ties":
        scores = rng.choice(np.linspace(0, 1, 5), shape)
    elif score_kind == "logit":
        scores = rng.normal(0, 4, shape)
    else:
        scores = rng.integers(-3, 10, shape)
    ncls = draw(st.sampled_from([0, 1, 2, 5]))
    classes = rng.integers(0, ncls, shape) if ncls else None
    return boxes, scores, classes, fmt, score_kind


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=box_sets(),
    method=st.sampled_from(METHODS),
    iou=st.sampled_from([0.0, 0.3, 0.4, 0.5, 0.65, 0.7, 1.0, 0.123456789]),
    score_t=st.sampled_from([None, 0.0, 0.25, 0.5, -1.0]),
    test=st.sampled_from([">", ">="]),
    max_output=st.sampled_from([None, 0, 1, 5]),
    top_k=st.sampled_from([None, 3]),
    zero_area=st.booleans(),
    sigma=st.sampled_from([0.5, 0.1, 2.0]),
)
def test_c_equals_golden(data, method, iou, score_t, test, max_output, top_k, zero_area, sigma):
    boxes, scores, classes, fmt, score_kind = data
    if method == "weighted" and score_kind in ("logit", "int"):
        scores = np.abs(scores)
    kw = dict(
        classes=classes,
        box_format=fmt,
        method=method,
        score_test=test,
        max_output=max_output,
        top_k=top_k,
        zero_area_overlap=zero_area,
        sigma=sigma,
    )
    c = nms(boxes, scores, iou, score_t, **kw)
    g = nms(boxes, scores, iou, score_t, backend="golden", **kw)
    _same(c, g)
    if method == "hard" and boxes.ndim == 2:
        # the grid and the plain scan of every kept box give the same decisions
        cfg, corners, keys, values, cls, *_ = prepare(boxes, scores, iou, score_t, **kw)
        scan = c_boxes_nms(dataclasses.replace(cfg, flags=cfg.flags | gb.LINEAR_SCAN), corners, keys, values, cls)
        _same(scan[0].astype(np.int64), c)


@settings(max_examples=150, deadline=None)
@given(
    data=box_sets(), iou=st.sampled_from([0.0, 0.25, 0.4, 0.5, 0.65, 1.0]), score_t=st.sampled_from([None, 0.0, 0.5])
)
def test_hard_equals_exact_arithmetic(data, iou, score_t):
    """Integer and float32 coordinates lie on the per-call grid: decisions equal exact rational arithmetic."""
    boxes, scores, classes, fmt, score_kind = data
    if boxes.ndim == 3 or boxes.dtype == np.float64:
        return
    got = nms(boxes, scores, iou, score_t, classes=classes, box_format=fmt)
    exact = exact_nms(fractions_xyxy(boxes, fmt), scores, exact_exceeds(iou), score_t, classes=classes)
    np.testing.assert_array_equal(got, exact)


def test_large_sets_c_equals_golden():
    """Grid paths (wide boxes, crowded cells, many classes) on a few hundred boxes."""
    rng = np.random.default_rng(7)
    for n, spread, size in ((400, 1000, 60), (300, 50, 400), (500, 2000, 5)):
        xy = rng.uniform(0, spread, (n, 2))
        wh = rng.exponential(size, (n, 2))
        boxes = np.concatenate([xy, xy + wh], 1)
        scores = rng.random(n)
        classes = rng.integers(0, 3, n)
        for cl in (None, classes):
            _same(nms(boxes, scores, 0.5, classes=cl), nms(boxes, scores, 0.5, classes=cl, backend="golden"))


# --- the edges the families' fixed point got wrong, decided exactly here --------------------------------------------


def test_exact_iou_ties_keep():
    boxes = np.array([[17, 17, 5017, 1017], [17, 17, 2017, 1017]], np.float32)  # IoU exactly 2/5
    assert nms(boxes, [0.9, 0.8], 0.4).tolist() == [0, 1]
    assert nms(boxes, [0.9, 0.8], np.nextafter(0.4, 0)).tolist() == [0]
    boxes = np.array([[507, 60, 575, 99], [501, 49, 581, 100]], np.int32)  # IoU exactly 13/20
    assert Fraction(68 * 39, 80 * 51) == Fraction(13, 20)
    assert nms(boxes, [0.9, 0.8], 0.65).tolist() == [0, 1]
    assert nms(boxes, [0.9, 0.8], np.nextafter(0.65, 0)).tolist() == [0]


def test_pixel_boxes_far_beyond_four():
    """IoU 1/3 in pixels (beyond the families' +-4 Q20 range): suppressed at 0.3, kept at 1/3."""
    boxes = np.array([[100, 100, 300, 300], [200, 100, 400, 300]], np.float32)
    assert nms(boxes, [0.9, 0.8], 0.3).tolist() == [0]
    assert Fraction(1 / 3) < Fraction(1, 3) < Fraction(np.nextafter(1 / 3, 1))
    assert nms(boxes, [0.9, 0.8], 1 / 3).tolist() == [0]  # the float64 1/3 lies below the exact 1/3
    assert nms(boxes, [0.9, 0.8], np.nextafter(1 / 3, 1)).tolist() == [0, 1]


def test_scores_above_one_and_logits():
    box = [[0, 0, 10, 10], [0, 0, 10, 10]]
    assert nms(box, [1.2, 1.5], 0.5).tolist() == [1]
    assert nms(box, [-3.5, -1.25], 0.5).tolist() == [1]
    assert nms(box, [-0.0, 0.0], 0.5).tolist() == [0]  # -0.0 == 0.0: index order
    assert nms(box, [1e300, -1e300], 0.5, -1e301).tolist() == [0]


def test_score_threshold_exact_below_1_over_128():
    s = np.array([np.float32(0.00099999993), np.float32(0.001)], np.float32)
    boxes = [[0, 0, 1, 1], [2, 2, 3, 3]]
    assert float(s[0]) < 0.001 < float(s[1])
    assert nms(boxes, s, 0.5, 0.001).tolist() == [1]
    assert nms(boxes, s, 0.5, float(s[0])).tolist() == [1]
    assert nms(boxes, s, 0.5, float(s[0]), score_test=">=").tolist() == [1, 0]


def test_thresholds_zero_and_one():
    boxes = [[0, 0, 10, 10], [9, 9, 20, 20], [0, 0, 10, 10], [30, 30, 40, 40]]
    scores = [0.9, 0.8, 0.7, 0.0]
    assert nms(boxes, scores, 0.0).tolist() == [0, 3]  # any positive overlap suppresses
    assert nms(boxes, scores, 1.0).tolist() == [0, 1, 2, 3]  # IoU 1 is not above 1
    assert nms(boxes, scores, 1.0, 0.0).tolist() == [0, 1, 2]
    assert nms(boxes, scores, 7.5).tolist() == [0, 1, 2, 3]


def test_off_grid_rounding_bound():
    """float64 values off the per-call grid round to it: corners within 2^-30 of the largest |value| given
    (xyxy, yxyx: half a step), 2^-27 for xywh and cxcywh (sums and halves of two rounded values)."""
    rng = np.random.default_rng(3)
    for fmt in FORMATS:
        for spread in (3000.0, 1e-3):
            boxes = rng.uniform(-spread, spread, (200, 4))
            if fmt in ("xywh", "cxcywh"):
                boxes[:, 2:] = np.abs(boxes[:, 2:])
            cfg, corners, *_rest, g, _vq = prepare(boxes, rng.random(200), 0.5, box_format=fmt)
            exact = fractions_xyxy(boxes, fmt)
            largest = Fraction(float(np.max(np.abs(boxes))))
            bound = largest / 2 ** (30 if fmt in ("xyxy", "yxyx") else 27)
            step = Fraction(1, 2**g) if g >= 0 else Fraction(2 ** (-g))
            worst = max(
                abs(Fraction(i) * step - v)
                for row, ints in zip(exact, corners.tolist(), strict=True)
                for v, i in zip(row, ints, strict=True)
            )
            assert worst <= bound, (fmt, float(worst / largest))


def test_result_types_and_batches():
    rng = np.random.default_rng(1)
    boxes = rng.uniform(0, 100, (3, 20, 4))
    boxes[..., 2:] += boxes[..., :2]
    scores = rng.random((3, 20))
    out = nms(boxes, scores, 0.5)
    assert isinstance(out, list) and len(out) == 3
    for b in range(3):
        assert out[b].dtype == np.int64
        np.testing.assert_array_equal(out[b], nms(boxes[b], scores[b], 0.5))
    idx, sc = nms(boxes[0], scores[0], 0.5, method="soft-gaussian")
    assert idx.dtype == np.int64 and sc.dtype == np.float64 and len(idx) == len(sc)
    idx, bx, sc = nms(boxes[0], scores[0], 0.5, method="blend")
    assert bx.shape == (len(idx), 4) and bx.dtype == np.float64
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


# --- errors --------------------------------------------------------------------------------------------------------

B2 = [[0, 0, 1, 1], [0, 0, 2, 2]]


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        (([[0, 0, np.nan, 1]], [0.5], 0.5), {}, ValueError, "boxes must be finite"),
        (([[0, 0, np.inf, 1]], [0.5], 0.5), {}, ValueError, "boxes must be finite"),
        ((B2, [0.5, np.nan], 0.5), {}, ValueError, "scores must be finite"),
        ((B2, [0.5, -np.inf], 0.5), {}, ValueError, "scores must be finite"),
        (([[0, 0, 1]], [0.5], 0.5), {}, ValueError, r"shape \[N, 4\]"),
        (([0, 0, 1, 1], [0.5], 0.5), {}, ValueError, "dimensions"),
        ((B2, [0.5], 0.5), {}, ValueError, r"scores must have shape \[2\]"),
        ((B2, [[0.5, 0.4]], 0.5), {}, ValueError, "scores must have 1 dimensions"),
        ((B2, [0.5, 0.4], 0.5), {"classes": [0]}, ValueError, r"classes must have shape \[2\]"),
        ((B2, [0.5, 0.4], 0.5), {"classes": [0.0, 1.0]}, TypeError, "classes must hold integers"),
        ((B2, [0.5, 0.4], -0.1), {}, ValueError, "iou_threshold must be >= 0"),
        ((B2, [0.5, 0.4], np.nan), {}, ValueError, "iou_threshold must be finite"),
        ((B2, [0.5, 0.4], 0.5, np.nan), {}, ValueError, "score_threshold must be finite"),
        ((B2, [0.5, 0.4], 0.5), {"sigma": 0.0, "method": "soft-gaussian"}, ValueError, "sigma must be > 0"),
        ((B2, [0.5, 0.4], 0.5), {"sigma": -1.0}, ValueError, "sigma must be > 0"),
        ((B2, [0.5, 0.4], 0.5), {"sigma": 1e-9, "method": "soft-gaussian"}, ValueError, "sigma must be within"),
        ((B2, [0.5, 0.4], 0.5), {"method": "fast"}, ValueError, "method must be one of"),
        ((B2, [0.5, 0.4], 0.5), {"box_format": "xyx"}, ValueError, "box_format must be one of"),
        ((B2, [0.5, -0.4], 0.5), {"method": "weighted"}, ValueError, "scores must be >= 0"),
        ((B2, [0.5, 0.4], 0.5), {"max_output": -1}, ValueError, "max_output must be >= 0"),
        ((B2, [0.5, 0.4], 0.5), {"max_output": 1.5}, TypeError, "max_output must be an integer"),
        ((B2, [0.5, 0.4], 0.5), {"eta": 0.0}, ValueError, "eta must be > 0"),
        ((B2, [0.5, 0.4], 0.5), {"eta": 0.9, "method": "blend"}, ValueError, "eta < 1"),
        ((B2, [0.5, 0.4], 0.5), {"score_test": "<"}, ValueError, "score_test"),
        (([[True, False, True, True]], [0.5], 0.5), {}, TypeError, "boxes must hold floats or integers"),
        (([[0, 0, 2**60, 1]], [0.5], 0.5), {}, ValueError, "beyond 2"),
        (([[0, 0, 1e9, 1e9], [5, 5, 5 + 1e-9, 6]], [0.5, 0.4], 0.5), {}, ValueError, "box 1 .* too small"),
        ((np.zeros((2, 3, 4)), np.zeros((2, 2)), 0.5), {}, ValueError, r"scores must have shape \[2, 3\]"),
        ((B2, [0.5, 0.4], "x"), {}, TypeError, "iou_threshold must be a number"),
    ],
)
def test_bad_input_raises(args, kwargs, exc, match):
    for backend in ("c", "golden"):
        with pytest.raises(exc, match=match):
            nms(*args, backend=backend, **kwargs)


def test_c_reports_out_of_range_values():
    """The C checks its own ranges (a prepared config is trusted, the arrays are not)."""
    cfg, corners, keys, values, cls, *_ = prepare(B2, [0.5, 0.4], 0.5)
    bad = corners.copy()
    bad[0, 2] = gb.COORD_MAX + 1
    with pytest.raises(ValueError, match="outside its representable range"):
        c_boxes_nms(cfg, bad, keys, values, cls)
    with pytest.raises(ValueError, match="inconsistent"):
        c_boxes_nms(dataclasses.replace(cfg, iou_num=(3,), iou_shift=(1,)), corners, keys, values, cls)
