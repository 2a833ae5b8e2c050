"""The warp stage (csrc/up_warp.c, MediaPipe's pre-processing of BlazeFace): C == golden bit for bit on generated
frames and matrices; OpenCV's steps against cv2 itself (the installed cv2's fixed-point remap and matrix functions,
OpenCV 4.10's warpAffine / warpPerspective); MediaPipe's captured BlazeFace inputs reproduced exactly from
MediaPipe's decoded pixels; BlazeFace through FaceDetector against MediaPipe's own detections; bad input refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import require
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from warp_reference import mediapipe_decoded, opencv410_warps

import ultrapost
from ultrapost.core.warp_config import (
    get_perspective_transform,
    invert_3x3,
    invert_affine,
    mediapipe_matrix,
    opencv_bilinear_table,
    prepare_warp_config,
)
from ultrapost.golden.warp import warp_run, warp_weights
from ultrapost.pipeline.preprocessor import Preprocessor

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
FORMATS = ("RGB888", "BGR888", "RGBA8888", "GRAY8")
BPP = {"RGB888": 3, "BGR888": 3, "RGBA8888": 4, "GRAY8": 1}
PHOTOS = [f"ultraface_{n}" for n in (1, 2, 3, 5, 6, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                                     26, 27)] + ["nasa_group"]  # fmt: skip
DETECTIONS = "blazeface/mediapipe_short_range_detections.npz"
SHORT_RANGE = "blazeface/face_detection_short_range.tflite"


def random_matrix(rng: np.random.Generator, kind: str, fw: int, fh: int, ow: int, oh: int) -> np.ndarray:
    """A forward 3x3 matrix (frame -> output): MediaPipe's letterbox, a scale and shift, or a rotation."""
    if kind == "mediapipe":
        return mediapipe_matrix((fw, fh), (ow, oh))
    sx, sy = ow / fw * rng.uniform(0.5, 2.0), oh / fh * rng.uniform(0.5, 2.0)
    tx, ty = rng.uniform(-0.5, 0.5) * ow, rng.uniform(-0.5, 0.5) * oh
    if kind == "shift":
        return np.array([[sx, 0.0, tx], [0.0, sy, ty], [0.0, 0.0, 1.0]])
    a = rng.uniform(-np.pi, np.pi)
    c, s = np.cos(a), np.sin(a)
    return np.array([[sx * c, -sy * s, tx + ow / 2], [sx * s, sy * c, ty + oh / 2], [0.0, 0.0, 1.0]])


@st.composite
def warp_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    fmt = draw(st.sampled_from(FORMATS))
    fw, fh = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    ow, oh = draw(st.integers(1, 50)), draw(st.integers(1, 50))
    kind = draw(st.sampled_from(["mediapipe", "shift", "rotate"]))
    frame = rng.integers(0, 256, (fh, fw, BPP[fmt]), dtype=np.uint8)
    options = dict(
        rule=draw(st.sampled_from(["affine", "perspective"])),
        pixel_format=fmt,
        channel_order=draw(st.sampled_from(["RGB", "BGR", "GBR"])),
        layout=draw(st.sampled_from(["NHWC", "NCHW"])),
        dtype=draw(st.sampled_from(["float32", "int8", "uint8"])),
        border_value=draw(st.integers(0, 255)),
    )
    if options["dtype"] != "float32":
        options["quantization"] = (
            draw(st.sampled_from([1.0, 1 / 128, 0.0078125])),
            -1 if options["dtype"] == "int8" else 0,
        )
    return frame, random_matrix(rng, kind, fw, fh, ow, oh), (ow, oh), options


def c_and_golden(frame: np.ndarray, cfg):
    from ultrapost.core._preprocess import WarpConfig

    c = WarpConfig(cfg).run(frame)
    status, words = warp_run(cfg, frame, frame.shape[1], frame.shape[0], frame.strides[0])
    assert status == 0
    return c, words.view(np.dtype(cfg.dtype))


@given(warp_cases())
@settings(max_examples=300, **SETTINGS)
def test_c_equals_golden(case):
    frame, matrix, size, options = case
    cfg = prepare_warp_config((frame.shape[1], frame.shape[0]), size, matrix=matrix, mean=(0.0, 10.0, 127.5),
                              std=(1.0, 2.5, 127.5), **options)  # fmt: skip
    c, g = c_and_golden(frame, cfg)
    assert c.dtype == g.dtype and c.shape == g.shape == cfg.tensor_shape
    assert np.array_equal(c.view(np.uint8), g.view(np.uint8))


