"""Family detection on every shared model, the decoded/raw and probability/logit rules, and hand-made specs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import require

from ultrapost.core.priors import ultraface_priors
from ultrapost.pipeline.preprocess import prepare
from ultrapost.pipeline.recognize import ModelSpec, detect_family, spec_from_tensors
from ultrapost.pipeline.runners import TensorInfo, load_model

Q_IN = (0.0078125, -1)

# path -> expected spec fields (data/MANIFEST.md and REFERENCE.md).
EXPECTED = {
    "ultraface/version-RFB-320.onnx": dict(
        family="ultraface", input_size=(320, 240), layout="NCHW", input_dtype="float32", scores="scores",
        boxes="boxes", decoded=True, logits=False, num_classes=2, num_anchors=4420,
    ),
    "ultraface/version-slim-320.onnx": dict(
        family="ultraface", input_size=(320, 240), layout="NCHW", input_dtype="float32", scores="scores",
        boxes="boxes", decoded=True, logits=False, num_classes=2, num_anchors=4420,
    ),
    "ultraface/version-RFB-640.onnx": dict(
        family="ultraface", input_size=(640, 480), layout="NCHW", input_dtype="float32", scores="scores",
        boxes="boxes", decoded=True, logits=False, num_classes=2, num_anchors=17640,
    ),
    "ultraface/RFB-640-masked_face-v2.onnx": dict(
        family="ultraface", input_size=(640, 480), layout="NCHW", input_dtype="float32", scores="scores",
        boxes="boxes", decoded=True, logits=False, num_classes=3, num_anchors=17640,
    ),
    "ultraface/version-RFB-320_without_postprocessing.onnx": dict(
        family="ultraface", input_size=(320, 240), layout="NCHW", input_dtype="float32", scores="scores",
        boxes="boxes", decoded=False, logits=False, num_classes=2, num_anchors=4420,
    ),
    "ultraface/version-slim-320_without_postprocessing.onnx": dict(
        family="ultraface", input_size=(320, 240), layout="NCHW", input_dtype="float32", scores="scores",
        boxes="boxes", decoded=False, logits=False, num_classes=2, num_anchors=4420,
    ),
    "ultraface/version-RFB-320_without_postprocessing.tflite": dict(
        family="ultraface", input_size=(320, 240), layout="NHWC", input_dtype="float32", scores="Identity_1",
        boxes="Identity", decoded=False, logits=False, num_classes=2, num_anchors=4420,
    ),
    "ultraface/version-slim-320_without_postprocessing.tflite": dict(
        family="ultraface", input_size=(320, 240), layout="NHWC", input_dtype="float32", scores="Identity_1",
        boxes="Identity", decoded=False, logits=False, num_classes=2, num_anchors=4420,
    ),
    "int8/version-slim-320_raw_int8.tflite": dict(
        family="ultraface", input_size=(320, 240), layout="NHWC", input_dtype="int8", input_quantization=Q_IN,
        scores="scores_raw", boxes="boxes_raw", decoded=False, logits=True, num_classes=2, num_anchors=4420,
    ),
    "int8/version-RFB-320_raw_int8.tflite": dict(
        family="ultraface", input_size=(320, 240), layout="NHWC", input_dtype="int8", input_quantization=Q_IN,
        scores="scores_raw", boxes="boxes_raw", decoded=False, logits=True, num_classes=2, num_anchors=4420,
    ),
    "int8/ultraface_ultraslim_int8.tflite": dict(
        family="ultraslim", input_size=(128, 128), layout="NHWC", input_dtype="int8", input_quantization=Q_IN,
        scores="detections", boxes=None, decoded=True, logits=False, num_anchors=172, drop_finest_level=True,
    ),
    "int8/ultraface_ultraslim_int8_tflm.tflite": dict(
        family="ultraslim", input_size=(128, 128), layout="NHWC", input_dtype="int8", input_quantization=Q_IN,
        scores="detections", boxes=None, decoded=True, logits=False, num_anchors=172, drop_finest_level=True,
    ),
    "int8/ultraface_ultraslim_float32.tflite": dict(
        family="ultraslim", input_size=(128, 128), layout="NHWC", input_dtype="float32", input_quantization=None,
        scores="detections", boxes=None, decoded=True, logits=False, num_anchors=172, drop_finest_level=True,
    ),
    "blazeface/face_detection_short_range.tflite": dict(
        family="blazeface", input_size=(128, 128), layout="NHWC", input_dtype="float32", scores="classificators",
        boxes="regressors", keypoints="regressors", num_keypoints=6, decoded=False, logits=True, num_classes=1,
        num_anchors=896, mean=(127.5,) * 3, std=(127.5,) * 3,
    ),
    "blazeface/face_detection_full_range.tflite": dict(
        family="blazeface", input_size=(192, 192), layout="NHWC", input_dtype="float32",
        scores="reshaped_classifier_face_4", boxes="reshaped_regressor_face_4",
        keypoints="reshaped_regressor_face_4", num_keypoints=6, decoded=False, logits=True, num_classes=1,
        num_anchors=2304,
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def runner_for():
    cache = {}

    def get(rel: str):
        if rel not in cache:
            cache[rel] = load_model(require(rel))
        return cache[rel]

    return get


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_every_shared_model_is_recognized(runner_for, rel):
    r = runner_for(rel)
    spec = detect_family(r)
    for key, value in EXPECTED[rel].items():
        assert getattr(spec, key) == value, key
    assert spec.input_name == r.inputs[0].name
    assert spec.output_quantization == {t.name: t.quantization for t in r.outputs}
    assert spec.channel_order == "RGB"
    if spec.family in ("ultraface", "ultraslim"):
        assert spec.mean == (127.0,) * 3 and spec.std == (128.0,) * 3 and spec.resize == "stretch"
        n = len(ultraface_priors(spec.input_size, drop_finest_level=spec.drop_finest_level))
        assert spec.num_anchors == n


def _renamed(runner, names):
    """The same real model with its outputs renamed, so names no longer tell anything."""
    outputs = [dataclasses.replace(t, name=names[t.name]) for t in runner.outputs]

    def probe(x):
        return {names[k]: v for k, v in runner.run(x).items()}

    return runner.inputs, outputs, probe


@pytest.mark.parametrize(
    "rel",
    [
        "ultraface/version-RFB-320.onnx",
        "ultraface/version-slim-320_without_postprocessing.onnx",
        "int8/version-slim-320_raw_int8.tflite",
        "int8/version-RFB-320_raw_int8.tflite",
    ],
)
def test_probe_decides_when_names_do_not_tell(runner_for, rel):
    r = runner_for(rel)
    names = {t.name: f"output_{i}" for i, t in enumerate(r.outputs)}
    inputs, outputs, probe = _renamed(r, names)
    spec = spec_from_tensors(inputs, outputs, probe=probe, source=r.path.name)
    assert spec.decoded == EXPECTED[rel]["decoded"]
    assert spec.logits == EXPECTED[rel]["logits"]
    assert spec.scores == names[EXPECTED[rel]["scores"]] and spec.boxes == names[EXPECTED[rel]["boxes"]]


def test_without_probe_ambiguous_names_are_an_error(runner_for):
    r = runner_for("ultraface/version-slim-320.onnx")
    with pytest.raises(ValueError, match="ModelSpec"):
        detect_family(r, probe=False)
    # Names that say "raw" need no probe.
    assert detect_family(runner_for("int8/version-slim-320_raw_int8.tflite"), probe=False).decoded is False


@pytest.mark.parametrize("model", ["RFB", "slim"])
def test_decoded_flag_means_what_it_says(runner_for, model):
    """Decoding the raw export's deltas with the trained priors gives the decoded export's boxes."""
    decoded = runner_for(f"ultraface/version-{model}-320.onnx")
    raw = runner_for(f"ultraface/version-{model}-320_without_postprocessing.onnx")
    spec = detect_family(decoded)
    x, _ = prepare(require("images/ultraface_1.jpg"), spec)
    d = raw.run(x)["boxes"][0].astype(np.float64)
    p = ultraface_priors(spec.input_size)
    cx, cy = d[:, 0] * 0.1 * p[:, 2] + p[:, 0], d[:, 1] * 0.1 * p[:, 3] + p[:, 1]
    w, h = np.exp(d[:, 2] * 0.2) * p[:, 2], np.exp(d[:, 3] * 0.2) * p[:, 3]
    mine = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    # float32 graph vs float64 here: about 1e-7 apart (measured 1.07e-7).
    np.testing.assert_allclose(mine, decoded.run(x)["boxes"][0], rtol=0, atol=1e-6)


def test_logits_flag_means_what_it_says():
    """The int8 scores are the float model's raw logits, quantized: not probabilities."""
    r = load_model(require("int8/version-slim-320_raw_int8.tflite"), op_resolver="reference")
    spec = detect_family(r, probe=False)
    rec = np.load(require("int8/outputs_version-slim-320_raw_int8.npz"))
    pixels = np.load(require("int8/inputs_320x240.npz"))["1"]
    out = r.run((pixels.astype(np.int16) - 128).astype(np.int8)[None])[spec.scores][0]
    info = r.output(spec.scores)
    logits = info.dequantize(out)
    reference = rec["1_scores_float"].astype(np.float64)
    # Rows of logits do not sum to 1; quantization error measured at 4.3 LSB on this photo (6 at most seen).
    assert np.abs(reference.sum(axis=1) - 1).min() > 0.5
    assert np.abs(logits - reference).max() < 8 * info.quantization[0]


