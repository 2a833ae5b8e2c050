"""RetinaFace-style heads: priors, C == golden bit-exact (float32, int8, int32; every NMS kind; both prior configs),
a known answer, agreement with the float64 reference and with a transcription of RetinaFace's py_cpu_nms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ultrapost
from ultrapost import reference
from ultrapost.core.config import OutOfRangeError
from ultrapost.core.priors import RETINAFACE_CONFIGS, retinaface_priors
from ultrapost.families.cases import KINDS, NMS_KINDS, retinaface_case
from ultrapost.families.presets import PRESETS

SLIM = RETINAFACE_CONFIGS["slim"]
ZINEOS = RETINAFACE_CONFIGS["blazeface"]


def assert_bit_exact(rf, conf, loc, landms, q):
    """C == golden bit for bit, or both refuse a value out of range with the same message (None then)."""
    try:
        c = rf.postprocess(conf, loc, landms, quantization=q, backend="c")
    except OutOfRangeError as exc:
        with pytest.raises(OutOfRangeError) as g:
            rf.postprocess(conf, loc, landms, quantization=q, backend="golden")
        assert str(g.value) == str(exc)
        return None
    g = rf.postprocess(conf, loc, landms, quantization=q, backend="golden")
    assert c.fixed.keys() == g.fixed.keys() == {"boxes", "scores", "anchors", "keypoints"}
    for name in c.fixed:
        assert c.fixed[name].dtype == g.fixed[name].dtype == np.int32
        assert np.array_equal(c.fixed[name], g.fixed[name]), name
    assert c.landmarks.shape == (len(c), rf.num_landmarks, 2) and c.landmarks.dtype == np.float64
    return c


# -- priors ------------------------------------------------------------------------------------------------------------


def test_priors_follow_priorbox():
    p = retinaface_priors((320, 240), **SLIM)
    assert p.shape == (4420, 4)
    assert np.allclose(p[0], [4 / 320, 4 / 240, 10 / 320, 10 / 240])
    assert np.allclose(p[2], [4 / 320, 4 / 240, 24 / 320, 24 / 240])
    assert np.allclose(p[3], [12 / 320, 4 / 240, 10 / 320, 10 / 240])  # row-major: next column first
    assert np.allclose(p[40 * 3], [4 / 320, 12 / 240, 10 / 320, 10 / 240])
    # stride convention, not clamped: the last level's cy = 3.5 * 64 / 240, h = 256 / 240 > 1
    assert np.allclose(p[-1], [4.5 * 64 / 320, 3.5 * 64 / 240, 0.8, 256 / 240])
    assert p[:, 3].max() > 1
    # odd sizes: ceil feature maps, centers may pass 1
    odd = retinaface_priors((130, 70), min_sizes=((16,),), steps=(64,))
    assert len(odd) == 3 * 2 and np.isclose(odd[2, 0], 2.5 * 64 / 130) and odd[2, 0] > 1
    z = retinaface_priors(128, **ZINEOS)
    assert len(z) == 16 * 16 * 2 + 8 * 8 * 6 == 896
    assert np.allclose(z[-1], [7.5 * 16 / 128, 7.5 * 16 / 128, 149 / 128, 149 / 128])
    assert np.array_equal(ultrapost.RetinaFace.model("blazeface", 128).priors, z)


def test_defaults_are_the_retinaface_preset():
    rf = ultrapost.RetinaFace()
    preset = PRESETS["retinaface"]
    for name in ("score_threshold", "iou_threshold", "candidate_limit", "max_detections", "eps", "nms", "score_test"):
        assert getattr(rf, name) == preset[name], name
    assert rf.pixel_size == (320, 240) and rf.num_anchors == 4420
    fc, _ = rf.config("f32")
    assert (fc.pad_x_q20, fc.pad_y_q20) == (round(2**20 / 320), round(2**20 / 240))
    assert fc.iou_eps_q40 == 0 and (fc.candidate_limit, fc.max_detections) == (2000, 1000)
    assert fc.num_keypoints == 5
    from_preset = ultrapost.RetinaFace.preset("retinaface")
    assert vars(from_preset).keys() == vars(rf).keys()
    assert all(np.array_equal(getattr(rf, k), getattr(from_preset, k)) for k in ("priors", "pixel_size"))
    assert ultrapost.RetinaFace.preset("mediapipe").nms == "weighted"


# -- C == golden -------------------------------------------------------------------------------------------------------


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    config=st.sampled_from(["slim", "blazeface"]),
    kind=st.sampled_from(KINDS),
    mode=st.sampled_from(["random", "ties", "all_pass", "none_pass", "extreme", "degenerate"]),
    nms=st.sampled_from(NMS_KINDS),
    logits=st.booleans(),
    pixel=st.booleans(),
    test=st.sampled_from([">", ">="]),
    limit=st.sampled_from([2000, 150, 7, None]),
    max_det=st.sampled_from([1000, 1, 5]),
)
def test_c_equals_golden(seed, config, kind, mode, nms, logits, pixel, test, limit, max_det):
    if nms in ("blend", "weighted", "soft-linear", "soft-gaussian") and limit in (2000, None) and mode == "all_pass":
        limit = 300  # the golden model's merging and soft-NMS loops are plain Python: keep cases quick
    rf, conf, loc, landms, q = retinaface_case(
        seed,
        kind,
        mode,
        config=config,
        nms=nms,
        logits=logits,
        candidate_limit=limit,
        max_detections=max_det,
        pixel_size="input" if pixel else None,
        score_test=test,
    )
    assert_bit_exact(rf, conf, loc, landms, q)


@pytest.mark.parametrize("kind", KINDS)
def test_batches_equal_single_images(kind):
    made = [retinaface_case(seed, kind, config="blazeface", size=(128, 128)) for seed in range(3)]
    rf, q = made[0][0], made[0][4]
    conf, loc, landms = (np.stack([m[i] for m in made]) for i in (1, 2, 3))
    if q is not None:  # one quantization for the whole batch
        conf, loc, landms = (np.stack([made[0][i]] * 3) for i in (1, 2, 3))
    batch = rf.postprocess(conf, loc, landms, quantization=q)
    gold = rf.postprocess(conf, loc, landms, quantization=q, backend="golden")
    assert len(batch) == len(gold) == 3
    for i, det in enumerate(batch):
        one = rf.postprocess(conf[i], loc[i], landms[i], quantization=q)
        for name in det.fixed:
            assert np.array_equal(det.fixed[name], one.fixed[name])
            assert np.array_equal(det.fixed[name], gold[i].fixed[name])


# -- known answer ------------------------------------------------------------------------------------------------------


def test_known_answer():
    """A 32x32 input, one 16-pixel prior per cell of a 2x2 map: decode and the "+1 pixel" suppression by hand."""
    rf = ultrapost.RetinaFace((32, 32), min_sizes=((16,),), steps=(16,), score_threshold=0.5, iou_threshold=0.4)
    assert np.allclose(
        rf.priors, [[0.25, 0.25, 0.5, 0.5], [0.75, 0.25, 0.5, 0.5], [0.25, 0.75, 0.5, 0.5], [0.75, 0.75, 0.5, 0.5]]
    )
    conf = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.1, 0.9]], np.float32)
    loc = np.zeros((4, 4), np.float32)
    landms = np.zeros((4, 10), np.float32)
    loc[1] = [1.0, -1.0, 0.0, 0.0]  # cx = 0.75 + 1 * 0.1 * 0.5 = 0.8, cy = 0.2, w = h = 0.5
    landms[1, :2] = [2.0, -4.0]  # (0.75 + 2 * 0.05, 0.25 - 4 * 0.05) = (0.85, 0.05)
    # anchor 3 (score 0.9) keeps its prior box [0.5, 0.5, 1, 1]; anchor 2 (same row) moves right to 7 px from it:
    # 16-px boxes 7 px apart have IoU 144 / 368 = 0.391 with plain areas, 170 / 408 = 0.417 with "+1 pixel" areas
    loc[2] = [5.625, 0.0, 0.0, 0.0]  # cx = 0.25 + 5.625 * 0.05 = 0.53125: 7 px left of anchor 3's 0.75
    for backend in ("c", "golden"):
        det = rf.postprocess(conf, loc, landms, backend=backend)
        assert det.anchors.tolist() == [3, 1]  # 2 suppressed by 3, 0 below the threshold
        assert np.allclose(det.boxes[1], [0.55, -0.05, 1.05, 0.45], atol=2**-19)
        assert np.allclose(det.landmarks[1, 0], [0.85, 0.05], atol=2**-19)
        assert np.allclose(det.landmarks[1, 1:], [0.75, 0.25], atol=2**-19)
        assert np.allclose(det.scores, [0.9, 0.8], atol=2**-29)
    plain = ultrapost.RetinaFace(
        (32, 32), min_sizes=((16,),), steps=(16,), score_threshold=0.5, iou_threshold=0.4, pixel_size=None
    )
    assert plain.postprocess(conf, loc, landms).anchors.tolist() == [3, 1, 2]


# -- float64 reference -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config, size", [("slim", (320, 240)), ("blazeface", (128, 128))])
@pytest.mark.parametrize("nms", NMS_KINDS)
def test_fixed_point_keeps_the_reference_decisions(config, size, nms):
    """float32 synthetic heads: the same kept anchors in the same order as the float64 reference, landmarks and
    boxes within 1/16 pixel at the input size. Gaussian soft-NMS decays every overlapping score, so two decayed
    scores closer than its rounding (measured: up to 3e-5 apart) may come out swapped: there the kept set must be
    the same and every anchor out of place must have a reference score within 2e-4 of the one in its place. Scores
    within 1e-4, 2e-4 for Gaussian decays compounded over up to 200 outputs (measured 1.05e-4)."""
    px = np.array(size, dtype=np.float64)
    score_tol = 2e-4 if nms == "soft-gaussian" else 1e-4
    for seed in range(10):
        rf, conf, loc, landms, _ = retinaface_case(
            seed, "f32", config=config, size=size, nms=nms, candidate_limit=200 if nms != "hard" else 2000
        )
        c, r = rf.postprocess(conf, loc, landms), rf.reference(conf, loc, landms)
        assert len(r) > 0
        if nms == "soft-gaussian":
            assert sorted(c.anchors.tolist()) == sorted(r.anchors.tolist())
            where = {a: i for i, a in enumerate(r.anchors.tolist())}
            order = np.array([where[a] for a in c.anchors.tolist()], dtype=np.int64)
            assert np.abs(r.scores[order] - r.scores).max(initial=0) < score_tol
            r = reference_rows(r, order)
        else:
            assert c.anchors.tolist() == r.anchors.tolist()
        assert np.abs((c.landmarks - r.landmarks) * px).max(initial=0) < 1 / 16
        assert np.abs((c.boxes - r.boxes) * np.tile(px, 2)).max(initial=0) < 1 / 16
        assert np.abs(c.scores - r.scores).max(initial=0) < score_tol


def reference_rows(det, order):
    return ultrapost.Detections(det.boxes[order], det.scores[order], det.anchors[order], landmarks=det.landmarks[order])


@pytest.mark.parametrize("kind", ["s8", "i32"])
def test_integer_inputs_keep_the_reference_decisions(kind):
    for seed in range(6):
        rf, conf, loc, landms, q = retinaface_case(seed, kind, config="slim", size=(160, 120))
        c, r = rf.postprocess(conf, loc, landms, quantization=q), rf.reference(conf, loc, landms, quantization=q)
        assert c.anchors.tolist() == r.anchors.tolist()
        assert np.abs((c.landmarks - r.landmarks) * [160, 120]).max(initial=0) < 1 / 16


def test_reference_is_retinaface_detect_py():
    """The default pipeline against a transcription of RetinaFace's detect.py on input pixels: softmax column 1,
    ``p > t``, the 2000 best, py_cpu_nms (+1 pixel areas), keep 1000; the same anchors in the same order."""
    for seed in range(8):
        rf, conf, loc, landms, _ = retinaface_case(seed, "f32", config="slim", size=(320, 240))
        w, h = rf.input_size
        p = conf[:, 1].astype(np.float64)
        boxes = reference.decode_deltas(loc, rf.priors) * [w, h, w, h]
        inds = np.flatnonzero(p > rf.score_threshold)
        order = inds[np.argsort(-p[inds], kind="stable")][:2000]
        keep = reference.py_cpu_nms(np.hstack([boxes[order], p[order, None]]), rf.iou_threshold)[:1000]
        expected = order[keep]
        assert rf.reference(conf, loc, landms).anchors.tolist() == expected.tolist()
        assert rf.postprocess(conf, loc, landms).anchors.tolist() == expected.tolist()


# -- errors ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"steps": ()}, ValueError, "steps must not be empty"),
        ({"steps": (8, 16)}, ValueError, "min_sizes has 4 levels but steps has 2"),
        ({"min_sizes": ((10,), ()), "steps": (8, 16)}, ValueError, "positive"),
        ({"steps": (8, 0, 32, 64)}, ValueError, "positive"),
        ({"steps": "abc"}, TypeError, "steps must be a sequence"),
        ({"score_threshold": 1.01}, ValueError, "score_threshold"),
        ({"nms": "fast"}, ValueError, "nms must be one of"),
        ({"score_test": "=>"}, ValueError, "score_test"),
        ({"num_landmarks": 9}, ValueError, "num_landmarks"),
        ({"pixel_size": (0, 1)}, ValueError, "pixel_size"),
        ({"nms": "soft-gaussian", "soft_sigma": 0.0}, ValueError, "soft_sigma"),
    ],
)
def test_bad_configs(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        ultrapost.RetinaFace(**kwargs)


def test_bad_inputs():
    rf, conf, loc, landms, _ = retinaface_case(0, "f32", config="slim", size=(160, 120))
    n = rf.num_anchors
    with pytest.raises(ValueError, match=f"conf has {n - 1} rows but the config has {n} anchors"):
        rf.postprocess(conf[:-1], loc, landms)
    with pytest.raises(ValueError, match=f"landms has {n - 1} rows"):
        rf.postprocess(conf, loc, landms[:-1])
    with pytest.raises(ValueError, match="landms must have 10 columns"):
        rf.postprocess(conf, loc, landms[:, :8])
    with pytest.raises(TypeError, match="same dtype"):
        rf.postprocess(conf, loc, landms.astype(np.int32))
    with pytest.raises(ValueError, match="int8 inputs need quantization"):
        rf.postprocess(conf.astype(np.int8), loc.astype(np.int8), landms.astype(np.int8))
    with pytest.raises(TypeError, match="landms_scale"):
        rf.postprocess(
            conf.astype(np.int8), loc.astype(np.int8), landms.astype(np.int8), quantization=((1 / 256, -128), (0.1, 0))
        )
    with pytest.raises(ValueError, match="inputs with a batch of 2"):
        rf.postprocess(np.stack([conf, conf]), loc, landms)
    bad = landms.copy()
    bad[5, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf in landms"):
        rf.postprocess(conf, loc, bad)
    with pytest.raises(ValueError, match="NaN or Inf"):
        rf.postprocess(conf, loc, bad, backend="golden")
    with pytest.raises(ValueError, match="landms contains NaN"):
        rf.reference(conf, loc, bad)
    with pytest.raises(ValueError, match="unknown RetinaFace config"):
        ultrapost.RetinaFace.model("mobilenet-0.25")
    with pytest.raises(ValueError, match="trained priors"):
        ultrapost.RetinaFace.preset("predict")
    with pytest.raises(ValueError, match="unknown preset"):
        ultrapost.RetinaFace.preset("darknet")
