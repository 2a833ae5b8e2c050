"""Real models on real photos: the fixed-point path keeps the float64 reference's detections.

Float models (ONNX and .tflite, decoded and raw heads) run on every shared photo; the fixed-point result must keep the
same anchors, in the same order, as the float64 reference (ultrapost.reference) on the same outputs, with every box
within 1/16 px at the model's input resolution. The int8 models' recorded outputs (shared/data/int8) go through the
int8 path, whose decisions must equal the reference's on the dequantized values and the recorded kept anchors.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require

import ultrapost
from ultrapost.pipeline.preprocess import prepare
from ultrapost.pipeline.recognize import detect_family
from ultrapost.pipeline.runners import load_model

FLOAT_MODELS = [
    "ultraface/version-RFB-320.onnx",
    "ultraface/version-slim-320.onnx",
    "ultraface/version-RFB-640.onnx",
    "ultraface/version-RFB-320_without_postprocessing.onnx",
    "ultraface/version-slim-320_without_postprocessing.onnx",
    "ultraface/version-RFB-320_without_postprocessing.tflite",
    "ultraface/version-slim-320_without_postprocessing.tflite",
    "int8/ultraface_ultraslim_float32.tflite",
]
PX_TOLERANCE = 1 / 16  # pixels at the model's input resolution


def photos():
    root = require("images/nasa_group.jpg").parent
    return sorted(root.glob("*.jpg"))


@pytest.fixture(scope="module", params=FLOAT_MODELS)
def model_outputs(request):
    """(spec, [(photo name, postprocess kwargs)]) for one model over every shared photo."""
    runner = load_model(require(request.param))
    spec = detect_family(runner)
    runs = []
    for photo in photos():
        tensor, _ = prepare(photo, spec)
        runs.append((photo.stem, spec.postprocess_args(runner.run(tensor))))
    return request.param, spec, runs


def test_fixed_point_keeps_the_reference_detections(model_outputs):
    name, spec, runs = model_outputs
    options = spec.ultraface_options()
    if spec.family == "ultraslim":  # NXP's graph clips its corners; the reference sees the same clipped values
        options["drop_finest_level"] = True
    pp = ultrapost.Ultraface(**options, score_threshold=0.7, iou_threshold=0.3)
    width, _ = pp.input_size
    worst_px, faces = 0.0, 0
    for photo, args in runs:
        det = pp.postprocess(**args)
        gold = pp.postprocess(**args, backend="golden")
        ref = pp.reference(**args)
        assert np.array_equal(det.fixed["boxes"], gold.fixed["boxes"]), photo
        assert np.array_equal(det.anchors, ref.anchors), f"{name} {photo}: kept anchors differ from the reference"
        if len(det):
            err = np.abs(det.to_pixels(*pp.input_size) - ref.to_pixels(*pp.input_size)).max()
            assert err <= PX_TOLERANCE, f"{name} {photo}: box error {err:.4f} px"
            assert np.abs(det.scores - ref.scores).max() <= 2**-30
            worst_px = max(worst_px, err)
        faces += len(det)
    assert faces > 0  # the photos have faces: an empty pipeline would not pass
    print(f"\n{name}: {len(runs)} photos, {faces} faces, worst box error {worst_px:.5f} px at {width} px wide")


def test_nasa_group_has_fourteen_faces():
    runner = load_model(require("ultraface/version-RFB-320.onnx"))
    spec = detect_family(runner)
    tensor, _ = prepare(require("images/nasa_group.jpg"), spec)
    det = ultrapost.Ultraface((320, 240), score_threshold=0.7).postprocess(**spec.postprocess_args(runner.run(tensor)))
    assert len(det) == 14


RAW_INT8 = ["int8/outputs_version-RFB-320_raw_int8.npz", "int8/outputs_version-slim-320_raw_int8.npz"]


@pytest.mark.parametrize("path", RAW_INT8)
@pytest.mark.parametrize("variant", ["q", "q_xnnpack"])
def test_int8_raw_heads_match_the_reference_on_dequantized_values(path, variant):
    z = np.load(require(path))
    quant = (
        (float(z["scores_scale"]), int(z["scores_zero_point"])),
        (float(z["boxes_scale"]), int(z["boxes_zero_point"])),
    )
    pp = ultrapost.Ultraface((320, 240), score_threshold=0.7, iou_threshold=0.3, logits=True)
    assert np.array_equal(pp.priors.astype(np.float32), z["priors_cxcywh"])
    worst_px, faces = 0.0, 0
    for name in z["names"]:
        s, b = z[f"{name}_scores_{variant}"], z[f"{name}_boxes_{variant}"]
        det = pp.postprocess(s, b, quantization=quant)
        gold = pp.postprocess(s, b, quantization=quant, backend="golden")
        ref = pp.reference(s, b, quantization=quant)
        assert all(np.array_equal(det.fixed[k], gold.fixed[k]) for k in det.fixed), name
        assert np.array_equal(det.anchors, ref.anchors), f"{path} {name}: decisions differ from the reference"
        assert np.array_equal(det.anchors, z[f"{name}_det_{variant}_idx"]), f"{path} {name}: recorded anchors differ"
        if len(det):
            worst_px = max(worst_px, np.abs(det.to_pixels(320, 240) - ref.to_pixels(320, 240)).max())
        faces += len(det)
    assert worst_px <= PX_TOLERANCE
    assert faces > 0
    print(f"\n{path} {variant}: {len(z['names'])} images, {faces} faces, worst box error {worst_px:.5f} px")


@pytest.mark.parametrize("variant", ["q", "q_xnnpack", "q_tflm"])
def test_int8_ultraslim_matches_the_reference_and_the_recorded_anchors(variant):
    z = np.load(require("int8/outputs_ultraface_ultraslim_int8.npz"))
    scale, zp = float(z["output_scale"]), int(z["output_zero_point"])
    pp = ultrapost.Ultraface(128, score_threshold=0.7, iou_threshold=0.3, drop_finest_level=True)
    assert pp.num_anchors == 172 and np.array_equal(pp.priors, z["priors_cxcywh"])
    faces = 0
    recorded = "q" if variant == "q_tflm" else variant  # the TFLM kernels reproduce the reference kernels' bytes
    for name in z["names"]:
        t = z[f"{name}_{variant}"]
        det = pp.postprocess(t, None, decoded=True, quantization=(scale, zp))
        gold = pp.postprocess(t, None, decoded=True, quantization=(scale, zp), backend="golden")
        ref = pp.reference(t, None, decoded=True, quantization=(scale, zp))
        assert all(np.array_equal(det.fixed[k], gold.fixed[k]) for k in det.fixed), name
        assert np.array_equal(det.anchors, ref.anchors), name
        assert np.array_equal(det.anchors, z[f"{name}_det_{recorded}_idx"]), name
        # int8 corners are exact multiples of the scale: the Q20 boxes equal the dequantized values within rounding
        if len(det):
            assert np.abs(det.boxes - ref.boxes).max() <= 2**-21
        faces += len(det)
    assert faces > 0