def _t(name, shape, dtype="float32", q=None):
    return TensorInfo(name, tuple(shape), np.dtype(dtype), q)


def test_retinaface_layout_is_recognized_from_shapes():
    # Face-Detector-1MB-with-landmark exported at 320x320: 40*40*3 + 20*20*2 + 10*10*2 + 5*5*3 = 5875 priors.
    inputs = [_t("input0", (1, 3, 320, 320))]
    outputs = [_t("output0", (1, 5875, 4)), _t("590", (1, 5875, 2)), _t("589", (1, 5875, 10))]
    spec = spec_from_tensors(inputs, outputs)
    assert spec.family == "retinaface"
    assert (spec.boxes, spec.scores, spec.keypoints, spec.num_keypoints) == ("output0", "590", "589", 5)
    assert spec.channel_order == "BGR" and spec.mean == (104.0, 117.0, 123.0) and spec.std == (1.0,) * 3
    assert spec.decoded is False and spec.logits is False and spec.num_anchors == 5875
    with pytest.raises(ValueError, match="ultraface/ultraslim"):
        spec.postprocess_args({})


def test_unknown_model_error_lists_tensors_and_the_manual_route():
    inputs = [_t("image", (1, 224, 224, 3))]
    outputs = [_t("logits", (1, 1000))]
    with pytest.raises(ValueError) as err:
        spec_from_tensors(inputs, outputs, source="classifier.tflite")
    msg = str(err.value)
    assert "classifier.tflite" in msg and "'image' float32[1,224,224,3]" in msg and "'logits' float32[1,1000]" in msg
    assert "ModelSpec(family=" in msg


