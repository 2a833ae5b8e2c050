"""Model configuration options shared by ``ultrapost codegen`` and ``ultrapost vectors``."""

from __future__ import annotations

import argparse

from ultrapost.firmware.spec import NMS_KINDS, ULTRASLIM_QUANT, ModelSpec

MODEL_HELP = """\
model configuration (the arguments of ultrapost.Ultraface, plus the input kind):
  --family ultraslim      NXP's int8 ultraslim: 128x128, finest level dropped, one [172, 6] tensor (p_bg, p_face,
                          x1, y1, x2, y2) with decoded corners clipped to [0, 1], scale 1/255, zero point -128,
                          threshold 0.5; any other option overrides these
  --family ultraface      an Ultraface head (slim or RFB): scores [N, 2] and boxes [N, 4] as two tensors
                          (--class-thresholds: scores [N, 1 + classes], a threshold per class, labels out)
  --family blazeface      MediaPipe BlazeFace: logits [N, 1] and regressors [N, 16] (box, 6 keypoints, pixels);
                          --input-size 128 short range (896 anchors), 192 full range (2304); weighted NMS,
                          score >= 0.5, int8 scales 1/4 (logits) and 1/2 (regressors) unless given
  --family yunet          OpenCV's YuNet (FaceDetectorYN): its 12 outputs (cls, obj, bbox, kps per stride 8, 16,
                          32), 5 landmarks; --input-size is the frame (padded to multiples of 32, default 320x320),
                          --candidate-limit is top_k (default 5000), score 0.9 and NMS 0.3 unless given;
                          --yunet-preset opencv (FaceDetectorYN's rules) or single-test; --input-kind s8 (the
                          int8-output model's quantization per output) or f32 (read natively by the firmware)
  --family retinaface_packed  Pytorch_Retinaface mobilenet0.25's one packed output [N, 16] (loc 4, class logits 2,
                          landmarks 10) read in place (views with row stride 16, up_run_keypoints); --input-size
                          default 640x640 (16800 anchors); detect.py's decisions unless given: score 0.02, NMS 0.4
                          with "+1 pixel" areas on the input grid, 5000 candidates, 750 kept; int8: one scale and
                          zero point for all 16 columns (--score-scale / --score-zero-point; default the shared
                          int8-output model's 0.10124 / 2)
  --nms                   hard, blend (ncnn), weighted (MediaPipe), soft-linear, soft-gaussian (--soft-sigma)
  --input-kind s8         int8 tensors with a per-tensor scale and zero point (--score-scale ... --box-zero-point);
               i32        int32 fixed point: probabilities Q30 (1.0 = 2^30), logits and boxes Q20
               f32        float32 on the host: the firmware gets the int32 tensors of the host's boundary
                          conversion (round(x * 2^q) half up, clamped) and the i32 config of the same model
"""


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"input size is WxH or one number, got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"input size is WxH with positive sides, got {text!r}")
    return values[0], values[1]


def _thresholds(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"class thresholds are comma-separated numbers, got {text!r}") from None
    return values


_DEFAULT = object()  # --candidate-limit not given: the family's own (not a str: argparse would parse it)


def _limit(text: str) -> int | None:
    if text.lower() in ("none", "all"):
        return None
    return int(text)


