"""The host side of the warp stage (csrc/up_warp.c): OpenCV's double-precision steps, done once per frame size.

The C blends 2x2 source pixels at positions given in OpenCV's fixed point (1/32 pixel). This module computes those
positions exactly as OpenCV 4.10 does, for any matrix; they are kept per axis when they separate (a scale and a shift
per axis, as a letterbox), per output pixel otherwise (``per_pixel``: a rotation, or ties coupled by float noise):

- ``affine_positions``: ``cv2.warpAffine`` (imgwarp.cpp, ``WarpAffineInvoker``): the matrix inverted by
  ``invertAffineTransform`` unless ``WARP_INVERSE_MAP``; per column ``adelta = cvRound(M[0] * x * 1024)``, per row
  ``X0 = cvRound((M[1] * y + M[2]) * 1024) + 16`` (AB_BITS = 10, half of a 1/32 step), ``X = (X0 + adelta) >> 5``.
- ``perspective_positions``: ``cv2.warpPerspective`` (``WarpPerspectiveInvoker``): the matrix inverted by
  ``cv::invert`` (3x3 cofactors), per pixel ``W = 32 / (M[6] x + M[7] y + M[8])``, ``X = cvRound((M[0] x + M[1] y
  + M[2]) * W)`` in double, with OpenCV's blocks (the row sum starts at each block's first column: it decides
  rounding ties). The float noise of the matrix can make ties of one axis depend on the other.
- ``mediapipe_matrix``: MediaPipe's ImageToTensorConverter (OpenCV backend) for a letterboxed frame: the ROI is the
  frame padded to the input's aspect ratio, centered; ``cv::getPerspectiveTransform`` (its 8x8 LU solve, replayed
  here operation by operation) from the ROI's corners (``RotatedRect::points``, float32) to the input's.

``cvRound`` is round half to even (``np.rint``); ``saturate_cast<short>`` clips map columns to 16 bits. Output
tables are those of the resize stage (``preprocess_config.output_tables``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ultrapost.core.preprocess_config import LAYOUTS, PIXEL_FORMATS, output_tables

WARP_PIXEL_FORMATS = ("RGB888", "BGR888", "RGBA8888", "GRAY8")
MAX_DIM = 32767  # UP_WARP_MAX_DIM
INTER_BITS = 5
AB_BITS = 10
MAP_MIN, MAP_MAX = -32768, 32767  # OpenCV's 16-bit map


@dataclass(frozen=True, eq=False)
class WarpConfig:
    """A prepared warp config: the fields of ``up_warp_config_t``."""

    pixel_format: int
    layout: int
    out_bytes: int
    border_value: int
    frame_width: int
    frame_height: int
    out_width: int
    out_height: int
    per_pixel: bool
    x_pos: np.ndarray  # int32 [out_width] or [out_height, out_width]
    y_pos: np.ndarray  # int32 [out_height] or [out_height, out_width]
    lut8: np.ndarray | None
    lut32: np.ndarray | None
    channel_map: tuple[int, int, int]
    dtype: str

    @property
    def tensor_shape(self) -> tuple[int, ...]:
        if self.layout == 1:
            return (1, 3, self.out_height, self.out_width)
        return (1, self.out_height, self.out_width, 3)


def _saturate_int(v: np.ndarray) -> np.ndarray:
    """``saturate_cast<int>(double)``: cvRound, then clipped to int32."""
    return np.clip(np.rint(v), -(2**31), 2**31 - 1).astype(np.int64)


def _fixed(whole: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Column * 32 + fraction, the column clipped to 16 bits as OpenCV's map (``saturate_cast<short>``)."""
    return (np.clip(whole, MAP_MIN, MAP_MAX) * (1 << INTER_BITS) + (pos & ((1 << INTER_BITS) - 1))).astype(np.int32)


def invert_affine(m) -> np.ndarray:
    """``cv::invertAffineTransform`` of a 2x3 matrix, in double."""
    m = [[float(v) for v in row] for row in np.asarray(m, np.float64).reshape(2, 3)]
    d = m[0][0] * m[1][1] - m[0][1] * m[1][0]
    d = 1.0 / d if d != 0.0 else 0.0
    a11, a22, a12, a21 = m[1][1] * d, m[0][0] * d, -m[0][1] * d, -m[1][0] * d
    b1 = -a11 * m[0][2] - a12 * m[1][2]
    b2 = -a21 * m[0][2] - a22 * m[1][2]
    return np.array([[a11, a12, b1], [a21, a22, b2]])


