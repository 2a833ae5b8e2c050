"""Numpy twin of csrc/up_preprocess.c, function by function (the C names without ``up_``), bit for bit.

Whole arrays at once where the C goes row by row: ``pre_read_row`` converts every crop row, ``pre_hpass`` filters
them all (the C computes only the rows the ring needs: the others never reach an output), ``pre_vpass`` and
``pre_write_row`` likewise. Accumulators are int64 here; the config check keeps the C's int32 ones from overflowing.
"""

from __future__ import annotations

import numpy as np

UP_OK = 0
UP_ERR_NULL = -1
UP_ERR_CONFIG = -2
UP_ERR_SCRATCH = -3
UP_ERR_OUTPUT = -4
UP_ERR_STRIDE = -5
UP_ERR_FRAME = -9

PIX_RGB888, PIX_BGR888, PIX_RGBA8888, PIX_GRAY8, PIX_RGB565, PIX_YUYV = range(6)
RESAMPLE_PIL, RESAMPLE_CV2, RESAMPLE_NEAREST = range(3)
MAX_DIM = 32767
MAX_TAPS = 4096
INT32_MAX = 2**31 - 1

YUV_CY, YUV_CUB, YUV_CUG, YUV_CVG, YUV_CVR = 1220542, 2116026, -409993, -852492, 1673527


def pre_rounding(resample: int):
    """(bias1, shift1, bias2, shift2, clip1): the rounding of the first and second pass, in run order."""
    if resample == RESAMPLE_PIL:
        return 1 << 21, 22, 1 << 21, 22, True
    if resample == RESAMPLE_CV2:
        return 0, 0, 1 << 15, 16, False
    return 0, 0, 0, 0, False


def pre_bytes_per_pixel(fmt: int) -> int:
    return {PIX_RGB888: 3, PIX_BGR888: 3, PIX_RGBA8888: 4, PIX_GRAY8: 1, PIX_RGB565: 2, PIX_YUYV: 2}.get(fmt, 0)


def pre_channels(fmt: int) -> int:
    return 1 if fmt == PIX_GRAY8 else 3


def pre_converts(fmt: int) -> bool:
    return fmt in (PIX_RGB565, PIX_YUYV)


def pre_clip8(v):
    return np.clip(v, 0, 255)


def pre_max_abs_sum(coeff) -> int:
    return int(np.abs(np.asarray(coeff, np.int64)).sum(axis=1).max())


def pre_starts_ok(start, limit: int, monotonic: bool) -> bool:
    s = np.asarray(start, np.int64)
    if np.any(s < 0) or np.any(s > limit):
        return False
    return not (monotonic and np.any(np.diff(s) < 0))


