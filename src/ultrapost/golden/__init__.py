"""The numpy golden model: the C core (csrc/) function by function, in integer arithmetic only.

Every function here has the name of its C twin without the ``up_`` prefix and returns identical integers; tests
compare the two with ``np.array_equal``. numpy-vs-C99 traps respected: all arithmetic is int64 (no int8 wrap),
right shifts of negative values are arithmetic in both, divisions only on non-negative operands, rounding is
"add half, then shift", and ordering uses ``np.lexsort`` on (anchor, -key), a total order.

One module per C stage file: ``fixed`` (up_fixed.c), ``select`` (up_select.c), ``decode`` (up_decode.c), ``nms``
(up_nms.c), ``iou`` (up_iou.c), ``pipeline`` (up_pipeline.c), ``preprocess`` (up_preprocess.c), ``f32`` (the
host's float32 boundary), ``boxes`` (up_boxes.c and up_boxes_merge.c: ``ultrapost.nms``). Their names are re-exported
here
(``ultrapost.golden.run``...).
"""

from ultrapost.golden.boxes import boxes_nms
from ultrapost.golden.decode import Rows, decode, emit, keypoints_of
from ultrapost.golden.f32 import convert_f32, f32_to_fixed
from ultrapost.golden.fixed import INT32_MAX, INT32_MIN, exp_q20, rshift_round, sat32, sigmoid_q30
from ultrapost.golden.iou import exceeds, iou_exceeds
from ultrapost.golden.nms import nms, nms_hard, nms_merge, nms_rows, nms_soft, overlap, udiv_round
from ultrapost.golden.pipeline import run
from ultrapost.golden.preprocess import pre_check_config, pre_run, pre_scratch_size
from ultrapost.golden.select import keys, score_of_key, select

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "Rows",
    "boxes_nms",
    "convert_f32",
    "decode",
    "emit",
    "exceeds",
    "exp_q20",
    "f32_to_fixed",
    "iou_exceeds",
    "keypoints_of",
    "keys",
    "nms",
    "nms_hard",
    "nms_merge",
    "nms_rows",
    "nms_soft",
    "overlap",
    "pre_check_config",
    "pre_run",
    "pre_scratch_size",
    "rshift_round",
    "run",
    "sat32",
    "score_of_key",
    "select",
    "sigmoid_q30",
    "udiv_round",
]
