"""Input checks shared by the float64 reference: a clear exception naming what was wrong."""

from __future__ import annotations

import numbers

import numpy as np


def float_array(value, name: str, *, ndim: int, cols: int | None = None) -> np.ndarray:
    """A finite float64 copy of a float array of the given rank (a leading batch axis of 1 is dropped)."""
    arr = np.asarray(value)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array, got dtype {arr.dtype} (dequantize integer tensors first)")
    if arr.ndim == ndim + 1 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != ndim or (cols is not None and arr.shape[-1] != cols):
        want = "[N]" if ndim == 1 else f"[N, {cols if cols is not None else 'C'}]"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return arr


def real(value, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def count(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int or None, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)
