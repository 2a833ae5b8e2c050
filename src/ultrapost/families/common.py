"""What every family's post-processor shares: input checks and views the C can read, the per-family config
cache, and the C batch call with NaN / Inf named."""

from __future__ import annotations

import numpy as np

from ultrapost.core import prepare
from ultrapost.core._core import Core
from ultrapost.core.config import NMS_KINDS

BACKENDS = ("c", "golden")
KIND_OF_DTYPE = {np.dtype(np.float32): "f32", np.dtype(np.int8): "s8", np.dtype(np.int32): "i32"}


def cached_config(family, key, kind: str, quantization, build, register=None):
    """A family's (FixedConfig, C Core) for key: built once (``build()`` returns the FixedConfig), checked by the C,
    cached in ``family._configs``; ``register(core)`` runs once, when the core is new."""
    hit = family._configs.get(key)
    if hit is not None:
        return hit
    if kind != "s8" and quantization is not None:
        raise ValueError(f"quantization is only for int8 inputs; got {kind} inputs with quantization")
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
    item = x.itemsize
    if (
        x.strides[-1] != item
        or x.strides[-2] < cols * item
        or x.strides[-2] % item
        or not x.flags.aligned
        or (batch and (x.strides[0] < 0 or x.strides[0] % item))
    ):
        x = np.ascontiguousarray(x)
    return x


def batch_size(*arrays) -> int:
    """B when any array is 3-D with a leading batch of B > 1 (all 3-D arrays must agree), else 0."""
    sizes = {a.shape[0] for a in arrays if isinstance(a, np.ndarray) and a.ndim == 3}
    big = {b for b in sizes if b != 1}
    if not big:
        return 0
    if len(sizes) > 1 or any(isinstance(a, np.ndarray) and a.ndim != 3 for a in arrays if a is not None):
        names = ", ".join(str(a.shape) for a in arrays if isinstance(a, np.ndarray))
        raise ValueError(f"inputs with a batch of {max(big)} must all be [B, N, C] with the same B, got {names}")
    return big.pop()


def check_nms(nms: str) -> str:
    if nms not in NMS_KINDS:
        raise ValueError(f"nms must be one of {tuple(NMS_KINDS)}, got {nms!r}")
    return nms


def check_score_test(score_test: str) -> bool:
    if score_test not in (">", ">="):
        raise ValueError(f"score_test must be '>' or '>=', got {score_test!r}")
    return score_test == ">="


def run_batch(core, s, b, k=None) -> list[dict]:
    """core.run_batch with a NaN / Inf status named after the tensor that holds it."""
    try:
        return core.run_batch(s, b, k)
    except ValueError as exc:
        if "NaN" in str(exc):
            for name, arr in (("scores", s), ("boxes", b), ("keypoints", k)):
                if arr is not None and not np.isfinite(arr).all():
                    raise ValueError(f"NaN or Inf in {name}") from None
        raise


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
