"""Checks of user-given options: one rule for every size, count and number a caller passes.

A value is checked for its type (TypeError naming the argument), then for being finite and in range (ValueError
naming it), before anything is allocated from it. numpy scalars count as the Python numbers they hold; ``bool``
is not a count; a float is not a count even when it is whole (2.0 would hide a unit mistake as well as 2.5).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

# Input sides beyond this are refused before their anchors are counted (no detector runs on a 65536-pixel side).
MAX_SIDE = 1 << 16


def check_count(value, name: str, *, lo: int = 1, hi: int | None = None, allow_none: bool = False) -> int | None:
    """An int (or numpy integer, not bool) in [lo, hi]; None passes when ``allow_none``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        what = "an int or None" if allow_none else "an int"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        span = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be {span}, got {v}")
    return v


def check_flag(value, name: str) -> bool:
    """True or False (a numpy bool too): bool("no") is True, so a string or a number is refused, not converted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_real(value, name: str) -> float:
    """A finite real number (int, float or numpy scalar; not bool, not a string)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return v


def check_choice(value, name: str, choices) -> str:
    """One of the strings in ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {tuple(choices)}, got {type(value).__name__} {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_input_size(value, name: str = "input_size") -> tuple[int, int]:
    """(width, height) from an int (square) or a pair of ints, each in [1, MAX_SIDE]."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        pair = (value, value)
    elif isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{name} must be an int or a (width, height) pair of ints, got {value!r}")
    else:
        pair = tuple(value)
    for v in pair:
        if not _is_int(v):
            raise TypeError(f"{name} must be an int or a (width, height) pair of ints, got {value!r}")
    w, h = int(pair[0]), int(pair[1])
    if w < 1 or h < 1:
        raise ValueError(f"{name} must be positive, got {(w, h)}")
    if w > MAX_SIDE or h > MAX_SIDE:
        raise ValueError(f"{name} sides are at most {MAX_SIDE}, got {(w, h)}")
    return w, h


def _is_int(v) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def check_levels(value, name: str) -> list[tuple[float, ...]]:
    """Prior sizes per level (``min_boxes``, ``min_sizes``): non-empty levels of positive finite numbers."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a sequence of levels, each a sequence of sizes, got {value!r}")
    levels = []
    for level in value:
        if isinstance(level, (str, bytes)) or not hasattr(level, "__iter__"):
            raise TypeError(f"{name} must be a sequence of levels, each a sequence of sizes, got {value!r}")
        sizes = tuple(check_real(m, name) for m in level)
        if not sizes or min(sizes) <= 0:
            raise ValueError(f"{name} must hold non-empty levels of positive sizes, got {value!r}")
        levels.append(sizes)
    return levels


def check_strides(value, name: str) -> list[int]:
    """Strides (``strides``, ``steps``): a non-empty sequence of positive ints."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a sequence of positive ints, got {value!r}")
    out = [check_count(s, name, lo=-(1 << 62)) for s in value]
    if any(s < 1 for s in out):
        raise ValueError(f"{name} must be positive, got {list(value)!r}")
    if any(s > MAX_SIDE for s in out):
        raise ValueError(f"{name} are at most {MAX_SIDE}, got {list(value)!r}")
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out


def check_anchors(value, name: str = "anchors") -> np.ndarray:
    """Anchors [N, 4] (cx, cy, w, h), normalized: finite, centers within [-1, 2], sizes in (0, 4]."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an [N, 4] array of numbers") from None
    if a.ndim != 2 or a.shape[1] != 4 or len(a) == 0:
        raise ValueError(f"{name} must be [N, 4] with N >= 1, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (NaN or Inf at row {int(np.argmin(np.isfinite(a).all(1)))})")
    if not ((a[:, :2] >= -1) & (a[:, :2] <= 2)).all():
        raise ValueError(f"{name} centers must lie in [-1, 2] (normalized to the input)")
    if not ((a[:, 2:] > 0) & (a[:, 2:] <= 4)).all():
        raise ValueError(f"{name} sizes must lie in (0, 4] (normalized to the input)")
    return a


def check_zero_point(value, what: str) -> int:
    """An int8 zero point: an integer in [-128, 127] (a whole float such as -128.0 is taken as that integer)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} quantization zero point must be an integer, got {value!r}")
    if isinstance(value, (numbers.Integral, np.integer)):
        v = int(value)
    elif isinstance(value, (numbers.Real, np.floating)):
        f = float(value)
        if not (math.isfinite(f) and f.is_integer()):
            raise ValueError(f"{what} quantization zero point must be an integer, got {value!r}")
        v = int(f)
    else:
        raise TypeError(f"{what} quantization zero point must be an integer, got {value!r}")
    if not -128 <= v <= 127:
        raise ValueError(f"{what} quantization zero point must be in [-128, 127], got {v}")
    return v


def check_image_side(value, name: str) -> float:
    """A width or height in pixels: a finite number > 0."""
    v = check_real(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be > 0 pixels, got {v!r}")
    return v
