"""FaceDetectorYN's input for a dynamic YuNet: the frame as it is (no resize), BGR float32 0..255, NCHW, padded with
zeros at the bottom and right to multiples of 32 (OpenCV's ``padW = ((w - 1) / 32 + 1) * 32``). The model input's
pixels are the frame's, so boxes map back with scale 1 and no offset."""

from __future__ import annotations

import numpy as np

from ultrapost.core.yunet_config import padded_size
from ultrapost.pipeline.preprocess import Transform, load_image


def pad_frame(image) -> tuple[np.ndarray, Transform]:
    """(float32 [1, 3, padH, padW] BGR tensor, transform to the frame) for a photo (see ``load_image``)."""
    rgb = load_image(image)
    h, w = rgb.shape[:2]
    pw, ph = padded_size(w, h)
    tensor = np.zeros((1, 3, ph, pw), np.float32)
    tensor[0, :, :h, :w] = rgb[:, :, ::-1].transpose(2, 0, 1)
    return tensor, Transform((w, h), (w, h), (1.0, 1.0), (0.0, 0.0))