def add_model_options(parser: argparse.ArgumentParser, default_name: str | None = None) -> None:
    g = parser.add_argument_group("model configuration")
    g.add_argument(
        "--family",
        "--preset",
        choices=("ultraface", "ultraslim", "blazeface", "yunet", "retinaface_packed"),
        default="ultraface",
        help="model family; ultraslim presets NXP's int8 ultraslim, blazeface MediaPipe's BlazeFace, yunet OpenCV's "
        "YuNet, retinaface_packed Pytorch_Retinaface mobilenet0.25's packed output (default: ultraface)",
    )
    g.add_argument(
        "--yunet-preset",
        choices=("opencv", "single-test"),
        help="yunet's decisions: FaceDetectorYN's (opencv, the default) or one score test (single-test)",
    )
    g.add_argument(
        "--name",
        default=default_name,
        help="C identifier prefixing the generated names, e.g. ultraslim -> ultraslim_config (default: the family)",
    )
    g.add_argument(
        "--input-size",
        type=_size,
        metavar="WxH",
        help="model input in pixels, e.g. 320x240 or 128 (default: 320x240; ultraslim 128x128)",
    )
    g.add_argument("--input-kind", choices=("s8", "i32", "f32"), help="tensor element type (default: s8)")
    g.add_argument("--score-threshold", type=float, help="keep faces with score > this (default 0.7; ultraslim 0.5)")
    g.add_argument("--iou-threshold", type=float, help="suppress when IoU > this (default 0.3; retinaface_packed 0.4)")
    g.add_argument(
        "--candidate-limit",
        type=_limit,
        default=_DEFAULT,
        metavar="N|none",
        help="best candidates kept before NMS (default 200, yunet's top_k 5000; none: every anchor)",
    )
    g.add_argument(
        "--max-detections",
        type=_limit,
        default=_DEFAULT,
        metavar="N|none",
        help="outputs at most (default: the candidate limit; retinaface_packed 750)",
    )
    g.add_argument(
        "--priors",
        choices=("trained", "stride"),
        default="trained",
        help="prior centers as the trained models use them, or (i + 0.5) * stride / size",
    )
    g.add_argument(
        "--drop-finest-level", action="store_true", default=None, help="no stride-8 anchors (NXP's ultraslim)"
    )
    g.add_argument("--logits", action="store_true", default=None, help="the score columns hold logits, not softmax")
    g.add_argument(
        "--decoded",
        action="store_true",
        default=None,
        help="the box columns hold decoded corners x1, y1, x2, y2 (normalized), not raw deltas",
    )
    g.add_argument("--clip", action="store_true", default=None, help="clip output corners to [0, 1]")
    g.add_argument("--nms", choices=NMS_KINDS, help="NMS kind (default: hard; blazeface: weighted)")
    g.add_argument("--soft-sigma", type=float, default=0.5, help="soft-gaussian NMS sigma (default 0.5)")
    g.add_argument("--score-test", choices=(">", ">="), help="score test (default >; blazeface >=)")
    g.add_argument(
        "--pixel-size",
        type=_size,
        metavar="WxH",
        help='IoU with "+1 pixel" areas on this pixel grid (the C++ ports; default: none)',
    )
    g.add_argument(
        "--eps", type=float, help="IoU epsilon added to the union (default 1e-5, predict()'s; the C++ ports: 0)"
    )
    g.add_argument(
        "--class-thresholds",
        type=_thresholds,
        metavar="T1,T2,...",
        help="multi-class: one score threshold per class column from 1 on; outputs carry labels",
    )
    g.add_argument("--score-scale", type=float, help="int8 score tensor scale (default 1/256; ultraslim 1/255)")
    g.add_argument("--score-zero-point", type=int, help="int8 score tensor zero point (default -128)")
    g.add_argument("--box-scale", type=float, help="int8 box tensor scale (default 0.04; ultraslim 1/255)")
    g.add_argument("--box-zero-point", type=int, help="int8 box tensor zero point (default 0; ultraslim -128)")


def spec_from_args(args) -> ModelSpec:
    """The ModelSpec the options describe; ValueError names a contradiction."""
    if getattr(args, "yunet_preset", None) is not None and args.family != "yunet":
        raise ValueError("--yunet-preset is for --family yunet")
    if args.iou_threshold is None:
        args.iou_threshold = 0.4 if args.family == "retinaface_packed" else 0.3
    if args.max_detections is _DEFAULT:  # not given: the family's own (retinaface_packed: detect.py's 750)
        args.max_detections = 750 if args.family == "retinaface_packed" else None
    if args.family == "yunet":
        return _yunet_spec(args)
    if args.family == "retinaface_packed":
        return _packed_spec(args)
    if args.candidate_limit is _DEFAULT:
        args.candidate_limit = 200
    slim = args.family == "ultraslim"
    base = ModelSpec.ultraslim() if slim else ModelSpec.blazeface() if args.family == "blazeface" else ModelSpec()
    sq = (
        args.score_scale if args.score_scale is not None else base.score_quant[0],
        args.score_zero_point if args.score_zero_point is not None else base.score_quant[1],
    )
    bq = (
        args.box_scale if args.box_scale is not None else base.box_quant[0],
        args.box_zero_point if args.box_zero_point is not None else base.box_quant[1],
    )
    if slim and (args.box_scale is None and args.box_zero_point is None):
        bq = sq if (args.score_scale, args.score_zero_point) != (None, None) else ULTRASLIM_QUANT  # one tensor

    def pick(value, default):
        return default if value is None else value

    spec = ModelSpec(
        name=args.name or args.family,
        family=args.family,
        input_size=pick(args.input_size, base.input_size),
        input_kind=pick(args.input_kind, base.input_kind),
        score_threshold=pick(args.score_threshold, base.score_threshold),
        iou_threshold=args.iou_threshold,
        candidate_limit=args.candidate_limit,
        max_detections=args.max_detections,
        priors=args.priors,
        drop_finest_level=pick(args.drop_finest_level, base.drop_finest_level),
        logits=pick(args.logits, base.logits),
        decoded=pick(args.decoded, base.decoded),
        clip=pick(args.clip, base.clip),
        score_quant=(float(sq[0]), int(sq[1])),
        box_quant=(float(bq[0]), int(bq[1])),
        nms=pick(args.nms, base.nms),
        score_test=pick(args.score_test, base.score_test),
        pixel_size=args.pixel_size,
        class_thresholds=args.class_thresholds,
        soft_sigma=args.soft_sigma,
        eps=getattr(args, "eps", None),
    )
    try:  # sizes are checked (sides, anchor count) before anything is made from them
        spec.processor()
    except ValueError as exc:
        if "input_size" in str(exc):
            raise ValueError(f"--input-size {spec.input_size[0]}x{spec.input_size[1]}: {exc}") from None
        raise
    return spec


