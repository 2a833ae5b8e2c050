"""ultrapost.nms against ONNX NonMaxSuppression: the onnx package's own cases, its reference implementation and
onnxruntime on generated sets.

ONNX's conventions map onto switches: boxes [y1, x1, y2, x2] with corners in either diagonal order
(box_format="yxyx", any_corner_order=True) or center_point_box=1 (box_format="cxcywh"); max_output_boxes_per_class
per (batch, class): one call per score column. Where a peer differs, the test shows ultrapost equals exact rational
arithmetic and the peer equals the same greedy loop fed with its own float32 IoU.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the onnx package (the [models] extra) holds ONNX's cases")
from nms_exact import exact_exceeds, exact_nms, fractions_xyxy, onnx_iou_f32  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from ultrapost import nms  # noqa: E402


def _onnx_cases():
    import onnx.backend.test.case.node.nonmaxsuppression as mod

    cases = []
    saved = mod.expect
    mod.expect = lambda node, inputs, outputs, name, **kw: cases.append((node, inputs, outputs, name))
    try:
        for attr in dir(mod.NonMaxSuppression):
            if attr.startswith("export"):
                getattr(mod.NonMaxSuppression, attr)()
    finally:
        mod.expect = saved
    return cases


CASES = _onnx_cases()


def _center_point_box(node) -> int:
    for a in node.attribute:
        if a.name == "center_point_box":
            return int(helper.get_attribute_value(a))
    return 0


def ultrapost_onnx(boxes, scores, max_out, iou, score_t, center_point_box, backend="c"):
    """ONNX NonMaxSuppression's [K, 3] selected indices from one ultrapost.nms call per (batch, class)."""
    rows = []
    fmt = "cxcywh" if center_point_box else "yxyx"
    for b in range(boxes.shape[0]):
        for c in range(scores.shape[1]):
            keep = nms(
                boxes[b],
                scores[b, c],
                iou,
                score_t,
                max_output=max_out,
                box_format=fmt,
                any_corner_order=not center_point_box,
                backend=backend,
            )
            rows += [(b, c, int(i)) for i in keep]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def _args(inputs):
    boxes, scores = inputs[0], inputs[1]
    max_out = int(inputs[2][0]) if len(inputs) > 2 and inputs[2].size else 0
    iou = float(inputs[3][0]) if len(inputs) > 3 and inputs[3].size else 0.0
    score_t = float(inputs[4][0]) if len(inputs) > 4 and inputs[4].size else None
    return boxes, scores, max_out, iou, score_t


def test_onnx_has_its_cases():
    assert len(CASES) >= 10, [c[3] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c[3] for c in CASES])
def test_onnx_node_case(case):
    node, inputs, outputs, name = case
    boxes, scores, max_out, iou, score_t = _args(inputs)
    cpb = _center_point_box(node)
    expected = outputs[0]
    # the case's expected output is the onnx reference implementation's
    ref = ReferenceEvaluator(node).run(None, {n: v for n, v in zip(node.input, inputs, strict=True)})[0]
    np.testing.assert_array_equal(ref, expected)
    for backend in ("c", "golden"):
        got = ultrapost_onnx(boxes, scores, max_out, iou, score_t, cpb, backend)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, expected, err_msg=f"{name} ({backend})")


def _model(center_point_box: int, with_score: bool):
    names = ["boxes", "scores", "max_output_boxes_per_class", "iou_threshold"] + (
        ["score_threshold"] if with_score else []
    )
    node = helper.make_node("NonMaxSuppression", names, ["selected"], center_point_box=center_point_box)
    ins = [
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["B", "N", 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["B", "C", "N"]),
        helper.make_tensor_value_info("max_output_boxes_per_class", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("iou_threshold", TensorProto.FLOAT, [1]),
    ]
    if with_score:
        ins.append(helper.make_tensor_value_info("score_threshold", TensorProto.FLOAT, [1]))
    out = helper.make_tensor_value_info("selected", TensorProto.INT64, ["K", 3])
    graph = helper.make_graph([node], "nms", ins, [out])
    return node, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])