def invert_3x3(m) -> np.ndarray:
    """``cv::invert`` (DECOMP_LU) of a 3x3 double matrix: its closed cofactor form; zeros when singular."""
    s = [[float(v) for v in row] for row in np.asarray(m, np.float64).reshape(3, 3)]
    d = (
        s[0][0] * (s[1][1] * s[2][2] - s[1][2] * s[2][1])
        - s[0][1] * (s[1][0] * s[2][2] - s[1][2] * s[2][0])
        + s[0][2] * (s[1][0] * s[2][1] - s[1][1] * s[2][0])
    )
    if d == 0.0:
        return np.zeros((3, 3))
    d = 1.0 / d
    return np.array(
        [
            [(s[1][1] * s[2][2] - s[1][2] * s[2][1]) * d, (s[0][2] * s[2][1] - s[0][1] * s[2][2]) * d,
             (s[0][1] * s[1][2] - s[0][2] * s[1][1]) * d],
            [(s[1][2] * s[2][0] - s[1][0] * s[2][2]) * d, (s[0][0] * s[2][2] - s[0][2] * s[2][0]) * d,
             (s[0][2] * s[1][0] - s[0][0] * s[1][2]) * d],
            [(s[1][0] * s[2][1] - s[1][1] * s[2][0]) * d, (s[0][1] * s[2][0] - s[0][0] * s[2][1]) * d,
             (s[0][0] * s[1][1] - s[0][1] * s[1][0]) * d],
        ]
    )  # fmt: skip


def _lu_solve(a: list[list[float]], b: list[float]) -> list[float]:
    """OpenCV's ``hal::LU64f`` (partial pivoting, then back substitution dividing by the pivot), in order."""
    m = len(a)
    for i in range(m):
        k = i
        for j in range(i + 1, m):
            if abs(a[j][i]) > abs(a[k][i]):
                k = j
        if abs(a[k][i]) < np.finfo(np.float64).eps * 100:
            raise ValueError("the corner points give a singular perspective system")
        if k != i:
            a[i], a[k] = a[k], a[i]
            b[i], b[k] = b[k], b[i]
        d = -1.0 / a[i][i]
        for j in range(i + 1, m):
            alpha = a[j][i] * d
            for kk in range(i + 1, m):
                a[j][kk] += alpha * a[i][kk]
            b[j] += alpha * b[i]
    for i in range(m - 1, -1, -1):
        s = b[i]
        for kk in range(i + 1, m):
            s -= a[i][kk] * b[kk]
        b[i] = s / a[i][i]
    return b


def get_perspective_transform(src, dst) -> np.ndarray:
    """``cv::getPerspectiveTransform`` (DECOMP_LU) of 4 float32 point pairs: a 3x3 double matrix."""
    src, dst = np.asarray(src, np.float32).reshape(4, 2), np.asarray(dst, np.float32).reshape(4, 2)
    a = [[0.0] * 8 for _ in range(8)]
    b = [0.0] * 8
    for i in range(4):
        (sx, sy), (dx, dy) = src[i], dst[i]
        a[i][0] = a[i + 4][3] = float(sx)
        a[i][1] = a[i + 4][4] = float(sy)
        a[i][2] = a[i + 4][5] = 1.0
        a[i][6], a[i][7] = float(-sx * dx), float(-sy * dx)  # float32 products, as Point2f's
        a[i + 4][6], a[i + 4][7] = float(-sx * dy), float(-sy * dy)
        b[i], b[i + 4] = float(dx), float(dy)
    return np.array([*_lu_solve(a, b), 1.0]).reshape(3, 3)


def mediapipe_roi(rect, input_size, *, keep_aspect: bool = True, offset=(0, 0)):
    """(center x, center y, width, height) of MediaPipe's ROI for a rectangle of the frame (``rect`` (W, H) from
    ``offset``, default the whole frame, as ImageToTensorCalculator's ``GetRoi``), padded to the input's aspect
    ratio with ``keep_aspect`` (``PadRoi``); float32 as MediaPipe keeps it."""
    w, h = (np.float32(v) for v in tuple(rect)[-2:])
    x0, y0 = (np.float32(v) for v in offset)
    ow, oh = (np.float32(v) for v in input_size)
    rw, rh = w, h
    if keep_aspect:
        tensor_aspect, roi_aspect = oh / ow, h / w
        if tensor_aspect > roi_aspect:
            rh = w * tensor_aspect
        else:
            rw = h / tensor_aspect
    half = np.float32(0.5)
    return float(x0 + half * w), float(y0 + half * h), float(rw), float(rh)


