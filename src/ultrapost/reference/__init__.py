"""Float64 reference semantics of each family's post-processing (Ultraface rules below).

Plain numpy, no fixed point: what the fixed-point core is measured against. Each rule follows the reference
implementations (see REFERENCE.md section 1):

- decode: variance decode of the Ultraface repository's ``box_utils`` (centre variance 0.1, size variance 0.2),
  corners not clipped; ``clip=True`` clips them to [0, 1] as the ncnn / MNN C++ ports do.
- score: the Python ``predict()`` test ``p > t`` (strict) on the face column. Two-class logits give
  ``p = sigmoid(l_face - l_other)``, the same number as the softmax the ONNX graphs apply.
- NMS: the Python ``hard_nms``: the best ``candidate_limit`` candidates (200 in ``predict()``), greedy, suppress when
  ``IoU > t``; IoU without the +1 pixel term, widths and heights clipped at 0, ``+ eps`` (1e-5) in the denominator.
- order: score descending, then anchor index ascending. ``predict()`` orders with an unstable ``np.argsort``, so on
  exact ties it has no defined order; this is the order ultrapost defines (TFLite Micro's rule too).

YuNet: ``yunet`` follows OpenCV's ``FaceDetectorYN`` (REFERENCE.md section 7); the packed RetinaFace:
``pytorch_retinaface`` follows Pytorch_Retinaface's ``detect.py`` (section 4).

Modules: ``decode``, ``nms``, ``families`` (whole pipelines), ``checks``; their names are re-exported here.
"""

from ultrapost.reference.decode import decode_deltas, decode_landmarks, dequantize, dequantize_f32, face_probability
from ultrapost.reference.families import (
    blazeface,
    pytorch_retinaface,
    retinaface,
    ultraface,
    yunet,
    yunet_candidates,
)
from ultrapost.reference.nms import (
    NMS_KINDS,
    hard_nms,
    iou_matrix,
    mediapipe_weighted_nms,
    ncnn_nms,
    nms,
    nms_boxes,
    opencv_overlap,
    py_cpu_nms,
)

__all__ = [
    "blazeface",
    "decode_deltas",
    "decode_landmarks",
    "dequantize",
    "dequantize_f32",
    "face_probability",
    "hard_nms",
    "iou_matrix",
    "mediapipe_weighted_nms",
    "ncnn_nms",
    "nms",
    "nms_boxes",
    "NMS_KINDS",
    "opencv_overlap",
    "py_cpu_nms",
    "pytorch_retinaface",
    "retinaface",
    "ultraface",
    "yunet",
    "yunet_candidates",
]
