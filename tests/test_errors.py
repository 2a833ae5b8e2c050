"""Bad input gets a clear exception naming the problem, from every backend; never a crash."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import ultrapost
from ultrapost.core import _core
from ultrapost.core.prepare import prepare
from ultrapost.families.cases import make_case

BACKENDS = ["c", "golden"]


@pytest.fixture(scope="module")
def case():
    pp, s, b, _ = make_case(3, (320, 240), "f32", "random")
    return pp, s, b


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "mutate, exc, words",
    [
        (lambda s, b: (s.astype(np.float64), b), TypeError, "float32, int8 or int32"),
        (lambda s, b: (s, b.astype(np.float16)), TypeError, "boxes must be float32"),
        (lambda s, b: (s.tolist(), b), TypeError, "numpy array"),
        (lambda s, b: (s[None, None], b), ValueError, "shape"),
        (lambda s, b: (s[:, :1], b), ValueError, "2 columns"),
        (lambda s, b: (s, b[:, :3]), ValueError, "4 columns"),
        (lambda s, b: (s[:-1], b[:-1]), ValueError, "4419 rows"),
        (lambda s, b: (np.stack([s, s]), b), ValueError, "batch of 2"),
        (lambda s, b: (s, b.astype(np.int8)), TypeError, "same dtype"),
        (lambda s, b: (s.astype(np.int8), b.astype(np.int8)), ValueError, "quantization"),
    ],
)
def test_bad_inputs(case, backend, mutate, exc, words):
    pp, s, b = case
    s2, b2 = mutate(s, b)
    with pytest.raises(exc, match=words):
        pp.postprocess(s2, b2, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("where", ["scores", "boxes"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_named(case, backend, where, bad):
    pp, s, b = case
    s, b = s.copy(), b.copy()
    (s if where == "scores" else b)[1234, 1] = bad
    with pytest.raises(ValueError, match="NaN or Inf"):
        pp.postprocess(s, b, backend=backend)
    with pytest.raises(ValueError, match=f"NaN or Inf in {where}"):
        pp.reference(s, b)


@pytest.mark.parametrize("where", ["scores", "boxes"])
@pytest.mark.parametrize("row", [0, 7, 8, 15, 16, 4415, 4416, 4419])  # SIMD steps of 8 and 16 anchors; the tail of 4
def test_every_float_is_checked(case, where, row):
    """The C path tests every element, of both score columns and of anchors that pass no score test,
    whether the tensors go straight to C or through a strided view."""
    pp, s, b = case
    for col in range(s.shape[1] if where == "scores" else 4):
        s2, b2 = s.copy(), b.copy()
        (s2 if where == "scores" else b2)[row, col] = np.nan
        with pytest.raises(ValueError, match="NaN or Inf"):
            pp.postprocess(s2, b2)
        wide_s = np.zeros((s.shape[0], 3), np.float32)
        wide_s[:, :2] = s2
        with pytest.raises(ValueError, match="NaN or Inf"):
            pp.postprocess(wide_s[:, :2], b2)
        wide_b = np.zeros((b.shape[0], 5), np.float32)
        wide_b[:, :4] = b2
        with pytest.raises(ValueError, match="NaN or Inf"):
            pp.postprocess(s2, wide_b[:, :4])


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_contiguous_and_wrong_endian_are_converted(case, backend):
    pp, s, b = case
    expected = pp.postprocess(s, b, backend=backend)
    wide = np.zeros((s.shape[0], 7), np.float32)
    wide[:, 1:3] = s
    fortran = np.asfortranarray(b)
    swapped = b.astype(b.dtype.newbyteorder(">"))
    reversed_rows = b[::-1][::-1]
    for s2, b2 in ((wide[:, 1:3], fortran), (s, swapped), (s[None], reversed_rows[None]), (s, b[:, ::-1][:, ::-1])):
        got = pp.postprocess(s2, b2, backend=backend)
        assert np.array_equal(got.fixed["boxes"], expected.fixed["boxes"])
        assert np.array_equal(got.anchors, expected.anchors)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"score_threshold": -0.0001}, ValueError, "score_threshold must be in"),
        ({"score_threshold": 1.0000001}, ValueError, "score_threshold must be in"),
        ({"score_threshold": float("nan")}, ValueError, "score_threshold must be in"),
        ({"iou_threshold": -0.1}, ValueError, "iou_threshold must be in"),
        ({"iou_threshold": 1.5}, ValueError, "iou_threshold must be in"),
        ({"score_threshold": "high"}, TypeError, "score_threshold must be a number"),
        ({"candidate_limit": 0}, ValueError, "candidate_limit"),
        ({"max_detections": 0}, ValueError, "max_detections"),
        ({"priors": "ncnn"}, ValueError, "priors must be one of"),
        ({"input_size": (0, 240)}, ValueError, "positive"),
        ({"input_size": "big"}, TypeError, "input_size"),
        ({"drop_finest_level": True, "min_boxes": ((10,),), "strides": (8,)}, ValueError, "no level"),
    ],
)
def test_bad_configs(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        ultrapost.Ultraface(**kwargs)


def test_bad_quantization():
    pp = ultrapost.Ultraface((128, 96))
    s = np.zeros((708, 2), np.int8)
    b = np.zeros((708, 4), np.int8)
    for q, words in [
        ((1.0, 0), "must be"),
        (((0, 0), (1, 0)), "scale must be a positive"),
        (((1, 300), (1, 0)), "zero point"),
        (((1, 0), None), "pair"),
    ]:
        with pytest.raises((TypeError, ValueError), match=words):
            pp.postprocess(s, b, quantization=q)
    with pytest.raises(ValueError, match="only for int8"):
        pp.postprocess(s.astype(np.float32), b.astype(np.float32), quantization=((1, 0), (1, 0)))
    with pytest.raises(ValueError, match="decoded=True"):
        ultrapost.Ultraface(128, drop_finest_level=True).postprocess(
            np.zeros((172, 6), np.int8), None, quantization=(1 / 255, -128)
        )
    with pytest.raises(ValueError, match="backend"):
        pp.postprocess(s, b, quantization=((1, 0), (1, 0)), backend="numpy")


def test_zero_anchors_and_inconsistent_configs_are_refused_by_c():
    fc, _ = ultrapost.Ultraface((64, 48)).config("f32", decoded=False)
    with pytest.raises(ValueError, match="zero anchors"):
        prepare(
            num_anchors=0,
            priors=None,
            input_kind="f32",
            decoded=True,
            logits=False,
            score_threshold=0.5,
            iou_threshold=0.5,
            candidate_limit=10,
            max_detections=None,
        )
    for change, words in [
        ({"num_anchors": 0}, "zero anchors"),
        ({"candidate_limit": fc.num_anchors + 1}, "inconsistent"),
        ({"max_detections": fc.candidate_limit + 1}, "inconsistent"),
        ({"iou_q16": fc.iou_q16 + 1}, "inconsistent"),
        ({"iou_q16": (1 << 16) + 1, "iou_num": 0, "iou_shift": 0}, "inconsistent"),
        ({"iou_num": (1 << 53) + 1}, "inconsistent"),
        ({"iou_shift": 1101}, "inconsistent"),
        ({"class_index": 2}, "inconsistent"),
        ({"var_size_q30": 0}, "inconsistent"),
    ]:
        bad = dataclasses.replace(fc, **change)
        with pytest.raises(ValueError, match=words):
            _core.Core(bad)
    with pytest.raises(ValueError, match="priors must be"):
        _core.Core(dataclasses.replace(fc, priors=fc.priors[:-1].copy()))
    with pytest.raises(TypeError, match="int32"):
        _core.Core(dataclasses.replace(fc, priors=fc.priors.astype(np.int64)))


def test_scratch_and_output_too_small_come_back_as_status(case):
    pp, s, b = case
    fc, core = pp.config("f32", decoded=False)
    assert _core.run_raw(core, s, b, core.scratch_bytes, fc.max_detections) == 0
    assert _core.run_raw(core, s, b, core.scratch_bytes - 1, fc.max_detections) == -3
    assert _core.run_raw(core, s, b, 0, fc.max_detections) == -3
    assert _core.run_raw(core, s, b, core.scratch_bytes, fc.max_detections - 1) == -4
    q8 = ((1 / 256, -128), (0.05, 0))
    fc8, core8 = pp.config("s8", decoded=False, quantization=q8)
    s8, b8 = s.astype(np.int8), b.astype(np.int8)
    portable = 4 * fc8.candidate_limit  # up_scratch_size: 4 bytes per candidate for hard NMS
    assert core8.scratch_bytes > portable  # the host adds room for its blocks of kept boxes
    assert _core.run_raw(core8, s8, b8, portable, fc8.max_detections) == 0
    assert _core.run_raw(core8, s8, b8, portable - 4, fc8.max_detections) == -3
    with pytest.raises(TypeError, match="int8"):
        core8.run(s, b)
    with pytest.raises(ValueError, match="rows"):
        core8.run(s8[:10], b8[:10])


# -- config checks of the 0.2 fields, at the Core (the C's up_check_config) --------------------------------------------


def _configs():
    """Checked configs to break: plain Ultraface, Gaussian soft-NMS, RetinaFace with landmarks (f32 and s8),
    and a three-class one with labels."""
    plain, _ = ultrapost.Ultraface((64, 48)).config("f32", decoded=False)
    gauss, _ = ultrapost.Ultraface((64, 48), nms="soft-gaussian").config("f32", decoded=False)
    rf = ultrapost.RetinaFace((64, 48))
    kp, _ = rf.config("f32")
    kp8, _ = rf.config("s8", ((1 / 256, -128), (0.05, 0), (0.05, 0)))
    labels, _ = ultrapost.Ultraface((64, 48), class_thresholds=(0.5, 0.6)).config("f32", decoded=False)
    return {"plain": plain, "gauss": gauss, "kp": kp, "kp8": kp8, "labels": labels}


@pytest.mark.parametrize(
    "which, change, words",
    [
        ("plain", {"pad_x_q20": -1}, "inconsistent"),
        ("plain", {"pad_y_q20": (1 << 20) + 1}, "inconsistent"),
        ("plain", {"logit_clip_q20": -1}, "inconsistent"),
        ("plain", {"soft_min_q30": -1}, "inconsistent"),
        ("plain", {"soft_min_q30": (1 << 30) + 1}, "inconsistent"),
        ("plain", {"nms_kind": 5}, "inconsistent"),
        ("plain", {"nms_kind": 255}, "inconsistent"),
        (
            "plain",
            {
                "nms_kind": 1,
                "candidate_limit": (1 << 15) + 1,
                "num_anchors": 1 << 16,
                "priors": np.zeros((1 << 16, 4), np.int32),
            },
            "inconsistent",
        ),
        ("gauss", {"soft_inv_sigma_q16": 0}, "inconsistent"),
        ("gauss", {"soft_inv_sigma_q16": -5}, "inconsistent"),
        ("gauss", {"soft_inv_sigma_q16": (1 << 24) + 1}, "inconsistent"),
        ("kp", {"num_keypoints": 9}, "inconsistent"),
        ("kp", {"num_keypoints": -1}, "inconsistent"),
        ("kp", {"box_kind": 1}, "inconsistent"),  # keypoints need priors: not with decoded corners
        ("kp8", {"keypoint_lut": None}, "NULL"),
        ("labels", {"num_labels": 3}, "inconsistent"),  # classes 1..3 of 3 columns
        ("labels", {"num_labels": -1}, "inconsistent"),
        ("labels", {"num_labels": 2**31 - 1}, "inconsistent"),
        ("labels", {"label_bounds": None}, "NULL"),
        ("labels", {"class_index": 2}, "inconsistent"),
    ],
)
def test_core_refuses_bad_extension_fields(which, change, words):
    fc = _configs()[which]
    with pytest.raises(ValueError, match=words):
        _core.Core(dataclasses.replace(fc, **change))


def test_core_checks_table_lengths_of_the_new_tables():
    cfgs = _configs()
    with pytest.raises(ValueError, match="keypoint_lut must have 256 entries"):
        _core.Core(dataclasses.replace(cfgs["kp8"], keypoint_lut=cfgs["kp8"].keypoint_lut[:255].copy()))
    with pytest.raises(ValueError, match="label_bounds must have 2 entries"):
        _core.Core(dataclasses.replace(cfgs["labels"], label_bounds=np.zeros(1, np.int32)))
    with pytest.raises(TypeError, match="int32"):
        _core.Core(dataclasses.replace(cfgs["labels"], label_bounds=np.zeros(2, np.int64)))
    # every config above is valid as made
    for fc in cfgs.values():
        _core.Core(fc)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"nms": "fast"}, ValueError, "nms must be one of"),
        ({"nms": "soft-gaussian", "soft_sigma": 0.0}, ValueError, "soft_sigma must be > 0"),
        ({"nms": "soft-gaussian", "soft_sigma": 1e-4}, ValueError, r"soft_sigma must be in \[1/256"),
        ({"nms": "soft-gaussian", "soft_sigma": "wide"}, TypeError, "soft_sigma must be a number"),
        ({"nms": "soft-linear", "soft_threshold": 1.5}, ValueError, "soft_threshold must be in"),
        ({"pixel_size": (0.5, 10)}, ValueError, "pixel_size must be at least 1 pixel"),
        ({"score_test": "=="}, ValueError, "score_test must be"),
        ({"class_thresholds": ()}, ValueError, "0 class thresholds do not fit"),
        ({"class_thresholds": (0.5, 1.5)}, ValueError, "class score_threshold must be in"),
        ({"class_thresholds": (0.5, 0.5), "logits": True}, ValueError, "class_thresholds need probability"),
    ],
)
def test_bad_extension_options(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        ultrapost.Ultraface((64, 48), **kwargs)


def test_unknown_presets_and_keypoint_limits():
    with pytest.raises(ValueError, match="unknown preset 'tflite'; presets: predict, ncnn"):
        ultrapost.Ultraface.preset("tflite")
    with pytest.raises(ValueError, match="unknown preset"):
        ultrapost.RetinaFace.preset("tflite")
    base = dict(
        num_anchors=12,
        priors=np.full((12, 4), 0.5),
        input_kind="f32",
        decoded=False,
        logits=False,
        score_threshold=0.5,
        iou_threshold=0.5,
        candidate_limit=None,
        max_detections=None,
    )
    with pytest.raises(ValueError, match=r"num_keypoints must be in \[0, 8\]"):
        prepare(**base, num_keypoints=9)
    with pytest.raises(ValueError, match="need raw .not decoded. boxes"):
        prepare(**{**base, "decoded": True}, num_keypoints=5)
    with pytest.raises(ValueError, match="3 class thresholds do not fit 3 score columns"):
        prepare(**base, num_classes=3, labels=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="nms must be one of"):
        prepare(**base, nms="greedy")
    with pytest.raises(ValueError, match="logit_clip must be in"):
        prepare(**base, logit_clip=-1.0)
    with pytest.raises(ValueError, match=r"num_landmarks must be in \[1, 8\]"):
        ultrapost.RetinaFace((64, 48), num_landmarks=0)
    with pytest.raises(TypeError, match="pixel_size must be a .width, height. pair"):
        ultrapost.RetinaFace((64, 48), pixel_size=320)
    with pytest.raises(ValueError, match="pixel_size must be at least 1 pixel"):
        ultrapost.RetinaFace((64, 48), pixel_size=(0, 48))


@pytest.mark.parametrize(
    "pixel_size, exc", [(320, TypeError), ((320,), ValueError), ((0, 240), ValueError), (("a", 240), TypeError)]
)
def test_bad_pixel_size_is_named(pixel_size, exc):
    with pytest.raises(exc, match="pixel_size"):
        ultrapost.Ultraface((320, 240), pixel_size=pixel_size)
