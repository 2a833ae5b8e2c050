"""The host side of the pre-processing stage: every float becomes an integer table here, once per frame size.

Filter tables follow each reference's own double-precision rules, so the integer passes in the C (and in the golden
twin) reproduce the reference byte for byte:

- ``pil_taps``: Pillow's ``precompute_coeffs`` + ``normalize_coeffs_8bpc`` for the bilinear filter (support 1,
  widened by the scale when shrinking; weights normalized in double, then ``(int)(0.5 + w * 2^22)``).
- ``cv2_taps``: OpenCV's ``interpolationLinear`` of ``resize_bitExact`` (source position ``(x + 0.5) / s - 0.5``
  in double with ``s = dst / src``, weight ``round_half_even(frac * 256)``; outside the image, the edge pixel).
- ``nearest_taps``: OpenCV's INTER_NEAREST_EXACT as its current wheels compute it, equal to Pillow's NEAREST.

Output tables: int8/uint8 bytes ``clip(round_half_even(((x - mean) / std) / scale) + zero_point)`` in float64, the
same rule as ``preprocess.normalize``; float32 words are the bit patterns of ``float32((x - mean) / std)`` computed in
float64 (numpy's result for that expression, then cast), so the C copies 32-bit words and stays integer only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PIXEL_FORMATS = ("RGB888", "BGR888", "RGBA8888", "GRAY8", "RGB565", "YUYV")
INTERPOLATIONS = ("pil", "cv2", "nearest")
LAYOUTS = ("NHWC", "NCHW")
BYTES_PER_PIXEL = {"RGB888": 3, "BGR888": 3, "RGBA8888": 4, "GRAY8": 1, "RGB565": 2, "YUYV": 2}
MAX_DIM = 32767  # UP_PRE_MAX_DIM
MAX_TAPS = 4096  # UP_PRE_MAX_TAPS
PIL_BITS = 22  # Pillow's PRECISION_BITS for 8-bit images
CV2_BITS = 8  # OpenCV's ufixedpoint16 fraction bits for 8-bit images


def _place(bounds: list[tuple[int, int]], weights: list[list[int]], in_size: int):
    """(start, coeff) tables of a fixed tap count from per-output (first, weights): windows that would run past
    the end start earlier, their weights shifted right (zeros before), so every read stays inside."""
    taps = max(len(w) for w in weights)
    start = np.empty(len(bounds), np.int32)
    coeff = np.zeros((len(bounds), taps), np.int32)
    for j, ((first, _), w) in enumerate(zip(bounds, weights, strict=True)):
        s = min(first, in_size - taps)
        start[j] = s
        coeff[j, first - s : first - s + len(w)] = w
    return start, coeff


def pil_taps(in_size: int, out_size: int):
    """Pillow bilinear: (start [out] int32, coeff [out, taps] int32 Q22)."""
    scale = float(in_size) / out_size  # (double)(in1 - in0) / outSize, in1 - in0 exact in float
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale
    ss = 1.0 / filterscale
    bounds, weights = [], []
    for xx in range(out_size):
        center = 0.0 + (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)  # C's (int) truncates toward zero, as int() does
        xmax = min(int(center + support + 0.5), in_size) - xmin
        w = []
        for x in range(xmax):
            d = abs((x + xmin - center + 0.5) * ss)
            w.append(1.0 - d if d < 1.0 else 0.0)
        ww = sum_c(w)
        if ww != 0.0:
            w = [v / ww for v in w]
        q = [int(-0.5 + v * (1 << PIL_BITS)) if v < 0 else int(0.5 + v * (1 << PIL_BITS)) for v in w]
        bounds.append((xmin, xmax))
        weights.append(q)
    return _place(bounds, weights, in_size)


def sum_c(values) -> float:
    """Left-to-right double sum, as C's ``ww += w`` loop (math.fsum or sum() could differ in the last bit)."""
    s = 0.0
    for v in values:
        s += v
    return s