def mediapipe_matrix(roi, input_size) -> np.ndarray:
    """The forward 3x3 matrix (frame -> input) MediaPipe gives ``cv::warpPerspective`` for an ROI (center x,
    center y, width, height; see ``mediapipe_roi``), or for a frame size (W, H): its centered letterbox."""
    roi = tuple(roi)
    if len(roi) == 2:
        roi = mediapipe_roi(roi, input_size)
    cx, cy, rw, rh = (np.float32(v) for v in roi)
    half_w, half_h = rw * np.float32(0.5), rh * np.float32(0.5)  # RotatedRect::points at angle 0
    src = [
        [cx - half_w, cy + half_h],
        [cx - half_w, cy - half_h],
        [cx + half_w, cy - half_h],
        [cx + half_w, cy + half_h],
    ]
    ow, oh = (float(v) for v in input_size)
    return get_perspective_transform(src, [[0.0, oh], [0.0, 0.0], [ow, 0.0], [ow, oh]])


def _wrap32(v: np.ndarray) -> np.ndarray:
    """int32 two's-complement wrap of OpenCV's ``X0 + adelta`` (only reachable with extreme matrices)."""
    return ((v + 2**31) & (2**32 - 1)) - 2**31


def _separable(x_pos: np.ndarray, y_pos: np.ndarray):
    """(per_pixel, x, y): per-axis tables when every row has the same columns and every column the same rows."""
    if np.all(x_pos == x_pos[:1]) and np.all(y_pos == y_pos[:, :1]):
        return False, np.ascontiguousarray(x_pos[0]), np.ascontiguousarray(y_pos[:, 0])
    return True, np.ascontiguousarray(x_pos), np.ascontiguousarray(y_pos)


def affine_positions(matrix, out_size, *, inverse_map: bool = False):
    """(per_pixel, x_pos, y_pos) of ``cv2.warpAffine(src, matrix, out_size, INTER_LINEAR)``."""
    m = np.asarray(matrix, np.float64).reshape(2, 3)
    inv = m if inverse_map else invert_affine(m)
    ow, oh = (int(v) for v in out_size)
    scale = 1 << AB_BITS
    half = scale >> INTER_BITS >> 1  # round_delta = AB_SCALE / INTER_TAB_SIZE / 2
    x = np.arange(ow, dtype=np.float64)
    y = np.arange(oh, dtype=np.float64)
    adelta = _saturate_int(inv[0, 0] * x * scale)
    bdelta = _saturate_int(inv[1, 0] * x * scale)
    x0 = _saturate_int((inv[0, 1] * y + inv[0, 2]) * scale) + half
    y0 = _saturate_int((inv[1, 1] * y + inv[1, 2]) * scale) + half
    xs = _wrap32(x0[:, None] + adelta[None, :]) >> (AB_BITS - INTER_BITS)
    ys = _wrap32(y0[:, None] + bdelta[None, :]) >> (AB_BITS - INTER_BITS)
    return _separable(_fixed(xs >> INTER_BITS, xs), _fixed(ys >> INTER_BITS, ys))


