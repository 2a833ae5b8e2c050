"""``ultrapost codegen``: a model configuration as a C header of const data for a firmware build."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ultrapost.cli.model_options import MODEL_HELP, add_model_options, spec_from_args
from ultrapost.cli.preprocess_options import (
    PREPROCESS_HELP,
    add_preprocess_options,
    check_unused,
    preprocess_header_text,
)

DESCRIPTION = """\
Write a C header holding a prepared post-processing config as const data: the up_config_t with its integer score
bound, Q16 IoU threshold, Q30 variances, Q20 priors and the int8 lookup tables (score, box center and size), so a
firmware runs the core (csrc/) without any float or any setup code:

  #include "ultrapost.h"
  #include "cfg_ultraslim.h"           /* ultraslim_config, ULTRASLIM_SCRATCH_BYTES, ... */

  static uint32_t scratch[(ULTRASLIM_SCRATCH_BYTES + 3) / 4];
  up_check_config(&ultraslim_config);  /* once, at start-up: UP_OK */
  up_run(&ultraslim_config, t, 6, t + 2, 6, scratch, sizeof scratch, &out);

Macros <NAME>_NUM_ANCHORS, _MAX_DETECTIONS (per class), _OUTPUT_ROWS (rows the output arrays need: max detections
times the classes), _NUM_KEYPOINTS (P: keypoint output [rows][2P] needed when > 0), _NUM_LABELS (label output
[rows] needed when > 0), _SCRATCH_BYTES (= up_scratch_size), _ELEMENT_BYTES (1: int8_t, 4: int32_t tensors),
_SCORE_STRIDE and _BOX_STRIDE (elements per row; ultraslim: 6, 6; blazeface: 1, 16 with the keypoints after the
box) and _BOX_OFFSET (where the boxes start relative to the scores for one tensor, else -1) come with it.

The values are those the Python package uses (ultrapost.Ultraface(...).config), so the board's outputs are the
golden model's bit for bit (`ultrapost vectors`, `ultrapost firmware-check`).

--family retinaface_packed writes the up_config_t of Pytorch_Retinaface mobilenet0.25's packed output, read in place
by up_run_keypoints: with t the [N][16] tensor, up_run_keypoints(&cfg, t + <NAME>_SCORE_COLUMN, 16, t +
<NAME>_BOX_COLUMN, 16, t + <NAME>_KEYPOINT_COLUMN, 16, ...) (<NAME>_ROW_ELEMENTS 16, columns 4, 0, 6).

--family yunet writes an up_yunet_config_t for up_yunet_run (FaceDetectorYN's decisions; int8 tables per stride,
none for float32) with <NAME>_PAD_W, _PAD_H, _NUM_POINTS, _TOP_K, _MAX_DETECTIONS, _OUTPUT_ROWS, _NUM_KEYPOINTS (5),
_SCRATCH_BYTES and _ELEMENT_BYTES.

--preprocess writes the pre-processing stage's config instead (see below): a camera frame to the model's input.
"""

EPILOG = (
    """\
examples:
  ultrapost codegen --family ultraslim -o cfg_ultraslim.h
  ultrapost codegen --input-size 320x240 --score-threshold 0.7 --score-scale 0.00390625 --score-zero-point -128 \\
                    --box-scale 0.0406 --box-zero-point 2 --name slim320 -o cfg_slim320.h
  ultrapost codegen --input-size 128x96 --input-kind i32 --logits --name rfb128 -o -
  ultrapost codegen --family yunet --input-size 320x240 --score-threshold 0.6 -o cfg_yunet.h
  ultrapost codegen --family retinaface_packed -o cfg_retinaface_packed.h    # detect.py's decisions, int8
  ultrapost codegen --host --name ultraface --priors stride --clip --nms blend --pixel-size 320x240 --eps 0 \
                    --candidate-limit none -o cfg_ultraface.h     # the ncnn demo's rule, for up_run_f32
  ultrapost codegen --family ultraslim --preprocess --frame 160x120 --pixel-format RGB565 -o pre_ultraslim.h

