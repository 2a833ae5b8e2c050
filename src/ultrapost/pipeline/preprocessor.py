"""Camera frame -> model input tensor through the C pre-processing stage (csrc/up_preprocess.c).

    prep = Preprocessor(input_size=(320, 240), interpolation="pil", layout="NCHW", mean=127.0, std=128.0)
    tensor, transform = prep(frame)                   # the C stage, GIL released
    tensor_g, _ = prep(frame, backend="golden")       # its numpy twin: identical bytes
    small = resize(frame, (320, 240), interpolation="cv2")

Interpolations, each byte-identical to its reference: ``"pil"`` Pillow ``Image.resize(size, Image.BILINEAR)``
(antialiased when shrinking), ``"cv2"`` OpenCV ``cv2.resize(..., interpolation=cv2.INTER_LINEAR_EXACT)``,
``"nearest"`` OpenCV ``cv2.INTER_NEAREST_EXACT`` (equal to Pillow's NEAREST). A crop rectangle is cut first, then
resized (Pillow: ``im.crop(box).resize(size)``; OpenCV: ``cv2.resize(frame[y0:y1, x0:x1], size)``).

``"mediapipe"``: MediaPipe's image-to-tensor (BlazeFace's pre-processing) through the warp stage (csrc/up_warp.c):
the frame (or the crop, as MediaPipe's ROI) padded to the input's aspect ratio and centered (``resize="letterbox"``)
or stretched, by OpenCV 4.10's ``cv2.warpPerspective`` with MediaPipe's matrix (INTER_LINEAR, a ``pad_value``
border; pixels outside a crop but inside the frame are read, as MediaPipe reads them), byte for byte. RGB888,
BGR888, RGBA8888 and GRAY8 frames.

Frames (uint8 unless noted), rows may be strided views (``frame[:, 10:500]`` is read in place):
``RGB888``/``BGR888`` [H, W, 3]; ``RGBA8888`` [H, W, 4] (alpha ignored); ``GRAY8`` [H, W] or [H, W, 1];
``RGB565`` [H, W] uint16 or [H, W, 2] little-endian bytes (R in bits 15..11; expanded as OpenCV's
``cvtColor(COLOR_BGR5652RGB)``: ``r8 = r5 << 3``); ``YUYV`` [H, W, 2] (Y0 U Y1 V, W even; OpenCV's integer BT.601,
``cvtColor(COLOR_YUV2RGB_YUYV)``).

Output: [1, H, W, 3] (NHWC) or [1, 3, H, W] (NCHW) in ``channel_order``; float32 ``(x - mean) / std`` (computed in
float64, then rounded to float32: a table of 256 values per channel), or int8/uint8
``clip(round_half_even(((x - mean) / std) / scale) + zero_point)`` with ``quantization=(scale, zero_point)``
(without it, scale 1 and zero point 0).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ultrapost.core.preprocess_config import (
    BYTES_PER_PIXEL,
    LAYOUTS,
    MAX_DIM,
    PIXEL_FORMATS,
    PreConfig,
    letterbox_rect,
    prepare_config,
)
from ultrapost.core.preprocess_config import INTERPOLATIONS as RESIZE_INTERPOLATIONS

INTERPOLATIONS = (*RESIZE_INTERPOLATIONS, "mediapipe")  # "mediapipe": the warp stage, the others the resize stage

RESIZE_MODES = ("stretch", "letterbox")
ALIGNS = ("center", "top-left")
DTYPES = ("float32", "int8", "uint8")
BACKENDS = ("c", "golden")


def _pair(value, name: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a (width, height) pair of integers, got {value!r}") from None
    if not (1 <= w <= MAX_DIM and 1 <= h <= MAX_DIM):
        raise ValueError(f"{name} must be within 1..{MAX_DIM} on each side, got {(w, h)}")
    return w, h


def _per_channel(value, name: str) -> tuple[float, float, float]:
    v = np.broadcast_to(np.asarray(value, dtype=np.float64), (3,)) if np.ndim(value) <= 1 else None
    if v is None or v.shape != (3,):
        raise ValueError(f"{name} must be a number or 3 numbers, got {value!r}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return tuple(float(x) for x in v)


def frame_pixels(frame, pixel_format: str) -> np.ndarray:
    """The frame as uint8 [H, W, bytes per pixel] (a view when possible), checked for its pixel format."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame must be a numpy array, got {type(frame).__name__}")
    a = frame
    if pixel_format == "RGB565" and a.dtype == np.uint16:
        if a.ndim != 2:
            raise ValueError(f"an RGB565 uint16 frame must be [H, W], got shape {list(a.shape)}")
        a = a.astype("<u2", copy=False)
        a = a.view(np.uint8).reshape(a.shape[0], a.shape[1], 2) if a.flags.c_contiguous else None
        if a is None:
            a = np.ascontiguousarray(frame.astype("<u2")).view(np.uint8).reshape(*frame.shape, 2)
    elif a.dtype != np.uint8:
        kind = "uint8 or uint16" if pixel_format == "RGB565" else "uint8"
        raise TypeError(f"a {pixel_format} frame must be {kind}, got {a.dtype}")
    if pixel_format == "GRAY8" and a.ndim == 2:
        a = a[:, :, None]
    bpp = BYTES_PER_PIXEL[pixel_format]
    if a.ndim != 3 or a.shape[2] != bpp:
        shapes = {"GRAY8": "[H, W] or [H, W, 1]", "RGB565": "[H, W] uint16 or [H, W, 2] uint8"}
        want = shapes.get(pixel_format, f"[H, W, {bpp}]")
        raise ValueError(f"a {pixel_format} frame must be {want}, got shape {list(frame.shape)}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"frame is empty: shape {list(frame.shape)}")
    if a.shape[0] > MAX_DIM or a.shape[1] > MAX_DIM:
        raise ValueError(f"frame sides must be at most {MAX_DIM}, got shape {list(frame.shape)}")
    if pixel_format == "YUYV" and a.shape[1] % 2:
        raise ValueError(f"a YUYV frame has an even width (pixels come in pairs), got {a.shape[1]}")
    # The C reads rows stride apart, pixels packed: anything else (negative or column strides) is copied first.
    if not packed_rows(a):
        a = np.ascontiguousarray(a)
        if not packed_rows(a):  # numpy may give size-1 axes any stride
            a = np.lib.stride_tricks.as_strided(a, strides=(a.shape[1] * bpp, bpp, 1))
    return a


def packed_rows(a: np.ndarray) -> bool:
    """Pixels packed within rows, rows stride apart in increasing order (what the C reads); size-1 axes aside."""
    h, w, bpp = a.shape
    return (bpp == 1 or a.strides[2] == 1) and (w == 1 or a.strides[1] == bpp) and (h == 1 or a.strides[0] >= w * bpp)


def _warp_entry(prep, fw: int, fh: int, crop):
    """[WarpConfig, None, Transform] of MediaPipe's warp for a frame size and crop (its ROI)."""
    from ultrapost.core.warp_config import mediapipe_matrix, mediapipe_roi, prepare_warp_config
    from ultrapost.pipeline.preprocess import Transform

    roi = (0, 0, fw, fh) if crop is None else crop
    cx, cy, rw, rh = mediapipe_roi(roi, prep.input_size, keep_aspect=prep.resize == "letterbox", offset=roi[:2])
    cfg = prepare_warp_config(
        (fw, fh), prep.input_size, matrix=mediapipe_matrix((cx, cy, rw, rh), prep.input_size), rule="perspective",
        pixel_format=prep.pixel_format, channel_order=prep.channel_order, layout=prep.layout, mean=prep.mean,
        std=prep.std, dtype=prep.dtype, quantization=prep.quantization, border_value=prep.pad_value,
    )  # fmt: skip
    ow, oh = prep.input_size
    sx, sy = ow / rw, oh / rh  # MediaPipe's projection: tensor (u, v) in [0, 1] -> ROI center + (u - 0.5) * size
    return [cfg, None, Transform((fw, fh), (ow, oh), (sx, sy), ((rw / 2 - cx) * sx, (rh / 2 - cy) * sy))]


def _transform(cfg: PreConfig, input_size):
    from ultrapost.pipeline.preprocess import Transform

    sx, sy = cfg.rect_width / cfg.crop_width, cfg.rect_height / cfg.crop_height
    offset = (cfg.rect_x - cfg.crop_x * sx, cfg.rect_y - cfg.crop_y * sy)
    return Transform((cfg.frame_width, cfg.frame_height), tuple(input_size), (sx, sy), offset)


class Preprocessor:
    """Frames of any size -> one model's input tensor, and the ``Transform`` that maps its boxes back.

    ``input_size`` (W, H); ``resize`` "stretch" or "letterbox" (aspect kept, ``align`` "center" or "top-left", a
    ``pad_value`` border); ``interpolation`` "pil" | "cv2" | "nearest" (resized), or "mediapipe" (MediaPipe's
    warp: centered letterbox only); ``channel_order`` "RGB" or "BGR";
    ``layout`` "NCHW" or "NHWC"; ``mean``/``std`` one number or one per output channel; ``dtype`` "float32",
    "int8" or "uint8" with ``quantization=(scale, zero_point)``; ``pixel_format`` of the frames; ``crop`` (x, y, w, h)
    of the frame to use (default: all of it). Tables are prepared once per frame size (the last few are kept).
    """

    def __init__(
        self,
        input_size=(320, 240),
        resize: str = "stretch",
        interpolation: str = "pil",
        channel_order: str = "RGB",
        layout: str = "NCHW",
        mean=127.0,
        std=128.0,
        dtype: str = "float32",
        quantization=None,
        pixel_format: str = "RGB888",
        pad_value: int = 0,
        align: str = "center",
        crop=None,
    ):
        self.input_size = _pair(input_size, "input_size")
        for value, name, allowed in (
            (resize, "resize", RESIZE_MODES),
            (interpolation, "interpolation", INTERPOLATIONS),
            (layout, "layout", LAYOUTS),
            (dtype, "dtype", DTYPES),
            (pixel_format, "pixel_format", PIXEL_FORMATS),
            (align, "align", ALIGNS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if interpolation == "mediapipe":
            from ultrapost.core.warp_config import WARP_PIXEL_FORMATS

            if resize == "letterbox" and align != "center":
                raise ValueError('interpolation="mediapipe" letterboxes centered (MediaPipe\'s ROI): align="center"')
            if pixel_format not in WARP_PIXEL_FORMATS:
                raise ValueError(f'interpolation="mediapipe" takes {WARP_PIXEL_FORMATS} frames, got {pixel_format!r}')
        if not isinstance(channel_order, str) or sorted(channel_order) != sorted("RGB"):
            raise ValueError(f"channel_order must be 'RGB' or 'BGR' (an order of R, G, B), got {channel_order!r}")
        self.mean = _per_channel(mean, "mean")
        self.std = _per_channel(std, "std")
        if any(s == 0 for s in self.std):
            raise ValueError(f"std must not be 0, got {std!r}")
        if quantization is not None:
            if dtype == "float32":
                raise ValueError("quantization applies to int8/uint8 inputs, not float32")
            try:
                scale, zero_point = float(quantization[0]), int(quantization[1])
            except (TypeError, ValueError, IndexError):
                raise TypeError(f"quantization must be (scale, zero_point), got {quantization!r}") from None
            info = np.iinfo(dtype)
            if not (np.isfinite(scale) and scale > 0) or not info.min <= zero_point <= info.max:
                raise ValueError(f"quantization needs scale > 0 and a zero point in {dtype}, got {quantization!r}")
            quantization = (scale, zero_point)
        if isinstance(pad_value, bool) or not isinstance(pad_value, (int, np.integer)) or not 0 <= pad_value <= 255:
            raise ValueError(f"pad_value must be a pixel value in 0..255, got {pad_value!r}")
        self.resize, self.interpolation, self.layout, self.dtype = resize, interpolation, layout, dtype
        self.channel_order, self.quantization, self.pixel_format = channel_order, quantization, pixel_format
        self.pad_value, self.align = int(pad_value), align
        self.crop = None if crop is None else self._crop(crop)
        self._configs: OrderedDict = OrderedDict()

    @staticmethod
    def _crop(crop) -> tuple[int, int, int, int]:
        try:
            x, y, w, h = (int(v) for v in crop)
        except (TypeError, ValueError):
            raise TypeError(f"crop must be (x, y, width, height), got {crop!r}") from None
        return x, y, w, h

    def config(self, frame_size, crop=None) -> PreConfig:
        """The prepared tables for frames of ``frame_size`` (W, H) (cached)."""
        fw, fh = _pair(frame_size, "frame size")
        return self._entry(fw, fh, self.crop if crop is None else self._crop(crop))[0]

    def _entry(self, fw: int, fh: int, crop):
        """[PreConfig, its checked C struct (made on first C run), Transform] for a frame size and crop."""
        key = (fw, fh, crop)
        entry = self._configs.get(key)
        if entry is not None:
            return entry
        if crop is not None:
            x, y, w, h = crop
            if w < 1 or h < 1 or x < 0 or y < 0 or x + w > fw or y + h > fh:
                raise ValueError(f"crop rectangle {crop} (x, y, width, height) lies outside the {fw}x{fh} frame")
        if self.interpolation == "mediapipe":
            entry = self._configs[key] = _warp_entry(self, fw, fh, crop)
            while len(self._configs) > 8:
                self._configs.popitem(last=False)
            return entry
        cfg = prepare_config(
            (fw, fh), self.input_size, pixel_format=self.pixel_format, crop=crop, resize=self.resize,
            align=self.align, interpolation=self.interpolation, channel_order=self.channel_order,
            layout=self.layout, mean=self.mean, std=self.std, dtype=self.dtype, quantization=self.quantization,
            pad_value=self.pad_value,
        )  # fmt: skip
        entry = self._configs[key] = [cfg, None, _transform(cfg, self.input_size)]
        while len(self._configs) > 8:
            self._configs.popitem(last=False)
        return entry

    def transform(self, frame_size, crop=None):
        """The ``Transform`` (model input <-> frame pixels) of frames of ``frame_size``."""
        fw, fh = _pair(frame_size, "frame size")
        return self._entry(fw, fh, self.crop if crop is None else self._crop(crop))[2]

    def __call__(self, frame, *, backend: str = "c", crop=None):
        """(tensor, transform) for one frame."""
        pixels = frame_pixels(frame, self.pixel_format)
        entry = self._entry(pixels.shape[1], pixels.shape[0], self.crop if crop is None else self._crop(crop))
        warp = self.interpolation == "mediapipe"
        if backend == "c":
            if entry[1] is None:
                from ultrapost.core._preprocess import PreprocessConfig, WarpConfig

                entry[1] = (WarpConfig if warp else PreprocessConfig)(entry[0])
            return entry[1].run(pixels), entry[2]
        if backend != "golden":
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        from ultrapost.golden.preprocess import pre_run
        from ultrapost.golden.warp import warp_run

        cfg = entry[0]
        status, words = (warp_run if warp else pre_run)(
            cfg, pixels, pixels.shape[1], pixels.shape[0], pixels.strides[0]
        )
        if status != 0:
            from ultrapost.core._preprocess import preprocess_status

            preprocess_status(status, "preprocess (golden)")
        return words.view(np.dtype(cfg.dtype)), entry[2]

    def __repr__(self) -> str:
        w, h = self.input_size
        return (
            f"<Preprocessor {self.pixel_format} -> {w}x{h} {self.layout} {self.dtype}, {self.resize}, "
            f"{self.interpolation}, {self.channel_order}>"
        )


def preprocessor_for(spec, interpolation: str = "pil") -> Preprocessor:
    """The ``Preprocessor`` of a model (``pipeline.recognize.ModelSpec``): its input size, resize mode, layout,
    channel order, mean/std and input type, for RGB888 frames. With ``"pil"`` it gives the bytes of
    ``pipeline.preprocess.prepare`` (the recorded inputs of the shared int8 models among them)."""
    return Preprocessor(
        input_size=spec.input_size, resize=spec.resize, interpolation=interpolation,
        channel_order=spec.channel_order, layout=spec.layout, mean=spec.mean, std=spec.std, dtype=spec.input_dtype,
        quantization=spec.input_quantization if spec.input_dtype != "float32" else None,
    )  # fmt: skip


def resize(frame, size, interpolation: str = "pil", *, backend: str = "c") -> np.ndarray:
    """uint8 [H, W, 3] or [H, W] (gray) -> uint8 [h, w, 3] or [h, w], byte-identical to the named reference."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame must be a numpy array, got {type(frame).__name__}")
    gray = frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1)
    prep = Preprocessor(
        input_size=size, interpolation=interpolation, layout="NHWC", mean=0.0, std=1.0, dtype="uint8",
        pixel_format="GRAY8" if gray else "RGB888",
    )  # fmt: skip
    out, _ = prep(frame, backend=backend)
    return out[0, :, :, 0] if gray else out[0]


def _warp(frame, matrix, dsize, rule: str, inverse_map: bool, border_value: int, backend: str) -> np.ndarray:
    from ultrapost.core.warp_config import prepare_warp_config

    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame must be a numpy array, got {type(frame).__name__}")
    gray = frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1)
    pixels = frame_pixels(frame, "GRAY8" if gray else "RGB888")
    ow, oh = _pair(dsize, "dsize")
    m = np.asarray(matrix, dtype=np.float64)
    want = (3, 3) if rule == "perspective" else (2, 3)
    if m.shape != want or not np.all(np.isfinite(m)):
        raise ValueError(f"matrix must be a finite {want[0]}x{want[1]} array, got {m.shape} {matrix!r}")
    if (
        isinstance(border_value, bool)
        or not isinstance(border_value, (int, np.integer))
        or not 0 <= border_value <= 255
    ):
        raise ValueError(f"border_value must be a pixel value in 0..255, got {border_value!r}")
    cfg = prepare_warp_config(
        (pixels.shape[1], pixels.shape[0]), (ow, oh), matrix=m, rule=rule, inverse_map=bool(inverse_map),
        pixel_format="GRAY8" if gray else "RGB888", layout="NHWC", mean=0.0, std=1.0, dtype="uint8",
        border_value=int(border_value),
    )  # fmt: skip
    if backend == "c":
        from ultrapost.core._preprocess import WarpConfig

        out = WarpConfig(cfg).run(pixels)
    elif backend == "golden":
        from ultrapost.golden.warp import warp_run

        out = warp_run(cfg, pixels, pixels.shape[1], pixels.shape[0], pixels.strides[0])[1]
    else:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return out[0, :, :, 0] if gray else out[0]


def warp_affine(frame, matrix, dsize, *, inverse_map: bool = False, border_value: int = 0, backend: str = "c"):
    """OpenCV 4.10's ``cv2.warpAffine(frame, matrix, dsize, flags=INTER_LINEAR [| WARP_INVERSE_MAP],
    borderMode=BORDER_CONSTANT, borderValue=border_value)`` byte for byte: uint8 [H, W, 3] or [H, W] (gray) -> uint8.
    (OpenCV 4.11 and later compute warpAffine in float and differ from 4.10 in places.)"""
    return _warp(frame, matrix, dsize, "affine", inverse_map, border_value, backend)


def warp_perspective(frame, matrix, dsize, *, inverse_map: bool = False, border_value: int = 0, backend: str = "c"):
    """OpenCV 4.10's ``cv2.warpPerspective(...)`` (INTER_LINEAR, BORDER_CONSTANT) byte for byte, as ``warp_affine``;
    what MediaPipe's image-to-tensor calls."""
    return _warp(frame, matrix, dsize, "perspective", inverse_map, border_value, backend)


__all__ = [
    "warp_affine",
    "warp_perspective",
    "Preprocessor",
    "preprocessor_for",
    "resize",
    "frame_pixels",
    "letterbox_rect",
    "PIXEL_FORMATS",
    "INTERPOLATIONS",
]
