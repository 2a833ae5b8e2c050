"""Model runners: every shared model loads, reports its tensors as the data manifest describes, and runs on a photo;
the reference kernels reproduce the recorded int8 outputs bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require
from PIL import Image

from ultrapost.pipeline.runners import TensorInfo, load_model

PHOTO = "images/nasa_group.jpg"
F32 = "float32"
I8 = "int8"
# The int8 Ultraface input: scale 1/128, zero point -1, i.e. q = pixel - 128 (data/MANIFEST.md).
Q_IN = (0.0078125, -1)
# The ultraslim output: float32(1/255), zero point -128.
Q_SLIM = (float(np.float32(1 / 255)), -128)

# path -> (input name, input shape, input dtype, input quantization, {output name: (shape, dtype)}), from the manifest.
EXPECTED = {
    "ultraface/version-RFB-320.onnx": (
        "input", (1, 3, 240, 320), F32, None, {"scores": ((1, 4420, 2), F32), "boxes": ((1, 4420, 4), F32)},
    ),
    "ultraface/version-slim-320.onnx": (
        "input", (1, 3, 240, 320), F32, None, {"scores": ((1, 4420, 2), F32), "boxes": ((1, 4420, 4), F32)},
    ),
    "ultraface/version-RFB-640.onnx": (
        "input", (1, 3, 480, 640), F32, None, {"scores": ((1, 17640, 2), F32), "boxes": ((1, 17640, 4), F32)},
    ),
    "ultraface/RFB-640-masked_face-v2.onnx": (
        "input", (1, 3, 480, 640), F32, None, {"scores": ((1, 17640, 3), F32), "boxes": ((1, 17640, 4), F32)},
    ),
    "ultraface/version-RFB-320_without_postprocessing.onnx": (
        "input", (1, 3, 240, 320), F32, None, {"scores": ((1, 4420, 2), F32), "boxes": ((1, 4420, 4), F32)},
    ),
    "ultraface/version-slim-320_without_postprocessing.onnx": (
        "input", (1, 3, 240, 320), F32, None, {"scores": ((1, 4420, 2), F32), "boxes": ((1, 4420, 4), F32)},
    ),
    "ultraface/version-RFB-320_without_postprocessing.tflite": (
        "input_1", (1, 240, 320, 3), F32, None, {"Identity": ((1, 4420, 4), F32), "Identity_1": ((1, 4420, 2), F32)},
    ),
    "ultraface/version-slim-320_without_postprocessing.tflite": (
        "input_1", (1, 240, 320, 3), F32, None, {"Identity": ((1, 4420, 4), F32), "Identity_1": ((1, 4420, 2), F32)},
    ),
    "int8/ultraface_ultraslim_int8.tflite": ("input", (1, 128, 128, 3), I8, Q_IN, {"detections": ((1, 172, 6), I8)}),
    "int8/ultraface_ultraslim_int8_tflm.tflite": (
        "input", (1, 128, 128, 3), I8, Q_IN, {"detections": ((1, 172, 6), I8)},
    ),
    "int8/ultraface_ultraslim_float32.tflite": (
        "input", (1, 128, 128, 3), F32, None, {"detections": ((1, 172, 6), F32)},
    ),
    "int8/version-slim-320_raw_int8.tflite": (
        "input", (1, 240, 320, 3), I8, Q_IN, {"scores_raw": ((1, 4420, 2), I8), "boxes_raw": ((1, 4420, 4), I8)},
    ),
    "int8/version-RFB-320_raw_int8.tflite": (
        "input", (1, 240, 320, 3), I8, Q_IN, {"scores_raw": ((1, 4420, 2), I8), "boxes_raw": ((1, 4420, 4), I8)},
    ),
    "blazeface/face_detection_short_range.tflite": (
        "input", (1, 128, 128, 3), F32, None, {"regressors": ((1, 896, 16), F32), "classificators": ((1, 896, 1), F32)},
    ),
    "blazeface/face_detection_full_range.tflite": (
        "input", (1, 192, 192, 3), F32, None,
        {"reshaped_regressor_face_4": ((1, 2304, 16), F32), "reshaped_classifier_face_4": ((1, 2304, 1), F32)},
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def runner_for():
    """Loads each model once per module: runner_for(path_in_data, op_resolver="default")."""
    cache = {}

    def get(rel: str, op_resolver: str = "default"):
        if (rel, op_resolver) not in cache:
            cache[rel, op_resolver] = load_model(require(rel), op_resolver=op_resolver)
        return cache[rel, op_resolver]

    return get


def photo_tensor(shape, dtype, layout_nchw: bool, blazeface: bool) -> np.ndarray:
    """The shared photo as the manifest says each model wants it (independent of ultrapost.pipeline.preprocess)."""
    h, w = (shape[2], shape[3]) if layout_nchw else (shape[1], shape[2])
    with Image.open(require(PHOTO)) as im:
        pixels = np.asarray(im.convert("RGB").resize((w, h), Image.BILINEAR)).astype(np.int16)
    if dtype == I8:
        x = (pixels - 128).astype(np.int8)
    elif blazeface:
        x = (pixels / 127.5 - 1.0).astype(np.float32)
    else:
        x = ((pixels - 127) / 128).astype(np.float32)
    if layout_nchw:
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None])


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_every_shared_model_reports_its_tensors_and_runs(runner_for, rel):
    in_name, in_shape, in_dtype, in_q, outs = EXPECTED[rel]
    r = runner_for(rel)
    assert r.backend == ("onnxruntime" if rel.endswith(".onnx") else "litert")
    assert [t.name for t in r.inputs] == [in_name]
    (inp,) = r.inputs
    assert inp.shape == in_shape and inp.dtype == np.dtype(in_dtype) and inp.quantization == in_q
    # Shapes are known before the first run, also for the float .tflite files that resolve them only on invoke.
    assert {t.name: (t.shape, t.dtype.name) for t in r.outputs} == outs
    for t in r.outputs:
        assert (t.quantization is None) == (t.dtype.kind == "f")

    x = photo_tensor(in_shape, in_dtype, rel.endswith(".onnx"), rel.startswith("blazeface/"))
    got = r.run(x)
    assert list(got) == [t.name for t in r.outputs]
    for name, (shape, dtype) in outs.items():
        assert got[name].shape == shape and got[name].dtype == np.dtype(dtype), name
        assert np.all(np.isfinite(got[name].astype(np.float64)))
    # A second run gives the same arrays (outputs are copies, not views of the interpreter's buffers).
    again = r.run(x)
    for name in outs:
        assert np.array_equal(again[name], got[name])


@pytest.mark.parametrize("model", ["version-slim-320_raw_int8", "version-RFB-320_raw_int8"])
def test_raw_int8_quantization_is_read_from_the_model(runner_for, model):
    rec = np.load(require(f"int8/outputs_{model}.npz"))
    r = runner_for(f"int8/{model}.tflite")
    assert r.output("scores_raw").quantization == (float(rec["scores_scale"]), int(rec["scores_zero_point"]))
    assert r.output("boxes_raw").quantization == (float(rec["boxes_scale"]), int(rec["boxes_zero_point"]))
    assert r.inputs[0].quantization == (float(rec["input_scale"]), int(rec["input_zero_point"]))


@pytest.mark.parametrize("model", ["ultraface_ultraslim_int8", "ultraface_ultraslim_int8_tflm"])
def test_ultraslim_reference_kernels_reproduce_recorded_outputs(runner_for, model):
    rec = np.load(require("int8/outputs_ultraface_ultraslim_int8.npz"))
    inputs = np.load(require("int8/inputs_128x128.npz"))
    r = runner_for(f"int8/{model}.tflite", "reference")
    assert r.output("detections").quantization == (float(rec["output_scale"]), int(rec["output_zero_point"]))
    for name in rec["names"]:
        q = (inputs[name].astype(np.int16) - 128).astype(np.int8)[None]
        out = r.run(q)["detections"]
        assert out.dtype == np.int8
        assert np.array_equal(out[0], rec[f"{name}_q"]), name


@pytest.mark.parametrize("model", ["version-slim-320_raw_int8", "version-RFB-320_raw_int8"])
def test_raw_int8_reference_kernels_reproduce_recorded_outputs(runner_for, model):
    rec = np.load(require(f"int8/outputs_{model}.npz"))
    inputs = np.load(require("int8/inputs_320x240.npz"))
    r = runner_for(f"int8/{model}.tflite", "reference")
    for name in ["1", "13", "22", "astronaut"]:
        out = r.run((inputs[name].astype(np.int16) - 128).astype(np.int8)[None])
        assert out["scores_raw"].dtype == np.int8 and out["boxes_raw"].dtype == np.int8
        assert np.array_equal(out["scores_raw"][0], rec[f"{name}_scores_q"]), name
        assert np.array_equal(out["boxes_raw"][0], rec[f"{name}_boxes_q"]), name


def test_dequantize_follows_scale_and_zero_point():
    info = TensorInfo("t", (1, 3), np.dtype(np.int8), (0.5, -2))
    assert np.array_equal(info.dequantize(np.array([[-128, -2, 127]], np.int8)), [[-63.0, 0.0, 64.5]])
    plain = TensorInfo("f", (2,), np.dtype(np.float32), None)
    assert plain.dequantize(np.array([1.5, -2.0], np.float32)).dtype == np.float64
    per_axis = TensorInfo("w", (2, 2), np.dtype(np.int8), ((0.1, 0.2), (0, 0)))
    with pytest.raises(ValueError, match="per axis"):
        per_axis.dequantize(np.zeros((2, 2), np.int8))


def test_onnx_thread_count_is_configurable(runner_for):
    rel = "ultraface/version-slim-320.onnx"
    one = load_model(require(rel), num_threads=1)
    x = photo_tensor((1, 3, 240, 320), F32, True, False)
    a, b = one.run(x), runner_for(rel).run(x)
    for name in a:
        # Thread partitioning may reorder float32 sums; anything beyond a few ulp would be a different computation.
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-5)


def test_float_input_accepts_float64_but_not_integers(runner_for):
    r = runner_for("int8/ultraface_ultraslim_float32.tflite")
    x = photo_tensor((1, 128, 128, 3), F32, False, False)
    assert np.array_equal(r.run(x.astype(np.float64))["detections"], r.run(x)["detections"])
    with pytest.raises(TypeError, match="float32"):
        r.run(np.zeros((1, 128, 128, 3), np.uint8))


def test_int8_input_must_be_int8(runner_for):
    r = runner_for("int8/ultraface_ultraslim_int8.tflite")
    with pytest.raises(TypeError, match="int8"):
        r.run(np.zeros((1, 128, 128, 3), np.float32))


def test_wrong_input_shape_and_names(runner_for):
    r = runner_for("ultraface/version-slim-320.onnx")
    with pytest.raises(ValueError, match=r"shape.*\[1, 240, 320, 3\]"):
        r.run(np.zeros((1, 240, 320, 3), np.float32))
    with pytest.raises(ValueError, match="unknown"):
        r.run({"input": np.zeros((1, 3, 240, 320), np.float32), "other": np.zeros(1)})
    with pytest.raises(ValueError, match="missing"):
        r.run({})
    with pytest.raises(KeyError, match="detections"):
        r.output("detections")
    assert set(r.run({"input": np.zeros((1, 3, 240, 320), np.float32)})) == {"scores", "boxes"}


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.tflite"):
        load_model(tmp_path / "nothing.tflite")


def test_unknown_extension(tmp_path):
    p = tmp_path / "model.pb"
    p.write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match=r"'\.pb'.*model\.pb"):
        load_model(p)


@pytest.mark.parametrize("suffix", [".tflite", ".onnx"])
def test_unreadable_model_names_file_and_cause(tmp_path, suffix):
    p = tmp_path / f"broken{suffix}"
    p.write_bytes(b"this is not a model" * 10)
    with pytest.raises(ValueError, match=f"cannot read .*broken\\{suffix}: .+"):
        load_model(p)


def test_directory_is_not_a_model(tmp_path):
    d = tmp_path / "folder.onnx"
    d.mkdir()
    with pytest.raises(ValueError, match="not a file"):
        load_model(d)


def test_bad_options(tmp_path):
    onnx = require("ultraface/version-slim-320.onnx")
    with pytest.raises(ValueError, match="op_resolver"):
        load_model(onnx, op_resolver="fast")
    with pytest.raises(ValueError, match=r"\.tflite models only"):
        load_model(onnx, op_resolver="reference")
    with pytest.raises(ValueError, match="num_threads"):
        load_model(onnx, num_threads=0)
