"""Float64 decode: variance decode of boxes and landmarks, face probability, dequantization."""

from __future__ import annotations

import numbers

import numpy as np

from ultrapost.reference.checks import float_array, real


def decode_deltas(deltas, priors, center_variance: float = 0.1, size_variance: float = 0.2) -> np.ndarray:
    """Raw deltas [N, 4] (dx, dy, dw, dh) + priors [N, 4] (cx, cy, w, h) -> corners [N, 4] float64, not clipped.

    ``cx = dx * cv * pw + pcx``, ``w = exp(dw * sv) * pw``, corners ``cx -+ w / 2`` (the repository's
    ``convert_locations_to_boxes`` then ``center_form_to_corner_form``, in float64).
    """
    d = float_array(deltas, "deltas", ndim=2, cols=4)
    p = float_array(priors, "priors", ndim=2, cols=4)
    if d.shape != p.shape:
        raise ValueError(f"deltas {d.shape} and priors {p.shape} must have the same shape")
    cv = real(center_variance, "center_variance", 0.0, np.inf)
    sv = real(size_variance, "size_variance", 0.0, np.inf)
    center = d[:, :2] * cv * p[:, 2:] + p[:, :2]
    with np.errstate(over="ignore"):  # a huge dw gives an infinite width, as the float reference does
        size = np.exp(d[:, 2:] * sv) * p[:, 2:]
    return np.concatenate([center - size / 2, center + size / 2], axis=1)


def face_probability(scores, *, logits: bool = False, class_index: int = 1) -> np.ndarray:
    """Face probability [N] float64 from scores [N, C].

    Probabilities (the ONNX and TFLite outputs): the ``class_index`` column. Two-class logits:
    ``1 / (1 + exp(-(l[c] - l[1 - c])))``, equal to the softmax; ``exp`` overflows to inf for very negative
    differences, which gives exactly 0.
    """
    s = float_array(scores, "scores", ndim=2)
    if isinstance(class_index, bool) or not isinstance(class_index, numbers.Integral):
        raise TypeError(f"class_index must be an int, got {class_index!r}")
    if logits:
        if s.shape[1] != 2:
            raise ValueError(f"logits=True needs two score columns, got {s.shape[1]}")
        if class_index not in (0, 1):
            raise ValueError(f"class_index must be 0 or 1 for two-class logits, got {class_index}")
        diff = s[:, class_index] - s[:, 1 - class_index]
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-diff))
    if not 0 <= class_index < s.shape[1]:
        raise ValueError(f"class_index {class_index} out of range for {s.shape[1]} score columns")
    return s[:, class_index].copy()


def decode_landmarks(landms, priors, center_variance: float = 0.1) -> np.ndarray:
    """RetinaFace's ``decode_landm``: raw landmarks [N, 2P] + priors [N, 4] -> float64 [N, P, 2],
    ``x = pcx + pre_x * cv * pw``, ``y = pcy + pre_y * cv * ph``."""
    p = float_array(priors, "priors", ndim=2, cols=4)
    lm = float_array(landms, "landms", ndim=2)
    if lm.shape[0] != p.shape[0] or lm.shape[1] % 2:
        raise ValueError(f"landms must be [N, 2P] with N = {p.shape[0]}, got {lm.shape}")
    cv = real(center_variance, "center_variance", 0.0, np.inf)
    pts = lm.reshape(len(lm), -1, 2)
    return p[:, None, :2] + pts * cv * p[:, None, 2:]


def dequantize(q, scale: float, zero_point: int) -> np.ndarray:
    """``scale * (q - zero_point)`` in float64 for an integer tensor (TFLite's affine quantization)."""
    arr = np.asarray(q)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"q must be an integer array, got dtype {arr.dtype}")
    if isinstance(zero_point, bool) or not isinstance(zero_point, numbers.Integral):
        raise TypeError(f"zero_point must be an int, got {zero_point!r}")
    scale = real(scale, "scale", 0.0, np.inf)
    if not 0.0 < scale < np.inf:
        raise ValueError(f"scale must be positive and finite, got {scale}")
    return scale * (arr.astype(np.float64) - float(zero_point))


def dequantize_f32(q, scale: float, zero_point: int) -> np.ndarray:
    """onnxruntime's DequantizeLinear: float32 ``(q - zero_point) * scale``, both in float32."""
    return (np.asarray(q, dtype=np.int32) - np.int32(zero_point)).astype(np.float32) * np.float32(scale)