def cv2_taps(in_size: int, out_size: int):
    """OpenCV INTER_LINEAR_EXACT: (start [out] int32, coeff [out, taps] int32 Q8)."""
    inv_scale = float(out_size) / in_size  # cv::resize: (double)dsize.width / ssize.width
    scale = 1.0 / inv_scale  # interpolationLinear: softdouble::one() / softdouble(inv_scale)
    one = 1 << CV2_BITS
    bounds, weights = [], []
    for val in range(out_size):
        fval = scale * (val + 0.5) - 0.5
        ival = math.floor(fval)
        if ival >= 0 and in_size > 1 and ival < in_size - 1:
            c1 = round((fval - ival) * one)  # Python round: half to even, as softdouble's cvRound
            bounds.append((ival, 2))
            weights.append([one - c1, c1])
        elif ival >= 0 and in_size > 1:
            bounds.append((in_size - 1, 1))  # right of the image: the last pixel (vlineSet / src_last)
            weights.append([one])
        else:
            bounds.append((0, 1))  # left of the image, or a 1-pixel source: the first pixel
            weights.append([one])
    return _place(bounds, weights, in_size)


def nearest_taps(in_size: int, out_size: int):
    """OpenCV INTER_NEAREST_EXACT as the opencv-python 5 wheels compute it, which is Pillow's NEAREST
    (``ImagingScaleAffine``): the source position starts at ``a / 2`` and adds ``a = src / dst`` per output pixel in
    double (the accumulated rounding decides exact ties), truncated. (OpenCV 4's 16.16 fixed-point rule differs
    from it at ties and by one step here and there.) (start [out] int32, coeff [out, 1] int32 of ones)."""
    a = float(in_size) / out_size
    xo = 0.0 + a * 0.5
    start = np.empty(out_size, np.int32)
    for x in range(out_size):
        start[x] = min(int(xo), in_size - 1)
        xo += a
    return start, np.ones((out_size, 1), np.int32)


def pil_vertical_first(frame_size, out_size) -> bool:
    """Pillow 13 runs the vertical pass first when the height shrinks more than twice as much as the width
    (``h - oh > 2 * (w - ow)``, height shrinking); earlier versions always start with the horizontal pass. The
    intermediate 8-bit rounding makes the order visible, so the config follows the installed Pillow (13 without)."""
    (w, h), (ow, oh) = frame_size, out_size
    try:
        import PIL

        major = int(PIL.__version__.split(".")[0])
    except ImportError:
        major = 13
    return major >= 13 and oh < h and (h - oh) > 2 * (w - ow)


TAPS = {"pil": pil_taps, "cv2": cv2_taps, "nearest": nearest_taps}


def _vertical_first(interpolation: str, crop_size, rect_size, x_taps: int, y_taps: int) -> bool:
    """Pillow's order for "pil"; for the others (exact in either order) the one with fewer multiplications."""
    if interpolation == "pil":
        return pil_vertical_first(crop_size, rect_size)
    (cw, ch), (rw, rh) = crop_size, rect_size
    h_first = min(ch, rh * y_taps) * rw * x_taps + rh * rw * y_taps
    v_first = rh * cw * y_taps + rh * rw * x_taps
    return v_first < h_first


def output_tables(dtype: str, mean, std, quantization) -> np.ndarray:
    """[3, 256] table per output channel: uint8 bytes (int8 as its two's complement) or uint32 float32 bits."""
    x = (np.arange(256, dtype=np.float64)[None, :] - np.asarray(mean, np.float64).reshape(-1, 1)) / np.asarray(
        std, np.float64
    ).reshape(-1, 1)
    x = np.broadcast_to(x, (3, 256))
    if dtype == "float32":
        return np.ascontiguousarray(x.astype(np.float32)).view(np.uint32)
    scale, zero_point = quantization if quantization is not None else (1.0, 0)
    info = np.iinfo(dtype)
    q = np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)
    return np.ascontiguousarray(q).view(np.uint8)