@pytest.mark.parametrize(
    "inputs, outputs, why",
    [
        ([_t("in", (1, 3, 240, 320))], [_t("s", (1, 4000, 2)), _t("b", (1, 4000, 4))], "4420"),
        ([_t("in", (1, 160, 160, 3))], [_t("r", (1, 896, 16)), _t("c", (1, 896, 1))], "BlazeFace"),
        ([_t("in", (1, 128, 128, 3))], [_t("d", (1, 170, 6))], "172"),
        ([_t("in", (1, 3, None, None))], [_t("s", (1, 4420, 2)), _t("b", (1, 4420, 4))], "not fixed"),
        ([_t("a", (1, 3, 8, 8)), _t("b", (1, 3, 8, 8))], [_t("d", (1, 172, 6))], "one image input"),
        ([_t("in", (1, 240, 320, 4))], [_t("s", (1, 4420, 2)), _t("b", (1, 4420, 4))], "3-channel"),
        ([_t("in", (1, 128, 128, 3), "int8")], [_t("d", (1, 172, 6))], "quantization"),
    ],
)
def test_near_misses_are_reported(inputs, outputs, why):
    with pytest.raises(ValueError, match=why):
        spec_from_tensors(inputs, outputs)


def test_ultraface_without_the_finest_level_is_recognized():
    # 128x128 without the stride-8 level: 172 anchors, the same priors as NXP's ultraslim but raw heads.
    inputs = [_t("in", (1, 128, 128, 3), "int8", Q_IN)]
    outputs = [_t("scores_raw", (1, 172, 2), "int8", (0.05, 0)), _t("boxes_raw", (1, 172, 4), "int8", (0.05, 0))]
    spec = spec_from_tensors(inputs, outputs)
    assert spec.drop_finest_level is True and spec.num_anchors == 172 and spec.logits is True
    assert spec.ultraface_options() == dict(input_size=(128, 128), drop_finest_level=True, logits=True)