def pre_check_config(cfg) -> int:
    if any(a is None for a in (cfg.x_start, cfg.x_coeff, cfg.y_start, cfg.y_coeff)):
        return UP_ERR_NULL
    if pre_bytes_per_pixel(cfg.pixel_format) == 0 or not 0 <= cfg.resample <= 2 or not 0 <= cfg.layout <= 1:
        return UP_ERR_CONFIG
    if cfg.out_bytes == 1:
        if cfg.lut8 is None:
            return UP_ERR_NULL
    elif cfg.out_bytes == 4:
        if cfg.lut32 is None:
            return UP_ERR_NULL
    else:
        return UP_ERR_CONFIG
    fw, fh = cfg.frame_width, cfg.frame_height
    if not (1 <= fw <= MAX_DIM and 1 <= fh <= MAX_DIM):
        return UP_ERR_CONFIG
    if cfg.pixel_format == PIX_YUYV and fw & 1:
        return UP_ERR_CONFIG
    if (cfg.crop_x < 0 or cfg.crop_y < 0 or cfg.crop_width < 1 or cfg.crop_height < 1
            or cfg.crop_width > fw - cfg.crop_x or cfg.crop_height > fh - cfg.crop_y):  # fmt: skip
        return UP_ERR_CONFIG
    ow, oh = cfg.out_width, cfg.out_height
    if not (1 <= ow <= MAX_DIM and 1 <= oh <= MAX_DIM):
        return UP_ERR_CONFIG
    if (cfg.rect_x < 0 or cfg.rect_y < 0 or cfg.rect_width < 1 or cfg.rect_height < 1
            or cfg.rect_width > ow - cfg.rect_x or cfg.rect_height > oh - cfg.rect_y):  # fmt: skip
        return UP_ERR_CONFIG
    if not (1 <= cfg.x_taps <= min(MAX_TAPS, cfg.crop_width) and 1 <= cfg.y_taps <= min(MAX_TAPS, cfg.crop_height)):
        return UP_ERR_CONFIG
    if not (pre_starts_ok(cfg.x_start[: cfg.rect_width], cfg.crop_width - cfg.x_taps, False)
            and pre_starts_ok(cfg.y_start[: cfg.rect_height], cfg.crop_height - cfg.y_taps, True)):  # fmt: skip
        return UP_ERR_CONFIG
    n = pre_channels(cfg.pixel_format)
    if any(not 0 <= m < n for m in cfg.channel_map):
        return UP_ERR_CONFIG
    bias1, _, bias2, _, clip1 = pre_rounding(cfg.resample)
    x_sum = pre_max_abs_sum(cfg.x_coeff[: cfg.rect_width])
    y_sum = pre_max_abs_sum(cfg.y_coeff[: cfg.rect_height])
    first = 255 * (y_sum if cfg.v_first else x_sum) + bias1
    if first > INT32_MAX:
        return UP_ERR_CONFIG
    if clip1:
        first = 255
    if first * (x_sum if cfg.v_first else y_sum) + bias2 > INT32_MAX:
        return UP_ERR_CONFIG
    return UP_OK


def pre_row_len(cfg) -> int:
    return cfg.rect_width * pre_channels(cfg.pixel_format)


def pre_scratch_size(cfg) -> int:
    if pre_check_config(cfg) != UP_OK:
        return 0
    length = pre_row_len(cfg)
    conv = cfg.crop_width * 3 if pre_converts(cfg.pixel_format) else 0
    if cfg.v_first:
        return cfg.crop_width * pre_channels(cfg.pixel_format) * 4 + conv + length
    return (cfg.y_taps + 1) * length * 4 + conv + length


def pre_yuv_to_rgb(y, u, v):
    """OpenCV's integer BT.601 (Q20), elementwise: uint8 [..., 3]."""
    half = 1 << 19
    yy = np.maximum(y.astype(np.int64) - 16, 0) * YUV_CY
    uu, vv = u.astype(np.int64) - 128, v.astype(np.int64) - 128
    r = (yy + half + YUV_CVR * vv) >> 20
    g = (yy + half + YUV_CVG * vv + YUV_CUG * uu) >> 20
    b = (yy + half + YUV_CUB * uu) >> 20
    return pre_clip8(np.stack([r, g, b], axis=-1)).astype(np.uint8)


def pre_read_row(cfg, frame: np.ndarray) -> np.ndarray:
    """Every crop row as source channels: uint8 [crop_height, crop_width, n]. frame: uint8 [H, W, bytes/pixel]."""
    x0, y0, cw, ch = cfg.crop_x, cfg.crop_y, cfg.crop_width, cfg.crop_height
    rows = frame[y0 : y0 + ch]
    fmt = cfg.pixel_format
    if fmt == PIX_RGB565:
        p = rows[:, x0 : x0 + cw].astype(np.uint32)
        w = p[..., 0] | (p[..., 1] << 8)
        return np.stack([(w >> 8) & 0xF8, (w >> 3) & 0xFC, (w << 3) & 0xF8], axis=-1).astype(np.uint8)
    if fmt == PIX_YUYV:
        x = np.arange(x0, x0 + cw)
        pair = x & ~1
        return pre_yuv_to_rgb(rows[:, x, 0], rows[:, pair, 1], rows[:, pair + 1, 1])
    n = pre_channels(fmt)
    return rows[:, x0 : x0 + cw, :n]


def _taps(start, coeff, count: int, taps: int):
    return start[:count, None].astype(np.int64) + np.arange(taps), coeff[:count].astype(np.int64)


