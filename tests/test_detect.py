"""ultrapost.detect() and FaceDetector: real models on real photos, faces in the photos' pixels."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import require
from PIL import Image

import ultrapost
from ultrapost.bench import peers as baselines
from ultrapost.pipeline.detect import DEFAULTS, POSTPROCESSORS, FaceDetector, Faces

RFB = "ultraface/version-RFB-320.onnx"  # decoded boxes
RFB_RAW = "ultraface/version-RFB-320_without_postprocessing.onnx"
NASA = "images/nasa_group.jpg"  # 640x322, 14 people


def iou(a, b):
    """IoU matrix of pixel boxes [K, 4] x [M, 4]."""
    a, b = np.asarray(a, np.float64)[:, None], np.asarray(b, np.float64)[None]
    lo, hi = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = lambda x: np.prod(x[..., 2:] - x[..., :2], axis=-1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def assert_sane(faces: Faces, width: int, height: int, *, min_side=8.0):
    assert faces.image_size == (width, height)
    assert faces.boxes.shape == (len(faces), 4) and faces.boxes.dtype == np.float64
    assert faces.scores.shape == (len(faces),)
    assert (
        np.all(faces.boxes >= 0)
        and np.all(faces.boxes[:, [0, 2]] <= width)
        and np.all(faces.boxes[:, [1, 3]] <= height)
    )
    sides = faces.boxes[:, 2:] - faces.boxes[:, :2]
    assert np.all(sides >= min_side), sides
    assert np.all(np.diff(faces.scores) <= 0), "best first"


@pytest.fixture(scope="module")
def rfb_nasa():
    return ultrapost.detect(require(NASA), model=require(RFB), score_threshold=0.7)


# -- every shared model family ---------------------------------------------------------------------------------------


def test_rfb320_finds_all_14_faces_in_nasa_group(rfb_nasa):
    faces = rfb_nasa
    assert len(faces) == 14
    assert_sane(faces, 640, 322, min_side=15)
    assert np.all(faces.scores > 0.7)
    # 14 distinct people: no two boxes overlap; eight stand in the back row (y < 160), six sit in front.
    overlap = iou(faces.boxes, faces.boxes)
    np.fill_diagonal(overlap, 0)
    assert overlap.max() < 0.05
    centers_y = (faces.boxes[:, 1] + faces.boxes[:, 3]) / 2
    assert np.sum(centers_y < 160) == 8 and np.sum(centers_y >= 160) == 6


def test_pixel_boxes_match_the_reference_predict(rfb_nasa):
    """The decoded ONNX model through predict() (float32, truncated pixels) vs detect(): same faces, < 1 px apart."""
    detector = FaceDetector(require(RFB), clip=False)
    outputs, transform = detector.outputs(require(NASA))
    boxes, _labels, probs = baselines.predict(640, 322, outputs["scores"], outputs["boxes"], 0.7, 0.3)
    faces = detector(require(NASA))
    assert len(boxes) == len(faces) == 14
    order = np.argsort(-probs, kind="stable")
    assert np.allclose(probs[order], faces.scores, rtol=0, atol=2**-30 * 2)
    # predict() truncates toward zero: ultrapost's boxes lie in [truncated, truncated + 1) up to Q20 rounding.
    d = faces.boxes - boxes[order]
    assert np.all(d > -1e-3) and np.all(d < 1 + 1e-3), d
    assert transform.image_size == (640, 322)


def test_raw_onnx_model_gives_the_decoded_models_faces(rfb_nasa):
    faces = ultrapost.detect(require(NASA), model=require(RFB_RAW))
    assert len(faces) == 14
    assert_sane(faces, 640, 322, min_side=15)
    # ultrapost decodes the raw deltas in fixed point; the other graph decoded them in float32.
    assert np.array_equal(faces.detections.anchors, rfb_nasa.detections.anchors)
    assert np.abs(faces.boxes - rfb_nasa.boxes).max() < 0.01
    assert np.abs(faces.scores - rfb_nasa.scores).max() < 1e-6


@pytest.mark.parametrize(
    "model",
    [
        "ultraface/version-RFB-320_without_postprocessing.tflite",
        "ultraface/version-slim-320_without_postprocessing.tflite",
        "ultraface/version-slim-320_without_postprocessing.onnx",
        "ultraface/version-slim-320.onnx",
        "ultraface/version-RFB-640.onnx",
        "int8/version-RFB-320_raw_int8.tflite",
        "int8/version-slim-320_raw_int8.tflite",
    ],
)
def test_every_320_and_640_model_finds_the_same_14_people(model, rfb_nasa):
    faces = ultrapost.detect(require(NASA), model=require(model), score_threshold=0.7)
    assert len(faces) == 14
    assert_sane(faces, 640, 322, min_side=15)
    # each face is one of RFB-320's, one to one
    m = iou(faces.boxes, rfb_nasa.boxes)
    assert np.all(m.max(axis=1) > 0.6), m.max(axis=1)
    assert len(set(m.argmax(axis=1))) == 14


def test_int8_model_runs_on_the_reference_kernels_too():
    fast = ultrapost.detect(require(NASA), model=require("int8/version-RFB-320_raw_int8.tflite"))
    ref = ultrapost.detect(
        require(NASA), model=require("int8/version-RFB-320_raw_int8.tflite"), op_resolver="reference"
    )
    assert len(fast) == len(ref) == 14
    assert np.all(iou(fast.boxes, ref.boxes).max(axis=1) > 0.8)


@pytest.mark.parametrize(
    "model",
    [
        "int8/ultraface_ultraslim_int8.tflite",
        "int8/ultraface_ultraslim_int8_tflm.tflite",
        "int8/ultraface_ultraslim_float32.tflite",
    ],
)
@pytest.mark.parametrize("photo, count", [("ultraface_13.jpg", 2), ("ultraface_2.jpg", 3)])
def test_ultraslim_128_finds_the_large_faces(model, photo, count):
    """NXP's 128x128 model (no finest level) sees only large faces: those of two portrait photos."""
    path = require(f"images/{photo}")
    faces = ultrapost.detect(path, model=require(model))
    width, height = Image.open(path).size
    assert len(faces) == count
    assert_sane(faces, width, height, min_side=20)
    rfb = ultrapost.detect(path, model=require(RFB))
    assert np.all(iou(faces.boxes, rfb.boxes).max(axis=1) > 0.4)


