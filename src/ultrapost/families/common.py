"""What every family's post-processor shares: input checks and views the C can read, the per-family config
cache, and the C batch call with NaN / Inf named."""

from __future__ import annotations

import numpy as np

from ultrapost import golden
from ultrapost.core import prepare
from ultrapost.core._core import Core, set_range_error
from ultrapost.core.checks import check_choice
from ultrapost.core.config import NMS_KINDS
from ultrapost.golden.pipeline import range_error

set_range_error(range_error)  # the C path's out-of-range status named as the golden model names it

BACKENDS = ("c", "golden")
KIND_OF_DTYPE = {np.dtype(np.float32): "f32", np.dtype(np.int8): "s8", np.dtype(np.int32): "i32"}


def cached_config(family, key, kind: str, quantization, build, register=None):
    """A family's (FixedConfig, C Core) for key: built once (``build()`` returns the FixedConfig), checked by the C,
    cached in ``family._configs``; ``register(core)`` runs once, when the core is new."""
    if kind != "s8" and quantization is not None:
        raise ValueError(f"quantization is only for int8 inputs; got {kind} inputs with quantization")
    hit = family._configs.get(key)
    if hit is not None:
        return hit
    fc = build()
    hit = (fc, Core(fc))
    with family._lock:
        family._configs[key] = hit
        if register is not None:
            register(hit[1])
    return hit


def as_rows(x, name: str, n: int, cols: int, batch: bool = False) -> np.ndarray:
    """A [N, cols] view of x ([N, cols] or [1, N, cols]) that the C can read, converting only when it must;
    with ``batch``, a [B, N, cols] view of a 3-D x."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if isinstance(x, np.ma.MaskedArray):  # neither backend could honour the mask
        raise TypeError(f"{name} is a masked array; pass np.ma.filled({name}, value) or the plain data")
    if x.ndim == 3 and not batch:
        if x.shape[0] != 1:
            raise ValueError(f"{name} has a batch of {x.shape[0]}; pass one image at a time")
        x = x[0]
    want = 3 if batch else 2
    if x.ndim != want:
        shape = f"[B, N, {cols}]" if batch else f"[N, {cols}] or [1, N, {cols}]"
        raise ValueError(f"{name} must be {shape}, got shape {x.shape}")
    if x.shape[-2] != n:
        raise ValueError(f"{name} has {x.shape[-2]} rows but the config has {n} anchors")
    if x.shape[-1] != cols:
        raise ValueError(f"{name} must have {cols} columns, got {x.shape[-1]}")
    if x.dtype not in KIND_OF_DTYPE and x.dtype.newbyteorder("=") in KIND_OF_DTYPE:
        x = x.astype(x.dtype.newbyteorder("="))  # wrong-endian: convert
    if x.dtype not in KIND_OF_DTYPE:
        raise TypeError(f"{name} must be float32, int8 or int32 (fixed point), got {x.dtype}")
    if not x.flags.aligned:  # a copy, which numpy aligns (ascontiguousarray keeps a contiguous unaligned view)
        return np.array(x, order="C")
    item = x.itemsize
    # An axis of size 1 may have any stride (the binding ignores it); rows must not overlap or go backwards.
    bad_cols = cols > 1 and x.strides[-1] != item
    bad_rows = n > 1 and (x.strides[-2] < cols * item or x.strides[-2] % item)
    bad_batch = batch and x.shape[0] > 1 and (x.strides[0] < 0 or x.strides[0] % item)
    return np.ascontiguousarray(x) if bad_cols or bad_rows or bad_batch else x


def batch_size(*arrays) -> int | None:
    """B when any array is 3-D with a leading batch of B != 1 (all 3-D arrays must agree; B = 0 is an empty
    batch), else None."""
    sizes = {a.shape[0] for a in arrays if isinstance(a, np.ndarray) and a.ndim == 3}
    big = {b for b in sizes if b != 1}
    if not big:
        return None
    if len(sizes) > 1 or any(isinstance(a, np.ndarray) and a.ndim != 3 for a in arrays if a is not None):
        names = ", ".join(str(a.shape) for a in arrays if isinstance(a, np.ndarray))
        raise ValueError(f"inputs with a batch of {max(big)} must all be [B, N, C] with the same B, got {names}")
    return big.pop()


def check_nms(nms: str) -> str:
    return check_choice(nms, "nms", NMS_KINDS)


def check_score_test(score_test: str) -> bool:
    return check_choice(score_test, "score_test", (">", ">=")) == ">="


def run_outputs(backend, fc, core, s, b, k=None, names=("scores", "boxes", "keypoints")) -> list[dict]:
    """The output dicts of a batch ([B, N, C] arrays) from the C core or the golden model; a NaN / Inf error
    names the tensor that holds it as the caller named it (``names``), alike from both backends."""
    try:
        if backend == "golden":
            return [golden.run(fc, s[i], b[i], None if k is None else k[i]) for i in range(s.shape[0])]
        return core.run_batch(s, b, k)
    except ValueError as exc:
        if "NaN" in str(exc):
            for name, arr in zip(names, (s, b, k), strict=False):
                if arr is not None and arr.dtype.kind == "f" and not np.isfinite(arr).all():
                    raise ValueError(f"NaN or Inf in {name}") from None
        raise


def run_batch(core, s, b, k=None, names=("scores", "boxes", "keypoints")) -> list[dict]:
    """core.run_batch with a NaN / Inf status named after the tensor that holds it."""
    return run_outputs("c", None, core, s, b, k, names)


def split_quantization(quantization, names=("score", "box")):
    """Per-tensor int8 (scale, zero_point) pairs, one per name, each checked; a clear TypeError otherwise."""
    try:
        pairs = tuple(quantization)
    except TypeError:
        pairs = ()
    if len(pairs) != len(names):
        shape = ", ".join(f"({n}_scale, {n}_zp)" for n in names)
        raise TypeError(f"int8 quantization must be ({shape}), got {quantization!r}")
    return tuple(prepare.check_quantization(q, n) for q, n in zip(pairs, names, strict=True))
