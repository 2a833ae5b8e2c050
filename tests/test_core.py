"""The C core against the numpy golden model: bit-exact (np.array_equal and dtype) on generated cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ultrapost
from ultrapost import golden
from ultrapost.core import _core
from ultrapost.core.config import OutOfRangeError
from ultrapost.core.prepare import sigmoid
from ultrapost.families.cases import KINDS, MODES, SIZES, make_case, ultraslim_case

SETTINGS = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def assert_same(pp, scores, boxes, **kw):
    """C == golden bit for bit, or both refuse a value out of range with the same message (None then)."""
    try:
        c = pp.postprocess(scores, boxes, backend="c", **kw)
    except OutOfRangeError as exc:
        with pytest.raises(OutOfRangeError) as g:
            pp.postprocess(scores, boxes, backend="golden", **kw)
        assert str(g.value) == str(exc)
        return None
    g = pp.postprocess(scores, boxes, backend="golden", **kw)
    assert c.fixed.keys() == g.fixed.keys()
    for name in c.fixed:
        a, b = c.fixed[name], g.fixed[name]
        assert a.dtype == b.dtype == np.int32, name
        assert np.array_equal(a, b), f"{name} differs"
    assert np.array_equal(c.boxes, g.boxes) and np.array_equal(c.scores, g.scores)
    assert np.array_equal(c.anchors, g.anchors) and c.anchors.dtype == np.int64
    return c


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.sampled_from(SIZES[:4] + SIZES[6:]),
    kind=st.sampled_from(KINDS),
    mode=st.sampled_from(MODES),
    decoded=st.booleans(),
    logits=st.booleans(),
    convention=st.sampled_from(["trained", "stride"]),
    clip=st.booleans(),
    limit=st.sampled_from([200, 1, 7, None]),
    max_det=st.sampled_from([None, 1, 5]),
)
def test_c_equals_golden(seed, size, kind, mode, decoded, logits, convention, clip, limit, max_det):
    pp, s, b, q = make_case(
        seed,
        size,
        kind,
        mode,
        decoded=decoded,
        logits=logits,
        convention=convention,
        clip=clip,
        candidate_limit=limit,
        max_detections=max_det,
    )
    assert_same(pp, s, b, decoded=decoded and not logits, quantization=q)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.sampled_from(SIZES[4:6]),
    kind=st.sampled_from(KINDS),
    mode=st.sampled_from(["random", "ties", "all_pass"]),
    decoded=st.booleans(),
)
def test_c_equals_golden_large_sizes(seed, size, kind, mode, decoded):
    pp, s, b, q = make_case(seed, size, kind, mode, decoded=decoded)
    assert_same(pp, s, b, decoded=decoded, quantization=q)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["s8", "f32"]),
    mode=st.sampled_from(["random", "ties", "none_pass"]),
    t=st.sampled_from([0.3, 0.5, 0.7]),
)
def test_c_equals_golden_ultraslim(seed, kind, mode, t):
    pp, tensor, q = ultraslim_case(seed, kind, mode, t)
    assert pp.num_anchors == 172
    c = assert_same(pp, tensor, None, decoded=True, quantization=q)
    assert ((c.boxes >= 0) & (c.boxes <= 1)).all()  # clip=True


def test_every_size_has_the_documented_anchor_count():
    expected = {
        (128, 96): 708,
        (160, 120): 1118,
        (320, 240): 4420,
        (480, 360): 9984,
        (640, 480): 17640,
        (1280, 960): 70500,
    }
    for size, n in expected.items():
        assert ultrapost.Ultraface(size).num_anchors == n
    assert ultrapost.Ultraface((128, 128), drop_finest_level=True).num_anchors == 172


# --- known answers ------------------------------------------------------------------------------------------------


def tiny():
    """Four anchors on a 32x32 input: one level, stride 16, one 16-px box per cell.

    Priors (cx, cy, w, h): (0.25, 0.25, .5, .5), (0.75, 0.25, .5, .5), (0.25, 0.75, .5, .5), (0.75, 0.75, .5, .5).
    """
    return ultrapost.Ultraface((32, 32), score_threshold=0.5, iou_threshold=0.3, min_boxes=((16,),), strides=(16,))


@pytest.mark.parametrize("backend", ["c", "golden"])
def test_known_answer_decode(backend):
    pp = tiny()
    scores = np.array([[0.1, 0.9], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], np.float32)
    deltas = np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, -2, 5 * np.log(2), 0]], np.float32)
    det = pp.postprocess(scores, deltas, backend=backend)
    # anchor 0: cx = 0.25 + 1 * 0.1 * 0.5 = 0.30 -> x 0.05..0.55, y 0.0..0.5          score 0.9
    # anchor 1: the prior itself -> 0.5..1.0, 0.0..0.5                                   score 0.8
    # anchor 3: cy = 0.75 - 2 * 0.1 * 0.5 = 0.65, w = exp(0.2 * 5 ln 2) * 0.5 = 1.0
    #           -> x 0.25..1.25, y 0.40..0.90 (unclipped)                               score 0.7
    # anchor 2 fails 0.4 > 0.5. IoU(0, 1) = 0.05*0.5 / (0.25+0.25-0.025) = 0.0526: both kept;
    # IoU(3, 1) = 0.5*0.1 / (0.5+0.25-0.05) = 0.0714: kept.
    assert det.anchors.tolist() == [0, 1, 3]
    expected = np.array([[0.05, 0.0, 0.55, 0.5], [0.5, 0.0, 1.0, 0.5], [0.25, 0.4, 1.25, 0.9]])
    assert np.abs(det.boxes - expected).max() < 2**-19
    assert np.abs(det.scores - [0.9, 0.8, 0.7]).max() < 1e-7
    assert np.array_equal(det.to_pixels(32, 32), det.boxes * 32)


@pytest.mark.parametrize("backend", ["c", "golden"])
def test_known_answer_nms_six_boxes(backend):
    """Six decoded boxes (corners): overlapping pairs, a tie broken by index, eps and an inverted box."""
    pp = ultrapost.Ultraface((32, 32), score_threshold=0.5, iou_threshold=0.5, min_boxes=((16,),), strides=(8,))
    assert pp.num_anchors == 16
    scores = np.zeros((16, 2), np.float32)
    boxes = np.zeros((16, 4), np.float32)
    rows = {
        0: (0.9, [0.0, 0.0, 0.4, 0.4]),  # kept first
        1: (0.8, [0.0, 0.05, 0.4, 0.45]),  # IoU with 0 = 0.35*0.4/(0.16+0.16-0.14) = 0.778 -> suppressed
        2: (0.75, [0.6, 0.6, 0.9, 0.9]),  # tie with 5: lower index first -> kept
        5: (0.75, [0.6, 0.6, 0.9, 0.9]),  # same box as 2 -> IoU 1 -> suppressed
        7: (0.7, [0.5, 0.0, 0.7, 0.2]),  # disjoint -> kept
        9: (0.6, [0.3, 0.3, 0.1, 0.1]),  # inverted: area 0, IoU 0 -> kept
        11: (0.4, [0.0, 0.0, 1.0, 1.0]),  # below threshold
    }
    for i, (p, b) in rows.items():
        scores[i] = [1 - p, p]
        boxes[i] = b
    det = pp.postprocess(scores, boxes, decoded=True, backend=backend)
    assert det.anchors.tolist() == [0, 2, 7, 9]
    ref = pp.reference(scores, boxes, decoded=True)
    assert ref.anchors.tolist() == [0, 2, 7, 9]


# --- fixed-point helpers ------------------------------------------------------------------------------------------


def edge_int32():
    base = [0, 1, -1, 2**31 - 1, -(2**31), 2**30, -(2**30)]
    pows = [s * (2**k + d) for k in range(0, 31) for d in (-1, 0, 1) for s in (1, -1)]
    rng = np.random.default_rng(1)
    rnd = rng.integers(-(2**31), 2**31, 20000)
    near = rng.integers(-16 * 2**20, 8 * 2**20, 20000)  # where exp is neither 0 nor saturated
    return np.clip(np.array(base + pows + list(rnd) + list(near), dtype=np.int64), -(2**31), 2**31 - 1).astype(np.int32)


def test_exp_q20_c_equals_golden_and_error_bound():
    x = edge_int32()
    c = _core.exp_q20(x)
    g = golden.exp_q20(x).astype(np.int32)
    assert np.array_equal(c, g)
    # accuracy: documented as 0.5 LSB + 2^-28 relative, below saturation
    xs = x[(x > -15 * 2**20) & (x < int(7.6 * 2**20))]
    exact = np.exp(xs / 2**20) * 2**20
    err = np.abs(_core.exp_q20(xs) - exact)
    assert (err <= 0.5 + exact * 2**-28 + 1e-9).all(), err.max()
    assert _core.exp_q20(np.array([8 * 2**20], np.int32))[0] == 2**31 - 1
    assert _core.exp_q20(np.array([-20 * 2**20], np.int32))[0] == 0


def test_sigmoid_q30_c_equals_golden_and_error_bound():
    x = edge_int32()
    assert np.array_equal(_core.sigmoid_q30(x), golden.sigmoid_q30(x).astype(np.int32))
    exact = sigmoid(x.astype(np.float64) / 2**20)
    # documented: half a Q20 LSB of exp (slope <= 1) plus the division's rounding
    assert np.abs(_core.sigmoid_q30(x) / 2**30 - exact).max() <= 2**-21 + 2**-30


def test_f32_boundary_c_equals_golden():
    rng = np.random.default_rng(2)
    special = np.array(
        [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            2**-21,
            -(2**-21),
            3 * 2**-21,
            1e-45,
            -1e-45,
            1e-38,
            3.4e38,
            -3.4e38,
            1023.9999,
            1024.0,
            -1024.0,
            0.7,
            0.3,
            1 - 2**-24,
        ],
        np.float32,
    )
    x = np.concatenate(
        [
            special,
            rng.normal(0, 3, 50000).astype(np.float32),
            (rng.integers(-(2**24), 2**24, 20000) * 2.0**-21).astype(np.float32),
        ]
    )
    for q, lo, hi in ((20, -(2**30), 2**30), (30, 0, 2**30)):
        assert np.array_equal(_core.f32_to_fixed(x, q, lo, hi), golden.f32_to_fixed(x, q, lo, hi).astype(np.int32))
    # halves round up, also for negatives
    h = np.array([0.5, -0.5, 1.5, -1.5], np.float32) * 2.0**-20
    assert _core.f32_to_fixed(h, 20, -(2**30), 2**30).tolist() == [1, 0, 2, -1]


def test_f32_to_fixed_nan_is_zero_in_both_backends():
    # A float-to-int cast of NaN is undefined in C; the boundary defines it (the pipeline refuses NaN before).
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.25], np.float32)
    want = [0, 0, 2**30, -(2**30), 2**18]
    assert _core.f32_to_fixed(x, 20, -(2**30), 2**30).tolist() == want
    assert golden.f32_to_fixed(x, 20, -(2**30), 2**30).tolist() == want


@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("n_pass", [1, 3, 4, 5, 8, 9, 12, 31, 32, 33, 70, 4420])  # steps of 8 and 4, chunks of 32
def test_host_vector_decode_equals_golden_at_the_exp_edges(clip, n_pass):
    """The host decodes float32 deltas 8 candidates at a time: ordinary size deltas, ones around exp's saturation
    edges (k = y >> 50 at 10 / 11 and -22 / -23), at the +-1024 ends of the conversion, and centers far outside.
    With clip the saturated boxes cover [0, 1] and stay exact; without it a box beyond +-4 refuses the run, alike
    in C and golden (the vector decode's out-of-range lanes against the core's rule)."""
    rng = np.random.default_rng(n_pass)
    log2e = 1.4426950408889634
    edges = np.array([k / log2e / 0.2 for k in (10, 11, -22, -23)])
    sizes = np.concatenate([edges[:, None] + np.array([-1e-4, 0.0, 1e-4]), [[-1024.0, 1024.0, 0.0]]]).ravel()
    n = 4420
    boxes = rng.normal(0, 2, (n, 4))
    edge = rng.random((n, 2)) < (0.3 if clip else 0.3 / n_pass)  # the rest keep ordinary sizes
    boxes[:, 2:][edge] = rng.choice(sizes, edge.sum())
    boxes[::7, :2] = rng.choice([-1e3, 1e3, 50.0] if clip else [-3.0, 3.0, 1.0], (len(boxes[::7]), 2))
    p = np.full(n, 0.05)
    p[rng.choice(n, n_pass, replace=False)] = rng.uniform(0.71, 1.0, n_pass)
    scores = np.stack([1 - p, p], 1).astype(np.float32)
    pp = ultrapost.Ultraface((320, 240), score_threshold=0.7, iou_threshold=0.5, clip=clip, candidate_limit=None)
    c = assert_same(pp, scores, boxes.astype(np.float32))
    if clip:
        assert c is not None and len(c) >= 1


@pytest.mark.parametrize("n_pass", [99, 100, 157, 700])
@pytest.mark.parametrize("spread", ["even", "bunched", "ties"])
def test_many_candidates_sort_into_keep_order(n_pass, spread):
    """From 100 candidates the host sorts by buckets of the score key, and falls back to its merge sort when a
    bucket holds more than 32 (scores bunched within a few 1e-5, or equal): keep order either way."""
    rng = np.random.default_rng(n_pass)
    n = 4420
    p = np.full(n, 0.05)
    at = rng.choice(n, n_pass, replace=False)
    if spread == "even":
        p[at] = rng.uniform(0.7001, 1.0, n_pass)
    elif spread == "bunched":
        p[at] = rng.uniform(0.99, 0.99003, n_pass)
    else:  # 10 distinct values, each held by many anchors (more than 32 of them from 700 candidates)
        p[at] = rng.choice(np.linspace(0.75, 0.98, 10), n_pass)
    scores = np.stack([1 - p, p], 1).astype(np.float32)
    boxes = rng.normal(0, 0.5, (n, 4)).astype(np.float32)
    pp = ultrapost.Ultraface(
        (320, 240), score_threshold=0.7, iou_threshold=0.3, candidate_limit=None, max_detections=1000
    )
    c = assert_same(pp, scores, boxes)
    keys = c.fixed["scores"].astype(np.int64)
    order = np.lexsort((c.anchors, -keys))
    assert np.array_equal(order, np.arange(len(c))) and len(c) >= 1


def test_float_probability_test_is_exact_at_the_threshold():
    """p > t is decided exactly for float32 p: no near-threshold exception at all."""
    pp = tiny()
    t32 = np.float32(0.5)
    below, above = np.nextafter(t32, np.float32(0)), np.nextafter(t32, np.float32(1))
    scores = np.array([[0.5, t32], [0.5, below], [0.5, above], [0, 0]], np.float32)
    boxes = np.array([[0, 0, 0.1, 0.1], [0.3, 0.3, 0.4, 0.4], [0.6, 0.6, 0.7, 0.7], [0, 0, 1, 1]], np.float32)
    for backend in ("c", "golden"):
        assert pp.postprocess(scores, boxes, decoded=True, backend=backend).anchors.tolist() == [2]
    assert pp.reference(scores, boxes, decoded=True).anchors.tolist() == [2]


@pytest.mark.parametrize("threshold", [0.7, 0.5, 2.0**-7, 0.007, 1e-6])
def test_float_scores_around_the_threshold_in_wide_steps(threshold):
    """The host scans 16 float32 anchors per step and converts the flagged steps' scores 4 rows at a time (when
    the key bound is at least 2^23, i.e. p >= 2^-7): scores one float step around the threshold, exactly on it, at
    1, tiny and negative ones, and the background column above it, all decide as the golden model; a probability
    above 1, in a 16-anchor step or in the tail after the last one, is an error naming it in both."""
    rng = np.random.default_rng(int(threshold * 1e6))
    n = 4420
    t32 = np.float32(threshold)
    near = [
        np.nextafter(t32, np.float32(0)),
        t32,
        np.nextafter(t32, np.float32(2)),
        np.float32(1.0),
        np.float32(1e-30),
        np.float32(-0.5),
        np.float32(0.0),
    ]
    p = np.where(rng.random(n) < 0.2, rng.choice(near, n), rng.uniform(0, 1, n)).astype(np.float32)
    bg = np.where(rng.random(n) < 0.1, np.float32(0.99), (1 - p)).astype(np.float32)
    scores = np.stack([bg, p], 1)
    boxes = rng.normal(0, 0.3, (n, 4)).astype(np.float32)
    pp = ultrapost.Ultraface(
        (320, 240), score_threshold=threshold, iou_threshold=0.3, candidate_limit=None, max_detections=5000
    )
    c = assert_same(pp, scores, boxes)
    assert len(c) >= 1
    for at in (37, n - 2):
        above = scores.copy()
        above[at, 1] = 1.5
        for backend in ("c", "golden"):
            with pytest.raises(ValueError, match=f"1.5 above 1 \\(anchor {at}, column 1\\)"):
                pp.postprocess(above, boxes, backend=backend)


def test_int8_threshold_on_a_quantization_level_is_strict():
    pp = ultrapost.Ultraface((32, 32), score_threshold=200 / 256, min_boxes=((16,),), strides=(16,))
    q = ((1 / 256, -128), (1 / 128, 0))
    scores = np.array([[0, 200 - 128], [0, 201 - 128], [0, 199 - 128], [0, 127]], np.int8)
    boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50], [60, 60, 70, 70]], np.int8)
    for backend in ("c", "golden"):
        det = pp.postprocess(scores, boxes, decoded=True, quantization=q, backend=backend)
        assert det.anchors.tolist() == [3, 1]  # 200/256 is not > 200/256
    assert pp.reference(scores, boxes, decoded=True, quantization=q).anchors.tolist() == [3, 1]


@pytest.mark.parametrize("eps", [1e-5, 0.0])
@pytest.mark.parametrize("iou", [0.3, 0.5, 0.7])
@pytest.mark.parametrize("pixel_size", [None, (320, 240)])
def test_pairs_at_the_iou_threshold_decide_alike(iou, pixel_size, eps):
    """Float32 corner pairs whose IoU is within a Q20 step or a few of the threshold, one pair per cell of a
    10x10 grid, a higher-scored box A and a box B:
    - nested: B as tall as A and wider, around it, so IoU = W_A H / (W_B H + eps) (padded widths). Here the
      host's overlap pre-test (intersection width above floor(t * W / 2^16) for both boxes) is at its tightest:
      W_A is the smallest width whose IoU exceeds t, or one less, or one more;
    - shifted: equal sizes give or take 2 steps, B shifted right by about the offset at which IoU = t.
    C equals golden, and both decisions occur for both kinds."""
    pp = ultrapost.Ultraface((320, 240), score_threshold=0.5, iou_threshold=iou, pixel_size=pixel_size, eps=eps)
    fc, _ = pp.config("f32", decoded=True)
    t, big_e, px, py = fc.iou_q16, fc.iou_eps_q40, fc.pad_x_q20, fc.pad_y_q20
    rng = np.random.default_rng([int(iou * 10), pixel_size is not None, eps > 0])
    n = pp.num_anchors
    scores = np.zeros((n, 2), np.float32)
    boxes = np.zeros((n, 4), np.float32)
    one = 1 << 20  # Q20: k / 2^20 is exact in float32 here
    nested = []
    for p in range(100):
        x0 = (p % 10) * one // 10 + 64
        y0 = (p // 10) * one // 10 + 64
        a, b = 7 * p, 7 * p + 3
        scores[a], scores[b] = (0.05, 0.95), (0.1, 0.9)
        h = int(rng.integers(one // 50, one // 22))
        if p % 2:
            wb = int(rng.integers(one // 50, one // 22))
            big_h = h + py
            wa = t * ((wb + px) * big_h + big_e) // (65536 * big_h) + 1 - px + int(rng.integers(-1, 2))
            off = int(rng.integers(0, wb - wa + 1))
            boxes[a] = np.array([x0 + off, y0, x0 + off + wa, y0 + h]) / one
            boxes[b] = np.array([x0, y0, x0 + wb, y0 + h]) / one
            nested.append(b)
        else:
            w = int(rng.integers(one // 50, one // 22))
            big_w, big_h = w + px, h + py
            # equal padded sizes W, H: IoU = (W - dx) H / (2 W H - (W - dx) H + eps) = t at this dx
            dx = round(big_w - t / 65536 * (2 * big_w * big_h + big_e) / ((1 + t / 65536) * big_h))
            dx += int(rng.integers(-3, 4))
            dw, dh = (int(v) for v in rng.integers(-2, 3, 2))
            boxes[a] = np.array([x0, y0, x0 + w, y0 + h]) / one
            boxes[b] = np.array([x0 + dx, y0, x0 + dx + w + dw, y0 + h + dh]) / one
    det = assert_same(pp, scores, boxes, decoded=True)
    kept = set(det.anchors.tolist())
    for kind, bs in (("nested", nested), ("shifted", [7 * p + 3 for p in range(0, 100, 2)])):
        kept_b = sum(b in kept for b in bs)
        assert 5 <= kept_b <= 45, f"{kind}: {kept_b} of 50 kept"  # both sides of the threshold exercised


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.sampled_from(SIZES[:3]),
    kind=st.sampled_from(["s8", "i32"]),
    mode=st.sampled_from(["random", "ties", "all_pass", "degenerate"]),
    decoded=st.booleans(),
    limit=st.sampled_from([200, None]),
)
def test_host_kept_box_blocks_decide_like_the_portable_nms(seed, size, kind, mode, decoded, limit):
    """The host build tests kept boxes 8 at a time from blocks of copies; with only the portable scratch the
    same C runs the firmware's up_nms_hard: both give the same integers (and equal golden elsewhere)."""
    pp, s, b, q = make_case(seed, size, kind, mode, decoded=decoded, candidate_limit=limit)
    _, core = pp.config(kind, decoded, q if q is None else (tuple(q[0]), tuple(q[1])))
    fast, portable = core.run_full(s, b), core.run_portable(s, b)
    assert fast.keys() == portable.keys()
    assert all(np.array_equal(fast[k], portable[k]) for k in fast)


