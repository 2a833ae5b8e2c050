"""Hostile inputs to the Python API: never a crash, never a silent wrong answer, always an exception that names the
argument as the caller passed it. Each test is one reproducer (the crashes run in a child process, so that a
crash fails the test instead of ending the run)."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ultrapost
from ultrapost.data import require_file
from ultrapost.families.cases import make_case

BACKENDS = ["c", "golden"]


def run_child(code: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs code in a fresh interpreter (a segfault there is a failed test here)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def case():
    pp, s, b, _ = make_case(3, (320, 240), "f32", "random")
    return pp, s, b


@pytest.fixture(scope="module")
def blazeface_case():
    rng = np.random.default_rng(7)
    logits = rng.normal(0.0, 3.0, 896).astype(np.float32)
    regressors = rng.normal(0.0, 5.0, (896, 16)).astype(np.float32)
    return ultrapost.BlazeFace(128), logits, regressors


def same(a, b):
    """Detections equal bit for bit, every field."""
    fa, fb = a.fixed, b.fixed
    assert fa.keys() == fb.keys()
    for k in fa:
        assert fa[k].dtype == fb[k].dtype and np.array_equal(fa[k], fb[k]), k


# -- crashes ----------------------------------------------------------------------------------------------------------


def test_many_classes_output_size_is_checked_not_overflowed():
    """max_detections x classes output rows computed in a checked wide type: 4420 x 138,819 classes is refused with
    an error naming the options (it overflowed an int and the C wrote past the output); a smaller max_detections
    runs. Zero pages (np.zeros) keep the 613 MB input from costing memory."""
    r = run_child("""
        import numpy as np, ultrapost
        s = np.zeros((4420, 138820), np.int8)
        b = np.zeros((4420, 4), np.int8)
        q = ((1 / 256, -128), (0.04, 0))
        try:
            pp = ultrapost.Ultraface((320, 240), candidate_limit=None, class_thresholds=(0.5,) * 138819)
            pp.postprocess(s, b, quantization=q)
        except ValueError as exc:
            assert "max_detections" in str(exc) and "class" in str(exc), exc
            print("refused")
        pp = ultrapost.Ultraface((320, 240), candidate_limit=None, max_detections=20,
                                 class_thresholds=(0.5,) * 138819)
        print(len(pp.postprocess(s, b, quantization=q)))
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["refused", "0"]


