"""Golden twin of csrc/up_pipeline.c: ``run`` (up_run, and up_run_f32 for float32 inputs), class by class."""

from __future__ import annotations

import numpy as np

from ultrapost.core import exact
from ultrapost.core.config import INPUT_F32, SCORE_LOGIT2, SCORE_PROB, STATUS, FixedConfig
from ultrapost.golden.decode import Rows, decode
from ultrapost.golden.f32 import convert_f32
from ultrapost.golden.nms import nms_rows
from ultrapost.golden.select import keys, select, select_passing


def run(cfg: FixedConfig, scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray | None = None):
    """up_run (and up_run_f32 for float32 inputs) on 2-D rows: scores [N,C], boxes [N,4] (or [N, 4 + 2P] with the
    keypoints after the box when ``keypoints`` is None and the config has keypoints)."""
    boxes = np.asarray(boxes)
    if cfg.num_keypoints > 0 and keypoints is None:
        keypoints = boxes[:, 4 : 4 + 2 * cfg.num_keypoints]
    boxes = boxes[:, :4]
    if cfg.num_keypoints == 0:
        keypoints = None
    f32_scores = None
    if cfg.input_kind == INPUT_F32:
        f32_scores = np.asarray(scores, dtype=np.float32)
        scores, boxes, keypoints = convert_f32(cfg, scores, boxes, keypoints)
    raw_boxes = np.asarray(boxes, dtype=np.int64)
    kp_raw = None if keypoints is None else np.asarray(keypoints, dtype=np.int64)
    classes = [(cfg.class_index, cfg.score_bound)]
    if cfg.num_labels > 0:
        classes = [(cfg.class_index + i, int(cfg.label_bounds[i])) for i in range(cfg.num_labels)]
    parts = []
    for column, bound in classes:
        key = keys(cfg, scores, column)
        if f32_scores is None:
            candidates = select(cfg, key, bound)
        else:
            # the exact test on the floats; the converted keys (Q30 probabilities, Q20 logits) order the candidates
            if cfg.score_kind == SCORE_LOGIT2:
                passing = exact.f32_logit2_passes(f32_scores[:, column], f32_scores[:, 1 - column], cfg.score_lut)
            else:  # bound: the key of the largest float32 failing the test
                passing = exact.f32_key(f32_scores[:, column]) > bound
            if cfg.score_kind == SCORE_PROB and (f32_scores[passing, column] > 1).any():
                raise exact.above_one_error(f32_scores, cfg.class_index, cfg.num_labels)
            candidates = select_passing(cfg, key, passing)
        decoded = decode(cfg, candidates, raw_boxes[candidates])
        part = nms_rows(cfg, candidates, decoded, Rows(cfg, key, kp_raw))
        if cfg.num_labels > 0:
            part["labels"] = np.full(len(part["anchors"]), column, dtype=np.int32)
        parts.append(part)
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def range_error(cfg: FixedConfig, scores, boxes, keypoints=None) -> ValueError:
    """The error of a C run that returned UP_ERR_RANGE (a value its representation cannot hold), naming the value:
    the golden run of the same inputs raises it (image by image for [B, N, C] batches), so both backends say the
    same."""
    s, b = np.asarray(scores), np.asarray(boxes)
    k = None if keypoints is None else np.asarray(keypoints)
    if s.ndim == 2:
        s, b, k = s[None], b[None], None if k is None else k[None]
    for i in range(s.shape[0]):
        try:
            run(cfg, s[i], b[i], None if k is None else k[i])
        except ValueError as exc:  # the first image's error, as a golden batch run raises it
            return exc
    return ValueError(f"{STATUS[-8]} (status -8)")
