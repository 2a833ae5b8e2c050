"""Multi-class Ultraface on a real model: RFB-640-masked_face-v2.onnx (background, face, masked face) on every shared
photo and on a photo with painted-on masks; C == golden bit-exact and the float64 reference's kept set, order and
labels."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require

import ultrapost

MODEL = "ultraface/RFB-640-masked_face-v2.onnx"


def masked(photo):
    """The photo with a pale blue ellipse over the lower half of every face RFB-320 finds in it."""
    from PIL import Image, ImageDraw

    image = Image.open(photo).convert("RGB")
    draw = ImageDraw.Draw(image)
    for x1, y1, x2, y2 in ultrapost.detect(image, model=require("ultraface/version-RFB-320.onnx")).boxes:
        w, h = x2 - x1, y2 - y1
        draw.ellipse([x1 + 0.02 * w, y1 + 0.5 * h, x2 - 0.02 * w, y2 + 0.1 * h], fill=(170, 200, 230))
    return image


@pytest.fixture(scope="module")
def outputs():
    from ultrapost.data import data_dir
    from ultrapost.pipeline.preprocess import load_image, prepare
    from ultrapost.pipeline.recognize import detect_family
    from ultrapost.pipeline.runners import load_model

    runner = load_model(require(MODEL))
    spec = detect_family(runner)
    assert spec.num_classes == 3 and spec.decoded and not spec.logits
    require("images/nasa_group.jpg")
    photos = sorted((data_dir() / "images").glob("*.jpg"))
    assert len(photos) == 25
    images = [(p.name, load_image(p)) for p in photos]
    images += [(f"masked {name}", masked(require(f"images/{name}"))) for name in ("nasa_group.jpg", "ultraface_13.jpg")]
    out = []
    for name, image in images:
        x, _ = prepare(image, spec)
        y = runner.run(x)
        out.append((name, y[spec.scores], y[spec.boxes]))
    return spec, out


@pytest.mark.parametrize("thresholds", [(0.7, 0.7), (0.5, 0.3)])
@pytest.mark.parametrize("nms", ["hard", "blend"])
def test_every_photo_c_equals_golden_and_keeps_the_reference_faces(outputs, thresholds, nms):
    spec, rows = outputs
    pp = ultrapost.Ultraface(spec.input_size, class_thresholds=thresholds, nms=nms)
    per_label = np.zeros(3, dtype=np.int64)
    for name, scores, boxes in rows:
        c = pp.postprocess(scores, boxes, decoded=True)
        g = pp.postprocess(scores, boxes, decoded=True, backend="golden")
        assert c.fixed.keys() == g.fixed.keys() == {"boxes", "scores", "anchors", "labels"}
        for key in c.fixed:
            assert c.fixed[key].dtype == g.fixed[key].dtype and np.array_equal(c.fixed[key], g.fixed[key]), (name, key)
        r = pp.reference(scores, boxes, decoded=True)
        assert c.anchors.tolist() == r.anchors.tolist(), name
        assert c.labels.tolist() == r.labels.tolist(), name
        # decoded float32 corners in Q20 (2^-21) and, for blending, means rounded once more
        assert np.abs(c.boxes - r.boxes).max(initial=0) < 2e-6, name
        assert np.abs(c.scores - r.scores).max(initial=0) < 1e-6, name
        per_label += np.bincount(c.labels, minlength=3)
    assert per_label[0] == 0 and per_label[1] > 500
    if thresholds[1] < 0.5:
        assert per_label[2] > 0  # the painted masks are seen as masks


def test_detect_reports_labels(outputs):
    faces = ultrapost.detect(require("images/nasa_group.jpg"), model=require(MODEL))
    assert len(faces) == 14 and faces.labels.tolist() == [1] * 14
    import json

    doc = json.loads(faces.to_json())
    assert [f["label"] for f in doc["faces"]] == [1] * 14
    loose = ultrapost.detect(masked(require("images/nasa_group.jpg")), model=require(MODEL), score_threshold=0.5)
    assert 2 in loose.labels.tolist() and set(loose.labels.tolist()) <= {1, 2}
    # labels come class by class; scores are best first within each class
    for label in (1, 2):
        assert np.all(np.diff(loose.scores[loose.labels == label]) <= 0)
