"""ultrapost.nms's one-call path (``_core.nms_plain``: hard NMS of plain float32 / float64 xyxy arrays) gives the
indices the general path gives (the host preparation in ultrapost.core.boxes, then up_boxes_nms), and hands every
input it does not take as it is, and every error, to that path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ultrapost.core._core import nms_plain

import ultrapost
from ultrapost.core.boxes import prepare, run_c


def general(boxes, scores, iou, score_threshold):
    cfg, corners, keys, values, cls, g, vq = prepare(boxes, scores, iou, score_threshold, fast=False)
    return run_c(cfg, corners, keys, values, cls)[0].astype(np.int64)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float32, np.float64]),
    scale=st.sampled_from([1.0, 1e-3, 640.0, 1e6, 3e-30]),
    iou=st.one_of(st.sampled_from([0.0, 0.3, 0.5, 1.0, 1.5, 2]), st.floats(0, 1)),
    score_threshold=st.one_of(st.none(), st.sampled_from([0.0, 0.5, -1.0, 2])),
    ties=st.booleans(),
)
def test_plain_path_equals_the_general_path(n, seed, dtype, scale, iou, score_threshold, ties):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1, (n, 2))
    wh = rng.uniform(0.01, 0.3, (n, 2))
    boxes = (np.concatenate([xy, xy + wh], 1) * scale).astype(dtype)
    scores = rng.uniform(-1, 1, n).astype(dtype)
    if ties:
        scores = np.round(scores * 4) / 4
        boxes[n // 2 :] = boxes[: n - n // 2]
    keep = nms_plain(boxes, scores, iou, score_threshold)
    assert keep is not None and keep.dtype == np.int64
    assert np.array_equal(keep, general(boxes, scores, iou, score_threshold))
    assert np.array_equal(ultrapost.nms(boxes, scores, iou, score_threshold), keep)
    golden = ultrapost.nms(boxes, scores, iou, score_threshold, backend="golden")
    assert np.array_equal(golden, keep)


@pytest.mark.parametrize(
    "boxes, scores, iou, st_",
    [
        (np.zeros((3, 4), np.float32), np.zeros(3, np.float16), 0.5, None),  # another dtype
        (np.zeros((3, 4), np.float32)[::-1], np.zeros(3, np.float32), 0.5, None),  # a view with negative strides
        (np.zeros((3, 4), np.float32), np.zeros(3, np.float32), np.float32(0.5), None),  # a numpy scalar threshold
        (np.zeros((3, 4), np.float32), np.zeros(3, np.float32), 0.5, np.float64(0.1)),
        (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5, None),  # no boxes
        (np.zeros((3, 4), ">f4"), np.zeros(3, np.float32), 0.5, None),  # wrong-endian
        (np.zeros((3, 4), np.int32), np.zeros(3, np.float32), 0.5, None),  # integers
        (np.zeros((2, 3, 4), np.float32), np.zeros((2, 3), np.float32), 0.5, None),  # a batch
        (np.zeros((3, 4), np.float32), np.zeros(3, np.float32), True, None),
    ],
)
def test_inputs_the_plain_path_leaves_to_the_general_path(boxes, scores, iou, st_):
    assert nms_plain(boxes, scores, iou, st_) is None
    if iou is not True:  # the general path takes the others
        ultrapost.nms(boxes, scores, iou, st_)


def test_errors_come_from_the_general_path_with_its_message():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    bad = boxes.copy()
    bad[1, 2] = np.nan
    assert nms_plain(bad, scores, 0.5, None) is None
    with pytest.raises(ValueError, match=r"boxes must be finite, got nan at \(1, 2\)"):
        ultrapost.nms(bad, scores, 0.5)
    s = scores.copy()
    s[0] = np.inf
    with pytest.raises(ValueError, match="scores must be finite"):
        ultrapost.nms(boxes, s, 0.5)
    with pytest.raises(ValueError, match="iou_threshold must be >= 0"):
        ultrapost.nms(boxes, scores, -0.1)
    with pytest.raises(ValueError, match="iou_threshold must be finite"):
        ultrapost.nms(boxes, scores, float("nan"))
    tiny = np.array([[0, 0, 1e9, 1e9], [0, 0, 1e-3, 1e-3]], np.float64)  # a side lost beside 1e9 on the grid
    assert nms_plain(tiny, scores.astype(np.float64), 0.5, None) is None
    with pytest.raises(ValueError, match="too small to represent"):
        ultrapost.nms(tiny, scores, 0.5)
