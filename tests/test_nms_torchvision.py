"""ultrapost.nms against torchvision.ops.nms and batched_nms, where torchvision is installed.

torchvision's conventions: no score threshold (score_threshold=None, the default), xyxy corners, float32 IoU
(inter / (area_i + area_j - inter), suppress when above the threshold). Its sort does not promise index order for
equal scores, so the generated scores are distinct. Where torchvision and ultrapost disagree, the test shows
ultrapost equals exact rational arithmetic and torchvision equals the same greedy loop fed with its float32 IoU.
"""

from __future__ import annotations

import numpy as np
import pytest
from nms_exact import exact_exceeds, exact_nms, fractions_xyxy

from ultrapost import nms

torchvision = pytest.importorskip(
    "torchvision", reason="torchvision is not installed; this comparison runs where it is (pip install torchvision)"
)
torch = pytest.importorskip("torch", reason="torch is not installed")


def torchvision_iou_f32(a, b, t) -> bool:
    """torchvision's CPU nms_kernel on float32 values: suppress when inter / (area_a + area_b - inter) > t."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    w = max(np.float32(0), min(a[2], b[2]) - max(a[0], b[0]))
    h = max(np.float32(0), min(a[3], b[3]) - max(a[1], b[1]))
    inter = np.float32(w * h)
    return bool(np.float32(inter / np.float32(area_a + area_b - inter)) > np.float32(t))


def _set(rng):
    n = int(rng.integers(1, 80))
    if rng.random() < 0.5:
        lo = rng.integers(0, 40, (n, 2)).astype(np.float32)
        size = rng.integers(1, 20, (n, 2)).astype(np.float32)
    else:
        lo = (np.round(rng.uniform(0, 1000, (n, 2)) * 16) / 16).astype(np.float32)
        size = (np.round(rng.uniform(5, 200, (n, 2)) * 16) / 16).astype(np.float32)
    boxes = np.concatenate([lo, lo + size], 1).astype(np.float32)
    scores = rng.permutation(n).astype(np.float32) / n + np.float32(0.5 / n)  # distinct
    return boxes, scores


@pytest.mark.parametrize("batched", [False, True])
def test_torchvision_generated_sets(batched):
    rng = np.random.default_rng(21 + batched)
    differ = 0
    for _ in range(200):
        boxes, scores = _set(rng)
        t = float(np.float32(rng.choice([0.3, 0.4, 0.5, 0.7, rng.random()])))
        classes = rng.integers(0, 3, len(boxes)) if batched else None
        tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
        if batched:
            peer = torchvision.ops.batched_nms(tb, ts, torch.from_numpy(classes), t).numpy().astype(np.int64)
        else:
            peer = torchvision.ops.nms(tb, ts, t).numpy().astype(np.int64)
        got = nms(boxes, scores, t, classes=classes)
        exact = exact_nms(fractions_xyxy(boxes), scores, exact_exceeds(t), classes=classes)
        np.testing.assert_array_equal(got, exact)
        if not np.array_equal(peer, exact):
            differ += 1

            def f32_rule(i, j, boxes=boxes, t=t):
                return torchvision_iou_f32(boxes[i], boxes[j], t)

            np.testing.assert_array_equal(peer, exact_nms(None, scores, f32_rule, classes=classes))
    assert differ <= 10, differ
