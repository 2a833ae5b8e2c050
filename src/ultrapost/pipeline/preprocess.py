"""From a photo to a model's input tensor, and from the model's normalized boxes back to the photo's pixels.

    image = load_image("group.jpg")              # RGB uint8 [H, W, 3]
    tensor, transform = prepare(image, spec)     # e.g. int8 [1, 240, 320, 3] for an int8 Ultraface model
    pixels = transform.boxes_to_image(det.boxes) # [K, 4] x1, y1, x2, y2 in the photo's pixels

Resizing uses Pillow's bilinear filter (``Image.resize(..., Image.BILINEAR)``), which is what the recorded int8
inputs in the test data were made with: ``prepare`` reproduces them byte for byte. Pillow's bilinear filter
widens its support when shrinking (it antialiases); ``interpolation="cv2"`` instead uses OpenCV's
``INTER_LINEAR`` (no antialiasing), as the upstream Ultraface demo scripts do.

Normalization is ``(pixel - mean) / std`` in float64, then either cast to float32 or quantized for an integer
input: ``q = clip(round(x / scale) + zero_point)``. For the int8 Ultraface models (scale 1/128, zero point -1) this
is exactly ``q = pixel - 128``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ultrapost.pipeline.recognize import RESIZE_MODES, ModelSpec

INTERPOLATIONS = ("pil", "cv2")


def load_image(source, *, exif_transpose: bool = True) -> np.ndarray:
    """RGB uint8 [H, W, 3] from a file path, a PIL image or an array.

    Arrays must be uint8 and are taken as RGB: [H, W] and [H, W, 1] are gray (repeated to 3 channels),
    [H, W, 4] drops its alpha channel. A file's EXIF orientation is applied unless ``exif_transpose=False``.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"image file not found: {path}")
        try:
            with Image.open(path) as im:
                im.load()
                image = _from_pil(im, exif_transpose)
        except Image.DecompressionBombError as exc:  # not an OSError: its header claims too many pixels
            raise ValueError(f"cannot read image {path}: {exc}") from None
        except (UnidentifiedImageError, OSError, ValueError, MemoryError) as exc:
            raise ValueError(f"cannot read image {path}: {exc or type(exc).__name__}") from exc
        return image
    if isinstance(source, Image.Image):
        return _from_pil(source, exif_transpose)
    if not isinstance(source, np.ndarray):
        raise TypeError(f"image must be a path, a PIL image or a numpy array, got {type(source).__name__}")
    a = source
    if a.dtype != np.uint8:
        raise TypeError(f"image array must be uint8 (0..255), got {a.dtype.name}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"image array must be [H, W], [H, W, 1], [H, W, 3] or [H, W, 4], got {list(source.shape)}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"image is empty: {list(source.shape)}")
    return np.ascontiguousarray(a)