@pytest.mark.parametrize(
    "model", ["blazeface/face_detection_short_range.tflite", "blazeface/face_detection_full_range.tflite"]
)
def test_blazeface_finds_the_two_portrait_faces(model):
    path = require("images/ultraface_13.jpg")  # 450x344, two large faces
    faces = ultrapost.detect(path, model=require(model))
    assert len(faces) == 2
    assert_sane(faces, 450, 344, min_side=20)
    rfb = ultrapost.detect(path, model=require(RFB))
    assert np.all(iou(faces.boxes, rfb.boxes).max(axis=1) > 0.4)
    assert faces.landmarks is not None and faces.landmarks.shape == (2, 6, 2)
    # eyes, nose and mouth (the first four keypoints) lie inside their face's box
    for box, points in zip(faces.boxes, faces.landmarks[:, :4], strict=True):
        assert np.all((points >= box[:2]) & (points <= box[2:]))
    assert isinstance(FaceDetector(require(model)).postprocessor, ultrapost.BlazeFace)


@pytest.mark.parametrize(
    "model", ["blazeface/face_detection_short_range.tflite", "blazeface/face_detection_full_range.tflite"]
)
def test_blazeface_keypoints_are_mapped_back_through_the_letterbox(model):
    """The photo is letterboxed into the square input: keypoints and boxes in photo pixels are the post-processor's
    normalized ones through the same Transform, and the eyes sit in the upper half of each face."""
    detector = FaceDetector(require(model))
    path = require("images/ultraface_13.jpg")
    outputs, transform = detector.outputs(path)
    assert transform.offset[1] > 0  # 450x344: padded above and below
    det = detector.postprocessor.postprocess(outputs[detector.spec.scores], outputs[detector.spec.boxes])
    faces = detector(path)
    assert np.array_equal(faces.detections.fixed["keypoints"], det.fixed["keypoints"])
    w, h = transform.input_size
    for k in range(len(det)):
        px = (det.landmarks[k] * [w, h] - transform.offset) / transform.scale
        assert np.allclose(faces.landmarks[k], px, rtol=0, atol=1e-9)
    centers_y = (faces.boxes[:, 1] + faces.boxes[:, 3]) / 2
    assert np.all(faces.landmarks[:, :2, 1] < centers_y[:, None])  # both eyes above the box center
    records = faces.to_records()
    assert len(records[0]["landmarks"]) == 6


