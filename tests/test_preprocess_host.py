"""The host's driver of the pre-processing stage (csrc/host/up_host_preprocess.c: SIMD passes, a copying nearest
path) gives the bytes and statuses of the portable up_pre_run and of the golden twin: on generated frames large
enough for every window size it takes (and the ones it leaves to up_pre_run), and on frames whose last byte ends at
an unreadable page (its 16-byte loads must stop before it). The reference tests (test_preprocess_stage.py: Pillow,
OpenCV, the shared photos, the recorded model inputs) run the host driver, the binding's default."""

from __future__ import annotations

import ctypes
import mmap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_preprocess_stage import FORMATS, SETTINGS, frame_of, same_bytes
from ultrapost.core._preprocess import PreprocessConfig

from ultrapost.pipeline.preprocessor import Preprocessor, frame_pixels


def three_ways(prep: Preprocessor, frame: np.ndarray, crop=None):
    """(host driver, portable driver, golden) tensors of one frame."""
    pixels = frame_pixels(frame, prep.pixel_format)
    cfg = PreprocessConfig(prep.config((pixels.shape[1], pixels.shape[0]), crop))
    golden, _ = prep(frame, backend="golden", crop=crop)
    return cfg.run(pixels), cfg.run(pixels, portable=True), golden


@st.composite
def big_cases(draw):
    fmt = draw(st.sampled_from(FORMATS))
    w = draw(st.integers(1, 200)) * (2 if fmt == "YUYV" else 1)
    h = draw(st.integers(1, 120))
    # downscales up to 40x (windows of 81 pixels: past the SIMD pass's 64), upscales, and sizes between
    ow = draw(st.integers(1, 320))
    oh = draw(st.integers(1, 200))
    crop = None
    if draw(st.booleans()):
        cx, cy = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
        crop = (cx, cy, draw(st.integers(1, w - cx)), draw(st.integers(1, h - cy)))
    options = dict(
        input_size=(ow, oh),
        resize=draw(st.sampled_from(["stretch", "letterbox"])),
        interpolation=draw(st.sampled_from(["pil", "cv2", "nearest"])),
        channel_order=draw(st.sampled_from(["RGB", "BGR"])),
        layout=draw(st.sampled_from(["NCHW", "NHWC"])),
        dtype=draw(st.sampled_from(["float32", "int8", "uint8"])),
        mean=127.5,
        std=draw(st.sampled_from([1.0, 127.5])),
        pixel_format=fmt,
        pad_value=draw(st.integers(0, 255)),
    )
    if options["dtype"] != "float32":
        options.update(mean=0.0, std=1.0, quantization=(draw(st.sampled_from([1.0, 1 / 128, 0.5])), 0))
    return options, crop, w, h, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=250, **SETTINGS)
@given(big_cases())
def test_host_driver_equals_portable_and_golden(case):
    options, crop, w, h, seed = case
    frame = frame_of(np.random.default_rng(seed), options["pixel_format"], w, h)
    host, portable, golden = three_ways(Preprocessor(**options), frame, crop)
    assert same_bytes(host, portable), options
    assert same_bytes(host, golden), options


@pytest.mark.parametrize("interpolation", ["pil", "cv2", "nearest"])
@pytest.mark.parametrize("fmt", ["RGB888", "RGBA8888", "RGB565"])
def test_frame_ending_at_an_unreadable_page(interpolation, fmt):
    """The frame's last byte is the last readable one: the windows at the right edge of its last rows are filtered
    without reading past it (a read there faults)."""
    bpp = {"RGB888": 3, "RGBA8888": 4, "RGB565": 2}[fmt]
    w, h = 203, 37
    size = w * h * bpp
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    buf = mmap.mmap(-1, (pages + 1) * mmap.PAGESIZE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    guard = ctypes.c_void_p(base + pages * mmap.PAGESIZE)
    assert libc.mprotect(guard, ctypes.c_size_t(mmap.PAGESIZE), 0) == 0, ctypes.get_errno()  # PROT_NONE
    try:
        offset = pages * mmap.PAGESIZE - size
        frame = np.frombuffer(buf, np.uint8, size, offset).reshape(h, w, bpp)
        frame_rw = np.ndarray((h, w, bpp), np.uint8, buf, offset)
        frame_rw[...] = np.random.default_rng(7).integers(0, 256, frame.shape, dtype=np.uint8)
        for out in ((64, 24), (200, 30), (17, 37), (406, 74)):
            prep = Preprocessor(out, interpolation=interpolation, pixel_format=fmt, layout="NCHW")
            host, portable, golden = three_ways(prep, frame)
            assert same_bytes(host, portable) and same_bytes(host, golden), out
        del frame, frame_rw
    finally:
        libc.mprotect(guard, ctypes.c_size_t(mmap.PAGESIZE), 3)  # PROT_READ | PROT_WRITE, so the map can close
        buf.close()


def test_host_driver_statuses_are_up_pre_runs():
    prep = Preprocessor((64, 48))
    cfg = PreprocessConfig(prep.config((160, 120)))
    frame = np.zeros((120, 160, 3), np.uint8)
    with pytest.raises(ValueError, match="size differs"):
        cfg.run(np.zeros((121, 160, 3), np.uint8))
    with pytest.raises(MemoryError, match="scratch"):
        cfg.run(frame, scratch=bytearray(cfg.scratch_size - 1))
    out = cfg.run(frame, scratch=bytearray(cfg.scratch_size))
    assert same_bytes(out, cfg.run(frame, portable=True))