def test_reinit_after_lazy_buffer_does_not_crash():
    r = run_child("""
        import ultrapost
        from ultrapost.families.cases import make_case
        pp, s, b, _ = make_case(3, (320, 240), "f32", "random")
        d = pp.postprocess(s, b)
        assert len(d) > 0
        d.fixed
        d.__init__(None, None, None)
        assert d.fixed is None
        d2 = pp.postprocess(s, b)
        d2.__init__(None, None, None)   # before the lazy buffer became arrays
        assert d2.fixed is None
        print("ok")
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"


@pytest.mark.parametrize("threads", [10**6, 0, -1, 2.5, True, "4"])
def test_num_threads_is_bounded_before_the_runtime_gets_it(threads):
    model = require_file("ultraface/version-slim-320.onnx")
    with pytest.raises((ValueError, TypeError), match="num_threads"):
        ultrapost.detect(np.zeros((240, 320, 3), np.uint8), model=model, num_threads=threads)


# -- C == golden on every accepted layout -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_size_one_axis_with_any_stride(blazeface_case, backend):
    """A size-1 axis may have any stride (numpy gives a broadcast [:, None] axis stride 0)."""
    bf, logits, reg = blazeface_case
    want = bf.postprocess(np.ascontiguousarray(logits[:, None]), reg, backend="golden")
    assert len(want) > 0
    same(bf.postprocess(logits[:, None], reg, backend=backend), want)
    odd = np.lib.stride_tricks.as_strided(logits, (896, 1), (4, 12))  # never read past column 0
    same(bf.postprocess(odd, reg, backend=backend), want)
    batch = np.lib.stride_tricks.as_strided(np.ascontiguousarray(logits[:, None]), (1, 896, 1), (-7, 4, 4))
    same(bf.postprocess(batch, reg, backend=backend), want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("which", ["scores", "boxes", "both"])
def test_unaligned_arrays(case, backend, which):
    pp, s, b = case
    want = pp.postprocess(s, b, backend="golden")

    def unaligned(x):
        buf = np.zeros(x.nbytes + 1, np.uint8)
        u = buf[1:].view(x.dtype).reshape(x.shape)
        u[...] = x
        assert not u.flags.aligned
        return u

    s2 = unaligned(s) if which in ("scores", "both") else s
    b2 = unaligned(b) if which in ("boxes", "both") else b
    same(pp.postprocess(s2, b2, backend=backend), want)
    got = pp.postprocess_batch(s2[None], b2[None], backend=backend)
    same(got[0], want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_batch(case, blazeface_case, backend):
    pp, s, b = case
    empty_s, empty_b = np.zeros((0, *s.shape), s.dtype), np.zeros((0, *b.shape), b.dtype)
    assert pp.postprocess_batch(empty_s, empty_b, backend=backend) == []
    assert pp.postprocess(empty_s, empty_b, backend=backend) == []
    bf, logits, reg = blazeface_case
    assert bf.postprocess(np.zeros((0, 896, 1), np.float32), np.zeros((0, 896, 16), np.float32), backend=backend) == []
    rf = ultrapost.RetinaFace()
    n = rf.num_anchors
    assert (
        rf.postprocess(
            np.zeros((0, n, 2), np.float32),
            np.zeros((0, n, 4), np.float32),
            np.zeros((0, n, 10), np.float32),
            backend=backend,
        )
        == []
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_masked_arrays_are_refused_alike(case, backend):
    pp, s, b = case
    ms = np.ma.masked_array(s.copy(), mask=np.zeros(s.shape, bool))
    ms.data[5, 1] = np.nan
    ms.mask[5, 1] = True
    with pytest.raises(TypeError, match="scores is a masked array"):
        pp.postprocess(ms, b, backend=backend)
    with pytest.raises(TypeError, match="boxes is a masked array"):
        pp.postprocess(s, np.ma.masked_array(b), backend=backend)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -10.0, 0.0])
def test_prior_sizes_must_be_positive_and_finite(bad):
    levels = [[10, 16, 24], [32, 48], [64, 96], [128, 192, 256]]
    levels[1][0] = bad
    with pytest.raises(ValueError, match="min_boxes"):
        ultrapost.Ultraface(min_boxes=levels)
    with pytest.raises(ValueError, match="min_sizes"):
        ultrapost.RetinaFace(min_sizes=levels)
    anchors = ultrapost.BlazeFace(128).anchors.copy()
    anchors[3, 2] = bad
    with pytest.raises(ValueError, match="anchors"):
        ultrapost.BlazeFace(128, anchors=anchors)
    if not np.isfinite(bad):
        anchors = ultrapost.BlazeFace(128).anchors.copy()
        anchors[3, 0] = bad
        with pytest.raises(ValueError, match="anchors"):
            ultrapost.BlazeFace(128, anchors=anchors)


def test_blazeface_non_square_input_is_refused():
    """The core has one decode scale for both axes: a W != H BlazeFace would scale y offsets by 1/W."""
    with pytest.raises(ValueError, match="square"):
        ultrapost.BlazeFace((128, 256))
    assert ultrapost.BlazeFace((128, 128)).input_size == (128, 128)


@pytest.mark.parametrize("backend", BACKENDS)
def test_errors_name_the_argument_as_passed(blazeface_case, backend):
    bf, logits, reg = blazeface_case
    bad = np.ascontiguousarray(logits[:, None]).copy()
    bad[17, 0] = np.nan
    with pytest.raises(ValueError, match="classificators"):
        bf.postprocess(bad, reg, backend=backend)
    reg2 = reg.copy()
    reg2[3, 9] = np.inf
    with pytest.raises(ValueError, match="regressors"):
        bf.postprocess(logits[:, None], reg2, backend=backend)
    rf = ultrapost.RetinaFace()
    n = rf.num_anchors
    conf = np.full((n, 2), 0.5, np.float32)
    loc = np.zeros((n, 4), np.float32)
    landms = np.zeros((n, 10), np.float32)
    landms[5, 3] = np.nan
    with pytest.raises(ValueError, match="landms"):
        rf.postprocess(conf, loc, landms, backend=backend)


# -- options ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["candidate_limit", "max_detections"])
@pytest.mark.parametrize(
    "value, exc",
    [
        (float("nan"), TypeError),
        (float("inf"), TypeError),
        ("x", TypeError),
        (2.5, TypeError),
        (True, TypeError),
        (0, ValueError),
        (-3, ValueError),
    ],
)
def test_counts_are_validated(name, value, exc):
    for family in (ultrapost.Ultraface, ultrapost.BlazeFace, ultrapost.RetinaFace):
        with pytest.raises(exc, match=name):
            family(**{name: value})


def test_counts_accept_numpy_integers():
    pp = ultrapost.Ultraface(candidate_limit=np.int64(50), max_detections=np.int32(7))
    fc, _ = pp.config("f32", decoded=False)
    assert (fc.candidate_limit, fc.max_detections) == (50, 7)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("zp", [float("inf"), float("nan"), -127.6, "x", None])
def test_zero_points_are_integers(case, backend, zp):
    pp, s, b = case
    s8, b8 = np.zeros(s.shape, np.int8), np.zeros(b.shape, np.int8)
    with pytest.raises((TypeError, ValueError), match="zero point"):
        pp.postprocess(s8, b8, quantization=((1 / 256, zp), (0.04, 0)), backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_quantization_as_lists(case, backend):
    pp, s, b = case
    s8 = np.clip(np.round(s / (1 / 256)) - 128, -128, 127).astype(np.int8)
    b8 = np.clip(np.round(b / 0.04), -128, 127).astype(np.int8)
    want = pp.postprocess(s8, b8, quantization=((1 / 256, -128), (0.04, 0)), backend="golden")
    same(pp.postprocess(s8, b8, quantization=[[1 / 256, -128], [0.04, 0]], backend=backend), want)
    with pytest.raises(ValueError, match="quantization is only for int8"):
        pp.postprocess(s, b, quantization=[[1 / 256, -128], [0.04, 0]], backend=backend)


def test_nms_and_score_test_of_the_wrong_type():
    for family in (ultrapost.Ultraface, ultrapost.BlazeFace, ultrapost.RetinaFace):
        with pytest.raises(TypeError, match="nms"):
            family(nms=["hard"])
        with pytest.raises(TypeError, match="score_test"):
            family(score_test=[">"])


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(class_thresholds=0.7), TypeError, "class_thresholds"),
        (dict(class_thresholds="0.7"), TypeError, "class_thresholds"),
        (dict(eps="x"), TypeError, "eps"),
        (dict(eps=float("nan")), ValueError, "eps"),
        (dict(min_boxes=None), TypeError, "min_boxes"),
        (dict(strides=None), TypeError, "strides"),
        (dict(center_variance="x"), TypeError, "center_variance"),
        (dict(input_size=(320,)), TypeError, "input_size"),
        (dict(input_size=(320.5, 240)), TypeError, "input_size"),
    ],
)
def test_ultraface_options(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        ultrapost.Ultraface(**kwargs)


def test_sizes_are_bounded_before_allocation():
    """Huge input sizes are refused from their sides or their anchor count, before any prior is made (the
    100000 x 100000 priors would take 14 GiB); a child process with a 3 GiB address-space limit proves it."""
    r = run_child("""
        import resource
        import numpy as np, ultrapost
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        for make in (lambda: ultrapost.Ultraface((100000, 100000)), lambda: ultrapost.RetinaFace((100000, 100000)),
                     lambda: ultrapost.BlazeFace(100000), lambda: ultrapost.Ultraface((2**31, 2**31)),
                     lambda: ultrapost.Ultraface((20000, 20000)), lambda: ultrapost.RetinaFace((20000, 20000)),
                     lambda: ultrapost.BlazeFace(20000)):
            try:
                make()
            except ValueError as exc:
                assert "input_size" in str(exc) or "anchors" in str(exc), exc
            else:
                raise SystemExit("accepted")
        print("ok")
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"


@pytest.mark.parametrize("size", [np.int64(320), np.int32(128)])
def test_numpy_integer_input_size(size):
    assert ultrapost.Ultraface(size).input_size == (int(size), int(size))
    assert ultrapost.RetinaFace(size).input_size == (int(size), int(size))
    assert ultrapost.BlazeFace(size).input_size == (int(size), int(size))


@pytest.mark.parametrize("size", [(320,), (1, 2, 3), "320", 0, -5, 2.5, None])
def test_bad_input_size_names_it(size):
    for family in (ultrapost.Ultraface, ultrapost.BlazeFace, ultrapost.RetinaFace):
        with pytest.raises((TypeError, ValueError), match="input_size"):
            family(size)


@pytest.mark.parametrize(
    "bad, exc",
    [
        (None, TypeError),
        (float("nan"), ValueError),
        (-640, ValueError),
        (0, ValueError),
        ("640", TypeError),
        (float("inf"), ValueError),
    ],
)
def test_to_pixels_sizes(case, bad, exc):
    pp, s, b = case
    d = pp.postprocess(s, b)
    with pytest.raises(exc, match="width"):
        d.to_pixels(bad, 480)
    with pytest.raises(exc, match="height"):
        d.to_pixels(640, bad)
    with pytest.raises(exc, match="width"):
        d.landmarks_to_pixels(bad, 480)
    assert np.array_equal(d.to_pixels(np.int64(640), 480.0), d.boxes * [640, 480, 640, 480])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scale, zp", [(1.0, -128), (1 / 32, 0), (0.02, -128), (1 / 63, 127)])
def test_probability_scales_beyond_the_fixed_point_range(case, backend, scale, zp):
    """int8 probabilities whose levels reach 2.0 would saturate in Q30: refused, naming the score quantization."""
    pp, s, b = case
    s8, b8 = np.zeros(s.shape, np.int8), np.zeros(b.shape, np.int8)
    with pytest.raises(ValueError, match="score quantization"):
        pp.postprocess(s8, b8, quantization=((scale, zp), (0.04, 0)), backend=backend)


def test_probability_scale_up_to_one_is_accepted(case):
    pp, s, b = case
    s8, b8 = np.zeros(s.shape, np.int8), np.zeros(b.shape, np.int8)
    for q in (
        ((1 / 255, -128), (0.04, 0)),
        ((1 / 256, -128), (0.04, 0)),
        ((1 / 127, 0), (0.04, 0)),
        ((1 / 64, 0), (0.04, 0)),
    ):  # the last: levels -2.0 to 1.98, all within Q30
        same(pp.postprocess(s8, b8, quantization=q), pp.postprocess(s8, b8, quantization=q, backend="golden"))


# -- Detections pickle and copy ---------------------------------------------------------------------------------------


def _fields(d):
    return dict(
        fixed=d.fixed, boxes=d.boxes, scores=d.scores, anchors=d.anchors, landmarks=d.landmarks, labels=d.labels
    )


def _assert_round_trip(d, e):
    a, b = _fields(d), _fields(e)
    assert (a["fixed"] is None) == (b["fixed"] is None)
    if a["fixed"] is not None:
        assert a["fixed"].keys() == b["fixed"].keys()
        for k in a["fixed"]:
            assert a["fixed"][k].dtype == b["fixed"][k].dtype and np.array_equal(a["fixed"][k], b["fixed"][k])
    for k in ("boxes", "scores", "anchors", "landmarks", "labels"):
        if a[k] is None:
            assert b[k] is None, k
        else:
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    assert len(d) == len(e)


def _detections(case):
    pp, s, b = case
    bf = ultrapost.BlazeFace(128)
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, (896, 1)).astype(np.float32)
    reg = rng.normal(0, 5, (896, 16)).astype(np.float32)
    multi = ultrapost.Ultraface(class_thresholds=(0.3, 0.4))
    s3 = rng.dirichlet((1, 1, 1), 4420).astype(np.float32)
    out = {}
    for backend in BACKENDS:
        out[f"ultraface-{backend}"] = pp.postprocess(s, b, backend=backend)
        out[f"blazeface-{backend}"] = bf.postprocess(logits, reg, backend=backend)
        out[f"multiclass-{backend}"] = multi.postprocess(s3, b, backend=backend)
    out["lazy-untouched"] = pp.postprocess(s, b)  # the fast path's buffer, fixed never asked for
    out["reference"] = pp.reference(s, b)
    out["empty"] = pp.postprocess(np.zeros_like(s), b)
    return out