def test_c_equals_golden_strided_views():
    """Rows any stride apart (a view into a wider frame) and a one-row frame: the C reads them in place."""
    rng = np.random.default_rng(5)
    big = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    for frame in (big[5:70, 7:100], big[:1], big[:, :1]):
        cfg = prepare_warp_config((frame.shape[1], frame.shape[0]), (33, 17), dtype="uint8", mean=0.0, std=1.0)
        c, g = c_and_golden(frame, cfg)
        assert np.array_equal(c, g)
        assert np.array_equal(c, c_and_golden(np.ascontiguousarray(frame), cfg)[0])


def test_bilinear_weights_are_opencvs_table():
    """The closed form the C and the golden twin use == OpenCV's BilinearTab_i built as initInterTab2D builds it."""
    fy, fx = np.divmod(np.arange(32 * 32), 32)
    assert np.array_equal(np.stack(warp_weights(fx, fy), axis=1), opencv_bilinear_table().astype(np.int64))
    assert opencv_bilinear_table()[0].tolist() == [32767, 0, 0, 1]


def test_matrix_steps_equal_opencvs():
    """MediaPipe's matrix (getPerspectiveTransform's LU), invert and invertAffineTransform, bit for bit."""
    rng = np.random.default_rng(11)
    for _ in range(400):
        fw, fh, o = int(rng.integers(1, 5000)), int(rng.integers(1, 5000)), int(rng.integers(1, 400))
        ours = mediapipe_matrix((fw, fh), (o, o))
        side = np.float32(max(fw, fh)) / 2
        cx, cy = np.float32(fw) / 2, np.float32(fh) / 2
        src = np.float32(
            [[cx - side, cy + side], [cx - side, cy - side], [cx + side, cy - side], [cx + side, cy + side]]
        )
        dst = np.float32([[0, o], [0, 0], [o, 0], [o, o]])
        theirs = cv2.getPerspectiveTransform(src, dst)
        assert np.array_equal(ours, theirs) and np.array_equal(get_perspective_transform(src, dst), theirs)
        assert np.array_equal(invert_3x3(ours), cv2.invert(ours)[1])
        m = rng.normal(size=(2, 3)) * [[1, 1, 100], [1, 1, 100]]
        assert np.array_equal(invert_affine(m), cv2.invertAffineTransform(m))


def remap_reference(frame: np.ndarray, cfg) -> np.ndarray:
    """The installed cv2's remap with OpenCV's fixed-point maps (column/row int16 pairs, 1/32 fractions): the
    interpolation, weights and border of every OpenCV version's warp, given the positions."""
    ow, oh = cfg.out_width, cfg.out_height
    x = cfg.x_pos.reshape(oh, ow) if cfg.per_pixel else np.broadcast_to(cfg.x_pos[None, :], (oh, ow))
    y = cfg.y_pos.reshape(oh, ow) if cfg.per_pixel else np.broadcast_to(cfg.y_pos[:, None], (oh, ow))
    xy = np.stack([x >> 5, y >> 5], axis=-1).astype(np.int16)
    frac = ((y & 31) * 32 + (x & 31)).astype(np.uint16)
    src = frame[:, :, 0] if frame.shape[2] == 1 else frame
    out = cv2.remap(
        src, xy, frac, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(cfg.border_value,) * 4
    )
    return out.reshape(oh, ow, -1)


@given(warp_cases())
@settings(max_examples=200, **SETTINGS)
def test_blend_equals_cv2_remap(case):
    frame, matrix, size, options = case
    options = dict(options, dtype="uint8", layout="NHWC", channel_order="RGB", quantization=None)
    cfg = prepare_warp_config((frame.shape[1], frame.shape[0]), size, matrix=matrix, mean=0.0, std=1.0, **options)
    c, _ = c_and_golden(frame, cfg)
    ref = remap_reference(frame, cfg)
    want = ref[:, :, [0, 0, 0]] if options["pixel_format"] == "GRAY8" else ref[:, :, :3]
    if options["pixel_format"] == "BGR888":
        want = want[:, :, ::-1]
    assert np.array_equal(c[0], want)


