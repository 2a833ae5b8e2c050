"""Generated YuNet outputs for the C == golden tests and the firmware vectors: random, tied, on-the-threshold,
lone-candidate and clustered cases, float32 or int8, for any frame size."""

from __future__ import annotations

import numpy as np

from ultrapost.core.yunet_config import OUTPUT_NAMES, STRIDES, padded_size

MODES = ("random", "ties", "threshold", "lone", "clustered", "none")
# The real int8 model's quantization (face_detection_yunet_2026may_int8_320_int8out.onnx), for realistic cases.
REAL_QUANT = {
    "cls_8": (0.003669546451419592, -128),
    "cls_16": (0.0032913628965616226, -128),
    "cls_32": (0.0032981999684125185, -128),
    "obj_8": (0.0039186859503388405, -128),
    "obj_16": (0.003886277787387371, -128),
    "obj_32": (0.003916296176612377, -128),
    "bbox_8": (0.01738416962325573, -33),
    "bbox_16": (0.010783078148961067, 4),
    "bbox_32": (0.017476653680205345, -16),
    "kps_8": (0.045072201639413834, -24),
    "kps_16": (0.006953100673854351, -85),
    "kps_32": (0.03365163505077362, -6),
}


def _probs(rng, n: int, mode: str, t: float) -> tuple[np.ndarray, np.ndarray]:
    if mode == "ties":
        levels = np.float32([0.25, 0.5, 0.6, 0.75, 0.8, 0.9, 1.0])
        return rng.choice(levels, n), rng.choice(levels, n)
    if mode == "none":
        return rng.uniform(0, 0.2, n).astype(np.float32), rng.uniform(0, 0.2, n).astype(np.float32)
    cls = rng.uniform(0, 1, n).astype(np.float32)
    obj = (rng.uniform(0, 1, n) ** 0.3).astype(np.float32)
    if mode in ("threshold", "lone"):
        # products whose float32 root is t exactly, or its neighbours
        t32 = np.float32(t)
        sq = np.float32(t32 * t32)
        near = np.array([sq, np.nextafter(sq, np.float32(0)), np.nextafter(sq, np.float32(2))], np.float32)
        if mode == "lone":
            cls[:] = 0.0
            obj[:] = 1.0
            cls[rng.integers(n)] = rng.choice(near)
        else:
            pick = rng.random(n) < 0.3
            cls[pick] = rng.choice(near, int(pick.sum()))
            obj[pick] = 1.0
    return cls, obj


def make_outputs(
    seed: int, frame: tuple[int, int], mode: str = "random", t: float = 0.6, int8: bool = False
) -> tuple[dict, dict | None]:
    """(outputs {name: [1, N, k]}, quantization or None) for a frame of this size."""
    rng = np.random.default_rng(seed)
    pw, ph = padded_size(*frame)
    out = {}
    for s in STRIDES:
        n = (pw // s) * (ph // s)
        cls, obj = _probs(rng, n, mode, t)
        bbox = np.empty((n, 4), np.float32)
        bbox[:, :2] = rng.uniform(-1.5, 2.5, (n, 2))
        bbox[:, 2:] = rng.uniform(-1.0, 2.5, (n, 2))
        if mode == "clustered":  # identical and near-identical boxes, integer-valued corners
            src = rng.integers(0, n, n)
            bbox = bbox[src]
            bbox[:, :2] = np.round(bbox[:, :2] * 4) / 4
            bbox[:, 2:] = np.log(rng.integers(1, 6, (n, 2))).astype(np.float32)
        kps = rng.uniform(-4, 6, (n, 10)).astype(np.float32)
        out[f"cls_{s}"], out[f"obj_{s}"] = cls[None, :, None], obj[None, :, None]
        out[f"bbox_{s}"], out[f"kps_{s}"] = bbox[None], kps[None]
    if not int8:
        return out, None
    quant = (
        dict(REAL_QUANT)
        if rng.random() < 0.5
        else {
            k: (
                float(np.float32(rng.uniform(0.002, 0.05) if k[0] in "bk" else 1 / rng.uniform(255, 320))),
                int(rng.integers(-40, 40)) if k[0] in "bk" else -128,
            )
            for k in OUTPUT_NAMES
        }
    )
    q8 = {}
    for k, v in out.items():
        scale, zp = quant[k]
        q = np.round(v / scale) + zp
        if mode == "ties" or rng.random() < 0.3:
            q = np.round(q / 8) * 8
        q8[k] = np.clip(q, -128, 127).astype(np.int8)
    return q8, quant