def _from_pil(im: Image.Image, exif_transpose: bool) -> np.ndarray:
    if exif_transpose:
        im = ImageOps.exif_transpose(im)
    if im.width == 0 or im.height == 0:
        raise ValueError(f"image is empty: {im.size}")
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _pairs(points) -> tuple[np.ndarray, np.ndarray]:
    """float64 points [..., 2k] and the same as [..., k, 2] (x, y) pairs."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim == 0 or p.shape[-1] % 2:
        raise ValueError(f"points must have an even last axis (x, y pairs), got shape {list(p.shape)}")
    return p, p.reshape(*p.shape[:-1], p.shape[-1] // 2, 2)  # explicit: -1 is ambiguous for empty arrays


@dataclass(frozen=True)
class Transform:
    """How a photo was placed in the model input: ``input = image * scale + offset`` in pixel units.

    Coordinates are continuous (the left edge of the first pixel is 0, the right edge of the last is W), the
    convention both resize filters use, so the mapping is exact up to the resize's own blur.
    """

    image_size: tuple[int, int]  # (W, H) of the photo
    input_size: tuple[int, int]  # (W, H) of the model input
    scale: tuple[float, float]  # model-input pixels per photo pixel, (x, y)
    offset: tuple[float, float]  # padding before the photo, in model-input pixels, (x, y)

    def points_to_image(self, points) -> np.ndarray:
        """Normalized model-input points [..., 2k] (x, y, x, y, ...) -> photo pixels, float64."""
        p, xy = _pairs(points)
        out = np.empty_like(xy)
        for axis in (0, 1):
            out[..., axis] = (xy[..., axis] * self.input_size[axis] - self.offset[axis]) / self.scale[axis]
        return out.reshape(p.shape)

    def boxes_to_image(self, boxes) -> np.ndarray:
        """Normalized model-input boxes [..., 4] (x1, y1, x2, y2) -> photo pixels, float64, not clipped."""
        b = np.asarray(boxes, dtype=np.float64)
        if b.ndim == 0 or b.shape[-1] != 4:
            raise ValueError(f"boxes must have a last axis of 4 (x1, y1, x2, y2), got shape {list(b.shape)}")
        return self.points_to_image(b)

    def points_from_image(self, points) -> np.ndarray:
        """Photo pixels [..., 2k] -> normalized model-input coordinates (the inverse of ``points_to_image``)."""
        p, xy = _pairs(points)
        out = np.empty_like(xy)
        for axis in (0, 1):
            out[..., axis] = (xy[..., axis] * self.scale[axis] + self.offset[axis]) / self.input_size[axis]
        return out.reshape(p.shape)

    def boxes_from_image(self, boxes) -> np.ndarray:
        """Photo-pixel boxes [..., 4] -> normalized model-input boxes."""
        b = np.asarray(boxes, dtype=np.float64)
        if b.ndim == 0 or b.shape[-1] != 4:
            raise ValueError(f"boxes must have a last axis of 4 (x1, y1, x2, y2), got shape {list(b.shape)}")
        return self.points_from_image(b)


def _resize(image: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    if (image.shape[1], image.shape[0]) == size:
        return image
    if interpolation == "pil":
        return np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    import cv2

    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)


def resize_image(
    image: np.ndarray,
    input_size: tuple[int, int],
    *,
    mode: str = "stretch",
    pad_value: int = 0,
    interpolation: str = "pil",
) -> tuple[np.ndarray, Transform]:
    """The uint8 [H, W, 3] model-sized image and its ``Transform``.

    ``mode="stretch"`` resizes to the input size, changing the aspect ratio (what Ultraface was trained with);
    ``"letterbox"`` keeps the aspect ratio and centers the photo on a ``pad_value`` border.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {mode!r}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    if not 0 <= int(pad_value) <= 255:
        raise ValueError(f"pad_value must be a pixel value in 0..255, got {pad_value!r}")
    h, w = image.shape[:2]
    in_w, in_h = input_size
    if mode == "stretch":
        out = _resize(image, (in_w, in_h), interpolation)
        return out, Transform((w, h), (in_w, in_h), (in_w / w, in_h / h), (0.0, 0.0))
    s = min(in_w / w, in_h / h)
    new_w, new_h = max(1, min(in_w, round(w * s))), max(1, min(in_h, round(h * s)))
    ox, oy = (in_w - new_w) // 2, (in_h - new_h) // 2
    out = np.full((in_h, in_w, 3), int(pad_value), dtype=np.uint8)
    out[oy : oy + new_h, ox : ox + new_w] = _resize(image, (new_w, new_h), interpolation)
    return out, Transform((w, h), (in_w, in_h), (new_w / w, new_h / h), (float(ox), float(oy)))


def normalize(pixels: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """uint8 [H, W, 3] RGB model-sized image -> the input tensor of ``spec`` (batch of one, its layout and type)."""
    w, h = spec.input_size
    if pixels.dtype != np.uint8 or pixels.shape != (h, w, 3):
        got = f"{pixels.dtype} {list(pixels.shape)}"
        raise ValueError(f"expected a uint8 [{h}, {w}, 3] image for this {spec.family} model, got {got}")
    a = pixels[:, :, ::-1] if spec.channel_order == "BGR" else pixels
    x = (a.astype(np.float64) - np.asarray(spec.mean)) / np.asarray(spec.std)
    if spec.input_dtype == "float32":
        x = x.astype(np.float32)
    else:
        scale, zero_point = spec.input_quantization
        info = np.iinfo(spec.input_dtype)
        x = np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(spec.input_dtype)
    if spec.layout == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None])


def prepare(
    image,
    spec: ModelSpec,
    *,
    resize: str | None = None,
    pad_value: int = 0,
    interpolation: str = "pil",
) -> tuple[np.ndarray, Transform]:
    """(input tensor, transform) for a photo (path, PIL image or array; see ``load_image``) and a ``ModelSpec``.

    ``resize`` defaults to the spec's (stretch for Ultraface, letterbox for BlazeFace and RetinaFace).
    """
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"spec must be a ModelSpec, got {type(spec).__name__}")
    pixels, transform = resize_image(
        load_image(image),
        spec.input_size,
        mode=spec.resize if resize is None else resize,
        pad_value=pad_value,
        interpolation=interpolation,
    )
    return normalize(pixels, spec), transform