def test_equals_opencv_410_warps(tmp_path):
    """warp_affine / warp_perspective == OpenCV 4.10's warpAffine / warpPerspective, byte for byte: generated frames
    (letterbox, scale and shift, rotation; up and down; 1 px; border values) and the photos with MediaPipe's matrix."""
    rng = np.random.default_rng(7)
    cases = []
    for i in range(160):
        gray = i % 5 == 0
        fw, fh = (int(rng.integers(1, 400)), int(rng.integers(1, 400))) if i % 4 else (int(rng.integers(1, 4)),) * 2
        ow, oh = (int(rng.integers(1, 200)), int(rng.integers(1, 200))) if i % 3 else (128, 128)
        frame = rng.integers(0, 256, (fh, fw) if gray else (fh, fw, 3), dtype=np.uint8)
        kind = ("mediapipe", "shift", "rotate")[i % 3]
        cases.append((frame, random_matrix(rng, kind, fw, fh, ow, oh), (ow, oh), int(rng.integers(0, 256)) * (i % 2)))
    for name in PHOTOS:
        rgb = np.asarray(Image.open(require(f"images/{name}.jpg")).convert("RGB"))
        cases.append((rgb, mediapipe_matrix((rgb.shape[1], rgb.shape[0]), (128, 128)), (128, 128), 0))
    refs = opencv410_warps(cases, tmp_path)
    for (frame, matrix, size, border), (affine, perspective) in zip(cases, refs, strict=True):
        assert np.array_equal(ultrapost.warp_affine(frame, matrix[:2], size, border_value=border), affine)
        assert np.array_equal(ultrapost.warp_perspective(frame, matrix, size, border_value=border), perspective)
    # WARP_INVERSE_MAP: the matrix taken as output -> frame
    frame, matrix, size, border = cases[1]
    inv = invert_3x3(matrix)
    assert np.array_equal(
        ultrapost.warp_perspective(frame, inv, size, inverse_map=True, border_value=border), refs[1][1]
    )


@pytest.fixture(scope="module")
def mediapipe_pixels(tmp_path_factory):
    paths = [require(f"images/{name}.jpg") for name in PHOTOS]
    return mediapipe_decoded(paths, tmp_path_factory.mktemp("mediapipe"))


def test_mediapipe_inputs_reproduced(mediapipe_pixels):
    """MediaPipe's captured BlazeFace inputs, from MediaPipe's decoded pixels, on every photo: the uint8 warp exactly,
    and the float32 tensor within one float32 step of MediaPipe's ``u * (2 / 255) - 1`` (numpy's (u - 127.5) / 127.5,
    one rounding, differs from that two-rounding expression in the last bit for 207 of the 256 values)."""
    z = np.load(require(DETECTIONS))
    as_bytes = Preprocessor((128, 128), resize="letterbox", interpolation="mediapipe", layout="NHWC", mean=0.0,
                            std=1.0, dtype="uint8")  # fmt: skip
    detector_prep = Preprocessor((128, 128), resize="letterbox", interpolation="mediapipe", layout="NHWC",
                                 mean=127.5, std=127.5)  # fmt: skip
    for name in PHOTOS:
        pixels, captured = mediapipe_pixels[name], z[f"{name}_input_u8"]
        tensor, _ = as_bytes(pixels)
        assert np.array_equal(tensor[0], captured), name
        assert np.array_equal(as_bytes(pixels, backend="golden")[0], tensor)
        x, _ = detector_prep(pixels)
        mp_tensor = captured.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
        assert np.abs(x[0] - mp_tensor).max() <= np.float32(2**-23)


def test_decoders_differ_from_mediapipes(mediapipe_pixels):
    """Why FaceDetector on a file can differ from MediaPipe: Pillow's JPEG decoding is not MediaPipe's (a few percent
    of pixels, by up to 3 levels), and the warp carries that into the input."""
    z = np.load(require(DETECTIONS))
    differing = 0
    for name in PHOTOS:
        pil = np.asarray(Image.open(require(f"images/{name}.jpg")).convert("RGB"))
        mp_pixels = mediapipe_pixels[name]
        assert pil.shape == mp_pixels.shape and np.abs(pil.astype(int) - mp_pixels).max() <= 3
        tensor, _ = Preprocessor((128, 128), resize="letterbox", interpolation="mediapipe", layout="NHWC", mean=0.0,
                                 std=1.0, dtype="uint8")(pil)  # fmt: skip
        differing += not np.array_equal(tensor[0], z[f"{name}_input_u8"])
    assert differing == len(PHOTOS)


