"""``ultrapost codegen --preprocess``: the pre-processing stage's tables for a camera frame and a model, as a C
header (``up_pre_config_t``: the x/y window starts and coefficient tables, the output table), integers only."""

from __future__ import annotations

import argparse

from ultrapost.cli.model_options import _size

PREPROCESS_HELP = """\
pre-processing (--preprocess): the frame -> model input stage (csrc/up_preprocess.c) for frames of --frame WxH in
--pixel-format, to the model's input (--input-size, or the family's: ultraslim 128x128, ultraface 320x240,
blazeface 128x128). Defaults follow the family's reference pipeline (ultraface / ultraslim: RGB, (x - 127) / 128,
stretched with Pillow's bilinear filter; ultraslim NHWC, ultraface NCHW; blazeface: RGB, [-1, 1], letterbox
centered) and an int8 input; the shared int8 Ultraface models take scale 1/128, zero point -1 (q = pixel - 128):
that is the default for ultraface and ultraslim, other int8 models need --input-scale and --input-zero-point.
  #include "pre_ultraslim.h"      /* ultraslim_pre_config, ULTRASLIM_TENSOR_BYTES, ULTRASLIM_SCRATCH_BYTES... */
  up_pre_check_config(&ultraslim_pre_config);            /* once: UP_OK */
  up_pre_run(&ultraslim_pre_config, frame, ULTRASLIM_FRAME_WIDTH, ULTRASLIM_FRAME_HEIGHT, stride_bytes,
             scratch, ULTRASLIM_SCRATCH_BYTES, input_tensor, ULTRASLIM_TENSOR_BYTES);
"""

# The families' own input conventions (pipeline.recognize's family defaults), and the int8 quantization of the
# shared int8 Ultraface models (shared data MANIFEST: scale 1/128, zero point -1).
FAMILY_INPUT = {
    "ultraface": dict(layout="NCHW", mean=127.0, std=128.0, channel_order="RGB", resize="stretch"),
    "ultraslim": dict(layout="NHWC", mean=127.0, std=128.0, channel_order="RGB", resize="stretch"),
    "blazeface": dict(layout="NHWC", mean=127.5, std=127.5, channel_order="RGB", resize="letterbox"),
    "yunet": dict(layout="NCHW", mean=0.0, std=1.0, channel_order="BGR", resize="letterbox"),
}
ULTRAFACE_INT8_INPUT = (1 / 128, -1)


def _crop(text: str) -> tuple[int, int, int, int]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"crop is x,y,width,height, got {text!r}") from None
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"crop is x,y,width,height, got {text!r}")
    return values


def _numbers(text: str):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected one number or three, comma-separated, got {text!r}") from None
    if len(values) not in (1, 3):
        raise argparse.ArgumentTypeError(f"expected one number or three, comma-separated, got {text!r}")
    return values[0] if len(values) == 1 else tuple(values)


def add_preprocess_options(parser: argparse.ArgumentParser) -> None:
    from ultrapost.core.preprocess_config import INTERPOLATIONS, LAYOUTS, PIXEL_FORMATS

    g = parser.add_argument_group("pre-processing (with --preprocess)")
    g.add_argument(
        "--preprocess",
        action="store_true",
        help="write the pre-processing config (frame -> model input) instead of the post-processing one",
    )
    g.add_argument("--frame", type=_size, metavar="WxH", help="camera frame size (required with --preprocess)")
    g.add_argument("--pixel-format", choices=PIXEL_FORMATS, default="RGB565", help="frame format (default RGB565)")
    g.add_argument(
        "--interpolation", choices=INTERPOLATIONS, default="pil", help="resize reference (default pil: Pillow's)"
    )
    g.add_argument("--resize", choices=("stretch", "letterbox"), help="default: the family's")
    g.add_argument("--align", choices=("center", "top-left"), default="center", help="letterbox placement")
    g.add_argument("--crop", type=_crop, metavar="X,Y,W,H", help="the part of the frame to use (default: all)")
    g.add_argument("--pad-value", type=int, default=0, help="letterbox border, a pixel value (default 0)")
    g.add_argument("--layout", choices=LAYOUTS, help="model input layout (default: the family's)")
    g.add_argument("--channel-order", choices=("RGB", "BGR"), help="model input channel order (default: the family's)")
    g.add_argument("--mean", type=_numbers, help="(x - mean) / std: one number or R,G,B (default: the family's)")
    g.add_argument("--std", type=_numbers, help="see --mean")
    g.add_argument("--input-dtype", choices=("int8", "uint8", "float32"), default="int8", help="default int8")
    g.add_argument("--input-scale", type=float, help="int8/uint8 input scale (ultraface, ultraslim: 1/128)")
    g.add_argument("--input-zero-point", type=int, help="int8/uint8 input zero point (ultraface, ultraslim: -1)")


