"""The prepared, integer-only config: a Python mirror of ``up_config_t`` in csrc/ultrapost.h.

It is made once on the host by ultrapost.core.prepare (the only place floats become fixed point) and read by the C
binding, the golden model, and the firmware header generator alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

# Mirrors of ultrapost.h / up_host.h constants.
Q_BOX = 20
Q_SCORE = 30
Q_VAR = 30
Q_IOU = 16
ONE_BOX = 1 << Q_BOX
ONE_SCORE = 1 << Q_SCORE
BOX_LIMIT = 4 << Q_BOX
MAX_ANCHORS = 1 << 22
F32_PROB_Q = 30
F32_VALUE_Q = 20
F32_VALUE_LIMIT = 1 << 30

INPUT_S8, INPUT_I32, INPUT_F32 = 0, 1, 2
SCORE_PROB, SCORE_LOGIT2, SCORE_LOGIT1 = 0, 1, 2
BOX_DELTAS, BOX_CORNERS, BOX_LINEAR = 0, 1, 2
NMS_HARD, NMS_BLEND, NMS_WEIGHTED, NMS_SOFT_LINEAR, NMS_SOFT_GAUSSIAN = 0, 1, 2, 3, 4
NMS_KINDS = {
    "hard": NMS_HARD,
    "blend": NMS_BLEND,
    "weighted": NMS_WEIGHTED,
    "soft-linear": NMS_SOFT_LINEAR,
    "soft-gaussian": NMS_SOFT_GAUSSIAN,
}
MAX_KEYPOINTS = 8
MAX_MERGE_CANDIDATES = 1 << 15
MAX_INV_SIGMA_Q16 = 1 << 24

INPUT_KINDS = {"s8": INPUT_S8, "i32": INPUT_I32, "f32": INPUT_F32}


class OutOfRangeError(ValueError):
    """A value outside the range its representation allows (status UP_ERR_RANGE, -8): raised alike by the C path
    and the golden model, naming the value, instead of a silent clamp."""


# Status codes of the C core and what each means to a caller.
STATUS = {
    0: "ok",
    -1: "a required pointer is NULL",
    -2: "the config is inconsistent",
    -3: "scratch buffer too small or misaligned",
    -4: "output capacity below max_detections",
    -5: "a row stride is too small",
    -6: "NaN or Inf in a float input",
    -7: "zero anchors or too many",
    -8: "a value outside the range its representation allows (a float32 probability above 1 or value beyond "
    "+-1024, a box corner or keypoint beyond +-4 without clip, a saturated box size; YuNet: a decoded input NaN, "
    "Inf or beyond +-2048)",
    -9: "the frame's size differs from the pre-processing config's",
}


@dataclass(frozen=True, eq=False)
class FixedConfig:
    """Every field of ``up_config_t``; tables are int32 numpy arrays (None where unused)."""

    num_anchors: int
    num_classes: int
    class_index: int
    input_kind: int
    score_kind: int
    box_kind: int
    nms_kind: int
    clip: bool
    score_bound: int
    candidate_limit: int
    max_detections: int
    iou_q16: int
    iou_eps_q40: int
    var_center_q30: int
    var_size_q30: int
    priors: np.ndarray | None = field(default=None, repr=False)
    score_lut: np.ndarray | None = field(default=None, repr=False)
    center_lut: np.ndarray | None = field(default=None, repr=False)
    size_lut: np.ndarray | None = field(default=None, repr=False)
    box_lut: np.ndarray | None = field(default=None, repr=False)
    # Added in core 0.2: 0 / None means the 0.1 behaviour.
    pad_x_q20: int = 0
    pad_y_q20: int = 0
    logit_clip_q20: int = 0
    soft_min_q30: int = 0
    soft_inv_sigma_q16: int = 0
    num_keypoints: int = 0
    num_labels: int = 0
    keypoint_lut: np.ndarray | None = field(default=None, repr=False)
    label_bounds: np.ndarray | None = field(default=None, repr=False)
    # Added in core 0.3: the IoU threshold exactly, iou_num / 2^iou_shift (both 0: iou_q16 / 2^16).
    iou_num: int = 0
    iou_shift: int = 0

    def scalars(self) -> dict[str, int]:
        return {
            f.name: int(getattr(self, f.name))
            for f in fields(self)
            if not isinstance(getattr(self, f.name), (np.ndarray, type(None)))
        }

    def tables(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), np.ndarray)}