def test_postprocess_args_for_int8_and_float(runner_for):
    raw = runner_for("int8/version-RFB-320_raw_int8.tflite")
    spec = detect_family(raw)
    out = raw.run(np.zeros(spec.input_shape, np.int8))
    args = spec.postprocess_args(out)
    assert args["scores"] is out["scores_raw"] and args["boxes"] is out["boxes_raw"] and args["decoded"] is False
    assert args["quantization"] == (raw.output("scores_raw").quantization, raw.output("boxes_raw").quantization)
    assert spec.ultraface_options() == dict(input_size=(320, 240), drop_finest_level=False, logits=True)

    slim = runner_for("int8/ultraface_ultraslim_int8.tflite")
    sspec = detect_family(slim)
    out = slim.run(np.zeros(sspec.input_shape, np.int8))
    args = sspec.postprocess_args(out)
    assert args["boxes"] is None and args["decoded"] is True
    assert args["quantization"] == slim.output("detections").quantization
    assert sspec.ultraface_options()["drop_finest_level"] is True

    dec = runner_for("ultraface/version-RFB-320.onnx")
    dspec = detect_family(dec)
    args = dspec.postprocess_args(dec.run(np.zeros(dspec.input_shape, np.float32)))
    assert args["quantization"] is None and args["decoded"] is True
    with pytest.raises(KeyError, match="boxes"):
        dspec.postprocess_args({"scores": np.zeros((1, 4420, 2))})

    blaze = detect_family(runner_for("blazeface/face_detection_short_range.tflite"))
    with pytest.raises(ValueError, match="blazeface"):
        blaze.ultraface_options()


def test_hand_made_spec_takes_family_defaults():
    spec = ModelSpec(family="ultraface", input_size=(320, 240), scores="s", boxes="b", decoded=False)
    assert spec.layout == "NCHW" and spec.mean == (127.0,) * 3 and spec.std == (128.0,) * 3
    assert spec.logits is False and spec.num_classes == 2 and spec.input_shape == (1, 3, 240, 320)
    nhwc = ModelSpec(family="ultraface", input_size=(160, 120), layout="NHWC", scores="s", boxes="b", decoded=True)
    assert nhwc.input_shape == (1, 120, 160, 3)
    blaze = ModelSpec(family="blazeface", input_size=(128, 128), scores="c", boxes="r")
    assert blaze.logits is True and blaze.resize == "letterbox" and blaze.mean == (127.5,) * 3


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(family="yolo"), ValueError, "family"),
        (dict(decoded=None), ValueError, "decoded"),
        (dict(layout="CHW"), ValueError, "layout"),
        (dict(input_size=(0, 240)), ValueError, "positive"),
        (dict(input_size="320x240"), TypeError, "input_size"),
        (dict(input_dtype="int8"), ValueError, "input_quantization"),
        (dict(input_dtype="float16"), ValueError, "input_dtype"),
        (dict(std=0), ValueError, "non-zero"),
        (dict(mean=(1, 2)), ValueError, "mean"),
        (dict(channel_order="RGBA"), ValueError, "channel_order"),
        (dict(resize="crop"), ValueError, "resize"),
        (dict(boxes=None), ValueError, "boxes"),
        (dict(scores=None), ValueError, "scores"),
    ],
)
def test_hand_made_spec_errors(kwargs, error, match):
    base = dict(family="ultraface", input_size=(320, 240), scores="s", boxes="b", decoded=False)
    with pytest.raises(error, match=match):
        ModelSpec(**{**base, **kwargs})
