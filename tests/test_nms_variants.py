"""NMS variants, presets and batches: C == golden bit-exact, golden ~ float64 reference, presets against
independent float implementations of each reference's rule, and thread safety."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from conftest import require
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_core import assert_same

import ultrapost
from ultrapost import reference
from ultrapost.core.prepare import sigmoid
from ultrapost.families.cases import KINDS, make_case
from ultrapost.families.presets import PRESETS

NMS = ["hard", "blend", "weighted", "soft-linear", "soft-gaussian"]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.sampled_from([(64, 48), (128, 96), (160, 120), (96, 128)]),
    kind=st.sampled_from(KINDS),
    mode=st.sampled_from(["random", "ties", "all_pass", "none_pass", "extreme", "degenerate"]),
    decoded=st.booleans(),
    nms=st.sampled_from(NMS),
    pixel=st.booleans(),
    test=st.sampled_from([">", ">="]),
    clip=st.booleans(),
    limit=st.sampled_from([200, 1, 7, None]),
    max_det=st.sampled_from([None, 1, 5]),
    sigma=st.sampled_from([0.5, 0.05, 2.0]),
)
def test_every_nms_kind_c_equals_golden(seed, size, kind, mode, decoded, nms, pixel, test, clip, limit, max_det, sigma):
    pp, s, b, q = make_case(
        seed,
        size,
        kind,
        mode,
        decoded=decoded,
        clip=clip,
        candidate_limit=limit,
        max_detections=max_det,
        nms=nms,
        pixel_size=size if pixel else None,
        score_test=test,
        soft_sigma=sigma,
    )
    assert_same(pp, s, b, decoded=decoded, quantization=q)


@pytest.mark.parametrize("nms", NMS)
def test_fixed_point_keeps_the_reference_decisions(nms):
    """Float32 synthetic heads: same kept anchors in the same order as the float64 reference, boxes within
    4e-6 (hard, blend, weighted) and scores within 1e-4 (soft-NMS decays compound rounding). Gaussian soft-NMS may
    reorder decayed scores that differ by less than its error, so 18 of 20 must agree there."""
    agree = 0
    seeds = 60 if nms in NMS[:3] else 20  # the float soft-NMS reference is a slow plain loop
    for seed in range(seeds):
        pp, s, b, _ = make_case(seed, (160, 120), "f32", "random", nms=nms, pixel_size=(160, 120) if seed % 2 else None)
        c, r = pp.postprocess(s, b), pp.reference(s, b)
        if np.array_equal(c.anchors, r.anchors):
            agree += 1
            assert np.abs(c.boxes - r.boxes).max(initial=0) < (4e-6 if nms in NMS[:3] else 1e-4)
            assert np.abs(c.scores - r.scores).max(initial=0) < 1e-4
    assert agree >= (18 if nms == "soft-gaussian" else seeds)


def test_blend_and_weighted_known_answer():
    """Two overlapping boxes (IoU 0.6) and a far one; merged means by hand."""
    pp = ultrapost.Ultraface(
        (32, 32), score_threshold=0.5, iou_threshold=0.3, min_boxes=((16,),), strides=(8,), nms="weighted", eps=0.0
    )
    scores = np.zeros((16, 2), np.float32)
    boxes = np.zeros((16, 4), np.float32)
    scores[3], boxes[3] = [0.1, 0.9], [0.0, 0.0, 0.5, 0.5]
    scores[5], boxes[5] = [0.4, 0.6], [0.0, 0.125, 0.5, 0.625]  # IoU = 0.375 / 0.625 = 0.6
    scores[9], boxes[9] = [0.2, 0.8], [0.75, 0.75, 1.0, 1.0]
    for backend in ("c", "golden"):
        det = pp.postprocess(scores, boxes, decoded=True, backend=backend)
        assert det.anchors.tolist() == [3, 9]
        # y1 = (0.9 * 0 + 0.6 * 0.125) / 1.5 = 0.05; score = the top's, 0.9
        assert abs(det.boxes[0, 1] - 0.05) < 2e-5 and abs(det.scores[0] - 0.9) < 1e-7
    blend = ultrapost.Ultraface(
        (32, 32), score_threshold=0.5, iou_threshold=0.3, min_boxes=((16,),), strides=(8,), nms="blend", eps=0.0
    )
    det = blend.postprocess(scores, boxes, decoded=True)
    w = np.exp([0.9, 0.6]) / np.exp([0.9, 0.6]).sum()
    assert abs(det.boxes[0, 1] - w[1] * 0.125) < 2e-5 and abs(det.scores[0] - w @ [0.9, 0.6]) < 2e-5


# --- presets against independent float implementations of each reference ------------------------------------------


def _real_outputs(n_photos=6):
    path = require("int8/outputs_version-RFB-320_raw_int8.npz")
    d = np.load(path)
    names = [str(x) for x in d["names"]][:n_photos]
    sq = (float(d["scores_scale"]), int(d["scores_zero_point"]))
    bq = (float(d["boxes_scale"]), int(d["boxes_zero_point"]))
    out = []
    for name in names:
        s = reference.dequantize(d[f"{name}_scores_q"], *sq).astype(np.float32).reshape(-1, 2)
        b = reference.dequantize(d[f"{name}_boxes_q"], *bq).astype(np.float32).reshape(-1, 4)
        p = sigmoid(s[:, 1].astype(np.float64) - s[:, 0])
        out.append((name, np.stack([1 - p, p], 1).astype(np.float32), b))
    return out


def _synthetic_outputs(n=6):
    out = []
    for seed in range(n):
        _, s, b, _ = make_case(100 + seed, (320, 240), "f32", "random")
        out.append((f"synthetic{seed}", s, b))
    return out


def _scored(pp, s, b, clip=False):
    """float64 probabilities and decoded corners of an Ultraface head, as the reference ports compute them."""
    p = s[:, 1].astype(np.float64)
    corners = reference.decode_deltas(b, pp.priors)
    return p, (np.clip(corners, 0, 1) if clip else corners)


@pytest.mark.parametrize("source", ["real", "synthetic"])
def test_preset_predict_matches_hard_nms_of_predict(source):
    data = _real_outputs() if source == "real" else _synthetic_outputs()
    pp = ultrapost.Ultraface.preset("predict", input_size=(320, 240))
    for _, s, b in data:
        det = pp.postprocess(s, b)
        p, corners = _scored(pp, s, b)
        passed = np.flatnonzero(p > 0.7)
        kept = passed[reference.hard_nms(corners[passed], p[passed], 0.3, eps=1e-5, candidate_limit=200)]
        assert det.anchors.tolist() == kept.tolist()


@pytest.mark.parametrize("source", ["real", "synthetic"])
def test_preset_ncnn_matches_the_cpp_blending(source):
    data = _real_outputs() if source == "real" else _synthetic_outputs()
    pp = ultrapost.Ultraface.preset("ncnn", input_size=(320, 240))
    for _, s, b in data:
        det = pp.postprocess(s, b)
        p, corners = _scored(pp, s, b, clip=True)
        passed = np.flatnonzero(p > 0.7)
        px = corners[passed] * [320, 240, 320, 240]
        boxes, scores = reference.ncnn_nms(px, p[passed], 0.3, blending=True)
        assert len(det) == len(boxes)
        assert np.abs(det.to_pixels(320, 240) - boxes).max(initial=0) < 2e-3  # pixels
        assert np.abs(det.scores - scores).max(initial=0) < 2e-5


@pytest.mark.parametrize("source", ["real", "synthetic"])
def test_preset_mediapipe_matches_weighted_nms(source):
    data = _real_outputs() if source == "real" else _synthetic_outputs()
    pp = ultrapost.Ultraface.preset("mediapipe", input_size=(320, 240))
    for _, s, b in data:
        det = pp.postprocess(s, b)
        p, corners = _scored(pp, s, b)
        passed = np.flatnonzero(p >= 0.5)
        boxes, scores, _, top = reference.mediapipe_weighted_nms(corners[passed], p[passed], None, 0.3)
        assert det.anchors.tolist() == passed[top].tolist()
        assert np.abs(det.boxes - boxes).max(initial=0) < 1e-5
        assert np.array_equal(det.scores, det.fixed["scores"] / 2**30) and np.abs(det.scores - scores).max() < 1e-8


@pytest.mark.parametrize("source", ["real", "synthetic"])
def test_preset_retinaface_matches_py_cpu_nms(source):
    data = _real_outputs() if source == "real" else _synthetic_outputs()
    pp = ultrapost.Ultraface.preset("retinaface", input_size=(320, 240))
    for _, s, b in data:
        det = pp.postprocess(s, b)
        p, corners = _scored(pp, s, b)
        passed = np.flatnonzero(p > 0.3)
        top = passed[np.argsort(-p[passed], kind="stable")[:2000]]
        dets = np.concatenate([corners[top] * [320, 240, 320, 240], p[top, None]], 1)
        keep = reference.py_cpu_nms(dets, 0.4)[:1000]
        assert det.anchors.tolist() == top[keep].tolist()


@pytest.mark.parametrize("source", ["real", "synthetic"])
def test_preset_opencv_matches_nmsboxes(source):
    data = _real_outputs() if source == "real" else _synthetic_outputs()
    pp = ultrapost.Ultraface.preset("opencv", input_size=(320, 240))
    for _, s, b in data:
        det = pp.postprocess(s, b)
        p, corners = _scored(pp, s, b)
        rects = np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], 1)  # x, y, w, h
        keep = np.asarray(cv2.dnn.NMSBoxes(rects.tolist(), p.tolist(), 0.7, 0.3), dtype=np.int64).reshape(-1)
        assert det.anchors.tolist() == keep.tolist()


def test_presets_are_data():
    assert set(PRESETS) == {"predict", "ncnn", "mediapipe", "retinaface", "pytorch_retinaface", "opencv"}
    pp = ultrapost.Ultraface.preset("ncnn", input_size=(320, 240), score_threshold=0.6)
    assert pp.nms == "blend" and pp.clip and pp.pixel_size == (320, 240) and pp.score_threshold == 0.6
    with pytest.raises(ValueError, match="unknown preset 'tflite'"):
        ultrapost.Ultraface.preset("tflite")


# --- batches and threads ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("nms", ["hard", "blend", "soft-linear"])
def test_batch_equals_one_by_one(kind, nms):
    cases = [make_case(seed, (160, 120), kind, "random", nms=nms) for seed in range(5)]
    pp, _, _, q = cases[0]
    pp = ultrapost.Ultraface((160, 120), score_threshold=pp.score_threshold, iou_threshold=pp.iou_threshold, nms=nms)
    s = np.stack([c[1] for c in cases])
    b = np.stack([c[2] for c in cases])
    batch = pp.postprocess(s, b, quantization=q)
    assert isinstance(batch, list) and len(batch) == 5
    gold = pp.postprocess(s, b, quantization=q, backend="golden")
    for i, det in enumerate(batch):
        one = pp.postprocess(s[i], b[i], quantization=q)
        for name in ("boxes", "scores", "anchors"):
            assert np.array_equal(det.fixed[name], one.fixed[name])
            assert np.array_equal(det.fixed[name], gold[i].fixed[name])
    # a strided batch view gives the same results
    wide = np.zeros((5, s.shape[1], 3), s.dtype)
    wide[..., 1:] = s
    again = pp.postprocess(wide[..., 1:], b, quantization=q)
    assert all(np.array_equal(x.fixed["boxes"], y.fixed["boxes"]) for x, y in zip(again, batch, strict=True))


def test_bad_batches_are_named():
    pp = ultrapost.Ultraface((64, 48))
    s = np.zeros((3, pp.num_anchors, 2), np.float32)
    b = np.zeros((2, pp.num_anchors, 4), np.float32)
    with pytest.raises(ValueError, match="batch of 3"):
        pp.postprocess(s, b)
    with pytest.raises(ValueError, match="batch of 3"):
        pp.postprocess(s, b[0])


def test_threads_give_identical_results():
    """8 threads x 400 calls each over 4 configs (hard, blend, soft) and three input kinds, against one
    single-threaded run."""
    jobs = []
    for seed in range(12):
        nms = ("hard", "blend", "soft-gaussian", "weighted")[seed % 4]
        pp, s, b, q = make_case(seed, (128, 96), KINDS[seed % 3], "random", nms=nms)
        jobs.append((pp, s, b, q))
    expected = [pp.postprocess(s, b, quantization=q).fixed for pp, s, b, q in jobs]
    failures = []

    def worker(k):
        rng = np.random.default_rng(k)
        for _ in range(400):
            i = int(rng.integers(len(jobs)))
            pp, s, b, q = jobs[i]
            got = pp.postprocess(s, b, quantization=q).fixed
            if not all(np.array_equal(got[n], expected[i][n]) for n in expected[i]):
                failures.append(i)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# --- multi-class (background, face, masked face) ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("nms", ["hard", "blend", "soft-linear"])
def test_multiclass_c_equals_golden_and_reference(kind, nms):
    for seed in range(8):
        rng = np.random.default_rng(seed)
        pp = ultrapost.Ultraface((160, 120), class_thresholds=(0.6, 0.5), nms=nms, max_detections=[None, 3][seed % 2])
        n = pp.num_anchors
        p = rng.dirichlet([4.0, 1.0, 1.0], n)
        b = rng.normal(0, 1.5, (n, 4))
        q = None
        if kind == "f32":
            s, bb = p.astype(np.float32), b.astype(np.float32)
        elif kind == "i32":
            s, bb = np.floor(p * 2**30 + 0.5).astype(np.int32), np.floor(b * 2**20 + 0.5).astype(np.int32)
        else:
            q = ((1 / 256, -128), (0.05, 0))
            s = np.clip(np.round(p * 256) - 128, -128, 127).astype(np.int8)
            bb = np.clip(np.round(b / 0.05), -128, 127).astype(np.int8)
        c = assert_same(pp, s, bb, quantization=q)
        assert set(c.labels.tolist()) <= {1, 2} and (np.diff(c.labels) >= 0).all()
        if kind == "f32":
            r = pp.reference(s, bb)
            assert c.anchors.tolist() == r.anchors.tolist() and c.labels.tolist() == r.labels.tolist()