def check_unused(args) -> None:
    """Pre-processing options without --preprocess are a mistake the user should hear about."""
    given = [
        name
        for name, value in (
            ("--frame", args.frame),
            ("--crop", args.crop),
            ("--resize", args.resize),
            ("--layout", args.layout),
            ("--channel-order", args.channel_order),
            ("--mean", args.mean),
            ("--std", args.std),
            ("--input-scale", args.input_scale),
            ("--input-zero-point", args.input_zero_point),
        )
        if value is not None
    ]
    if given:
        raise ValueError(f"{', '.join(given)} describe the pre-processing: add --preprocess")


def preprocessor_from_args(args, spec):
    """The ``Preprocessor`` the options describe for the model ``spec`` (its input size and family)."""
    from ultrapost.pipeline.preprocessor import Preprocessor

    if args.frame is None:
        raise ValueError("--preprocess needs the camera frame size: --frame WxH")
    fam = FAMILY_INPUT[spec.family]
    quant = None
    if args.input_dtype != "float32":
        scale, zp = args.input_scale, args.input_zero_point
        if (scale is None) != (zp is None):
            raise ValueError("--input-scale and --input-zero-point go together")
        if scale is None:
            if spec.family not in ("ultraface", "ultraslim"):
                raise ValueError(
                    f"an {args.input_dtype} input of a {spec.family} model needs --input-scale and --input-zero-point"
                )
            scale, zp = ULTRAFACE_INT8_INPUT
        quant = (scale, zp)
    elif args.input_scale is not None or args.input_zero_point is not None:
        raise ValueError("--input-scale / --input-zero-point quantize int8 or uint8 inputs, not float32")
    return Preprocessor(
        input_size=spec.input_size,
        resize=args.resize or fam["resize"],
        interpolation=args.interpolation,
        channel_order=args.channel_order or fam["channel_order"],
        layout=args.layout or fam["layout"],
        mean=fam["mean"] if args.mean is None else args.mean,
        std=fam["std"] if args.std is None else args.std,
        dtype=args.input_dtype,
        quantization=quant,
        pixel_format=args.pixel_format,
        pad_value=args.pad_value,
        align=args.align,
        crop=args.crop,
    )


def preprocess_header_text(args, spec) -> tuple[str, str]:
    """(header text, one-line description) of the pre-processing config for the options and model spec."""
    from ultrapost.firmware.preformats import pre_config_header

    prep = preprocessor_from_args(args, spec)
    cfg = prep.config(args.frame)
    (fw, fh), (iw, ih) = args.frame, spec.input_size
    quant = "" if prep.quantization is None else f" (scale {prep.quantization[0]!r}, zero point {prep.quantization[1]})"
    crop = "" if prep.crop is None else " crop {},{} {}x{}".format(*prep.crop)
    what = (
        f"{spec.family} input: {fw}x{fh} {prep.pixel_format}{crop} -> {iw}x{ih} {prep.layout} {prep.channel_order} "
        f"{prep.dtype}{quant}, {prep.resize}, {prep.interpolation}, (x - {prep.mean}) / {prep.std}"
    )
    note = (
        what + ". up_pre_run(&<name>_pre_config, frame, <NAME>_FRAME_WIDTH, <NAME>_FRAME_HEIGHT, stride_bytes, "
        "scratch, <NAME>_SCRATCH_BYTES, tensor, <NAME>_TENSOR_BYTES); scratch 4-byte aligned"
    )
    return pre_config_header(spec.name, cfg, comment=note), what