def _yunet_spec(args) -> ModelSpec:
    given = {
        "--score-scale": args.score_scale,
        "--score-zero-point": args.score_zero_point,
        "--box-scale": args.box_scale,
        "--box-zero-point": args.box_zero_point,
        "--priors": None if args.priors == "trained" else args.priors,
        "--soft-sigma": None if args.soft_sigma == 0.5 else args.soft_sigma,
    }
    bad = [k for k, v in given.items() if v is not None]
    if bad:
        raise ValueError(f"--family yunet has its own quantization per output and decode: no {', '.join(bad)}")
    base = ModelSpec.yunet()
    overrides = dict(
        name=args.name or "yunet",
        input_size=args.input_size or base.input_size,
        input_kind=args.input_kind or base.input_kind,
        score_threshold=base.score_threshold if args.score_threshold is None else args.score_threshold,
        iou_threshold=args.iou_threshold,
        candidate_limit=base.candidate_limit if args.candidate_limit is _DEFAULT else args.candidate_limit,
        max_detections=args.max_detections,
        preset=args.yunet_preset or "opencv",
        drop_finest_level=bool(args.drop_finest_level),
        logits=bool(args.logits),
        decoded=bool(args.decoded),
        clip=bool(args.clip),
        nms=args.nms or "hard",
        score_test=args.score_test or ">",
        pixel_size=args.pixel_size,
        class_thresholds=args.class_thresholds,
        eps=getattr(args, "eps", None),
    )
    spec = ModelSpec.yunet(**overrides)
    spec.processor()  # thresholds, sizes and limits checked now
    return spec


def _packed_spec(args) -> ModelSpec:
    given = {
        "--box-scale": args.box_scale,
        "--box-zero-point": args.box_zero_point,
        "--priors": None if args.priors == "trained" else args.priors,
    }
    bad = [k for k, v in given.items() if v is not None]
    if bad:
        raise ValueError(
            f"--family retinaface_packed has its own priors and one int8 scale and zero point for all 16 columns "
            f"(--score-scale, --score-zero-point): no {', '.join(bad)}"
        )
    size = args.input_size or (640, 640)
    base = ModelSpec.retinaface_packed(input_size=size)
    q = (
        base.score_quant[0] if args.score_scale is None else float(args.score_scale),
        base.score_quant[1] if args.score_zero_point is None else int(args.score_zero_point),
    )
    overrides = dict(
        name=args.name or "retinaface_packed",
        input_size=size,
        input_kind=args.input_kind or base.input_kind,
        score_threshold=base.score_threshold if args.score_threshold is None else args.score_threshold,
        iou_threshold=args.iou_threshold,
        candidate_limit=base.candidate_limit if args.candidate_limit is _DEFAULT else args.candidate_limit,
        max_detections=args.max_detections,
        drop_finest_level=bool(args.drop_finest_level),
        logits=True if args.logits is None else args.logits,
        decoded=bool(args.decoded),
        clip=bool(args.clip),
        nms=args.nms or "hard",
        score_test=args.score_test or ">",
        pixel_size=args.pixel_size or size,
        class_thresholds=args.class_thresholds,
        soft_sigma=args.soft_sigma,
        eps=0.0 if getattr(args, "eps", None) is None else args.eps,
        score_quant=q,
        box_quant=q,
    )
    spec = ModelSpec.retinaface_packed(**overrides)
    try:
        spec.processor()
    except ValueError as exc:
        if "input_size" in str(exc):
            raise ValueError(f"--input-size {size[0]}x{size[1]}: {exc}") from None
        raise
    return spec