def mediapipe_boxes_match(faces, z, name: str) -> bool:
    """Same faces as MediaPipe, boxes (x, y, w, h; MediaPipe's are truncated to whole pixels) within 1 px."""
    boxes, scores = z[f"{name}_boxes"], z[f"{name}_scores"]
    if len(faces.boxes) != len(boxes):
        return False
    b = faces.boxes
    ours = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    theirs = boxes[np.argsort(-scores, kind="stable")].astype(np.float64)
    return bool(np.all(np.abs(ours - theirs) <= 1.0))


def test_blazeface_detector_gives_mediapipes_faces(mediapipe_pixels):
    """FaceDetector (BlazeFace's default pre-processing: MediaPipe's warp) on MediaPipe's decoded pixels: MediaPipe's
    faces on every photo, boxes within 1 px, or the post-processing core's refusal of a regressor beyond its +-1024
    float32 range (ultraface_2: MediaPipe's own input tensor gives 1330 at anchor 895; the core raises rather than
    clamp), checked on MediaPipe's captured tensor itself."""
    from ultrapost.core.config import OutOfRangeError
    from ultrapost.pipeline.runners import load_model

    z = np.load(require(DETECTIONS))
    runner = load_model(require(SHORT_RANGE))
    detector = ultrapost.FaceDetector(runner, clip=False)
    assert detector.interpolation == "mediapipe" and detector.preprocessor.interpolation == "mediapipe"
    matched = refused = 0
    for name in PHOTOS:
        try:
            faces = detector.detect(mediapipe_pixels[name])
        except OutOfRangeError:
            captured = z[f"{name}_input_u8"].astype(np.float32) * np.float32(2 / 255) - np.float32(1)
            assert np.abs(runner.run(captured[None])["regressors"]).max() > 1024, name
            refused += 1
            continue
        assert mediapipe_boxes_match(faces, z, name), name
        matched += 1
    assert matched + refused == len(PHOTOS) and matched >= 24