def perspective_positions(matrix, out_size, *, inverse_map: bool = False):
    """(per_pixel, x_pos, y_pos) of ``cv2.warpPerspective(src, matrix, out_size, INTER_LINEAR)``."""
    m = np.asarray(matrix, np.float64).reshape(3, 3)
    inv = (m if inverse_map else invert_3x3(m)).reshape(-1)
    ow, oh = (int(v) for v in out_size)
    block = 32  # BLOCK_SZ: rows of bh0, columns of bw0; each row's sums start at its block's first column
    bh0 = min(block // 2, oh)
    bw0 = min(block * block // bh0, ow)
    xx = np.arange(ow)
    xb = ((xx // bw0) * bw0).astype(np.float64)
    x1 = (xx - (xx // bw0) * bw0).astype(np.float64)
    y = np.arange(oh, dtype=np.float64)[:, None]
    x0 = inv[0] * xb + inv[1] * y + inv[2]
    y0 = inv[3] * xb + inv[4] * y + inv[5]
    w0 = inv[6] * xb + inv[7] * y + inv[8]
    w = w0 + inv[6] * x1
    nz = w != 0.0
    w = np.where(nz, (1 << INTER_BITS) / np.where(nz, w, 1.0), 0.0)
    fx = np.clip((x0 + inv[0] * x1) * w, -(2.0**31), 2.0**31 - 1)
    fy = np.clip((y0 + inv[3] * x1) * w, -(2.0**31), 2.0**31 - 1)
    xs, ys = _saturate_int(fx), _saturate_int(fy)
    return _separable(_fixed(xs >> INTER_BITS, xs), _fixed(ys >> INTER_BITS, ys))


def prepare_warp_config(
    frame_size,
    input_size,
    *,
    matrix=None,
    rule: str = "perspective",
    inverse_map: bool = False,
    pixel_format: str = "RGB888",
    channel_order: str = "RGB",
    layout: str = "NHWC",
    mean=127.5,
    std=127.5,
    dtype: str = "float32",
    quantization=None,
    border_value: int = 0,
) -> WarpConfig:
    """The config for frames of ``frame_size`` (W, H). ``matrix`` (default: ``mediapipe_matrix``) as given to
    ``cv2.warpPerspective`` (``rule="perspective"``) or ``cv2.warpAffine`` (``"affine"``, 2x3 or the top of a 3x3).
    Arguments are checked by the caller (``Preprocessor``, ``warp_affine``)."""
    fw, fh = (int(v) for v in frame_size)
    ow, oh = (int(v) for v in input_size)
    if matrix is None:
        matrix = mediapipe_matrix((fw, fh), (ow, oh))
    m = np.asarray(matrix, np.float64)
    if rule == "affine":
        per_pixel, xp, yp = affine_positions(m[:2], (ow, oh), inverse_map=inverse_map)
    elif rule == "perspective":
        per_pixel, xp, yp = perspective_positions(m, (ow, oh), inverse_map=inverse_map)
    else:
        raise ValueError(f"rule must be 'affine' or 'perspective', got {rule!r}")
    table = output_tables(dtype, mean, std, quantization)
    source = "BGR" if pixel_format == "BGR888" else "RGB"
    cmap = (0, 0, 0) if pixel_format == "GRAY8" else tuple(source.index(c) for c in channel_order)
    return WarpConfig(
        pixel_format=PIXEL_FORMATS.index(pixel_format), layout=LAYOUTS.index(layout),
        out_bytes=4 if dtype == "float32" else 1, border_value=int(border_value), frame_width=fw, frame_height=fh,
        out_width=ow, out_height=oh, per_pixel=per_pixel, x_pos=xp, y_pos=yp,
        lut8=None if dtype == "float32" else table, lut32=table if dtype == "float32" else None,
        channel_map=cmap, dtype=dtype,
    )  # fmt: skip


def opencv_bilinear_table() -> np.ndarray:
    """OpenCV's ``BilinearTab_i`` [32 * 32, 4] int16 as ``initInterTab2D(INTER_LINEAR, fixpt)`` builds it: float32
    1-D weights ``1 - i/32, i/32``, their products times 2^15 saturated to int16, then the sum fixed to 2^15 (only
    the all-zero fraction needs it: 32768 saturates to 32767; its search reads past the 2x2 entry into the next,
    still zero, so the +1 goes to the last weight). The C and the golden twin use the closed form; a test compares."""
    one = np.float32(1.0)
    tab1 = [(one - np.float32(i) * (one / np.float32(32)), np.float32(i) * (one / np.float32(32))) for i in range(32)]
    out = np.zeros((32 * 32 + 1, 4), np.int32)  # one spare entry: the fix-up's search reads into the next one
    flat = out.reshape(-1)
    for i in range(32):
        for j in range(32):
            e = i * 32 + j
            isum = 0
            for k1 in range(2):
                for k2 in range(2):
                    v = np.float32(tab1[i][k1] * tab1[j][k2])
                    q = int(np.clip(np.rint(np.float32(v * np.float32(32768))), -32768, 32767))
                    out[e, k1 * 2 + k2] = q
                    isum += q
            if isum != 32768:
                diff = isum - 32768
                base = e * 4
                mk = big = (1, 1)
                for k1 in (1, 2):
                    for k2 in (1, 2):
                        v = flat[base + k1 * 2 + k2]
                        if v < flat[base + mk[0] * 2 + mk[1]]:
                            mk = (k1, k2)
                        elif v > flat[base + big[0] * 2 + big[1]]:
                            big = (k1, k2)
                k1, k2 = big if diff < 0 else mk
                flat[base + k1 * 2 + k2] -= diff
    return out[:-1].astype(np.int16)


__all__ = [
    "WarpConfig",
    "WARP_PIXEL_FORMATS",
    "prepare_warp_config",
    "affine_positions",
    "perspective_positions",
    "mediapipe_matrix",
    "mediapipe_roi",
    "get_perspective_transform",
    "invert_affine",
    "invert_3x3",
    "opencv_bilinear_table",
]
