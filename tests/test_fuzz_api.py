"""C against golden through the Python API, with hypothesis: random families, configs, input kinds, layouts, batches
and NaN. Either both backends return the same detections bit for bit (every field, dtype included) or both raise
the same exception type.

Bounded in time: a third of $ULTRAPOST_FUZZ_SECONDS (CI sets it; 8 s by default so a local run stays short), in
rounds of hypothesis searches with fresh seeds. For hours: ``ULTRAPOST_FUZZ_SECONDS=10800 python -m pytest -q
tests/test_fuzz_api.py`` (a failure prints the shrunk example and the hypothesis seed to reproduce it).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import ultrapost  # noqa: E402

NMS = ["hard", "blend", "weighted", "soft-linear", "soft-gaussian"]
LAYOUTS = ["c", "fortran", "wide", "unaligned", "reversed", "size1-stride", "swapped-bytes", "readonly"]
SECONDS = float(os.environ.get("ULTRAPOST_FUZZ_SECONDS", "8")) / 3


@st.composite
def postprocessor(draw):
    family = draw(st.sampled_from(["ultraface", "multiclass", "ultraslim", "blazeface", "retinaface"]))
    common = dict(
        nms=draw(st.sampled_from(NMS)),
        score_test=draw(st.sampled_from([">", ">="])),
        iou_threshold=draw(st.sampled_from([0.3, 0.45, 0.5, 0.9, 0.01])),
        candidate_limit=draw(st.sampled_from([None, 1, 7, 50, 200])),
        max_detections=draw(st.sampled_from([None, 1, 3, 20])),
    )
    if family in ("ultraface", "multiclass", "ultraslim"):
        size = draw(st.sampled_from([(64, 48), (40, 30), (96, 72), (128, 128)]))
        kw = dict(
            score_threshold=draw(st.sampled_from([0.5, 0.7, 0.3, 0.01, 0.99])),
            clip=draw(st.booleans()),
            pixel_size=draw(st.sampled_from([None, size])),
            **common,
        )
        if family == "multiclass":
            kw["class_thresholds"] = draw(st.sampled_from([(0.5, 0.6), (0.3,), (0.7, 0.2, 0.9)]))
        elif family == "ultraface":
            kw["logits"] = draw(st.booleans())
        if family == "ultraslim":
            kw["drop_finest_level"] = True
        return family, ultrapost.Ultraface(size, **kw)
    if family == "blazeface":
        size = draw(st.sampled_from([64, 128]))
        return family, ultrapost.BlazeFace(size, score_threshold=draw(st.sampled_from([0.5, 0.75, 0.1])), **common)
    size = draw(st.sampled_from([(64, 48), (48, 48)]))
    return family, ultrapost.RetinaFace(
        size, score_threshold=draw(st.sampled_from([0.3, 0.5, 0.8])), logits=draw(st.booleans()), **common
    )


def _columns(family, pp):
    """(name, columns, role) of each input tensor, role: "prob", "logit" or "value"."""
    if family == "ultraslim":
        return [("detections", 6, "slim")]
    if family == "blazeface":
        return [("classificators", 1, "logit"), ("regressors", 16, "value")]
    if family == "retinaface":
        return [("conf", 2, "logit" if pp.logits else "prob"), ("loc", 4, "value"), ("landms", 10, "value")]
    return [("scores", pp.num_classes, "logit" if pp.logits else "prob"), ("boxes", 4, "value")]


def _tensor(rng, n, cols, role, kind):
    """One image's tensor [n, cols] of the input kind: many values near the thresholds, some extremes."""
    if role == "slim":
        p = rng.uniform(0, 1, n)
        x = np.concatenate(
            [
                np.stack([1 - p, p], 1),
                np.sort(rng.uniform(-0.2, 1.2, (n, 4)).reshape(n, 2, 2), 1).transpose(0, 2, 1).reshape(n, 4),
            ],
            1,
        )
    elif role == "prob":
        x = rng.dirichlet(np.ones(cols), n) if cols > 1 else rng.uniform(0, 1, (n, 1))
    elif role == "logit":
        x = rng.normal(0, 3, (n, cols))
    else:
        x = rng.normal(0, 1.5, (n, cols))
    if rng.random() < 0.3:  # exact ties and repeated rows
        x[rng.integers(0, n, n // 3)] = x[rng.integers(0, n)]
    if kind == "f32":
        return x.astype(np.float32)
    if kind == "i32":
        q = 30 if role == "prob" else 20
        return np.floor(np.clip(x, -1000, 1000) * (1 << q) + 0.5).astype(np.int32)
    scale = 1 / 256 if role in ("prob", "slim") else 0.05
    zp = -128 if role in ("prob", "slim") else 0
    return np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)


def _quantization(family, kind):
    if kind != "s8":
        return None
    prob, value = (1 / 256, -128), (0.05, 0)
    if family == "ultraslim":
        return prob
    if family == "blazeface":
        return (value, value)
    if family == "retinaface":
        return (prob, value, value)
    return (prob, value)


def _layout(x, how, rng):
    """The same values in another memory layout the API accepts."""
    if how == "fortran":
        return np.asfortranarray(x)
    if how == "wide":  # rows inside a wider buffer (a row stride)
        buf = np.zeros((*x.shape[:-1], x.shape[-1] + 3), x.dtype)
        buf[..., 1 : 1 + x.shape[-1]] = x
        return buf[..., 1 : 1 + x.shape[-1]]
    if how == "unaligned" and x.itemsize > 1:
        raw = np.zeros(x.nbytes + 1, np.uint8)
        out = raw[1:].view(x.dtype).reshape(x.shape)
        out[...] = x
        return out
    if how == "reversed":  # a negative row stride over the same rows
        return np.ascontiguousarray(x[..., ::-1, :])[..., ::-1, :]
    if how == "size1-stride" and x.shape[-1] == 1:
        return np.lib.stride_tricks.as_strided(x.copy(), x.shape, (*x.strides[:-1], int(rng.integers(0, 64))))
    if how == "swapped-bytes":
        return x.astype(x.dtype.newbyteorder())
    if how == "readonly":
        y = x.copy()
        y.flags.writeable = False
        return y
    return x


def _call(pp, family, tensors, quantization, backend):
    if family == "ultraslim":
        return pp.postprocess(tensors[0], None, decoded=True, quantization=quantization, backend=backend)
    return pp.postprocess(*tensors, quantization=quantization, backend=backend)


def _outcome(pp, family, tensors, quantization, backend):
    try:
        got = _call(pp, family, tensors, quantization, backend)
    except (ValueError, TypeError) as exc:
        return type(exc)
    return [d.fixed for d in got] if isinstance(got, list) else got.fixed


def _same(a, b):
    if isinstance(a, type) or isinstance(b, type):
        return a is b
    if isinstance(a, list) != isinstance(b, list):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    made=postprocessor(),
    kind=st.sampled_from(["f32", "i32", "s8"]),
    batch=st.sampled_from([None, 1, 0, 2, 3]),
    layouts=st.lists(st.sampled_from(LAYOUTS), min_size=3, max_size=3),
    nan=st.sampled_from([False] * 4 + [True]),
    seed=st.integers(0, 2**32 - 1),
)
def _c_equals_golden(made, kind, batch, layouts, nan, seed):
    family, pp = made
    if family == "multiclass" and kind == "i32":
        kind = "f32"
    rng = np.random.default_rng(seed)
    tensors = []
    for (_name, cols, role), how in zip(_columns(family, pp), layouts, strict=False):
        images = [_tensor(rng, pp.num_anchors, cols, role, kind) for _ in range(max(batch or 1, 1))]
        x = images[0] if batch is None else np.stack(images)[:batch]
        if nan and kind == "f32" and x.size and rng.random() < 0.7:
            x = x.copy()
            x.reshape(-1)[int(rng.integers(0, x.size))] = np.nan
        tensors.append(_layout(x, how, rng))
    q = _quantization(family, kind)
    c = _outcome(pp, family, tensors, q, "c")
    g = _outcome(pp, family, tensors, q, "golden")
    assert _same(c, g), (
        family,
        pp,
        kind,
        batch,
        layouts,
        nan,
        c if isinstance(c, type) else "result",
        g if isinstance(g, type) else "result",
    )


def test_c_equals_golden_through_the_api():
    end = time.monotonic() + SECONDS
    rounds = 0
    while rounds == 0 or time.monotonic() < end:
        _c_equals_golden()
        rounds += 1
    print(f"hypothesis: {rounds} rounds of 25 examples in {SECONDS:.0f} s, C == golden")
