"""Numpy twin of csrc/up_warp.c, function by function (the C names without ``up_``), bit for bit.

Whole images at once where the C goes row by row and pixel by pixel; the same integer steps (positions split into
whole and 1/32 fraction, OpenCV's Q15 weights, ``(acc + 2^14) >> 15``, the border rules), int64 accumulators (the
C's int32 ones stay below 255 * 2^15 + 2^14).
"""

from __future__ import annotations

import numpy as np

from ultrapost.golden.preprocess import UP_ERR_CONFIG, UP_ERR_FRAME, UP_ERR_NULL, UP_ERR_STRIDE, UP_OK

PIX_RGB888, PIX_BGR888, PIX_RGBA8888, PIX_GRAY8 = range(4)
FRAC_BITS = 5
ONE = 1 << FRAC_BITS
MASK = ONE - 1
COEF_BITS = 15
MAP_MIN, MAP_MAX = -32768, 32767
MAX_DIM = 32767


def warp_bytes_per_pixel(fmt: int) -> int:
    return {PIX_RGB888: 3, PIX_BGR888: 3, PIX_RGBA8888: 4, PIX_GRAY8: 1}.get(fmt, 0)


def warp_channels(fmt: int) -> int:
    return 1 if fmt == PIX_GRAY8 else 3


def warp_whole(pos: np.ndarray) -> np.ndarray:
    return (pos - (pos & MASK)) // ONE


def warp_positions_ok(pos: np.ndarray) -> bool:
    return bool(np.all((pos >= MAP_MIN * ONE) & (pos <= MAP_MAX * ONE + MASK)))


def warp_check_shape(cfg) -> int:
    if cfg is None or cfg.x_pos is None or cfg.y_pos is None:
        return UP_ERR_NULL
    if warp_bytes_per_pixel(cfg.pixel_format) == 0 or cfg.layout > 1:
        return UP_ERR_CONFIG
    if cfg.out_bytes == 1:
        if cfg.lut8 is None:
            return UP_ERR_NULL
    elif cfg.out_bytes == 4:
        if cfg.lut32 is None:
            return UP_ERR_NULL
    else:
        return UP_ERR_CONFIG
    if not (1 <= cfg.frame_width <= MAX_DIM and 1 <= cfg.frame_height <= MAX_DIM):
        return UP_ERR_CONFIG
    if not (1 <= cfg.out_width <= MAX_DIM and 1 <= cfg.out_height <= MAX_DIM):
        return UP_ERR_CONFIG
    n = warp_channels(cfg.pixel_format)
    if any(m >= n for m in cfg.channel_map):
        return UP_ERR_CONFIG
    return UP_OK


def warp_check_config(cfg) -> int:
    status = warp_check_shape(cfg)
    if status != UP_OK:
        return status
    ow, oh = cfg.out_width, cfg.out_height
    want_x, want_y = (ow * oh, ow * oh) if cfg.per_pixel else (ow, oh)
    x, y = np.asarray(cfg.x_pos), np.asarray(cfg.y_pos)
    if x.size < want_x or y.size < want_y:
        return UP_ERR_CONFIG  # the C would read past the tables (the binding refuses such a config first)
    if not warp_positions_ok(x.reshape(-1)[:want_x]) or not warp_positions_ok(y.reshape(-1)[:want_y]):
        return UP_ERR_CONFIG
    return UP_OK


def warp_scratch_size(cfg) -> int:
    if warp_check_config(cfg) != UP_OK:
        return 0
    return cfg.out_width * warp_channels(cfg.pixel_format)


def warp_weights(fx: np.ndarray, fy: np.ndarray):
    """OpenCV's BilinearTab_i entries (w00, w01, w10, w11) for fractions fx, fy (closed form, as the C)."""
    w00 = (ONE - fx) * (ONE - fy) * ONE
    w01 = fx * (ONE - fy) * ONE
    w10 = (ONE - fx) * fy * ONE
    w11 = fx * fy * ONE
    zero = (fx == 0) & (fy == 0)
    return np.where(zero, 32767, w00), w01, w10, np.where(zero, 1, w11)


def warp_rows(cfg, frame: np.ndarray) -> np.ndarray:
    """Every output row: uint8 [out_height, out_width, n] (``warp_row`` of the C over all rows)."""
    w, h, ow, oh = cfg.frame_width, cfg.frame_height, cfg.out_width, cfg.out_height
    n = warp_channels(cfg.pixel_format)
    border = int(cfg.border_value)
    if cfg.per_pixel:
        px = np.asarray(cfg.x_pos, np.int64).reshape(-1)[: ow * oh].reshape(oh, ow)
        py = np.asarray(cfg.y_pos, np.int64).reshape(-1)[: ow * oh].reshape(oh, ow)
    else:
        px = np.broadcast_to(np.asarray(cfg.x_pos, np.int64)[None, :ow], (oh, ow))
        py = np.broadcast_to(np.asarray(cfg.y_pos, np.int64)[:oh, None], (oh, ow))
    fx, fy = px & MASK, py & MASK
    sx, sy = warp_whole(px), warp_whole(py)
    src = frame[:h, :w, :n].astype(np.int64)

    def at(xx, yy):
        inside = (xx >= 0) & (yy >= 0) & (xx < w) & (yy < h)
        v = src[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
        return np.where(inside[..., None], v, border)

    w00, w01, w10, w11 = (k[..., None] for k in warp_weights(fx, fy))
    acc = at(sx, sy) * w00 + at(sx + 1, sy) * w01 + at(sx, sy + 1) * w10 + at(sx + 1, sy + 1) * w11
    vals = (acc + (1 << (COEF_BITS - 1))) >> COEF_BITS
    outside = (sx >= w) | (sx < -1) | (sy >= h) | (sy < -1)
    vals[outside] = border
    return vals.astype(np.uint8)


def warp_write_row(cfg, vals: np.ndarray) -> np.ndarray:
    """All rows through the tables: the tensor's words (uint8 or uint32) in its layout."""
    lut = np.asarray(cfg.lut8 if cfg.out_bytes == 1 else cfg.lut32).reshape(3, 256)
    out = np.stack([lut[c][vals[:, :, m]] for c, m in enumerate(cfg.channel_map)], axis=-1)
    if cfg.layout == 1:
        out = out.transpose(2, 0, 1)
    return np.ascontiguousarray(out[None])


def warp_run(cfg, frame: np.ndarray, width: int, height: int, stride_bytes: int):
    """(status, words): ``frame`` uint8 [H, W, bytes per pixel]; words uint8 or uint32 in the tensor's shape."""
    if cfg is None or frame is None:
        return UP_ERR_NULL, None
    if width != cfg.frame_width or height != cfg.frame_height:
        return UP_ERR_FRAME, None
    if stride_bytes < width * warp_bytes_per_pixel(cfg.pixel_format):
        return UP_ERR_STRIDE, None
    status = warp_check_shape(cfg)
    if status != UP_OK:
        return status, None
    return UP_OK, warp_write_row(cfg, warp_rows(cfg, frame))