def test_fast_path_detections_are_made_on_first_access():
    """Float32 tensors as models return them come back with the C's outputs in a plain buffer; len() needs no
    arrays, `fixed` makes them once (equal to the golden model's), and results never looked at free their buffer."""
    import gc
    import tracemalloc

    rng = np.random.default_rng(7)
    pp = ultrapost.Ultraface((320, 240))
    p = np.where(rng.random(pp.num_anchors) < 0.02, rng.uniform(0.71, 1.0, pp.num_anchors), 0.1)
    scores = np.stack([1 - p, p], 1).astype(np.float32)[None]
    boxes = rng.normal(0, 0.5, (1, pp.num_anchors, 4)).astype(np.float32)
    c = pp.postprocess(scores, boxes)
    g = pp.postprocess(scores, boxes, backend="golden")
    assert len(c) == len(g) > 1
    fixed = c.fixed
    assert c.fixed is fixed and len(c) == len(g)
    for name in ("boxes", "scores", "anchors"):
        assert fixed[name].dtype == g.fixed[name].dtype and np.array_equal(fixed[name], g.fixed[name]), name
    assert np.array_equal(c.boxes, g.boxes) and np.array_equal(c.anchors, g.anchors)
    none = pp.postprocess(np.zeros_like(scores), boxes)
    assert len(none) == 0 and none.boxes.shape == (0, 4) and none.fixed["anchors"].dtype == np.int32
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(200):
            pp.postprocess(scores, boxes)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            pp.postprocess(scores, boxes)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 6 * 4 * len(g) * 10, f"{grown} bytes kept by 2000 discarded results"
