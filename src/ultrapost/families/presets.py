"""Presets: the decisions of each reference post-processor, as data (keyword arguments of the families).

Every preset is a plain dict; none has a code path of its own. Values are those of REFERENCE.md.

- ``predict``: the Ultraface repository's Python ``predict()``: ``p > 0.7``, the 200 best candidates, hard NMS
  (suppress when IoU > 0.3) with ``eps = 1e-5``, trained priors, unclipped boxes.
- ``ncnn``: the ncnn / MNN C++ ports: stride priors, corners clipped to [0, 1], every candidate, blending NMS at
  0.3 with "+1 pixel" areas on the image's pixel grid (``pixel_size``, the input size unless given), no eps.
- ``mediapipe``: MediaPipe's rule: ``score >= 0.5``, weighted NMS at 0.3, no eps, every candidate.
- ``retinaface``: RetinaFace's test path: ``p > 0.3``, the 2000 best, ``py_cpu_nms`` at 0.4 (+1 pixel areas, no
  eps), at most 1000 kept.
- ``pytorch_retinaface``: Pytorch_Retinaface's ``detect.py``: ``p > 0.02``, the 5000 best, ``py_cpu_nms`` at 0.4
  (+1 pixel areas, no eps), the first 750 kept (it draws those with ``score >= 0.6``).
- ``opencv``: ``cv2.dnn.NMSBoxes``: strict score test, every candidate, stable order, keep when IoU <= 0.3, no eps.
"""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    "predict": {
        "score_threshold": 0.7,
        "iou_threshold": 0.3,
        "candidate_limit": 200,
        "eps": 1e-5,
        "nms": "hard",
        "priors": "trained",
        "clip": False,
        "score_test": ">",
    },
    "ncnn": {
        "score_threshold": 0.7,
        "iou_threshold": 0.3,
        "candidate_limit": None,
        "eps": 0.0,
        "nms": "blend",
        "priors": "stride",
        "clip": True,
        "score_test": ">",
        "pixel_size": "input",
    },
    "mediapipe": {
        "score_threshold": 0.5,
        "iou_threshold": 0.3,
        "candidate_limit": None,
        "eps": 0.0,
        "nms": "weighted",
        "score_test": ">=",
    },
    "retinaface": {
        "score_threshold": 0.3,
        "iou_threshold": 0.4,
        "candidate_limit": 2000,
        "max_detections": 1000,
        "eps": 0.0,
        "nms": "hard",
        "score_test": ">",
        "pixel_size": "input",
    },
    "pytorch_retinaface": {
        "score_threshold": 0.02,
        "iou_threshold": 0.4,
        "candidate_limit": 5000,
        "max_detections": 750,
        "eps": 0.0,
        "nms": "hard",
        "score_test": ">",
        "pixel_size": "input",
    },
    "opencv": {
        "score_threshold": 0.7,
        "iou_threshold": 0.3,
        "candidate_limit": None,
        "eps": 0.0,
        "nms": "hard",
        "score_test": ">",
    },
}


def preset_options(name: str, input_size) -> dict:
    """The keyword arguments of preset ``name`` for a model of this input size."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    opts = dict(PRESETS[name])
    if opts.get("pixel_size") == "input":
        opts["pixel_size"] = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    return opts