def _generated(rng, center_point_box: int):
    b, c, n = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 48))
    kind = rng.integers(3)
    if kind == 0:  # small integers: many exact IoU ties with the threshold
        lo = rng.integers(0, 24, (b, n, 2)).astype(np.float32)
        size = rng.integers(0, 16, (b, n, 2)).astype(np.float32)
    elif kind == 1:  # pixels on a 1/16 grid, clustered
        centers = rng.uniform(0, 600, (3, 2))
        lo = (centers[rng.integers(0, 3, (b, n))] + rng.normal(0, 12, (b, n, 2))) * 16
        lo = np.round(lo).astype(np.float32) / 16
        size = np.round(rng.uniform(20, 90, (b, n, 2)) * 16).astype(np.float32) / 16
    else:  # normalized float32 (off any coarse grid, still exact in the per-call grid)
        lo = rng.uniform(0, 0.8, (b, n, 2)).astype(np.float32)
        size = rng.uniform(0, 0.3, (b, n, 2)).astype(np.float32)
    if center_point_box:
        boxes = np.concatenate([lo + size / 2, size], axis=2).astype(np.float32)
    else:
        hi = (lo + size).astype(np.float32)
        yx_lo, yx_hi = lo[..., ::-1], hi[..., ::-1]
        flip = rng.random((b, n, 1)) < 0.3  # either diagonal order
        boxes = np.where(flip, np.concatenate([yx_hi, yx_lo], 2), np.concatenate([yx_lo, yx_hi], 2))
    scores = (
        rng.choice(np.linspace(0, 1, 21, dtype=np.float32), (b, c, n))
        if rng.random() < 0.5
        else (rng.random((b, c, n)).astype(np.float32))
    )
    iou = np.float32(rng.choice([0.0, 0.25, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 1.0, rng.random()]))
    if rng.random() < 0.3 and center_point_box == 0:  # large integer boxes, t at the float32 of one pair's IoU
        lo = rng.integers(0, 4000, (b, n, 2)).astype(np.float32)
        hi = lo + rng.integers(500, 3000, (b, n, 2)).astype(np.float32)
        boxes = np.concatenate([lo[..., ::-1], hi[..., ::-1]], 2)
        a, c2 = fractions_xyxy(boxes[0, :2], "yxyx") if n > 1 else (None, None)
        if a is not None:
            iw = min(a[2], c2[2]) - max(a[0], c2[0])
            ih = min(a[3], c2[3]) - max(a[1], c2[1])
            if iw > 0 and ih > 0:
                inter = iw * ih
                iou = np.float32(
                    float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (c2[2] - c2[0]) * (c2[3] - c2[1]) - inter))
                )
                scores[..., 0], scores[..., 1] = 1.0, 0.99  # the pair decides: the top two candidates
    score_t = None if rng.random() < 0.3 else np.float32(rng.choice([0.0, 0.3, 0.5, rng.random()]))
    max_out = int(rng.choice([0, 1, 3, n, 1000]))
    if scores.size and scores[0, 0, 0] == 1.0 and n > 1 and scores[0, 0, 1] == np.float32(0.99):
        score_t, max_out = None, n
    return boxes.astype(np.float32), scores.astype(np.float32), max_out, iou, score_t