def test_masked_face_model_finds_the_14_unmasked_faces(rfb_nasa):
    faces = ultrapost.detect(require(NASA), model=require("ultraface/RFB-640-masked_face-v2.onnx"))
    assert len(faces) >= 12
    assert_sane(faces, 640, 322, min_side=15)
    assert np.all(iou(faces.boxes, rfb_nasa.boxes).max(axis=1) > 0.5)
    assert faces.labels is not None and set(faces.labels.tolist()) == {1}  # 1: face, 2: masked face
    assert all(rec["label"] == 1 for rec in faces.to_records())


def _retinaface_onnx(tmp_path, outputs: dict[str, np.ndarray], size=(320, 240)):
    """A RetinaFace-shaped ONNX model whose heads are the given constants (plus 0 * the input's mean, so the input
    is used): loc [1, N, 4], conf [1, N, 2], landms [1, N, 10]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w, h = size
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
    ]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    outs = []
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"{name}_value"))
        nodes.append(helper.make_node("Add", [f"{name}_value", "nothing"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(nodes, "retinaface_heads", [x], outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "retinaface_heads.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("config, size", [("slim", (320, 240)), ("blazeface", (128, 128))])
def test_retinaface_family_end_to_end(tmp_path, config, size):
    """A RetinaFace-shaped model (synthetic heads in a real ONNX graph) is recognized, post-processed with the
    prior config of its anchor count and RetinaFace's defaults, and its boxes and 5 landmarks come back in photo
    pixels through the letterbox."""
    from ultrapost.families.cases import retinaface_case

    rf, conf, loc, landms, _ = retinaface_case(11, "f32", config=config, size=size)
    model = _retinaface_onnx(tmp_path, {"loc": loc[None], "conf": conf[None], "landms": landms[None]}, size)
    detector = FaceDetector(model, clip=False)
    assert detector.spec.family == "retinaface" and detector.spec.keypoints == "landms"
    pp = detector.postprocessor
    assert isinstance(pp, ultrapost.RetinaFace) and pp.num_anchors == rf.num_anchors
    assert pp.steps == rf.steps and (pp.score_threshold, pp.iou_threshold) == (0.3, 0.4)
    photo = np.asarray(Image.open(require(NASA)).convert("RGB"))
    faces = detector(photo)
    want = ultrapost.RetinaFace.model(config, size).postprocess(conf, loc, landms)
    assert len(faces) == len(want) > 0
    for name in want.fixed:
        assert np.array_equal(faces.detections.fixed[name], want.fixed[name])
    t = faces.transform
    assert np.allclose(faces.boxes, t.boxes_to_image(want.boxes))
    assert np.allclose(faces.landmarks, t.points_to_image(want.landmarks.reshape(-1, 10)).reshape(-1, 5, 2))
    assert faces.landmarks.shape == (len(faces), 5, 2)
    golden = FaceDetector(model, backend="golden", score_threshold=0.6)(photo)
    assert np.array_equal(golden.detections.anchors, want.anchors[want.scores > 0.6])


def test_retinaface_with_an_unknown_prior_config_is_a_clear_error(tmp_path):
    n = 1000  # no known prior config has 1000 anchors at 320x240
    model = _retinaface_onnx(
        tmp_path, {"loc": np.zeros((1, n, 4)), "conf": np.zeros((1, n, 2)), "landms": np.zeros((1, n, 10))}
    )
    with pytest.raises(ValueError, match="1000 anchors matches no known prior config .slim: 4420"):
        FaceDetector(model)


def test_every_recognized_family_has_a_post_processor():
    from ultrapost.pipeline.recognize import FAMILIES

    assert set(FAMILIES) == set(POSTPROCESSORS) == set(DEFAULTS)


# -- FaceDetector ----------------------------------------------------------------------------------------------------


def test_detector_on_video_frames_matches_detect_on_files(rfb_nasa):
    detector = FaceDetector(require(RFB))
    frame = np.asarray(Image.open(require(NASA)).convert("RGB"))
    for _ in range(3):  # the session is reused; results do not drift
        faces = detector(frame)
        assert np.array_equal(faces.boxes, rfb_nasa.boxes) and np.array_equal(faces.scores, rfb_nasa.scores)
    pil = detector.detect(Image.open(require(NASA)))
    assert np.array_equal(pil.boxes, rfb_nasa.boxes)
    assert "FaceDetector version-RFB-320.onnx: ultraface 320x240" in repr(detector)


def test_thresholds_and_caps_change_what_is_kept(rfb_nasa):
    model = require(RFB)
    strict = ultrapost.detect(require(NASA), model=model, score_threshold=0.99)
    assert 0 < len(strict) < 14
    assert np.array_equal(strict.boxes, rfb_nasa.boxes[rfb_nasa.scores > 0.99])
    top3 = ultrapost.detect(require(NASA), model=model, max_detections=3)
    assert np.array_equal(top3.boxes, rfb_nasa.boxes[:3])
    loose = ultrapost.detect(require(NASA), model=model, score_threshold=0.3, iou_threshold=0.1)
    assert len(loose) >= 14


def test_golden_backend_gives_the_same_integers(rfb_nasa):
    golden = ultrapost.detect(require(NASA), model=require(RFB_RAW), backend="golden")
    c = ultrapost.detect(require(NASA), model=require(RFB_RAW), backend="c")
    for name in c.detections.fixed:
        assert np.array_equal(c.detections.fixed[name], golden.detections.fixed[name])
        assert c.detections.fixed[name].dtype == golden.detections.fixed[name].dtype


def test_no_face_gives_empty_results():
    gray = np.full((200, 300, 3), 128, np.uint8)
    faces = ultrapost.detect(gray, model=require(RFB))
    assert len(faces) == 0 and faces.boxes.shape == (0, 4) and faces.scores.shape == (0,)
    assert faces.to_records() == []
    assert '"faces": []' in faces.to_json()


def test_boxes_are_clipped_to_the_photo_unless_asked():
    # a face cut by the right edge: its box reaches past the photo
    image = np.asarray(Image.open(require(NASA)).convert("RGB"))[:, :550]
    clipped = ultrapost.detect(image, model=require(RFB))
    raw = ultrapost.detect(image, model=require(RFB), clip=False)
    assert np.array_equal(clipped.detections.anchors, raw.detections.anchors)
    assert raw.boxes.max() > 550 and clipped.boxes[:, [0, 2]].max() <= 550
    assert np.array_equal(np.clip(raw.boxes, 0, [550, 322, 550, 322]), clipped.boxes)


def test_json_records_round_trip(rfb_nasa):
    import json

    doc = json.loads(rfb_nasa.to_json(image="nasa_group.jpg"))
    assert doc["image"] == "nasa_group.jpg" and (doc["width"], doc["height"]) == (640, 322)
    assert len(doc["faces"]) == 14
    assert np.allclose([f["box"] for f in doc["faces"]], rfb_nasa.boxes, atol=0.005)
    assert np.allclose([f["score"] for f in doc["faces"]], rfb_nasa.scores, atol=1e-6)


# -- errors ----------------------------------------------------------------------------------------------------------


def test_bad_inputs_are_clear_errors(tmp_path):
    model = require(RFB)
    with pytest.raises(FileNotFoundError, match="image file not found"):
        ultrapost.detect(tmp_path / "missing.jpg", model=model)
    bad = tmp_path / "not_a_photo.jpg"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="cannot read image"):
        ultrapost.detect(bad, model=model)
    with pytest.raises(FileNotFoundError, match="model file not found"):
        ultrapost.detect(require(NASA), model=tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="unknown model format"):
        ultrapost.detect(require(NASA), model=bad)
    with pytest.raises(ValueError, match="score_threshold"):
        ultrapost.detect(require(NASA), model=model, score_threshold=1.5)
    with pytest.raises(ValueError, match="backend must be 'c' or 'golden'"):
        FaceDetector(model, backend="numpy")
    with pytest.raises(ValueError, match="interpolation must be one of"):
        FaceDetector(model, interpolation="cubic")
    with pytest.raises(TypeError, match="spec must be a ModelSpec"):
        FaceDetector(model, spec="ultraface")
    with pytest.raises(TypeError, match="unexpected keyword"):
        ultrapost.detect(require(NASA), model=model, threshold=0.5)
    with pytest.raises(TypeError, match="image must be"):
        ultrapost.detect([1, 2, 3], model=model)


def test_import_does_not_need_the_model_extras():
    """``import ultrapost`` (and detect) stays numpy-only: Pillow is loaded when a photo is first prepared."""
    code = "import sys, ultrapost; assert 'PIL' not in sys.modules and 'onnxruntime' not in sys.modules; print('ok')"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(ultrapost.__file__))]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "ok"
