"""Preprocessing: the recorded model inputs are reproduced byte for byte from the photos, the normalizations match
each family, and boxes map back to the photo (stretch and letterbox)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import require, require_tool
from PIL import Image

from ultrapost.pipeline.preprocess import Transform, load_image, normalize, prepare, resize_image
from ultrapost.pipeline.recognize import ModelSpec
from ultrapost.pipeline.runners import load_model

Q_IN = (0.0078125, -1)
INT8_320 = ModelSpec(
    family="ultraface", input_size=(320, 240), layout="NHWC", input_dtype="int8", input_quantization=Q_IN,
    scores="scores_raw", boxes="boxes_raw", decoded=False, logits=True,
)  # fmt: skip
FLOAT_320 = ModelSpec(family="ultraface", input_size=(320, 240), scores="scores", boxes="boxes", decoded=True)
SLIM_128 = ModelSpec(
    family="ultraslim", input_size=(128, 128), input_dtype="int8", input_quantization=Q_IN, scores="detections",
)  # fmt: skip
BLAZE_128 = ModelSpec(family="blazeface", input_size=(128, 128), scores="classificators", boxes="regressors")


def photo(name: str):
    return require(f"images/ultraface_{name}.jpg")


@pytest.mark.parametrize("size, npz", [((320, 240), "inputs_320x240"), ((128, 128), "inputs_128x128")])
def test_resize_reproduces_recorded_inputs(size, npz):
    recorded = np.load(require(f"int8/{npz}.npz"))
    names = [k for k in recorded.files if k != "astronaut"]  # the astronaut is not among the shared photos
    assert len(names) == 24
    for name in names:
        pixels, transform = resize_image(load_image(photo(name)), size)
        assert pixels.dtype == np.uint8 and np.array_equal(pixels, recorded[name]), name
        assert transform.input_size == size


def test_int8_tensor_is_pixel_minus_128_and_reproduces_the_recorded_output():
    """Photo file -> prepare -> reference kernels == the recorded int8 output, end to end."""
    recorded = np.load(require("int8/inputs_320x240.npz"))
    outputs = np.load(require("int8/outputs_version-slim-320_raw_int8.npz"))
    runner = load_model(require("int8/version-slim-320_raw_int8.tflite"), op_resolver="reference")
    for name in ["2", "13"]:
        x, _ = prepare(photo(name), INT8_320)
        assert x.dtype == np.int8 and x.shape == (1, 240, 320, 3)
        assert np.array_equal(x[0].astype(np.int16), recorded[name].astype(np.int16) - 128)
        out = runner.run(x)
        assert np.array_equal(out["scores_raw"][0], outputs[f"{name}_scores_q"])
        assert np.array_equal(out["boxes_raw"][0], outputs[f"{name}_boxes_q"])


def test_ultraslim_int8_tensor():
    recorded = np.load(require("int8/inputs_128x128.npz"))
    x, t = prepare(photo("5"), SLIM_128)
    assert x.shape == (1, 128, 128, 3) and x.dtype == np.int8
    assert np.array_equal(x[0].astype(np.int16), recorded["5"].astype(np.int16) - 128)
    assert t.image_size == (1024, 769) and t.offset == (0.0, 0.0)


def test_float_ultraface_tensor_is_nchw_x_minus_127_over_128():
    recorded = np.load(require("int8/inputs_320x240.npz"))
    x, _ = prepare(photo("1"), FLOAT_320)
    assert x.dtype == np.float32 and x.shape == (1, 3, 240, 320) and x.flags.c_contiguous
    expected = ((recorded["1"].astype(np.float64) - 127) / 128).transpose(2, 0, 1)
    assert np.array_equal(x[0], expected.astype(np.float32))


def test_blazeface_tensor_is_minus_one_to_one_with_a_black_border():
    image = load_image(require("images/nasa_group.jpg"))  # 640x322: letterboxed to 128x64 + 32 rows each side
    x, t = prepare(image, BLAZE_128)
    assert x.dtype == np.float32 and x.shape == (1, 128, 128, 3)
    assert t.offset == (0.0, 32.0) and t.scale == (128 / 640, 64 / 322)
    assert np.all(x[0, :32] == -1.0) and np.all(x[0, 96:] == -1.0)
    inner = x[0, 32:96]
    assert inner.min() >= -1.0 and inner.max() <= 1.0 and inner.std() > 0.1
    pixels, _ = resize_image(image, (128, 128), mode="letterbox")
    assert np.array_equal(x[0], ((pixels.astype(np.float64) - 127.5) / 127.5).astype(np.float32))


def test_bgr_channel_order_and_per_channel_mean():
    spec = ModelSpec(family="retinaface", input_size=(4, 2), scores="conf", boxes="loc", keypoints="landms")
    pixels = np.zeros((2, 4, 3), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 200, 100, 50  # R, G, B
    x = normalize(pixels, spec)
    assert x.shape == (1, 3, 2, 4)
    # BGR minus (104, 117, 123): B 50-104, G 100-117, R 200-123.
    assert np.array_equal(x[0, :, 0, 0], np.array([-54.0, -17.0, 77.0], np.float32))


def test_quantization_clips_to_the_type_range():
    spec = ModelSpec(
        family="ultraface", input_size=(2, 1), layout="NHWC", input_dtype="int8", input_quantization=(1 / 256, 0),
        scores="s", boxes="b", decoded=False,
    )  # fmt: skip
    x = normalize(np.array([[[0, 127, 255], [128, 126, 1]]], np.uint8), spec)
    # (p - 127) / 128 * 256 -> -254 (clipped to -128), 0, 256 (clipped to 127); 2, -2, -252 (clipped).
    assert np.array_equal(x[0, 0], np.array([[-128, 0, 127], [2, -2, -128]], np.int8))
    with pytest.raises(ValueError, match=r"uint8 \[1, 2, 3\]"):
        normalize(np.zeros((2, 2, 3), np.uint8), spec)


def test_stretch_maps_the_unit_box_to_the_whole_photo():
    _, t = prepare(np.zeros((300, 500, 3), np.uint8), FLOAT_320)
    assert np.array_equal(t.boxes_to_image([[0.0, 0.0, 1.0, 1.0]]), [[0.0, 0.0, 500.0, 300.0]])
    assert np.allclose(t.boxes_to_image([0.25, 0.5, 0.5, 1.0]), [125.0, 150.0, 250.0, 300.0], rtol=0, atol=1e-12)


def test_letterbox_puts_a_drawn_box_back_where_it_was():
    """A white rectangle drawn on a black photo is found in the model input and mapped back to its pixels."""
    image = np.zeros((200, 400, 3), np.uint8)
    image[50:150, 100:300] = 255  # x1=100, y1=50, x2=300, y2=150 (pixel edges)
    pixels, t = resize_image(image, (128, 128), mode="letterbox")
    assert t.scale == (0.32, 0.32) and t.offset == (0.0, 32.0)
    ys, xs = np.nonzero(pixels[..., 0] >= 128)  # pixels at least half covered by the rectangle
    found = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64) / 128.0
    back = t.boxes_to_image(found)
    # One model-input pixel is 1 / 0.32 = 3.1 photo pixels: the edge can be off by half of one.
    np.testing.assert_allclose(back, [100, 50, 300, 150], rtol=0, atol=0.5 / 0.32 + 1e-9)


@pytest.mark.parametrize("mode", ["stretch", "letterbox"])
def test_box_and_point_mappings_are_inverse(mode):
    _, t = resize_image(np.zeros((322, 640, 3), np.uint8), (128, 96), mode=mode)
    rng = np.random.default_rng(0)
    boxes = rng.uniform(-0.2, 1.2, size=(7, 4))
    assert np.allclose(t.boxes_from_image(t.boxes_to_image(boxes)), boxes, rtol=0, atol=1e-12)
    landmarks = rng.uniform(0, 1, size=(7, 10))  # five (x, y) points per face
    pts = t.points_to_image(landmarks)
    assert pts.shape == (7, 10)
    pairs = landmarks.reshape(-1, 2)  # each point maps like a box corner
    corners = t.boxes_to_image(np.concatenate([pairs, pairs], axis=1))[:, :2]
    assert np.allclose(pts.reshape(-1, 2), corners, rtol=0, atol=1e-12)
    assert np.allclose(t.points_from_image(pts), landmarks, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="last axis of 4"):
        t.boxes_to_image(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="even"):
        t.points_to_image(np.zeros((3, 5)))


def test_transform_is_plain_data():
    t = Transform((10, 20), (5, 5), (0.5, 0.25), (0.0, 0.0))
    assert np.array_equal(t.points_to_image([1.0, 1.0]), [10.0, 20.0])


def test_cv2_interpolation_matches_opencv():
    require_tool(importlib.util.find_spec("cv2") is not None, "opencv-python-headless (the models extra)")
    import cv2

    image = load_image(photo("13"))
    pixels, _ = resize_image(image, (320, 240), interpolation="cv2")
    assert np.array_equal(pixels, cv2.resize(image, (320, 240), interpolation=cv2.INTER_LINEAR))
    pil, _ = resize_image(image, (320, 240))
    assert not np.array_equal(pixels, pil)  # Pillow antialiases when shrinking, OpenCV does not


def test_load_image_from_arrays_and_pil():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert np.array_equal(load_image(gray), np.repeat(gray[:, :, None], 3, axis=2))
    assert load_image(gray[:, :, None]).shape == (3, 4, 3)
    rgba = np.random.default_rng(1).integers(0, 256, (3, 4, 4), dtype=np.uint8)
    assert np.array_equal(load_image(rgba), rgba[:, :, :3])
    assert np.array_equal(load_image(Image.fromarray(rgba[:, :, :3])), rgba[:, :, :3])
    assert np.array_equal(load_image(Image.fromarray(gray)), np.repeat(gray[:, :, None], 3, axis=2))


def test_load_image_applies_exif_orientation(tmp_path):
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(image).save(path, exif=exif, quality=95)
    assert load_image(path).shape == (40, 20, 3)
    assert load_image(path, exif_transpose=False).shape == (20, 40, 3)


def test_load_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        load_image(tmp_path / "missing.jpg")
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="cannot read image .*notes.jpg"):
        load_image(text)
    truncated = tmp_path / "half.jpg"
    truncated.write_bytes(photo("13").read_bytes()[:2000])
    with pytest.raises(ValueError, match="half.jpg"):
        load_image(truncated)
    with pytest.raises(TypeError, match="uint8"):
        load_image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\[4, 4, 2\]"):
        load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        load_image(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(TypeError, match="list"):
        load_image([[1, 2, 3]])


def test_prepare_errors():
    image = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(TypeError, match="ModelSpec"):
        prepare(image, {"family": "ultraface"})
    with pytest.raises(ValueError, match="resize"):
        prepare(image, FLOAT_320, resize="crop")
    with pytest.raises(ValueError, match="interpolation"):
        prepare(image, FLOAT_320, interpolation="nearest")
    with pytest.raises(ValueError, match="pad_value"):
        prepare(image, FLOAT_320, resize="letterbox", pad_value=300)


def test_empty_detections_map_back_to_empty_arrays():
    _, t = prepare(np.zeros((300, 500, 3), np.uint8), FLOAT_320)
    assert t.boxes_to_image(np.zeros((0, 4))).shape == (0, 4)
    assert t.points_to_image(np.zeros((0, 12))).shape == (0, 12)
    assert t.boxes_from_image(np.zeros((0, 4))).shape == (0, 4)
