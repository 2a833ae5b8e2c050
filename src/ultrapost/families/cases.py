"""Generated post-processing cases: the C == golden tests, `ultrapost verify` and the firmware vectors share them.

A case is a deterministic function of (seed, parameters): the same case can be rebuilt anywhere.
"""

from __future__ import annotations

import numpy as np

from ultrapost.core import config
from ultrapost.core.priors import RETINAFACE_CONFIGS, ULTRAFACE_SIZES, retinaface_priors
from ultrapost.families.blazeface import BlazeFace
from ultrapost.families.retinaface import RetinaFace
from ultrapost.families.ultraface import Ultraface

SIZES = (*ULTRAFACE_SIZES, (64, 48), (200, 150), (333, 111), (96, 128))
MODES = ("random", "ties", "all_pass", "none_pass", "extreme", "degenerate", "on_level")
KINDS = ("f32", "s8", "i32")


def make_case(
    seed: int,
    size,
    kind: str,
    mode: str,
    *,
    decoded=False,
    logits=False,
    convention="trained",
    drop_finest=False,
    clip=False,
    candidate_limit=200,
    max_detections=None,
    **options,
):
    """(Ultraface, scores, boxes, quantization) for one generated case; ``options`` (nms, pixel_size,
    score_test, soft_sigma...) go to the Ultraface."""
    rng = np.random.default_rng(seed)
    if logits and decoded:
        decoded = False
    t = float(rng.choice([0.3, 0.5, 0.6, 0.7, 0.9]))
    pp = Ultraface(
        size,
        score_threshold=t,
        iou_threshold=float(rng.choice([0.1, 0.3, 0.45, 0.7])),
        candidate_limit=candidate_limit,
        max_detections=max_detections,
        priors=convention,
        drop_finest_level=drop_finest,
        logits=logits,
        clip=clip,
        **options,
    )
    n = pp.num_anchors
    p = _scores_of(rng, mode, n, t)  # face probability (clipped to (0, 1))
    if mode == "extreme" and clip:  # exp saturates; clipped boxes still exact (they cover [0, 1])
        deltas = rng.choice(np.array([-60.0, -25.0, -8.0, 0.0, 8.0, 25.0, 60.0]), (n, 4))
    elif mode == "extreme":  # vanishing and large boxes within +-4 (beyond is an error without clip)
        deltas = np.concatenate(
            [
                rng.choice(np.array([-4.0, -2.0, 0.0, 2.0, 4.0]), (n, 2)),
                rng.choice([-60.0, -25.0, -8.0, 0.0, 3.0], (n, 2)),
            ],
            axis=1,
        )
    elif mode == "degenerate":
        deltas = np.zeros((n, 4))
        deltas[: n // 2, 2:] = -40.0  # vanishing boxes
    else:
        deltas = rng.normal(0, 1.5, (n, 4))
    if decoded:
        cx, cy = rng.random(n), rng.random(n)
        w, h = rng.uniform(0.01, 0.4, n), rng.uniform(0.01, 0.4, n)
        if mode == "degenerate":
            w[::3] = -w[::3]  # inverted boxes: area 0
            h[1::3] = 0.0
        if mode == "extreme":  # 9.0 reaches beyond +-4: clipped with clip, else an error (given corners)
            w = rng.choice(np.array([0.0, 1e-7, 3.0, 9.0 if clip else 6.0]), n)
        box = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    else:
        box = deltas
    if logits:
        d = np.log(p / (1 - p))
        scores = np.stack([np.zeros(n), d], 1)
    else:
        scores = np.stack([1 - p, p], 1)
    if kind == "f32":
        return pp, scores.astype(np.float32), box.astype(np.float32), None
    if kind == "i32":
        sq = 20 if logits else 30
        s = np.clip(np.floor(scores * 2.0**sq + 0.5), -(2**31), 2**31 - 1).astype(np.int32)
        b = np.clip(np.floor(box * 2.0**20 + 0.5), -(2**31), 2**31 - 1).astype(np.int32)
        return pp, s, b, None
    # int8: score scale so that t lies exactly on a level in "on_level" mode
    if logits:
        s_scale, s_zp = float(rng.choice([0.05, 0.0625, 0.1])), int(rng.integers(-20, 20))
    elif mode == "on_level":
        s_scale, s_zp = 1 / 256, -128
        pp = Ultraface(
            size,
            score_threshold=(int(rng.integers(140, 250)) - 128) / 256 * 1 + 0.0,
            candidate_limit=candidate_limit,
            priors=convention,
            drop_finest_level=drop_finest,
            clip=clip,
            **options,
        )
    else:
        s_scale, s_zp = float(rng.choice([1 / 256, 1 / 255, 0.0039])), -128
    b_scale = float(rng.choice([0.01, 0.04, 0.08])) if not decoded else 1 / 128
    b_zp = int(rng.integers(-10, 10))
    sq = np.clip(np.round(scores / s_scale) + s_zp, -128, 127).astype(np.int8)
    bq = np.clip(np.round(box / b_scale) + b_zp, -128, 127).astype(np.int8)
    return pp, sq, bq, ((s_scale, s_zp), (b_scale, b_zp))


def ultraslim_case(seed: int, kind: str = "s8", mode: str = "random", score_threshold: float = 0.5, **options):
    """(Ultraface, t172x6, quantization) shaped like NXP's ultraslim output; ``options`` (nms...) go to the
    Ultraface."""
    rng = np.random.default_rng(seed)
    pp = Ultraface(128, score_threshold=score_threshold, drop_finest_level=True, clip=True, **options)
    n = pp.num_anchors
    p = rng.random(n) ** (2 if mode != "none_pass" else 40)
    if mode == "ties":
        p = rng.choice(np.array([0.3, 0.6, 0.9]), n)
    cx, cy, w, h = rng.random(n), rng.random(n), rng.uniform(0.05, 0.6, n), rng.uniform(0.05, 0.6, n)
    box = np.clip(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1), 0, 1)
    t = np.concatenate([np.stack([1 - p, p], 1), box], 1)
    if kind == "f32":
        return pp, t.astype(np.float32), None
    scale, zp = 1 / 255, -128
    return pp, np.clip(np.round(t / scale) + zp, -128, 127).astype(np.int8), (scale, zp)