@dataclass(frozen=True, eq=False)
class PreConfig:
    """A prepared pre-processing config: the fields of ``up_pre_config_t`` (integers and integer tables)."""

    pixel_format: int
    resample: int
    layout: int
    out_bytes: int
    frame_width: int
    frame_height: int
    crop_x: int
    crop_y: int
    crop_width: int
    crop_height: int
    out_width: int
    out_height: int
    rect_x: int
    rect_y: int
    rect_width: int
    rect_height: int
    x_taps: int
    y_taps: int
    x_start: np.ndarray
    x_coeff: np.ndarray
    y_start: np.ndarray
    y_coeff: np.ndarray
    lut8: np.ndarray | None
    lut32: np.ndarray | None
    channel_map: tuple[int, int, int]
    pad_value: int
    v_first: bool  # vertical pass first: Pillow's order for PIL, the cheaper one for the exact kinds
    dtype: str  # the tensor's numpy dtype

    @property
    def tensor_shape(self) -> tuple[int, ...]:
        if self.layout == 1:
            return (1, 3, self.out_height, self.out_width)
        return (1, self.out_height, self.out_width, 3)


def letterbox_rect(crop_size, input_size, align: str = "center"):
    """(x, y, w, h) of the resized crop inside the input: the aspect ratio kept, as ``preprocess.resize_image``."""
    w, h = crop_size
    in_w, in_h = input_size
    s = min(in_w / w, in_h / h)
    new_w, new_h = max(1, min(in_w, round(w * s))), max(1, min(in_h, round(h * s)))
    if align == "center":
        return (in_w - new_w) // 2, (in_h - new_h) // 2, new_w, new_h
    return 0, 0, new_w, new_h


def prepare_config(
    frame_size,
    input_size,
    *,
    pixel_format: str = "RGB888",
    crop=None,
    resize: str = "stretch",
    align: str = "center",
    interpolation: str = "pil",
    channel_order: str = "RGB",
    layout: str = "NCHW",
    mean=127.0,
    std=128.0,
    dtype: str = "float32",
    quantization=None,
    pad_value: int = 0,
) -> PreConfig:
    """The config for frames of ``frame_size`` (W, H); arguments are checked by the caller (``Preprocessor``)."""
    fw, fh = (int(v) for v in frame_size)
    cx, cy, cw, ch = (0, 0, fw, fh) if crop is None else (int(v) for v in crop)
    ow, oh = (int(v) for v in input_size)
    rect = (0, 0, ow, oh) if resize == "stretch" else letterbox_rect((cw, ch), (ow, oh), align)
    xs, xk = TAPS[interpolation](cw, rect[2])
    ys, yk = TAPS[interpolation](ch, rect[3])
    table = output_tables(dtype, mean, std, quantization)
    source = "BGR" if pixel_format == "BGR888" else "RGB"
    if pixel_format == "GRAY8":
        cmap = (0, 0, 0)
    else:
        cmap = tuple(source.index(c) for c in channel_order)
    return PreConfig(
        pixel_format=PIXEL_FORMATS.index(pixel_format), resample=INTERPOLATIONS.index(interpolation),
        layout=LAYOUTS.index(layout), out_bytes=4 if dtype == "float32" else 1,
        frame_width=fw, frame_height=fh, crop_x=cx, crop_y=cy, crop_width=cw, crop_height=ch,
        out_width=ow, out_height=oh, rect_x=rect[0], rect_y=rect[1], rect_width=rect[2], rect_height=rect[3],
        x_taps=xk.shape[1], y_taps=yk.shape[1], x_start=xs, x_coeff=np.ascontiguousarray(xk), y_start=ys,
        y_coeff=np.ascontiguousarray(yk), lut8=None if dtype == "float32" else table,
        lut32=table if dtype == "float32" else None, channel_map=cmap, pad_value=int(pad_value), dtype=dtype,
        v_first=_vertical_first(interpolation, (cw, ch), rect[2:], xk.shape[1], yk.shape[1]),
    )  # fmt: skip
