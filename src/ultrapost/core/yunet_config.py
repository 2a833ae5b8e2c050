"""YuNet's prepared config: a Python mirror of ``up_yunet_config_t`` (csrc/ultrapost.h), and the one place where
YuNet's float parameters become integers and tables.

Every decision is OpenCV's float32 one made exact in integers:

- score test ``!(sqrtf(cls * obj) < t)``: sqrtf only grows with its argument, so it is "the float32 bits of
  ``cls * obj`` above ``product_bound``", the bits below the smallest product whose root reaches ``t``;
- NMSBoxes' second, strict test ``score > t``: "the score's float32 bits above ``bits(t)``";
- the NMS overlap ``1.f - (float)(1.0 - I / U) > t`` grows with I / U, so it is "the double I / U above the largest
  double whose overlap is kept": ``I / U`` against the midpoint between that double and the next one (``m / 2^e``),
  at the midpoint itself as round-to-nearest-even rounds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ultrapost.core.config import INPUT_F32, INPUT_S8

STRIDES = (8, 16, 32)
LEVELS = len(STRIDES)
NUM_KPS = 10
Q_PIXEL = 12
MAX_SIDE = 1 << 15
F32_ONE_BITS = 0x3F800000
INT32_MAX = 2**31 - 1
# |bbox| and |kps| values (cells) the Q20 decode holds
VALUE_LIMIT = 2048.0
OUTPUT_NAMES = tuple(f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES)


@dataclass(frozen=True, eq=False)
class YuNetConfig:
    """Every field of ``up_yunet_config_t``; tables are per-stride int32 [256] arrays (None for float32 inputs)."""

    input_kind: int
    pad_w: int
    pad_h: int
    product_bound: int
    nms_bound: int
    top_k: int
    max_detections: int
    lone_rule: bool
    iou_keep_all: bool
    iou_mid_inclusive: bool
    iou_mid_e: int
    iou_mid_m: int
    cls_lut: tuple | None = field(default=None, repr=False)
    obj_lut: tuple | None = field(default=None, repr=False)
    center_lut: tuple | None = field(default=None, repr=False)
    size_lut: tuple | None = field(default=None, repr=False)
    kps_lut: tuple | None = field(default=None, repr=False)

    @property
    def level_shapes(self) -> tuple[tuple[int, int], ...]:
        """(rows, cols) of each stride's grid."""
        return tuple((self.pad_h // s, self.pad_w // s) for s in STRIDES)

    @property
    def num_points(self) -> int:
        return sum(r * c for r, c in self.level_shapes)


def padded_size(width: int, height: int) -> tuple[int, int]:
    """FaceDetectorYN's padding: each side up to the next multiple of 32."""
    return ((width - 1) // 32 + 1) * 32, ((height - 1) // 32 + 1) * 32


def f32_bits(x) -> int:
    return int(np.array(x, dtype=np.float32).view(np.int32))


def _first_true(lo: int, hi: int, pred) -> int:
    """Smallest n in [lo, hi] with pred(n) (pred monotone, pred(hi) true)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def product_bound(threshold: float) -> int:
    """Bits of the largest float32 product whose sqrtf stays below float32(threshold) (-1: none)."""
    t = np.float32(threshold)

    def passes(bits: int) -> bool:
        return bool(np.sqrt(np.array(bits, dtype=np.int32).view(np.float32)) >= t)

    return _first_true(0, F32_ONE_BITS, passes) - 1


def _kept(q: float, t: np.float32) -> bool:
    """OpenCV's NMS keeps a pair whose double I / U is q: 1.f - (float)(1.0 - q) <= t."""
    return bool(np.float32(1.0) - np.float32(1.0 - q) <= t)


def iou_rule(nms_threshold: float) -> tuple[bool, bool, int, int]:
    """(keep_all, inclusive, e, m) of the exact NMS test (see the module's docstring)."""
    t = np.float32(nms_threshold)
    if _kept(1.0, t):
        return True, False, 0, 0
    one = int(np.array(1.0).view(np.int64))
    as_double = lambda bits: float(np.array(bits, dtype=np.int64).view(np.float64))  # noqa: E731
    # bits of non-negative doubles order like the values: the first double not kept, then the last kept
    last = _first_true(0, one, lambda b: not _kept(as_double(b), t)) - 1
    q, q_next = as_double(last), as_double(last + 1)
    mid = (Fraction(q) + Fraction(q_next)) / 2
    e = int(math.log2(mid.denominator))
    if mid.denominator != 1 << e or e > 100:
        raise ValueError(f"nms_threshold {nms_threshold!r} is outside the exact NMS test's range")
    return False, last % 2 == 0, e, mid.numerator


def dequantize_f32(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """onnxruntime's DequantizeLinear: float32 (q - zero_point) * float32 scale."""
    return (np.asarray(q, dtype=np.int32) - np.int32(zero_point)).astype(np.float32) * np.float32(scale)


def _levels_q() -> np.ndarray:
    return np.arange(-128, 128, dtype=np.int32)


def prob_lut(scale: float, zero_point: int) -> np.ndarray:
    """float32 bits of the dequantized probability of every int8 value, clamped to [0, 1] as OpenCV does."""
    v = np.clip(dequantize_f32(_levels_q(), scale, zero_point), np.float32(0), np.float32(1))
    return (v + np.float32(0)).view(np.int32).copy()  # + 0 turns -0.0 into 0.0


def _q20(values: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(values, dtype=np.float64) * (1 << 20) + 0.5)


def center_lut(scale: float, zero_point: int) -> np.ndarray:
    return _q20(dequantize_f32(_levels_q(), scale, zero_point)).astype(np.int32)


def size_lut(scale: float, zero_point: int) -> np.ndarray:
    """exp of each dequantized value in Q20, saturated to INT32_MAX (widths of 2048 strides and more)."""
    with np.errstate(over="ignore"):
        e = _q20(np.exp(dequantize_f32(_levels_q(), scale, zero_point).astype(np.float64)))
    return np.minimum(e, INT32_MAX).astype(np.int32)


def check_quant(q, name: str) -> tuple[float, int]:
    try:
        scale, zp = q
        scale = float(scale)
        zp = int(zp)
    except (TypeError, ValueError):
        raise TypeError(f"quantization of {name} must be (scale, zero_point), got {q!r}") from None
    if not (math.isfinite(scale) and scale > 0) or not -128 <= zp <= 127:
        raise ValueError(
            f"quantization of {name}: scale must be finite and > 0 and zero_point in [-128, 127], got {q!r}"
        )
    if name.startswith(("bbox", "kps")) and scale * max(127 - zp, zp + 128) > VALUE_LIMIT:
        raise ValueError(
            f"quantization of {name}: values reach {scale * max(127 - zp, zp + 128):g} cells, "
            f"beyond the +-{VALUE_LIMIT:g} the decode holds"
        )
    return scale, zp


def prepare(
    pad_w: int,
    pad_h: int,
    *,
    input_kind: int,
    score_threshold: float,
    nms_threshold: float,
    top_k: int,
    max_detections: int | None = None,
    lone_rule: bool = True,
    second_test: bool = True,
    quantization: dict | None = None,
) -> YuNetConfig:
    """The integer config of one padded input size and input kind (quantization: {name: (scale, zero_point)})."""
    for v, name in ((pad_w, "padded width"), (pad_h, "padded height")):
        if not 32 <= v <= MAX_SIDE or v % 32:
            raise ValueError(f"{name} must be a multiple of 32 in [32, {MAX_SIDE}], got {v}")
    n = sum((pad_w // s) * (pad_h // s) for s in STRIDES)
    top = n if top_k is None or top_k <= 0 else min(int(top_k), n)  # OpenCV: top_k <= 0 keeps all
    md = top if max_detections is None else int(max_detections)
    if not 1 <= md <= top:
        raise ValueError(f"max_detections must be in [1, {top}] (top_k and the points), got {max_detections}")
    keep_all, inclusive, e, m = iou_rule(nms_threshold)
    tables = {}
    if input_kind == INPUT_S8:
        if quantization is None:
            raise ValueError(
                "int8 YuNet outputs need quantization={name: (scale, zero_point)} for " + ", ".join(OUTPUT_NAMES)
            )
        missing = [k for k in OUTPUT_NAMES if k not in quantization]
        if missing:
            raise ValueError(f"quantization lacks {', '.join(missing)}")
        qs = {k: check_quant(quantization[k], k) for k in OUTPUT_NAMES}
        tables = dict(
            cls_lut=tuple(prob_lut(*qs[f"cls_{s}"]) for s in STRIDES),
            obj_lut=tuple(prob_lut(*qs[f"obj_{s}"]) for s in STRIDES),
            center_lut=tuple(center_lut(*qs[f"bbox_{s}"]) for s in STRIDES),
            size_lut=tuple(size_lut(*qs[f"bbox_{s}"]) for s in STRIDES),
            kps_lut=tuple(center_lut(*qs[f"kps_{s}"]) for s in STRIDES),
        )
    elif input_kind != INPUT_F32:
        raise ValueError(f"unknown YuNet input kind {input_kind!r}")
    return YuNetConfig(
        input_kind=input_kind,
        pad_w=int(pad_w),
        pad_h=int(pad_h),
        product_bound=product_bound(score_threshold),
        nms_bound=f32_bits(score_threshold) if second_test else -1,
        top_k=top,
        max_detections=md,
        lone_rule=bool(lone_rule),
        iou_keep_all=keep_all,
        iou_mid_inclusive=inclusive,
        iou_mid_e=e,
        iou_mid_m=m,
        **tables,
    )