@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_detections_round_trip(case, how):
    for name, d in _detections(case).items():
        if how == "pickle":
            e = pickle.loads(pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL))
        else:
            e = getattr(copy, how)(d)
        assert type(e) is type(d), name
        _assert_round_trip(d, e)
        if how == "deepcopy" and d.fixed is not None:
            assert e.fixed["boxes"] is not d.fixed["boxes"]


@pytest.mark.parametrize("flag", ["no", "False", 0, 1, None, 2.0, [True]])
def test_flags_are_bools_not_truthy_values(flag):
    # bool("no") is True: a flag given as a string or a number would silently turn an option on
    cases = [
        (ultrapost.Ultraface, "logits"),
        (ultrapost.Ultraface, "clip"),
        (ultrapost.Ultraface, "drop_finest_level"),
        (ultrapost.RetinaFace, "logits"),
    ]
    if flag is not None:  # None keeps the model's default anchors for BlazeFace
        cases.append((ultrapost.BlazeFace, "interpolated_anchors"))
    for family, name in cases:
        with pytest.raises(TypeError, match=name):
            family(**{name: flag})


def test_flags_accept_numpy_bools():
    pp = ultrapost.Ultraface(logits=np.bool_(True), clip=np.False_)
    assert pp.logits is True and pp.clip is False


@pytest.mark.parametrize("flag", ["yes", 1, None])
def test_decoded_is_a_bool(case, flag):
    pp, s, b = case
    with pytest.raises(TypeError, match="decoded"):
        pp.postprocess(s, b, decoded=flag)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(max_detections=2.5), TypeError, "max_detections"),
        (dict(max_detections="x"), TypeError, "max_detections"),
        (dict(max_detections=0), ValueError, "max_detections"),
        (dict(top_k=2**40), ValueError, "top_k"),
        (dict(top_k=2.5), TypeError, "top_k"),
        (dict(top_k=True), TypeError, "top_k"),
        (dict(input_size=(320.5, 240)), TypeError, "input_size"),
        (dict(input_size=(10**6, 320)), ValueError, "input_size"),
        (dict(score_threshold=float("nan")), ValueError, "score_threshold"),
        (dict(preset=["opencv"]), TypeError, "preset"),
    ],
)
def test_yunet_options(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        ultrapost.YuNet(**kwargs)


def test_face_detector_clip_is_a_bool():
    model = require_file("ultraface/version-slim-320.onnx")
    with pytest.raises(TypeError, match="clip"):
        ultrapost.FaceDetector(model, clip="no")
