"""Exact decisions: the score test and the IoU test decide as exact rational arithmetic would, for every threshold
a user can pass (0 and 1 included), and nothing is clamped without a word.

Expected answers come from ``fractions.Fraction`` on the given values (or, for the IoU, on the fixed-point corners
the core works on, see the README's "Decisions"), never from the code under test.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ultrapost
from ultrapost.core.config import OutOfRangeError

BACKENDS = ("c", "golden")
ONE_Q30 = 1 << 30
Q20 = 1 << 20


def small(score_threshold=0.5, iou_threshold=0.3, **kw):
    """16 anchors (a 32x32 input, one level of stride 8): small enough to place every value by hand."""
    kw.setdefault("eps", 0.0)
    return ultrapost.Ultraface(
        (32, 32), score_threshold=score_threshold, iou_threshold=iou_threshold, min_boxes=((16,),), strides=(8,), **kw
    )


def rows(n=16, dtype=np.float32):
    return np.zeros((n, 2), dtype), np.zeros((n, 4), dtype)


# -- the score test -----------------------------------------------------------------------------------------------


def test_float32_probability_just_below_a_small_threshold_is_not_kept():
    """float32 0.00099999993 < 0.001 although round(p * 2^30) > floor(0.001 * 2^30); float32(0.001) > 0.001."""
    below = np.nextafter(np.float32(0.001), np.float32(0))
    assert Fraction(float(below)) < Fraction(0.001) < Fraction(float(np.float32(0.001)))
    for test in (">", ">="):
        pp = small(0.001, score_test=test)
        s, b = rows()
        b[:] = [0.1, 0.1, 0.2, 0.2]
        s[3, 1], s[5, 1] = below, np.float32(0.001)
        for backend in BACKENDS:
            det = pp.postprocess(s, b, decoded=True, backend=backend)
            assert det.anchors.tolist() == [5], (test, backend)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    t=st.floats(0.0, 1.0, allow_nan=False),
    steps=st.lists(st.integers(-3, 3), min_size=4, max_size=4),
    test=st.sampled_from([">", ">="]),
)
def test_float32_probabilities_around_any_threshold(t, steps, test):
    """Probabilities a few float32 steps around t (t below 1/128, 0 and 1 included): kept exactly when p > t
    (p >= t) in exact arithmetic."""
    pp = small(t, iou_threshold=1.0, score_test=test)  # IoU <= 1 always: nothing suppressed
    s, b = rows()
    base = np.float32(t)
    values = []
    for i, k in enumerate(steps):
        p = base
        for _ in range(abs(k)):
            p = np.nextafter(p, np.float32(np.inf if k > 0 else -np.inf))
        p = np.float32(min(max(float(p), 0.0), 1.0))
        s[2 * i + 1, 1] = p
        b[2 * i + 1] = [0.1 * i, 0.0, 0.1 * i + 0.05, 0.05]
        values.append(Fraction(float(p)))
    ft = Fraction(t)
    expected = sorted(
        (i for i in range(4) if (values[i] > ft if test == ">" else values[i] >= ft)), key=lambda i: (-values[i], i)
    )
    for backend in BACKENDS:
        det = pp.postprocess(s, b, decoded=True, backend=backend)
        kept = [int(a) // 2 for a in det.anchors if a % 2 == 1]
        # below 1/128 two kept float32 values may share one Q30 key (anchor order then): compare as sets there
        assert sorted(kept) == sorted(expected), (backend, t, [float(v) for v in values])


def test_int8_levels_are_tested_in_exact_arithmetic():
    """scale 0.01 (float64 0.01000000000000000020816...), level 5: exactly 0.0500000000000000010408..., below the
    float64 0.05 (= fl(0.01 * 5), 0.05000000000000000277...) that a float64 evaluation of the level would meet."""
    t = 0.01 * 5
    assert Fraction(0.01) * 5 < Fraction(t)
    q = ((0.01, 0), (0.01, 0))
    for test in (">", ">="):
        pp = small(t, score_test=test)
        s = np.full((16, 2), -128, np.int8)
        b = np.zeros((16, 4), np.int8)
        b[:, 2:] = 10
        s[4, 1] = 5  # zero point 0: level 5
        for backend in BACKENDS:
            det = pp.postprocess(s, b, decoded=True, quantization=q, backend=backend)
            assert det.anchors.tolist() == [], (test, backend)
    pp = small(t, score_test=">=")
    s[4, 1] = 6
    assert pp.postprocess(s, b, decoded=True, quantization=q).anchors.tolist() == [4]


@pytest.mark.parametrize("t", [0.0, 1.0])
def test_thresholds_zero_and_one_are_accepted(t):
    """The peers accept 0 and 1: score t = 0 keeps every positive probability, t = 1 keeps none (">") or exactly
    the ones (">="); IoU t = 0 suppresses any overlap, IoU t = 1 suppresses nothing."""
    s, b = rows()
    s[1, 1], s[2, 1], s[3, 1] = 1.0, 0.5, np.float32(2.0**-149)
    b[1], b[2], b[3] = [0, 0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75], [0.5, 0.5, 0.6, 0.6]
    for backend in BACKENDS:
        got = small(t, iou_threshold=1.0).postprocess(s, b, decoded=True, backend=backend).anchors.tolist()
        assert got == ([1, 2, 3] if t == 0 else []), backend
        got = small(t, iou_threshold=1.0, score_test=">=").postprocess(s, b, decoded=True, backend=backend)
        # p >= 0 holds for every anchor; 2^-149 orders as its Q30 key 0, among the zeros by index
        assert got.anchors.tolist() == ([1, 2] + list(range(0, 1)) + list(range(3, 16)) if t == 0 else [1]), backend
        got = small(0.0, iou_threshold=t).postprocess(s, b, decoded=True, backend=backend).anchors.tolist()
        # IoU(1, 2) = 1/7 > 0: suppressed at t = 0; box 3 touches box 2 only at a corner (no overlap)
        assert got == ([1, 3] if t == 0 else [1, 2, 3]), backend
    ref = small(t, iou_threshold=t).reference(s, b, decoded=True)
    assert isinstance(ref.anchors, np.ndarray)


def test_probabilities_above_one_are_not_clamped():
    """[1.2, 1.5] on the same box: the float64 reference keeps the 1.5; clamping both to 1.0 kept the 1.2."""
    s, b = rows()
    s[2, 1], s[6, 1] = 1.2, 1.5
    b[2] = b[6] = [0.1, 0.1, 0.4, 0.4]
    pp = small(0.5)
    assert pp.reference(s, b, decoded=True).anchors.tolist() == [6]
    for backend in BACKENDS:
        try:
            det = pp.postprocess(s, b, decoded=True, backend=backend)
        except ValueError as e:
            assert "1.2" in str(e) or "1.5" in str(e), str(e)
        else:
            assert det.anchors.tolist() == [6], backend
    # int32 Q30 probabilities above 1 are plain integers: the larger key comes first
    si = (s.astype(np.float64) * ONE_Q30).astype(np.int32)
    bi = (b.astype(np.float64) * Q20).astype(np.int32)
    for backend in BACKENDS:
        assert pp.postprocess(si, bi, decoded=True, backend=backend).anchors.tolist() == [6]


# -- the IoU test -------------------------------------------------------------------------------------------------


def exact_iou(a, b, eps=Fraction(0)):
    a, b = [Fraction(float(v)) for v in a], [Fraction(float(v)) for v in b]
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = iw * ih if iw > 0 and ih > 0 else Fraction(0)
    area = lambda r: max(r[2] - r[0], 0) * max(r[3] - r[1], 0)  # noqa: E731
    return inter / (area(a) + area(b) - inter + eps)


@pytest.mark.parametrize(
    "pair, t, iou",
    [
        ([[17, 17, 5017, 1017], [17, 17, 2017, 1017]], 0.4, Fraction(2, 5)),
        ([[507, 60, 575, 99], [501, 49, 581, 100]], 0.65, Fraction(13, 20)),
    ],
)
def test_iou_exactly_at_the_threshold_keeps(pair, t, iou):
    """IoU exactly 2/5 (13/20) is below the float64 0.4 (0.65), so ``IoU > t`` is false and both boxes are kept,
    as ONNX, OpenCV and exact arithmetic keep them; boxes in pixels / 8192 are exact on the Q20 grid."""
    boxes = np.asarray(pair, np.float64) / 8192
    assert exact_iou(*boxes) == iou < Fraction(t)
    s, b = rows()
    s[4, 1], s[9, 1] = 0.9, 0.8
    b[4], b[9] = boxes.astype(np.float32)
    for backend in BACKENDS:
        assert small(0.5, t).postprocess(s, b, decoded=True, backend=backend).anchors.tolist() == [4, 9]
        # the next float64 below t is below the IoU: suppressed
        below = float(np.nextafter(t, 0))
        assert Fraction(below) < iou
        assert small(0.5, below).postprocess(s, b, decoded=True, backend=backend).anchors.tolist() == [4]
    assert small(0.5, t).reference(s, b, decoded=True).anchors.tolist() == [4, 9]


grid = st.integers(-(1 << 21), 1 << 21)  # Q20 values within +-2: exact in float32 and on the core's grid


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    a=st.lists(grid, min_size=4, max_size=4),
    b=st.lists(grid, min_size=4, max_size=4),
    nudge=st.integers(-2, 2),
    eps=st.sampled_from([0.0, 1e-5]),
)
def test_iou_decided_exactly_on_grid_boxes(a, b, nudge, eps):
    """Two boxes on the Q20 grid, t the float64 nearest their exact IoU and a few float64 steps around it: the
    second box is suppressed exactly when IoU > t, with eps the Q40 value nearest the given one."""
    box_a = np.array([min(a[0], a[2]), min(a[1], a[3]), max(a[0], a[2]), max(a[1], a[3])], np.float64) / Q20
    box_b = np.array([min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])], np.float64) / Q20
    e = Fraction(int(np.floor(eps * 2.0**40 + 0.5)), 1 << 40)
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    iou = exact_iou(box_a, box_b, e) if area(box_a) + area(box_b) + eps > 0 else Fraction(0)  # 0 / 0: no overlap
    t = float(iou)
    for _ in range(abs(nudge)):
        t = float(np.nextafter(t, np.inf if nudge > 0 else -np.inf))
    if not 0.0 <= t <= 1.0:
        return
    s, bx = rows()
    s[0, 1], s[1, 1] = 0.9, 0.8
    bx[0], bx[1] = box_a, box_b
    expected = [0] if iou > Fraction(t) else [0, 1]
    for backend in BACKENDS:
        det = small(0.5, t, eps=eps).postprocess(s, bx, decoded=True, backend=backend)
        assert det.anchors.tolist() == expected, (backend, t, iou)


def iou_error_bound(min_side: float) -> float:
    """The README's bound on |IoU on the Q20 grid - IoU on the given float corners| when every side of both boxes
    and of their intersection is at least min_side (normalized units): each corner moves by at most 2^-21, so each
    side by eps = 2^-20 / min_side relatively, each area by eta = 2 eps + eps^2 and the union by 3 eta, whence
    |dIoU| <= 4 eta / (1 - 3 eta)."""
    e = 2.0**-20 / min_side
    eta = 2 * e + e * e
    return 4 * eta / (1 - 3 * eta)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), side=st.sampled_from([2.0**-9, 2.0**-6, 0.05, 0.3]), where=st.floats(-1.5, 1.5))
def test_off_grid_float32_corners_flip_only_within_the_bound(seed, side, where):
    """float32 corners off the Q20 grid: a decision may differ from exact arithmetic on the given floats only when
    |IoU - t| is within iou_error_bound; t is placed at the edge of that band (where * bound)."""
    rng = np.random.default_rng(seed)
    x0, y0 = rng.uniform(0.0, 0.5, 2)
    w, h = side * rng.uniform(1.0, 3.0, 2)
    a = np.array([x0, y0, x0 + w, y0 + h], np.float32)
    shift = rng.uniform(0.0, 0.5, 2) * [w, h]
    b = np.array([x0 + shift[0], y0 + shift[1], x0 + shift[0] + w, y0 + shift[1] + h], np.float32)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    sides = [a64[2] - a64[0], a64[3] - a64[1], b64[2] - b64[0], b64[3] - b64[1], a64[2] - b64[0], a64[3] - b64[1]]
    bound = iou_error_bound(float(min(sides)))
    iou = exact_iou(a, b)
    t = float(iou) + where * bound
    if not 0.0 <= t <= 1.0:
        return
    s, bx = rows()
    s[0, 1], s[1, 1] = 0.9, 0.8
    bx[0], bx[1] = a, b
    det = small(0.5, t).postprocess(s, bx, decoded=True)
    if abs(iou - Fraction(t)) > Fraction(bound):
        assert det.anchors.tolist() == ([0] if iou > Fraction(t) else [0, 1])


def test_hard_nms_host_path_is_exact_in_a_crowd():
    """Many kept boxes (the host tests 16 kept boxes at once) with the candidate at IoU exactly t against one of
    them: kept, and suppressed one float64 step below t."""
    n = 64
    pp_args = dict(min_boxes=((16,),), strides=(4,), eps=0.0)
    s = np.zeros((n, 2), np.float32)
    b = np.zeros((n, 4), np.float32)
    for i in range(40):  # a row of separate boxes, all kept
        b[i] = [i / 40, 0.0, i / 40 + 1 / 80, 1 / 80]
        s[i, 1] = 0.9 - i / 1000
    b[50] = np.array([17, 17, 2017, 1017], np.float64) / 8192 + [0, 0.5, 0, 0.5]
    b[51] = np.array([17, 17, 5017, 1017], np.float64) / 8192 + [0, 0.5, 0, 0.5]
    s[50, 1], s[51, 1] = 0.85, 0.8
    for t, kept in ((0.4, True), (float(np.nextafter(0.4, 0)), False)):
        pp = ultrapost.Ultraface((32, 32), score_threshold=0.5, iou_threshold=t, **pp_args)
        for backend in BACKENDS:
            got = pp.postprocess(s, b, decoded=True, backend=backend).anchors.tolist()
            assert (51 in got) == kept and 50 in got and len(got) == 41 + kept, (t, backend)


# -- nothing clamped silently ------------------------------------------------------------------------------------


def test_boxes_beyond_the_representable_range_are_an_error_or_exact():
    """Normalized corners beyond +-4 used to saturate: [0,0,6,1] and [3,0,9,1] have IoU 1/3 > 0.3 (suppressed),
    saturated to 4 they had 1/4 and both were kept."""
    s, b = rows()
    s[1, 1], s[2, 1] = 0.9, 0.8
    b[1], b[2] = [0, 0, 6, 1], [3, 0, 9, 1]
    pp = small(0.5, 0.3)
    assert pp.reference(s, b, decoded=True).anchors.tolist() == [1]
    bi = (b.astype(np.float64) * Q20).astype(np.int32)
    si = (s.astype(np.float64) * ONE_Q30).astype(np.int32)
    for inputs in ((s, b), (si, bi)):
        for backend in BACKENDS:
            try:
                det = pp.postprocess(*inputs, decoded=True, backend=backend)
            except ValueError as e:
                assert "6" in str(e) or "9" in str(e), str(e)
            else:
                assert det.anchors.tolist() == [1], backend


# -- decoded boxes, keypoints and float32 values: never saturated without a word ----------------------------------

LOG2E = 1.4426950408889634


def _one_candidate(delta, dtype=np.float32, **kw):
    """One passing anchor (5) of the 16 with raw box row `delta` (float32 or Q20 int32)."""
    s, b = rows(dtype=np.float64)
    s[:, 0], s[5] = 1.0, [0.1, 0.9]
    b[5] = delta
    if dtype == np.int32:
        return small(**kw), (s * ONE_Q30).astype(np.int32), np.floor(b * Q20 + 0.5).astype(np.int32)
    return small(**kw), s.astype(np.float32), b.astype(np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("backend", BACKENDS)
def test_decoded_center_beyond_four_is_an_error_not_saturated(dtype, backend):
    # prior (cx, w) of anchor 5 is (0.375, 0.5): a center delta of 100 puts the box at 0.375 + 100 * 0.1 * 0.5 = 5.375;
    # it used to come back as [4, ., 4, .] (a zero-width box at the limit)
    pp, s, b = _one_candidate([100.0, 0, 0, 0], dtype)
    with pytest.raises(OutOfRangeError, match=r"decoded box corner 5\.1.*beyond \+-4.*clip=True"):
        pp.postprocess(s, b, backend=backend)
    # with clip the same box is clipped, as asked: [1, y1, 1, y2]
    pp, s, b = _one_candidate([100.0, 0, 0, 0], dtype, clip=True)
    det = pp.postprocess(s, b, backend=backend)
    assert det.boxes[:, 0].tolist() == [1.0] and det.boxes[:, 2].tolist() == [1.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_saturated_box_size_is_an_error_unless_clip_makes_it_exact(backend):
    edge = 11 / LOG2E / 0.2  # exp(0.2 * d) reaches 2^11 = 2048, the top of Q20 int32
    for d, saturated in ((edge - 1e-3, False), (edge + 1e-3, True), (200.0, True)):
        pp, s, b = _one_candidate([0, 0, d, 0], np.float32, clip=True)
        det = pp.postprocess(s, b, backend=backend)  # covers [0, 1]: exact whatever the true size
        assert det.boxes[0, [0, 2]].tolist() == [0.0, 1.0]
        pp, s, b = _one_candidate([0, 0, d, 0], np.float32)
        if saturated:
            with pytest.raises(OutOfRangeError, match="box size .* reaches 2048"):
                pp.postprocess(s, b, backend=backend)
        else:
            with pytest.raises(OutOfRangeError, match="beyond \\+-4"):  # 0.375 +- 1024 * 0.5 / 2
                pp.postprocess(s, b, backend=backend)
    # a tiny prior: the saturated box (1024 * 2^-16 wide) does not cover [0, 1], so clip cannot make it exact
    tiny = ultrapost.Ultraface((32, 32), min_boxes=((2.0**-11,),), strides=(8,), clip=True, eps=0.0)
    _, s, b = _one_candidate([0, 0, 200.0, 0], np.float32)
    with pytest.raises(OutOfRangeError, match="reaches 2048"):
        tiny.postprocess(s, b, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_values_beyond_1024_are_an_error_not_clamped(backend):
    # a center delta of 3000 used to become 1024: 0.375 + 1024 * 0.1 * 0.03 would sit inside [-4, 4] on a small prior
    pp, s, b = _one_candidate([3000.0, 0, 0, 0], clip=True)
    with pytest.raises(OutOfRangeError, match="box value 3000 .*beyond \\+-1024"):
        pp.postprocess(s, b, backend=backend)
    # logits: 2000 and 1500 clamped alike to 1024 used to tie (keep order by index); now an error
    lg = small(0.5, 0.3, logits=True)
    s, b = rows()
    s[:, 1] = -5.0
    s[3, 1], s[9, 1] = 1500.0, 2000.0
    b[:] = [0.0, 0.0, 0.0, 0.0]
    with pytest.raises(OutOfRangeError, match="logit value 1500 .*beyond \\+-1024"):
        lg.postprocess(s, b, backend=backend)
    # exactly 1024 is representable
    s[3, 1], s[9, 1] = 1024.0, -1024.0
    assert lg.postprocess(s, b, backend=backend).anchors.tolist() == [3]


@pytest.mark.parametrize("backend", BACKENDS)
def test_keypoints_beyond_four_are_an_error_not_saturated(backend):
    bf = ultrapost.BlazeFace(128, score_threshold=0.5)
    logits = np.full(896, -10.0, np.float32)
    logits[100] = 5.0
    reg = np.zeros((896, 16), np.float32)
    reg[100, 2:4] = 20.0
    reg[100, 4] = 600.0  # keypoint x: anchor cx + 600 / 128 > 4
    with pytest.raises(OutOfRangeError, match="keypoint value .* beyond \\+-4"):
        bf.postprocess(logits[:, None], reg, backend=backend)
    reg[100, 4] = 300.0  # within: 300 / 128 + cx < 4
    det = bf.postprocess(logits[:, None], reg, backend=backend)
    assert det.anchors.tolist() == [100] and det.landmarks[0, 0, 0] < 4
