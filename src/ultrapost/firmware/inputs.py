"""Generated float inputs for a :class:`~ultrapost.firmware.spec.ModelSpec` (from ultrapost.families.cases, plus
BlazeFace heads, multi-class probabilities and an ultraslim camera frame), and their conversion to the spec's input
kind."""

from __future__ import annotations

import numpy as np

from ultrapost.families import cases
from ultrapost.firmware.spec import ModelSpec


def _quantize(x, quant) -> np.ndarray:
    scale, zp = quant
    return np.clip(np.round(np.asarray(x, np.float64) / scale) + zp, -128, 127).astype(np.int8)


def _fixed(x, q: int) -> np.ndarray:
    return np.clip(np.floor(np.asarray(x, np.float64) * 2.0**q + 0.5), -(2**31), 2**31 - 1).astype(np.int32)


def blazeface_inputs(anchors: np.ndarray, size: int, seed: int, mode: str = "random", faces: int = 3):
    """Float BlazeFace head outputs: logits [N, 1] and regressors [N, 16] in input pixels (dx, dy, w, h, then 6
    keypoints), with `faces` faces each seen by the nearest anchors (overlapping boxes, as real outputs).

    modes: random, ties (logits on a 0.5 grid), none_pass (every logit far below 0), all_pass (every logit above
    0), extreme (large regressors, logits beyond the clip of +-100)."""
    rng = np.random.default_rng(seed)
    n = len(anchors)
    logit = rng.normal(-4.0, 2.0, n)
    reg = np.empty((n, 16))
    reg[:, :2] = rng.normal(0, 0.05 * size, (n, 2))
    reg[:, 2:4] = rng.uniform(0.05, 0.5, (n, 2)) * size
    reg[:, 4:] = rng.normal(0, 0.15 * size, (n, 12))
    for _ in range(faces):
        fx, fy, fs = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.4)
        near = np.argsort(np.hypot(anchors[:, 0] - fx, anchors[:, 1] - fy))[: min(n, 5)]
        logit[near] = rng.uniform(0.5, 6.0, len(near))
        reg[near, 0] = (fx - anchors[near, 0]) * size + rng.normal(0, 0.01 * size, len(near))
        reg[near, 1] = (fy - anchors[near, 1]) * size + rng.normal(0, 0.01 * size, len(near))
        reg[near, 2:4] = fs * size * rng.uniform(0.9, 1.1, (len(near), 2))
    if mode == "ties":
        logit = np.round(logit * 2) / 2
    elif mode == "none_pass":
        logit = -8.0 - np.abs(logit)
    elif mode == "all_pass":
        logit = 0.5 + np.abs(logit)
    elif mode == "extreme":
        logit = logit * 40.0
        # within +-1000 pixels: float32 values beyond +-1024 are refused before any conversion (UP_ERR_RANGE)
        reg = np.clip(reg * rng.choice([1.0, 20.0], (n, 16)), -1000.0, 1000.0)
    return logit[:, None], reg


def multiclass_inputs(spec: ModelSpec, seed: int, mode: str = "random"):
    """Float probabilities [N, C] (background first, then each class) and the boxes of an Ultraface case."""
    _, _, b, _ = cases.make_case(
        seed,
        spec.input_size,
        "f32",
        "random",
        decoded=spec.decoded,
        convention=spec.priors,
        drop_finest=spec.drop_finest_level,
        clip=spec.clip,
    )
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(spec.num_classes, 0.25), len(b))
    if mode == "ties":
        p = np.round(p * 8) / 8
    elif mode == "none_pass":
        p[:, 1:] *= 0.2
    return p, b.astype(np.float64)


def float_inputs(spec: ModelSpec, seed: int, mode: str = "random"):
    """Generated float inputs for the spec (ultrapost.families.cases): scores [N, C] and boxes [N, 4] (BlazeFace:
    [N, 16]), float64."""
    if spec.family == "blazeface":
        pp = spec.processor()
        return blazeface_inputs(pp.anchors, pp.input_size[0], seed, mode)
    if spec.class_thresholds is not None:
        return multiclass_inputs(spec, seed, mode)
    if spec.single_tensor:
        _, t, _ = cases.ultraslim_case(seed, "f32", mode if mode in ("random", "ties", "none_pass") else "random")
        t = t.astype(np.float64)
        return t[:, :2], t[:, 2:]
    _, s, b, _ = cases.make_case(
        seed,
        spec.input_size,
        "f32",
        mode,
        decoded=spec.decoded,
        logits=spec.logits,
        convention=spec.priors,
        drop_finest=spec.drop_finest_level,
        clip=spec.clip,
    )
    return s.astype(np.float64), b.astype(np.float64)


def ultraslim_frame(seed: int, faces: int = 3, neighbours: int = 3):
    """Float scores [172, 2] and corners [172, 4] shaped like a camera frame: background anchors well below 0.5 and
    `faces` faces, each seen by 1 + neighbours anchors with jittered, overlapping boxes (as real ultraslim outputs)."""
    rng = np.random.default_rng(seed)
    n = 172
    p = rng.random(n) * 0.3
    cx, cy, w, h = rng.random(n), rng.random(n), rng.uniform(0.05, 0.6, n), rng.uniform(0.05, 0.6, n)
    picked = rng.choice(n, faces * (1 + neighbours), replace=False).reshape(faces, 1 + neighbours)
    for group in picked:
        fx, fy, fs = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.4)
        p[group] = rng.uniform(0.55, 0.99, len(group))
        cx[group] = fx + rng.normal(0, 0.02, len(group))
        cy[group] = fy + rng.normal(0, 0.02, len(group))
        w[group] = fs * rng.uniform(0.9, 1.1, len(group))
        h[group] = fs * 1.2 * rng.uniform(0.9, 1.1, len(group))
    box = np.clip(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1), 0, 1)
    return np.stack([1 - p, p], 1), box


def spec_inputs(spec: ModelSpec, scores, boxes):
    """Float scores/boxes as the spec's input kind: int8 (quantized), int32 (Q30 / Q20) or float32."""
    if spec.input_kind == "s8":
        return _quantize(scores, spec.score_quant), _quantize(boxes, spec.box_quant)
    if spec.input_kind == "i32":
        logits = spec.logits or spec.family == "blazeface"
        return _fixed(scores, 20 if logits else 30), _fixed(boxes, 20)
    return np.asarray(scores, np.float32), np.asarray(boxes, np.float32)


def yunet_outputs(spec: ModelSpec, seed: int, mode: str = "random") -> dict:
    """Generated YuNet outputs {"cls_8": ..., ...} for the spec's frame (ultrapost.families.yunet_cases; modes
    random, ties, threshold, lone, clustered, none), float32, or int8 with the spec's quantization."""
    from ultrapost.families.yunet_cases import make_outputs

    out, _ = make_outputs(seed, spec.input_size, mode, spec.score_threshold)
    quant = spec.quantization()
    if quant is None:
        return out
    return {k: _quantize(v, quant[k]) for k, v in out.items()}
