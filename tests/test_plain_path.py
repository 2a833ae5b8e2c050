"""The plain path: tensors exactly as models return them (float32, int32, int8 with quantization; one image or a
batch; BlazeFace, RetinaFace's three tensors or its packed output, Ultraface) go from ``postprocess`` to C and back
in one call, with no Python function run on the way, and give what the general path gives (the same integers, the
same landmarks) -- which the tests reach with inputs it cannot take as they are (a non-contiguous copy)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import ultrapost
from ultrapost.core.config import OutOfRangeError


def python_calls(fn) -> int:
    """Python-level function calls made while fn runs (C calls are not counted)."""
    calls = 0

    def prof(frame, event, arg):
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls - 1  # fn itself


def strided(x: np.ndarray) -> np.ndarray:
    """The same values in a non-contiguous array (every other row of a twice-as-long one): the general path."""
    big = np.zeros((x.shape[0], 2 * x.shape[1]) + x.shape[2:], x.dtype) if x.ndim == 3 else None
    if big is not None:
        big[:, ::2] = x
        return big[:, ::2]
    big = np.zeros((2 * x.shape[0],) + x.shape[1:], x.dtype)
    big[::2] = x
    return big[::2]


def same(a, b):
    assert len(a) == len(b)
    for name in a.fixed:
        assert np.array_equal(a.fixed[name], b.fixed[name]), name
        assert a.fixed[name].dtype == b.fixed[name].dtype
    if a.landmarks is None:
        assert b.landmarks is None
    else:
        assert np.array_equal(a.landmarks, b.landmarks) and a.landmarks.dtype == b.landmarks.dtype


def blazeface_inputs(seed, kind, batch=None):
    rng = np.random.default_rng(seed)
    bf = ultrapost.BlazeFace(128, score_threshold=0.5)
    n = bf.num_anchors
    shape = (n,) if batch is None else (batch, n)
    cls = rng.normal(-4, 3, shape + (1,)).astype(np.float32)
    reg = rng.normal(0, 6, shape + (16,)).astype(np.float32)
    reg[..., 2:4] = np.abs(reg[..., 2:4]) + 8
    q = None
    if kind == "s8":
        q = ((0.1, -20), (0.25, 3))
        cls = np.clip(np.round(cls / 0.1) - 20, -128, 127).astype(np.int8)
        reg = np.clip(np.round(reg / 0.25) + 3, -128, 127).astype(np.int8)
    elif kind == "i32":
        cls, reg = (np.round(x.astype(np.float64) * 2**20).astype(np.int32) for x in (cls, reg))
    return bf, cls, reg, q


@pytest.mark.parametrize("kind", ["f32", "s8", "i32"])
@pytest.mark.parametrize("batch", [None, 1, 3])
def test_blazeface_plain_path_is_one_call_and_equals_the_general_path(kind, batch):
    bf, cls, reg, q = blazeface_inputs(1, kind, batch)
    bf.postprocess(strided(cls), strided(reg), quantization=q)  # general path first (int8: registers its Core)
    got = bf.postprocess(cls, reg, quantization=q)
    want = bf.postprocess(strided(cls), strided(reg), quantization=q)
    if batch is not None and batch > 1:
        assert isinstance(got, list) and len(got) == batch
        for g, w in zip(got, want, strict=True):
            same(g, w)
    else:
        same(got, want)
        assert len(got) > 0
    assert python_calls(lambda: bf.postprocess(cls, reg, quantization=q)) == 0
    golden = bf.postprocess(cls, reg, quantization=q, backend="golden")
    for g, w in zip(
        got if isinstance(got, list) else [got], golden if isinstance(golden, list) else [golden], strict=True
    ):
        same(g, w)


def retinaface_inputs(seed, kind, batch=None):
    rng = np.random.default_rng(seed)
    rf = ultrapost.RetinaFace(input_size=(160, 160), logits=True, score_threshold=0.6)
    n = rf.num_anchors
    shape = (n,) if batch is None else (batch, n)
    packed = rng.normal(0, 1.5, shape + (16,)).astype(np.float32)
    packed[..., 5] += 1.0  # some faces pass
    q = None
    if kind == "s8":
        q = (0.08, 2)
        packed = np.clip(np.round(packed / 0.08) + 2, -128, 127).astype(np.int8)
    elif kind == "i32":
        packed = np.round(packed.astype(np.float64) * 2**20).astype(np.int32)
    return rf, packed, q


@pytest.mark.parametrize("kind", ["f32", "s8", "i32"])
@pytest.mark.parametrize("batch", [None, 1, 2])
def test_retinaface_packed_and_three_tensors_take_the_plain_path(kind, batch):
    rf, packed, q = retinaface_inputs(2, kind, batch)
    parts = [np.ascontiguousarray(packed[..., a:b]) for a, b in ((4, 6), (0, 4), (6, 16))]
    q3 = None if q is None else (q, q, q)
    for args, quant in (((packed,), q), (tuple(parts), q3)):
        rf.postprocess(*(strided(a) for a in args), quantization=quant)  # general path (int8: registers)
        got = rf.postprocess(*args, quantization=quant)
        want = rf.postprocess(*(strided(a) for a in args), quantization=quant)
        gl = got if isinstance(got, list) else [got]
        wl = want if isinstance(want, list) else [want]
        assert len(gl) == (1 if batch is None or batch == 1 else batch)
        for g, w in zip(gl, wl, strict=True):
            same(g, w)
        assert sum(len(g) for g in gl) > 0
        assert python_calls(lambda args=args, quant=quant: rf.postprocess(*args, quantization=quant)) == 0


def test_ultraface_int8_batches_take_the_plain_path():
    pp = ultrapost.Ultraface((128, 96), score_threshold=0.6)
    rng = np.random.default_rng(3)
    s = rng.integers(-128, 128, (3, pp.num_anchors, 2), dtype=np.int8)
    b = rng.integers(-128, 128, (3, pp.num_anchors, 4), dtype=np.int8)
    q = ((1 / 256, -128), (0.05, 0))
    want = pp.postprocess(strided(s), strided(b), quantization=q)
    got = pp.postprocess(s, b, quantization=q)
    for g, w in zip(got, want, strict=True):
        same(g, w)
    assert python_calls(lambda: pp.postprocess(s, b, quantization=q)) == 0


def test_plain_path_errors_are_named_as_the_general_path_names_them():
    bf, cls, reg, _ = blazeface_inputs(4, "f32")
    cls[7, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf in classificators"):
        bf.postprocess(cls, reg)
    rf, packed, _ = retinaface_inputs(5, "f32")
    packed[3, 9] = 5000.0  # a landmark value beyond the float32 range of Q20
    with pytest.raises(OutOfRangeError, match="5000"):
        rf.postprocess(packed)