NMS_KINDS = tuple(config.NMS_KINDS)
RETINAFACE_SIZES = {"slim": ((320, 240), (160, 120), (128, 96), (100, 70)), "blazeface": ((128, 128), (96, 64))}


def _scores_of(rng, mode: str, n: int, t: float) -> np.ndarray:
    """Face probabilities [n] for a case mode."""
    if mode == "ties":
        p = rng.choice(np.array([0.2, 0.71, 0.8, 0.95]), n)
    elif mode == "all_pass":
        p = rng.uniform(0.95, 1.0, n)
    elif mode == "none_pass":
        p = rng.uniform(0.0, t * 0.9, n)
    else:
        p = rng.random(n) ** 6
    return np.clip(p, 1e-6, 1 - 1e-6)


def _deltas_of(rng, mode: str, shape) -> np.ndarray:
    if mode == "extreme":
        return rng.choice(np.array([-60.0, -25.0, -8.0, 0.0, 8.0, 25.0, 60.0]), shape)
    if mode == "degenerate":
        d = np.zeros(shape)
        d[: shape[0] // 2, 2:4] = -40.0  # vanishing boxes
        return d
    return rng.normal(0, 1.5, shape)


PACKED_MODES = ("random", "ties", "all_pass", "none_pass", "degenerate", "extreme")


def packed_case(seed: int, size, mode: str = "random", threshold: float = 0.02, logits: bool = True) -> np.ndarray:
    """A float32 [N, 16] packed RetinaFace output ([loc 4 | conf 2 | landms 10], Pytorch_Retinaface mobilenet0.25's
    priors at size) for a case mode, face scores placed against threshold; deltas small enough (and no candidate
    on a prior over 3 frames wide) that the decoded corners stay in range except in the "extreme" mode (whose
    candidates the core refuses with UP_ERR_RANGE)."""
    rng = np.random.default_rng(seed)
    priors = retinaface_priors(size, **RETINAFACE_CONFIGS["mnet"])
    n = len(priors)
    p = _scores_of(rng, mode, n, threshold)
    if mode != "extreme":  # priors over 3 frames wide (small inputs) decode beyond +-4: no face there
        p[np.max(priors[:, 2:], axis=1) > 3.0] = threshold / 2
    if logits:  # a background logit of its own; the face logit puts softmax at p
        bg = rng.normal(0, 1, n)
        conf = np.stack([bg, bg + np.log(p / (1 - p))], 1)
    else:
        conf = np.stack([1 - p, p], 1)
    if mode in ("extreme", "degenerate"):
        loc, landms = _deltas_of(rng, mode, (n, 4)), _deltas_of(rng, mode, (n, 10))
    else:
        loc, landms = rng.normal(0, 0.6, (n, 4)), rng.normal(0, 1.2, (n, 10))
    return np.concatenate([loc, conf, landms], axis=1).astype(np.float32)


def _quantize(rng, x, scales, zp_range=(-10, 10)):
    scale, zp = float(rng.choice(scales)), int(rng.integers(*zp_range))
    return np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8), (scale, zp)


def _to_i32(x, q: int) -> np.ndarray:
    return np.clip(np.floor(x * 2.0**q + 0.5), -(2**31), 2**31 - 1).astype(np.int32)