"""
    + MODEL_HELP
    + "\n"
    + PREPROCESS_HELP
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "codegen",
        help="write a C header with a prepared config (priors, tables, integer thresholds) as const data",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(p)
    p.add_argument(
        "--host",
        action="store_true",
        help="a float32 config for the host library's up_run_f32 (csrc/host/up_host.h) instead of the firmware's "
        "int32 one; implies --input-kind f32",
    )
    add_preprocess_options(p)
    p.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="FILE",
        help="header to write, '-' for stdout (default: cfg_<name>.h, with --preprocess pre_<name>.h, in the "
        "current directory)",
    )
    p.set_defaults(func=run)
    return p


def header_text(spec, host: bool = False) -> str:
    """The header for one ModelSpec: the firmware config (i32 for float models) and its sizing macros; host=True:
    the float32 config of the host library (up_run_f32), whose scratch is up_scratch_size_f32(cfg)."""
    from ultrapost import firmware as fw

    if spec.family == "yunet":
        return yunet_header_text(spec, host)
    if host and spec.input_kind != "f32":
        raise ValueError(f"--host writes float32 configs (up_run_f32): --input-kind f32, not {spec.input_kind}")
    fc, core = spec.host_config() if host else spec.firmware_config()
    element = 1 if fc.input_kind == 0 else 4
    columns = {}
    if spec.family == "retinaface_packed":  # one tensor, three column groups: no single box offset
        c = fw.PACKED_COLUMNS
        score_stride = box_stride = c["width"]
        columns = {
            "KEYPOINT_STRIDE": c["width"],
            "ROW_ELEMENTS": c["width"],
            "SCORE_COLUMN": c["score"],
            "BOX_COLUMN": c["box"],
            "KEYPOINT_COLUMN": c["keypoint"],
        }
    elif spec.single_tensor:
        score_stride, box_stride, box_offset = 6, 6, 2
    else:
        score_stride, box_stride, box_offset = int(fc.num_classes), spec.box_columns, -1
    defines = {
        "NUM_ANCHORS": int(fc.num_anchors),
        "MAX_DETECTIONS": int(fc.max_detections),
        "OUTPUT_ROWS": int(fc.max_detections) * max(int(fc.num_labels), 1),
        "NUM_KEYPOINTS": int(fc.num_keypoints),
        "NUM_LABELS": int(fc.num_labels),
        # the host library's float32 run needs up_scratch_size_f32(cfg), computed at run time
        **({} if host else {"SCRATCH_BYTES": fw.scratch_size(fc)}),
        "ELEMENT_BYTES": element,
        "SCORE_STRIDE": score_stride,
        "BOX_STRIDE": box_stride,
        **(columns or {"BOX_OFFSET": box_offset}),
    }
    note = describe(spec, host)
    if host:
        note += ". For the host library (csrc/host/up_host.h): up_run_f32 on the float32 tensors, scratch of"
        note += " up_scratch_size_f32(cfg) bytes"
    if spec.family == "retinaface_packed":
        note += (
            f". Rows [loc 4 | conf 2 | landms 10] read in place: up_run_keypoints(&{spec.name}_config, t + 4, 16, t,"
            f" 16, t + 6, 16, scratch, {spec.name.upper()}_SCRATCH_BYTES, &out) with out.keypoints [rows][10]"
        )
    if not host and spec.input_kind == "f32":
        note += (
            ". float32 outputs are converted on the host: probabilities to Q30 int32, logits and boxes to Q20 int32,"
            " round half up, clamped (ultrapost.golden.convert_f32); this config reads those int32 tensors"
        )
    return fw.config_header(spec.name, fc, comment=note, defines=defines)


def yunet_header_text(spec, host: bool = False) -> str:
    """A YuNet config (up_yunet_config_t, for up_yunet_run) and its sizing macros; the same for host and firmware
    (float32 outputs are read natively, as bit patterns)."""
    from ultrapost import firmware as fw

    if host:
        raise ValueError("--host is for up_run_f32; a YuNet config runs as it is on the host and the firmware")
    fc, _ = spec.firmware_config()
    defines = {
        "PAD_W": fc.pad_w,
        "PAD_H": fc.pad_h,
        "NUM_POINTS": fc.num_points,
        "TOP_K": fc.top_k,
        "MAX_DETECTIONS": fc.max_detections,
        "OUTPUT_ROWS": fc.max_detections,
        "NUM_KEYPOINTS": 5,
        "SCRATCH_BYTES": fw.scratch_size(fc),
        "ELEMENT_BYTES": 1 if spec.input_kind == "s8" else 4,
    }
    note = (
        spec.describe() + ". up_yunet_run(&<name>_config, &tensors, scratch, <NAME>_SCRATCH_BYTES, &out): tensors"
        " cls, obj [N_s][1], bbox [N_s][4], kps [N_s][10] per stride 8, 16, 32; boxes and keypoints Q12 pixels"
    )
    return fw.yunet_config_header(spec.name, fc, comment=note, defines=defines)


def describe(spec, host: bool = False) -> str:
    text = spec.describe()
    return text.replace(" (host-converted to i32)", "") if host else text


def run(args) -> int:
    if args.preprocess and args.host:
        raise ValueError("--preprocess writes the firmware's pre-processing config: no --host")
    if args.host and args.input_kind is None:
        args.input_kind = "f32"
    spec = spec_from_args(args)
    if args.preprocess:
        text, what = preprocess_header_text(args, spec)
        out, symbol = Path(args.output or f"pre_{spec.name}.h"), f"{spec.name}_pre_config"
    else:
        check_unused(args)
        text, what = header_text(spec, host=args.host), describe(spec, args.host)
        out, symbol = Path(args.output or f"cfg_{spec.name}.h"), f"{spec.name}_config"
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}: {symbol} ({what})")
    return 0
