"""Golden twin of csrc/up_decode.c: decode of candidates (variance, linear, corners), keypoints, and the output
rows up_emit writes."""

from __future__ import annotations

import numpy as np

from ultrapost.core.config import BOX_CORNERS, BOX_LIMIT, BOX_LINEAR, INPUT_S8, ONE_BOX, FixedConfig, OutOfRangeError
from ultrapost.golden.fixed import INT32_MAX, exp_q20, rshift_round, sat32
from ultrapost.golden.select import score_of_key


def _center_factor(cfg: FixedConfig, lut, raw):
    if cfg.input_kind == INPUT_S8:
        return lut[raw + 128].astype(np.int64)
    return sat32(rshift_round(raw * cfg.var_center_q30, 30))


def decode(cfg: FixedConfig, anchors: np.ndarray, raw: np.ndarray):
    """up_decode for rows ``raw`` [K,4] of anchors [K] -> Q20 corners int64 [K,4]."""
    raw = np.asarray(raw, dtype=np.int64)
    lo, hi = (0, ONE_BOX) if cfg.clip else (-BOX_LIMIT, BOX_LIMIT)
    if cfg.box_kind == BOX_CORNERS:
        v = cfg.box_lut[raw + 128].astype(np.int64) if cfg.input_kind == INPUT_S8 else raw
        bad = np.argwhere((v < lo) | (v > hi))
        if len(bad) and not cfg.clip:  # given corners are never saturated: an error naming the value
            r, k = bad[0]
            raise OutOfRangeError(
                f"box corner {v[r, k] / ONE_BOX:g} (anchor {anchors[r]}, column {k}) is beyond +-4, the "
                "range of decoded boxes (normalized units): scale the boxes, or pass clip=True"
            )
        return np.clip(v, lo, hi)
    prior = cfg.priors[anchors].astype(np.int64)
    c = _center_factor(cfg, cfg.center_lut, raw[:, :2])
    if cfg.input_kind == INPUT_S8:
        e = cfg.size_lut[raw[:, 2:] + 128].astype(np.int64)
    else:
        e = sat32(rshift_round(raw[:, 2:] * cfg.var_size_q30, 30))
        if cfg.box_kind != BOX_LINEAR:
            e = exp_q20(e)
    center = prior[:, :2] + rshift_round(c * prior[:, 2:], 20)
    size = rshift_round(e * prior[:, 2:], 20)
    half = rshift_round(size, 1)
    corners = np.concatenate([center - half, center + half], axis=1)
    sat = np.tile(e == INT32_MAX, 2)  # a size factor at the top of its Q20 range: exp saturated
    if cfg.clip:  # exact still when the saturated box covers [0, 1] on that axis, as the larger true box does
        covers = np.tile((corners[:, :2] <= 0) & (corners[:, 2:] >= ONE_BOX), 2)
        bad = sat & ~covers
    else:
        bad = sat | (corners < lo) | (corners > hi)
    if bad.any():
        r, k = np.argwhere(bad)[0]
        where = f"anchor {anchors[r]}, column {k}"
        if sat[r, k]:
            what = f"the decoded box size ({where}) reaches 2048 times its prior's, the top of its Q20 range"
        else:
            what = f"decoded box corner {corners[r, k] / ONE_BOX:g} ({where}) is beyond +-4, the range of decoded boxes"
            what += " (normalized units)"
        raise OutOfRangeError(what + ("" if cfg.clip else "; clip=True clips boxes to [0, 1]"))
    return np.clip(corners, lo, hi)


def keypoints_of(cfg: FixedConfig, anchors: np.ndarray, raw: np.ndarray):
    """up_keypoints_of for rows ``raw`` [K, 2P] of anchors [K] -> Q20 int64 [K, 2P]."""
    raw = np.asarray(raw, dtype=np.int64).reshape(len(anchors), 2 * cfg.num_keypoints)
    lo, hi = (0, ONE_BOX) if cfg.clip else (-BOX_LIMIT, BOX_LIMIT)
    prior = cfg.priors[anchors].astype(np.int64)
    n = raw.shape[1]
    xy = prior[:, np.arange(n) & 1]
    wh = prior[:, 2 + (np.arange(n) & 1)]
    c = _center_factor(cfg, cfg.keypoint_lut, raw)
    v = xy + rshift_round(c * wh, 20)
    if not cfg.clip and ((v < lo) | (v > hi)).any():
        r, k = np.argwhere((v < lo) | (v > hi))[0]
        raise OutOfRangeError(
            f"keypoint value {v[r, k] / ONE_BOX:g} (anchor {anchors[r]}, column {k}) is beyond +-4, the range of "
            "decoded keypoints (normalized units): pass clip=True to clip them to [0, 1]"
        )
    return np.clip(v, lo, hi)


class Rows:
    """What up_emit needs of one class's source: keypoint rows and the score of a key."""

    def __init__(self, cfg, key, kp_raw):
        self.cfg, self.key, self.kp_raw = cfg, key, kp_raw

    def score(self, anchors):
        return score_of_key(self.cfg, self.key[anchors])

    def keypoints(self, anchors):
        anchors = np.asarray(anchors, dtype=np.int64)
        return keypoints_of(self.cfg, anchors, self.kp_raw[anchors])


def emit(cfg, rows: Rows, boxes, scores, anchors, keypoints=None):
    """The output rows (int32 boxes, scores, anchors, keypoints) of kept candidates, as up_emit writes them."""
    anchors = np.asarray(anchors, dtype=np.int64)
    out = {
        "boxes": np.asarray(boxes, dtype=np.int64).reshape(-1, 4).astype(np.int32),
        "scores": np.asarray(scores, dtype=np.int64).reshape(-1).astype(np.int32),
        "anchors": anchors.astype(np.int32),
    }
    if cfg.num_keypoints > 0:
        kp = rows.keypoints(anchors) if keypoints is None else keypoints
        out["keypoints"] = np.asarray(kp, dtype=np.int64).reshape(len(anchors), 2 * cfg.num_keypoints).astype(np.int32)
    return out