def retinaface_case(
    seed: int,
    kind: str,
    mode: str = "random",
    *,
    config: str = "slim",
    size=None,
    nms: str = "hard",
    logits: bool = False,
    candidate_limit=2000,
    max_detections=1000,
    **options,
):
    """(RetinaFace, conf, loc, landms, quantization) for one generated case of a prior config ("slim" or
    "blazeface"); ``options`` (pixel_size, score_test, soft_sigma...) go to the RetinaFace."""
    rng = np.random.default_rng(seed)
    size = RETINAFACE_SIZES[config][int(rng.integers(len(RETINAFACE_SIZES[config])))] if size is None else size
    t = float(rng.choice([0.3, 0.5, 0.7, 0.9]))
    rf = RetinaFace.model(
        config,
        size,
        score_threshold=t,
        iou_threshold=float(rng.choice([0.1, 0.4, 0.7])),
        nms=nms,
        logits=logits,
        candidate_limit=candidate_limit,
        max_detections=max_detections,
        **options,
    )
    n = rf.num_anchors
    p = _scores_of(rng, mode, n, t)
    conf = np.stack([np.zeros(n), np.log(p / (1 - p))], 1) if logits else np.stack([1 - p, p], 1)
    loc = _deltas_of(rng, mode, (n, 4))
    landms = _deltas_of(rng, mode, (n, 10)) * (2.0 if mode == "random" else 1.0)
    if kind == "f32":
        return rf, conf.astype(np.float32), loc.astype(np.float32), landms.astype(np.float32), None
    if kind == "i32":
        return rf, _to_i32(conf, 20 if logits else 30), _to_i32(loc, 20), _to_i32(landms, 20), None
    if logits:
        c8, cq = _quantize(rng, conf, [0.05, 0.0625, 0.1], (-20, 20))
    else:
        c8, cq = _quantize(rng, conf, [1 / 256, 1 / 255], (-128, -127))
    l8, lq = _quantize(rng, loc, [0.01, 0.04, 0.08])
    k8, kq = _quantize(rng, landms, [0.02, 0.05, 0.1])
    return rf, c8, l8, k8, (cq, lq, kq)


def blazeface_case(seed: int, kind: str, *, model: str = "short", nms: str = "weighted"):
    """(BlazeFace, classificators, regressors, quantization) for one generated case of a MediaPipe model."""
    rng = np.random.default_rng(seed)
    bf = BlazeFace.model(
        model, nms=nms, score_threshold=float(rng.choice([0.5, 0.75, 0.9])), iou_threshold=float(rng.choice([0.3, 0.5]))
    )
    n = bf.num_anchors
    logits = rng.normal(-3, 4, (n, 1))
    if seed % 5 == 0:
        logits[::7] = rng.choice([-150.0, 150.0, 0.0])  # clipped logits and exactly 0.5
    reg = np.zeros((n, 16))
    reg[:, :2] = rng.normal(0, 6, (n, 2))
    reg[:, 2:4] = rng.uniform(4, 60, (n, 2))
    reg[:, 4:] = rng.normal(0, 15, (n, 12))
    if kind == "f32":
        return bf, logits.astype(np.float32), reg.astype(np.float32), None
    if kind == "i32":
        return bf, _to_i32(logits, 20), _to_i32(reg, 20), None
    s8, sq = _quantize(rng, logits, [0.05, 0.1, 0.5], (-20, 20))
    r8, rq = _quantize(rng, reg, [0.25, 0.5, 1.0])
    return bf, s8, r8, (sq, rq)


def multiclass_case(
    seed: int,
    kind: str,
    *,
    size=(160, 120),
    nms: str = "hard",
    decoded: bool = False,
    num_classes: int = 3,
    max_detections=None,
):
    """(Ultraface with class_thresholds, scores [N, C], boxes, quantization): softmax rows over C classes."""
    rng = np.random.default_rng(seed)
    thresholds = tuple(float(v) for v in rng.choice([0.3, 0.5, 0.6, 0.8], num_classes - 1))
    pp = Ultraface(
        size,
        class_thresholds=thresholds,
        iou_threshold=float(rng.choice([0.3, 0.5])),
        nms=nms,
        max_detections=max_detections,
    )
    n = pp.num_anchors
    p = rng.dirichlet([4.0] + [1.0] * (num_classes - 1), n)
    if decoded:
        cx, cy, w, h = rng.random(n), rng.random(n), rng.uniform(0.01, 0.4, n), rng.uniform(0.01, 0.4, n)
        box = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    else:
        box = rng.normal(0, 1.5, (n, 4))
    if kind == "f32":
        return pp, p.astype(np.float32), box.astype(np.float32), None
    if kind == "i32":
        return pp, _to_i32(p, 30), _to_i32(box, 20), None
    s8 = np.clip(np.round(p * 256) - 128, -128, 127).astype(np.int8)
    b8, bq = _quantize(rng, box, [1 / 128] if decoded else [0.02, 0.05])
    return pp, s8, b8, ((1 / 256, -128), bq)