def pre_hpass(cfg, src: np.ndarray) -> np.ndarray:
    """Horizontal first pass of every source row: int64 [rows, rect_width, n], first rounding."""
    bias1, shift1, _, _, clip1 = pre_rounding(cfg.resample)
    idx, k = _taps(cfg.x_start, cfg.x_coeff, cfg.rect_width, cfg.x_taps)
    acc = (bias1 + np.einsum("rjtc,jt->rjc", src[:, idx, :].astype(np.int64), k)) >> shift1
    return pre_clip8(acc) if clip1 else acc


def pre_hpass2(cfg, rows: np.ndarray) -> np.ndarray:
    """Horizontal second pass of vertically filtered rows: uint8 [rect_height, rect_width, n]."""
    _, _, bias2, shift2, _ = pre_rounding(cfg.resample)
    idx, k = _taps(cfg.x_start, cfg.x_coeff, cfg.rect_width, cfg.x_taps)
    acc = bias2 + np.einsum("rjtc,jt->rjc", rows[:, idx, :].astype(np.int64), k)
    return pre_clip8(acc >> shift2).astype(np.uint8)


def pre_vpass(cfg, hrows: np.ndarray) -> np.ndarray:
    """Vertical second pass of horizontally filtered rows: uint8 [rect_height, rect_width, n]."""
    _, _, bias2, shift2, _ = pre_rounding(cfg.resample)
    idx, k = _taps(cfg.y_start, cfg.y_coeff, cfg.rect_height, cfg.y_taps)
    acc = bias2 + np.einsum("itjc,it->ijc", hrows[idx].astype(np.int64), k)
    return pre_clip8(acc >> shift2).astype(np.uint8)


def pre_vpass1(cfg, src: np.ndarray) -> np.ndarray:
    """Vertical first pass of the source rows: int64 [rect_height, crop_width, n], first rounding."""
    bias1, shift1, _, _, clip1 = pre_rounding(cfg.resample)
    idx, k = _taps(cfg.y_start, cfg.y_coeff, cfg.rect_height, cfg.y_taps)
    acc = (bias1 + np.einsum("itjc,it->ijc", src[idx].astype(np.int64), k)) >> shift1
    return pre_clip8(acc) if clip1 else acc


def pre_write_row(cfg, vals: np.ndarray) -> np.ndarray:
    """Every output row: the resized rect on the pad value, through each output channel's table, in the layout."""
    n = pre_channels(cfg.pixel_format)
    canvas = np.full((cfg.out_height, cfg.out_width, n), cfg.pad_value, np.uint8)
    canvas[cfg.rect_y : cfg.rect_y + cfg.rect_height, cfg.rect_x : cfg.rect_x + cfg.rect_width] = vals
    lut = cfg.lut8 if cfg.out_bytes == 1 else cfg.lut32
    out = np.stack([lut[c][canvas[..., m]] for c, m in enumerate(cfg.channel_map)], axis=-1)  # [H, W, 3]
    if cfg.layout == 1:
        out = out.transpose(2, 0, 1)
    return np.ascontiguousarray(out[None])


def pre_run(cfg, frame: np.ndarray, width: int, height: int, stride_bytes: int):
    """(status, output words) for a uint8 frame [height, width, bytes/pixel]; the words are uint8 or uint32 (the
    bits of the tensor: view them as cfg.dtype)."""
    if frame is None:
        return UP_ERR_NULL, None
    if width != cfg.frame_width or height != cfg.frame_height:
        return UP_ERR_FRAME, None
    if stride_bytes < width * pre_bytes_per_pixel(cfg.pixel_format):
        return UP_ERR_STRIDE, None
    if pre_scratch_size(cfg) == 0:
        return UP_ERR_CONFIG, None
    src = pre_read_row(cfg, frame)
    if cfg.v_first:
        vals = pre_hpass2(cfg, pre_vpass1(cfg, src))
    else:
        vals = pre_vpass(cfg, pre_hpass(cfg, src))
    return UP_OK, pre_write_row(cfg, vals)