def _explain(boxes, scores, max_out, iou, score_t, cpb, got, peer, what):
    """got equals exact arithmetic; peer equals the same greedy loop fed with ONNX's float32 IoU."""
    fmt = "cxcywh" if cpb else "yxyx"
    for b in range(boxes.shape[0]):
        corners = fractions_xyxy(boxes[b], fmt)
        if not cpb:
            corners = [(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)) for x1, y1, x2, y2 in corners]
        rows_b = boxes[b]

        def f32_rule(i, j, rows_b=rows_b):
            return onnx_iou_f32(rows_b[i], rows_b[j], iou, cpb)

        for c in range(scores.shape[1]):
            mine = got[(got[:, 0] == b) & (got[:, 1] == c), 2]
            theirs = peer[(peer[:, 0] == b) & (peer[:, 1] == c), 2]
            exact = exact_nms(corners, scores[b, c], exact_exceeds(float(iou)), score_t, max_output=max_out)
            np.testing.assert_array_equal(mine, exact, err_msg="ultrapost differs from exact arithmetic")
            if not np.array_equal(theirs, exact):
                f32 = exact_nms(None, scores[b, c], f32_rule, score_t, max_output=max_out)
                np.testing.assert_array_equal(theirs, f32, err_msg=f"{what}: not explained by float32 IoU")


@pytest.mark.parametrize("center_point_box", [0, 1])
def test_onnx_generated_sets(center_point_box):
    """ultrapost == exact on every set; ONNX's reference and onnxruntime equal it up to their float32 IoU."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime (the [models] extra)")
    rng = np.random.default_rng(160 + center_point_box)
    sessions = {}
    differ = {"onnx reference": 0, "onnxruntime": 0}
    for _ in range(150):
        boxes, scores, max_out, iou, score_t = _generated(rng, center_point_box)
        with_score = score_t is not None
        if with_score not in sessions:
            node, model = _model(center_point_box, with_score)
            sessions[with_score] = (
                ReferenceEvaluator(node),
                ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]),
            )
        ref, sess = sessions[with_score]
        feeds = {
            "boxes": boxes,
            "scores": scores,
            "max_output_boxes_per_class": np.array([max_out], np.int64),
            "iou_threshold": np.array([iou], np.float32),
        }
        if with_score:
            feeds["score_threshold"] = np.array([score_t], np.float32)
        st = None if score_t is None else float(score_t)
        got = ultrapost_onnx(boxes, scores, max_out, float(iou), st, center_point_box)
        for what, peer in (("onnx reference", ref.run(None, feeds)[0]), ("onnxruntime", sess.run(None, feeds)[0])):
            if not np.array_equal(got, peer):
                differ[what] += 1
            _explain(boxes, scores, max_out, iou, st, center_point_box, got, peer, what)
    # near-ties are made on purpose (t at a pair's float32 IoU): some differ, each explained above
    assert differ["onnx reference"] <= 40 and differ["onnxruntime"] <= 40, differ


def test_onnx_float32_iou_rounding_shown():
    """ONNX's float32 IoU rounds an exact IoU above t down to t: ONNX keeps the box, exact arithmetic suppresses it.

    [y1, x1, y2, x2] = [3219, 2747, 4561, 3857] and [3438, 2899, 4982, 4031]: inter = 1123 * 958 = 1075834,
    union = 1342 * 1110 + 1544 * 1132 - inter = 2161594, IoU = 537917 / 1080797 = 0.4977040091710...;
    t = float32(0.49770399928092957...) lies below it, and ONNX's float32 areas and quotient give exactly t.
    """
    from fractions import Fraction

    boxes = np.array([[3219, 2747, 4561, 3857], [3438, 2899, 4982, 4031]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    t = np.float32(0.49770399928092957)
    assert Fraction(1123 * 958, 1342 * 1110 + 1544 * 1132 - 1123 * 958) == Fraction(537917, 1080797)
    assert Fraction(537917, 1080797) > Fraction(float(t))  # exact: IoU > t, suppress
    assert onnx_iou_f32(boxes[0], boxes[1], t) is False  # ONNX's float32 rule: not above t, keep
    feeds = [boxes[None], scores[None, None], np.array([10], np.int64), np.array([t], np.float32)]
    node = helper.make_node("NonMaxSuppression", ["b", "s", "m", "i"], ["o"])
    assert ReferenceEvaluator(node).run(None, dict(zip("bsmi", feeds, strict=True)))[0][:, 2].tolist() == [0, 1]
    for backend in ("c", "golden"):
        assert nms(boxes, scores, float(t), box_format="yxyx", backend=backend).tolist() == [0]