def test_bad_input_refused():
    with pytest.raises(ValueError, match="mediapipe"):
        Preprocessor((128, 128), resize="letterbox", interpolation="mediapipe", pixel_format="RGB565")
    with pytest.raises(ValueError, match="center"):
        Preprocessor((128, 128), resize="letterbox", interpolation="mediapipe", align="top-left")
    prep = Preprocessor((128, 128), resize="letterbox", interpolation="mediapipe", layout="NHWC")
    with pytest.raises(TypeError, match="uint8"):
        prep(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="RGB888"):
        prep(np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        prep(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="outside"):
        prep(np.zeros((10, 10, 3), np.uint8), crop=(5, 5, 10, 10))
    with pytest.raises(TypeError, match="numpy"):
        ultrapost.warp_affine([[1, 2]], np.eye(2, 3), (4, 4))
    with pytest.raises(ValueError, match="2x3"):
        ultrapost.warp_affine(np.zeros((4, 4, 3), np.uint8), np.eye(3), (4, 4))
    with pytest.raises(ValueError, match="finite"):
        ultrapost.warp_perspective(np.zeros((4, 4, 3), np.uint8), np.full((3, 3), np.nan), (4, 4))
    with pytest.raises(ValueError, match="dsize"):
        ultrapost.warp_affine(np.zeros((4, 4, 3), np.uint8), np.eye(2, 3), (0, 4))
    with pytest.raises(ValueError, match="border_value"):
        ultrapost.warp_affine(np.zeros((4, 4, 3), np.uint8), np.eye(2, 3), (4, 4), border_value=256)


def test_bad_config_refused_by_the_c():
    from dataclasses import replace

    from ultrapost.core._preprocess import WarpConfig

    cfg = prepare_warp_config((20, 10), (8, 8), pixel_format="GRAY8", dtype="uint8", mean=0.0, std=1.0)
    WarpConfig(cfg).run(np.zeros((10, 20, 1), np.uint8))
    with pytest.raises(ValueError, match="inconsistent"):
        WarpConfig(replace(cfg, channel_map=(0, 1, 0)))  # a gray frame has one channel
    with pytest.raises(ValueError, match="inconsistent"):
        WarpConfig(replace(cfg, x_pos=np.full(8, 40000 * 32, np.int32)))  # beyond OpenCV's 16-bit map
    with pytest.raises(ValueError, match="x_pos must have 64 entries"):
        WarpConfig(replace(cfg, per_pixel=True))
    with pytest.raises(ValueError, match="size differs"):
        WarpConfig(cfg).run(np.zeros((10, 21, 1), np.uint8))
    with pytest.raises(MemoryError, match="scratch"):
        WarpConfig(cfg).run(np.zeros((10, 20, 1), np.uint8), scratch=bytearray(7))


def test_warp_stage_is_freestanding_and_builds_for_cortex_m(tmp_path):
    """up_warp.c (in firmware builds with the pre-processing: core_sources(preprocess=True)) includes only the
    core's header and compiles warning-free for Cortex-M0+, M4 and M33, needing no float or heap helper."""
    import re
    import shutil
    import subprocess

    from conftest import require_tool

    from ultrapost.firmware.build import core_sources
    from ultrapost.firmware.toolchain import csrc_dir

    (source,) = [p for p in core_sources(preprocess=True) if p.name == "up_warp.c"]
    assert source not in core_sources()
    for inc in re.findall(r"^\s*#\s*include\s+([<\"][^>\"]+[>\"])", source.read_text(), re.M):
        assert inc == '"ultrapost.h"', (source, inc)
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


def test_crop_is_mediapipes_roi_and_the_transform_maps_back():
    """A crop is MediaPipe's ROI: padded to the input's aspect, centered on the crop, pixels around it read from the
    frame; the Transform maps the input's pixels back onto the frame's as MediaPipe's projection does."""
    from ultrapost.core.warp_config import mediapipe_roi

    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    crop = (30, 10, 70, 50)
    prep = Preprocessor((64, 64), resize="letterbox", interpolation="mediapipe", layout="NHWC", mean=0.0, std=1.0,
                        dtype="uint8", crop=crop, pad_value=9)  # fmt: skip
    tensor, transform = prep(frame)
    roi = mediapipe_roi(crop[2:], (64, 64), offset=crop[:2])
    assert roi == (65.0, 35.0, 70.0, 70.0)
    expected = ultrapost.warp_perspective(frame, mediapipe_matrix(roi, (64, 64)), (64, 64), border_value=9)
    assert np.array_equal(tensor[0], expected)
    assert np.array_equal(prep(frame, backend="golden")[0], tensor)
    # the ROI's corners land on the input's corners
    corners = transform.points_to_image(np.array([[0.0, 0.0, 1.0, 1.0]]))
    assert np.allclose(corners, [[30.0, 0.0, 100.0, 70.0]])
    stretch = Preprocessor((64, 32), resize="stretch", interpolation="mediapipe", dtype="uint8", mean=0.0, std=1.0,
                           layout="NHWC")  # fmt: skip
    out, t = stretch(frame)
    assert np.array_equal(out[0], ultrapost.warp_perspective(frame, mediapipe_matrix((80.0, 45.0, 160.0, 90.0),
                                                                                     (64, 32)), (64, 32)))  # fmt: skip
    assert np.allclose(t.points_to_image(np.array([[1.0, 1.0]])), [[160.0, 90.0]])


def test_warp_fuzzer_bounded_run(tmp_path):
    """libFuzzer + ASan + UBSan over warp configs (valid and broken, positions anywhere in int32), strides, scratch
    and output sizes and frames, for a sixth of $ULTRAPOST_FUZZ_SECONDS (at least 8 s)."""
    import os
    import re
    import shutil
    import subprocess

    from conftest import require_tool

    from ultrapost.firmware.build import build_fuzzer

    require_tool(shutil.which("clang") is not None, "clang with libFuzzer")
    seconds = max(8, int(os.environ.get("ULTRAPOST_FUZZ_SECONDS", "8")) // 6)
    exe = build_fuzzer(tmp_path, target="up_warp")
    proc = subprocess.run(
        [str(exe), "-seed=1", f"-max_total_time={seconds}", "-rss_limit_mb=1024", "-max_len=4096"],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert re.search(r"Done (\d+) runs in (\d+) second", proc.stderr), proc.stderr[-2000:]
