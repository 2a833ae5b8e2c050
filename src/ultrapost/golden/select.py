"""Golden twin of csrc/up_select.c (and up_key): score keys, the score test and candidate selection."""

from __future__ import annotations

import numpy as np

from ultrapost.core.config import INPUT_S8, SCORE_LOGIT1, SCORE_LOGIT2, SCORE_PROB, FixedConfig
from ultrapost.golden.fixed import sat32, sigmoid_q30


def keys(cfg: FixedConfig, scores: np.ndarray, column: int | None = None):
    """up_key for every anchor of one score column (the config's class_index by default): int64 [N]."""
    s = np.asarray(scores, dtype=np.int64)
    c = cfg.class_index if column is None else column
    if cfg.score_kind == SCORE_PROB or (cfg.score_kind == SCORE_LOGIT1 and cfg.input_kind == INPUT_S8):
        return s[:, c]
    if cfg.score_kind == SCORE_LOGIT1:
        clip = cfg.logit_clip_q20
        return np.clip(s[:, c], -clip, clip) if clip > 0 else s[:, c]
    return sat32(s[:, c] - s[:, 1 - c])


def select(cfg: FixedConfig, key: np.ndarray, bound: int | None = None):
    """up_select + up_candidates_sort: anchors passing key > bound, best candidate_limit, best first."""
    passing = np.flatnonzero(key > (cfg.score_bound if bound is None else bound))
    order = np.lexsort((passing, -key[passing]))
    return passing[order[: cfg.candidate_limit]]


def select_passing(cfg: FixedConfig, key: np.ndarray, passing: np.ndarray):
    """The host's float32 selection: the anchors of a passing mask (the exact test on the floats), best
    candidate_limit by key descending, then anchor ascending."""
    idx = np.flatnonzero(passing)
    order = np.lexsort((idx, -key[idx]))
    return idx[order[: cfg.candidate_limit]]


def score_of_key(cfg: FixedConfig, key):
    key = np.asarray(key, dtype=np.int64)
    if cfg.input_kind == INPUT_S8:
        return cfg.score_lut[key + (255 if cfg.score_kind == SCORE_LOGIT2 else 128)].astype(np.int64)
    return key if cfg.score_kind == SCORE_PROB else sigmoid_q30(key)
