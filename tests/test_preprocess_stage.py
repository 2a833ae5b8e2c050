"""The C pre-processing stage: C == golden bit for bit on generated frames, each interpolation == its reference
(Pillow, OpenCV) byte for byte, pixel formats == OpenCV's conversions, the recorded model inputs reproduced from the
photos, the existing tensors of every family reproduced, and bad input refused with clear errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import require
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ultrapost.pipeline.preprocessor import Preprocessor, resize

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
CV2_FLAGS = {"cv2": cv2.INTER_LINEAR_EXACT, "nearest": cv2.INTER_NEAREST_EXACT}
FORMATS = ("RGB888", "BGR888", "RGBA8888", "GRAY8", "RGB565", "YUYV")
PHOTOS = [f"ultraface_{n}" for n in (1, 2, 3, 5, 6, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                                     26, 27)] + ["nasa_group"]  # fmt: skip


def reference_resize(rgb: np.ndarray, size, interpolation: str) -> np.ndarray:
    if interpolation == "pil":
        return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))
    return cv2.resize(rgb, size, interpolation=CV2_FLAGS[interpolation])


def frame_of(rng: np.random.Generator, fmt: str, w: int, h: int) -> np.ndarray:
    bpp = {"RGB888": 3, "BGR888": 3, "RGBA8888": 4, "GRAY8": 1, "RGB565": 2, "YUYV": 2}[fmt]
    a = rng.integers(0, 256, (h, w, bpp), dtype=np.uint8)
    return a[:, :, 0] if fmt == "GRAY8" else a


def as_rgb(frame: np.ndarray, fmt: str) -> np.ndarray:
    """The frame in RGB by OpenCV's own conversions (the stage's stated rules)."""
    if fmt == "RGB888":
        return frame
    if fmt == "BGR888":
        return np.ascontiguousarray(frame[:, :, ::-1])
    if fmt == "RGBA8888":
        return np.ascontiguousarray(frame[:, :, :3])
    if fmt == "GRAY8":
        return np.repeat(frame[:, :, None], 3, axis=2)
    if fmt == "RGB565":
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_BGR5652RGB)
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_YUV2RGB_YUYV)


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --- C == golden -------------------------------------------------------------------------------------------------


@st.composite
def cases(draw):
    fmt = draw(st.sampled_from(FORMATS))
    w = draw(st.integers(1, 48)) * (2 if fmt == "YUYV" else 1)
    h = draw(st.integers(1, 48))
    aspect = draw(st.sampled_from(["any", "wide", "tall"]))
    ow = draw(st.integers(1, 96 if aspect != "tall" else 4))
    oh = draw(st.integers(1, 96 if aspect != "wide" else 4))
    crop = None
    if draw(st.booleans()):
        cx = draw(st.integers(0, w - 1))
        cy = draw(st.integers(0, h - 1))
        edge = draw(st.booleans())  # crops that reach the right and bottom edges
        cw = w - cx if edge else draw(st.integers(1, w - cx))
        ch = h - cy if edge else draw(st.integers(1, h - cy))
        crop = (cx, cy, cw, ch)
    dtype = draw(st.sampled_from(["float32", "int8", "uint8"]))
    quant = None
    if dtype != "float32" and draw(st.booleans()):
        quant = (
            draw(st.sampled_from([1 / 128, 0.02, 1.0, 3.5])),
            draw(st.integers(-20, 20)) % (128 if dtype == "int8" else 256),
        )
    options = dict(
        input_size=(ow, oh),
        resize=draw(st.sampled_from(["stretch", "letterbox"])),
        align=draw(st.sampled_from(["center", "top-left"])),
        interpolation=draw(st.sampled_from(["pil", "cv2", "nearest"])),
        channel_order=draw(st.sampled_from(["RGB", "BGR"])),
        layout=draw(st.sampled_from(["NCHW", "NHWC"])),
        mean=draw(st.sampled_from([0.0, 127.0, 127.5, (104.0, 117.0, 123.0)])),
        std=draw(st.sampled_from([1.0, 128.0, 127.5, (58.4, 57.1, 57.4)])),
        dtype=dtype,
        quantization=quant,
        pixel_format=fmt,
        pad_value=draw(st.integers(0, 255)),
        crop=crop,
    )
    return options, w, h, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=400, **SETTINGS)
@given(cases())
def test_c_equals_golden_bit_for_bit(case):
    options, w, h, seed = case
    frame = frame_of(np.random.default_rng(seed), options["pixel_format"], w, h)
    prep = Preprocessor(**options)
    c, tc = prep(frame)
    g, tg = prep(frame, backend="golden")
    assert same_bytes(c, g), options
    assert tc == tg
    assert c.dtype == np.dtype(options["dtype"])


@settings(max_examples=200, **SETTINGS)
@given(cases())
def test_strided_views_are_read_in_place(case):
    """A column slice of a wider frame (row stride > row bytes) gives what its compact copy gives."""
    options, w, h, seed = case
    rng = np.random.default_rng(seed)
    pad = 2 if options["pixel_format"] == "YUYV" else 3
    wide = frame_of(rng, options["pixel_format"], w + 2 * pad, h)
    view = wide[:, pad : pad + w]
    prep = Preprocessor(**options)
    assert same_bytes(prep(view)[0], prep(np.ascontiguousarray(view))[0])


# --- each interpolation == its reference ---------------------------------------------------------------------------


@settings(max_examples=300, **SETTINGS)
@given(
    st.integers(1, 80), st.integers(1, 80), st.integers(1, 120), st.integers(1, 120),
    st.sampled_from(["pil", "cv2", "nearest"]), st.integers(0, 2**32 - 1),
)  # fmt: skip
def test_resize_equals_its_reference(w, h, ow, oh, interpolation, seed):
    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    ref = reference_resize(rgb, (ow, oh), interpolation)
    assert same_bytes(resize(rgb, (ow, oh), interpolation), ref)
    gray = rgb[:, :, 1].copy()
    assert same_bytes(resize(gray, (ow, oh), interpolation), reference_resize(gray, (ow, oh), interpolation))


@pytest.mark.parametrize("interpolation", ["pil", "cv2", "nearest"])
@pytest.mark.parametrize("size", [(1, 1), (1, 97), (97, 1), (3, 500), (500, 3), (640, 2), (2, 480)])
def test_extreme_sizes_and_aspect_ratios(interpolation, size):
    rgb = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert same_bytes(resize(rgb, size, interpolation), reference_resize(rgb, size, interpolation))
    tiny = rgb[:1, :1]
    assert same_bytes(resize(tiny, size, interpolation), reference_resize(tiny, size, interpolation))


@settings(max_examples=200, **SETTINGS)
@given(st.data(), st.sampled_from(["pil", "cv2", "nearest"]), st.sampled_from(FORMATS))
def test_crops_and_pixel_formats_equal_the_reference(data, interpolation, fmt):
    """Crop first, then resize (Pillow: crop(box).resize; OpenCV: a slice), of the frame in RGB by cv2.cvtColor."""
    w = data.draw(st.integers(1, 40)) * (2 if fmt == "YUYV" else 1)
    h = data.draw(st.integers(1, 40))
    cx, cy = data.draw(st.integers(0, w - 1)), data.draw(st.integers(0, h - 1))
    cw, ch = data.draw(st.integers(1, w - cx)), data.draw(st.integers(1, h - cy))
    ow, oh = data.draw(st.integers(1, 64)), data.draw(st.integers(1, 64))
    frame = frame_of(np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))), fmt, w, h)
    prep = Preprocessor((ow, oh), interpolation=interpolation, layout="NHWC", mean=0.0, std=1.0, dtype="uint8",
                        pixel_format=fmt, crop=(cx, cy, cw, ch))  # fmt: skip
    rgb = as_rgb(frame, fmt)[cy : cy + ch, cx : cx + cw]
    if interpolation == "pil":
        ref = np.asarray(
            Image.fromarray(as_rgb(frame, fmt)).crop((cx, cy, cx + cw, cy + ch)).resize((ow, oh), Image.BILINEAR)
        )
    else:
        ref = reference_resize(np.ascontiguousarray(rgb), (ow, oh), interpolation)
    assert same_bytes(prep(frame)[0][0], ref)


def test_yuyv_and_rgb565_conversions_are_opencv_for_every_code():
    """Every RGB565 word and every (U, V) pair with 16 Y values each: identical to cv2.cvtColor."""
    words = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    prep = Preprocessor((256, 256), layout="NHWC", mean=0.0, std=1.0, dtype="uint8", pixel_format="RGB565")
    expected = cv2.cvtColor(words.view(np.uint8).reshape(256, 256, 2), cv2.COLOR_BGR5652RGB)
    assert same_bytes(prep(words)[0][0], expected)
    u, v = np.meshgrid(np.arange(256), np.arange(256))  # rows: V; pairs along a row: U
    yuyv = np.empty((256 * 8, 512, 2), np.uint8)
    for k in range(8):
        rows = yuyv[k * 256 : (k + 1) * 256]
        rows[:, 0::2, 1], rows[:, 1::2, 1] = u, v
        rows[:, 0::2, 0] = (u * 7 + v * 3 + 32 * k) % 256
        rows[:, 1::2, 0] = (u * 5 + v * 11 + 32 * k + 16) % 256
    prep = Preprocessor((512, 2048), layout="NHWC", mean=0.0, std=1.0, dtype="uint8", pixel_format="YUYV")
    assert same_bytes(prep(yuyv)[0][0], cv2.cvtColor(yuyv, cv2.COLOR_YUV2RGB_YUYV))


@pytest.mark.parametrize("name", PHOTOS)
def test_shared_photos_equal_pillow_and_opencv(name):
    from ultrapost.pipeline.preprocess import load_image

    rgb = load_image(require(f"images/{name}.jpg"))
    for size in [(320, 240), (128, 128), (640, 480)]:
        for interpolation in ("pil", "cv2", "nearest"):
            assert same_bytes(resize(rgb, size, interpolation), reference_resize(rgb, size, interpolation)), (
                size,
                interpolation,
            )


@pytest.mark.parametrize("size, npz", [((320, 240), "inputs_320x240"), ((128, 128), "inputs_128x128")])
def test_recorded_model_inputs_are_reproduced_from_the_photos(size, npz):
    from ultrapost.pipeline.preprocess import load_image

    recorded = np.load(require(f"int8/{npz}.npz"))
    names = [k for k in recorded.files if k != "astronaut"]  # the astronaut is not among the shared photos
    assert len(names) == 24
    prep = Preprocessor(size, interpolation="pil", layout="NHWC", mean=0.0, std=1.0, dtype="uint8")
    for name in names:
        tensor, _ = prep(load_image(require(f"images/ultraface_{name}.jpg")))
        assert same_bytes(tensor[0], recorded[name]), name
        int8 = Preprocessor(size, layout="NHWC", mean=127.0, std=128.0, dtype="int8", quantization=(1 / 128, -1))
        q, _ = int8(load_image(require(f"images/ultraface_{name}.jpg")))
        assert np.array_equal(q[0].astype(np.int16), recorded[name].astype(np.int16) - 128), name


def test_float_and_quantized_tables_are_numpys_values():
    x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = np.stack([x, 255 - x, x[::-1]], axis=2)
    mean, std = (104.0, 117.0, 123.0), (58.4, 57.1, 57.4)
    t, _ = Preprocessor((16, 16), layout="NHWC", mean=mean, std=std, channel_order="BGR")(rgb)
    expected = ((rgb[:, :, ::-1].astype(np.float64) - mean) / std).astype(np.float32)
    assert same_bytes(t[0], expected)
    q, _ = Preprocessor((16, 16), layout="NCHW", mean=127.5, std=127.5, dtype="int8", quantization=(0.0078125, 0))(rgb)
    exp_q = np.clip(np.round(((rgb.astype(np.float64) - 127.5) / 127.5) / 0.0078125), -128, 127).astype(np.int8)
    assert same_bytes(q[0], np.ascontiguousarray(exp_q.transpose(2, 0, 1)))


# --- Transform ---------------------------------------------------------------------------------------------------


def test_transform_maps_the_rect_to_the_crop():
    prep = Preprocessor((128, 128), resize="letterbox", crop=(100, 50, 300, 150))
    t = prep.transform((640, 480))
    corners = t.points_to_image(np.array([[p / 128 for p in (0, 32 + 0.0, 128, 96)]]))  # rect: 128x64 at y = 32
    assert np.allclose(corners, [[100, 50, 400, 200]])
    assert t.image_size == (640, 480) and t.input_size == (128, 128)
    top = Preprocessor((128, 128), resize="letterbox", align="top-left").transform((640, 320))
    assert top.offset == (0.0, 0.0) and top.scale == (0.2, 0.2)


# --- bad input -----------------------------------------------------------------------------------------------------


def test_bad_frames_are_clear_errors():
    prep = Preprocessor((32, 32))
    with pytest.raises(TypeError, match="uint8"):
        prep(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        prep(np.zeros((8, 8, 4), np.uint8))
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        prep(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        prep(np.zeros((0, 8, 3), np.uint8))
    with pytest.raises(TypeError, match="numpy array"):
        prep([[1, 2, 3]])
    with pytest.raises(ValueError, match="even width"):
        Preprocessor((8, 8), pixel_format="YUYV")(np.zeros((4, 5, 2), np.uint8))
    with pytest.raises(ValueError, match="outside the 8x8 frame"):
        Preprocessor((8, 8), crop=(4, 4, 5, 4))(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="outside"):
        Preprocessor((8, 8), crop=(0, 0, 0, 4))(np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize(
    "options, error",
    [
        (dict(input_size=(0, 10)), ValueError),
        (dict(input_size=(10, 40000)), ValueError),
        (dict(input_size="big"), TypeError),
        (dict(interpolation="bicubic"), ValueError),
        (dict(layout="CHW"), ValueError),
        (dict(dtype="float16"), ValueError),
        (dict(channel_order="RGBA"), ValueError),
        (dict(std=0.0), ValueError),
        (dict(mean=float("nan")), ValueError),
        (dict(mean=(1.0, 2.0)), ValueError),
        (dict(pad_value=256), ValueError),
        (dict(dtype="int8", quantization=(0.0, 0)), ValueError),
        (dict(dtype="int8", quantization=(0.1, 200)), ValueError),
        (dict(quantization=(0.1, 0)), ValueError),
        (dict(pixel_format="NV12"), ValueError),
    ],
)
def test_bad_options_are_clear_errors(options, error):
    with pytest.raises(error):
        Preprocessor(**options)


def test_c_status_codes_become_exceptions():
    from numpy.lib.stride_tricks import as_strided
    from ultrapost.core._preprocess import PreprocessConfig

    from ultrapost.golden.preprocess import UP_ERR_CONFIG, pre_check_config

    prep = Preprocessor((16, 16))
    cfg = prep.config((32, 24))
    c = PreprocessConfig(cfg)
    frame = np.zeros((24, 32, 3), np.uint8)
    assert c.run(frame).shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="size differs"):
        c.run(np.zeros((24, 30, 3), np.uint8))
    overlapping = as_strided(np.zeros(24 * 90 + 96, np.uint8), shape=(24, 32, 3), strides=(90, 3, 1))
    with pytest.raises(ValueError, match="row stride"):
        c.run(overlapping)
    with pytest.raises(MemoryError, match="scratch"):
        c.run(frame, scratch=bytearray(16))
    from dataclasses import replace

    bad = replace(cfg, x_start=np.full_like(cfg.x_start, 31))  # windows past the crop's right edge
    assert pre_check_config(bad) == UP_ERR_CONFIG
    with pytest.raises(ValueError, match="inconsistent"):
        PreprocessConfig(bad)
    huge = replace(cfg, x_coeff=np.full_like(cfg.x_coeff, 2**28))  # accumulators would overflow int32
    assert pre_check_config(huge) == UP_ERR_CONFIG
    with pytest.raises(ValueError, match="inconsistent"):
        PreprocessConfig(huge)
    backwards = replace(cfg, y_start=cfg.y_start[::-1].copy())  # rows must be needed in order
    assert pre_check_config(backwards) == UP_ERR_CONFIG
    with pytest.raises(ValueError, match="inconsistent"):
        PreprocessConfig(backwards)


# --- FaceDetector --------------------------------------------------------------------------------------------------

DETECTOR_MODELS = (
    "ultraface/version-RFB-320.onnx",
    "int8/version-slim-320_raw_int8.tflite",
    "int8/ultraface_ultraslim_int8.tflite",
    "blazeface/face_detection_short_range.tflite",
)


@pytest.mark.parametrize("model", DETECTOR_MODELS)
def test_face_detector_feeds_its_family_the_bytes_of_prepare(model):
    """FaceDetector pre-processes through the C stage with its family's settings: with ``interpolation="pil"`` (the
    default of every family but BlazeFace, whose default is MediaPipe's warp: tests/test_warp.py) the tensors of the
    Python ``prepare`` (Pillow bilinear; stretch or letterbox; the family's normalization) byte for byte."""
    from ultrapost.pipeline.detect import FaceDetector
    from ultrapost.pipeline.preprocess import load_image, prepare

    detector = FaceDetector(require(model), interpolation="pil")
    assert isinstance(detector.preprocessor, Preprocessor)
    for name in ("nasa_group", "ultraface_5", "ultraface_13"):
        image = load_image(require(f"images/{name}.jpg"))
        tensor, transform = detector.preprocessor(image)
        expected, expected_transform = prepare(image, detector.spec)
        assert same_bytes(tensor, expected), (model, name)
        assert np.allclose(transform.scale, expected_transform.scale) and transform.offset == expected_transform.offset
    golden = FaceDetector(detector.runner, backend="golden", interpolation="pil")
    assert same_bytes(golden.preprocessor(image, backend="golden")[0], tensor)
    assert np.array_equal(golden(image).boxes, detector(image).boxes)


def test_preprocess_fuzzer_bounded_run(tmp_path):
    """libFuzzer + ASan + UBSan over pre-processing configs (valid and broken), strides, scratch and output sizes
    and frames, for $ULTRAPOST_FUZZ_SECONDS (8 by default)."""
    import os
    import re
    import shutil
    import subprocess

    from conftest import require_tool

    from ultrapost.firmware.build import build_fuzzer

    require_tool(shutil.which("clang") is not None, "clang with libFuzzer")
    seconds = int(os.environ.get("ULTRAPOST_FUZZ_SECONDS", "8"))
    exe = build_fuzzer(tmp_path, target="up_preprocess")
    proc = subprocess.run(
        [str(exe), "-seed=1", f"-max_total_time={seconds}", "-rss_limit_mb=1024", "-max_len=4096"],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert re.search(r"Done (\d+) runs in (\d+) second", proc.stderr), proc.stderr[-2000:]


def test_preprocess_stage_is_freestanding_and_builds_for_cortex_m(tmp_path):
    """up_preprocess.c (built with the core only where asked: core_sources(preprocess=True)) includes only the
    core's own headers (freestanding themselves) and compiles warning-free for Cortex-M0+, M4 and M33, needing
    no float or heap helper."""
    import re
    import shutil
    import subprocess

    from conftest import require_tool

    from ultrapost.firmware.build import core_sources
    from ultrapost.firmware.toolchain import csrc_dir

    (source,) = [p for p in core_sources(preprocess=True) if p.name == "up_preprocess.c"]
    assert source not in core_sources()
    for inc in re.findall(r"^\s*#\s*include\s+([<\"][^>\"]+[>\"])", source.read_text(), re.M):
        assert inc in ('"ultrapost.h"', '"up_internal.h"'), (source, inc)
    gcc = shutil.which("arm-none-eabi-gcc")
    require_tool(gcc is not None, "arm-none-eabi-gcc")
    for cpu in ("cortex-m0plus", "cortex-m4", "cortex-m33"):
        obj = tmp_path / f"{cpu}.o"
        flags = ["-std=c99", "-O2", "-ffreestanding", "-Wall", "-Wextra", "-Wshadow", "-Wconversion", "-Werror"]
        cmd = [gcc, f"-mcpu={cpu}", "-mthumb", *flags, f"-I{csrc_dir()}", "-c", str(source), "-o", str(obj)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        nm = subprocess.run([shutil.which("arm-none-eabi-nm"), "-u", str(obj)], capture_output=True, text=True)
        undefined = set(nm.stdout.split()) - {"U"}
        assert all(re.fullmatch(r"__aeabi_(l|u?i)\w+", s) for s in undefined), (cpu, undefined)
