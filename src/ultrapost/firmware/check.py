"""The built-in end-to-end check (``ultrapost firmware-check``'s suite): generated cases on a board against the host
build of the same C and the golden model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ultrapost import golden
from ultrapost.core._core import run_raw
from ultrapost.families import cases
from ultrapost.families.ultraface import Ultraface
from ultrapost.families.yunet import YuNet
from ultrapost.families.yunet_cases import make_outputs as yunet_outputs
from ultrapost.firmware.boards import Board, get_board
from ultrapost.firmware.build import Image, build_harness
from ultrapost.firmware.formats import OutputRecord, VectorRecord
from ultrapost.firmware.headers import write_config_dir
from ultrapost.firmware.inputs import float_inputs, spec_inputs
from ultrapost.firmware.photos import yunet_photo
from ultrapost.firmware.qemu import HarnessRun, run_vectors
from ultrapost.firmware.spec import UP_ERR_OUTPUT, UP_ERR_SCRATCH, UP_ERR_STRIDE, ModelSpec, scratch_size
from ultrapost.firmware.vectorsets import generated_packed, output_of, packed_records
from ultrapost.golden import yunet as golden_yunet


@dataclass
class CheckCase:
    name: str
    record: VectorRecord
    host: OutputRecord  # the host build of the same C (the Cython binding), or its documented error status
    golden: OutputRecord | None  # the numpy golden model (None for error records)


@dataclass
class CheckReport:
    board: Board
    image: Image
    cases: list[CheckCase]
    run: HarnessRun
    configs: list[tuple[str, object]] = field(default_factory=list)  # (prefix, FixedConfig) by config id

    @property
    def mismatches(self) -> list[str]:
        bad = []
        for case, got in zip(self.cases, self.run.outputs, strict=True):
            if not got.equals(case.host):
                bad.append(
                    f"{case.name}: firmware status {got.status}, {len(got)} detections; "
                    f"host status {case.host.status}, {len(case.host)} detections"
                )
            elif case.golden is not None and not got.equals(case.golden):
                bad.append(f"{case.name}: firmware differs from the golden model")
        return bad


def check_cases(board: Board | str) -> tuple[list[tuple[str, object]], list[CheckCase]]:
    """Configs and vector cases for a board, with the host's and the golden model's answers.

    The same generator as the C == golden tests (ultrapost.families.cases): int8 and int32 inputs, raw deltas and
    decoded corners, probabilities and logits, ties, all/none passing, extreme and degenerate boxes, the NXP ultraslim
    single tensor, records that must come back as error statuses, and every NMS kind, "+1 pixel" areas, ">="
    tests, multi-class labels and BlazeFace keypoints (_extra_specs), and YuNet's own pipeline (yunet_cases). The
    micro:bit (m0plus) has 16 KiB of RAM, so it gets the smallest input sizes with fewer candidates.
    """
    board = get_board(board)
    small = board.name == "m0plus"
    if small:
        specs = [
            ("64x48_s8_random", 1, (64, 48), "s8", "random", {}),
            ("64x48_s8_degenerate", 5, (64, 48), "s8", "degenerate", {}),
            ("64x48_i32_ties", 6, (64, 48), "i32", "ties", {}),
            ("64x48_s8_logits", 8, (64, 48), "s8", "random", {"logits": True}),
            ("64x48_i32_corners", 9, (64, 48), "i32", "extreme", {"decoded": True}),
        ]
        limits = {"candidate_limit": 50, "max_detections": 20}
    else:
        specs = [
            ("128x96_s8_random", 1, (128, 96), "s8", "random", {}),
            ("128x96_i32_ties", 2, (128, 96), "i32", "ties", {}),
            ("320x240_s8_all_pass", 3, (320, 240), "s8", "all_pass", {}),
            ("160x120_i32_extreme", 4, (160, 120), "i32", "extreme", {}),
            ("64x48_s8_degenerate", 5, (64, 48), "s8", "degenerate", {}),
            ("128x96_s8_none_pass", 6, (128, 96), "s8", "none_pass", {}),
            ("200x150_s8_logits", 7, (200, 150), "s8", "random", {"logits": True}),
            (
                "96x128_i32_logits_stride_clip",
                8,
                (96, 128),
                "i32",
                "random",
                {"logits": True, "convention": "stride", "clip": True},
            ),
            ("128x96_s8_corners", 9, (128, 96), "s8", "random", {"decoded": True}),
            ("160x120_i32_corners_degenerate", 10, (160, 120), "i32", "degenerate", {"decoded": True}),
            ("64x48_s8_on_level", 11, (64, 48), "s8", "on_level", {}),
            ("333x111_s8_drop_finest", 12, (333, 111), "s8", "ties", {"drop_finest": True}),
        ]
        limits = {}
    configs: list[tuple[str, object]] = []
    out: list[CheckCase] = []

    def add(name, fc, core, scores, boxes, record_of):
        cid = len(configs)
        configs.append((f"c{cid}_" + re.sub(r"[^a-z0-9]+", "_", name.lower()), fc))
        host = output_of(core.run_full, (scores, boxes), 0, False)
        gold = output_of(golden.run, (fc, scores, boxes), 0, False)
        out.append(CheckCase(name, record_of(cid), host, gold))
        return cid

    for name, seed, size, kind, mode, kw in specs:
        pp, sc, bx, q = cases.make_case(seed, size, kind, mode, **kw, **limits)
        fc, core = pp.config(kind, kw.get("decoded", False), q)
        add(name, fc, core, sc, bx, lambda cid, sc=sc, bx=bx: VectorRecord.separate(cid, sc, bx))
        if len(configs) == 1:
            first = (fc, core, sc, bx, 0)
    pp, t, q = cases.ultraslim_case(7)
    fc, core = pp.config("s8", True, (q, q))
    if small:  # outputs for all 172 anchors fit, but leave room: keep 20
        pp = Ultraface(
            128, score_threshold=0.5, drop_finest_level=True, clip=True, candidate_limit=50, max_detections=20
        )
        fc, core = pp.config("s8", True, (q, q))
    add("ultraslim_172x6_s8", fc, core, t[:, :2], t[:, 2:], lambda cid: VectorRecord.single_tensor(cid, t))

    # Every NMS kind, "+1 pixel" areas, ">=" tests, multi-class labels and BlazeFace keypoints (firmware.spec, inputs).
    for spec, seed, mode in _extra_specs(small):
        fc, core = spec.firmware_config()
        sc, bx = spec_inputs(spec, *float_inputs(spec, seed, mode))
        cid = len(configs)
        configs.append((f"c{cid}_{spec.name}", fc))
        nkp, labels = int(fc.num_keypoints), int(fc.num_labels) > 0
        host = output_of(core.run_full, (sc, bx), nkp, labels)
        gold = output_of(golden.run, (fc, sc, bx), nkp, labels)
        out.append(CheckCase(spec.name, VectorRecord.separate(cid, sc, bx), host, gold))

    # YuNet (up_yunet_run): a photo through the int8 model when the shared data is there, generated frames.
    first_yunet = None
    for name, yn, outputs, quant in yunet_cases(small):
        kind, pad, _, q, t = yn.tensors(outputs, quant)
        fc, core = yn.config(kind, pad, q)
        cid = len(configs)
        configs.append((f"c{cid}_{name}", fc))
        host = core.run(t["cls"], t["obj"], t["bbox"], t["kps"])
        rec = VectorRecord.yunet(cid, t)
        out.append(CheckCase(name, rec, OutputRecord.of(host, 5), OutputRecord.of(golden_yunet.run(fc, t), 5)))
        first_yunet = first_yunet or (rec, fc)
    rec, fc = first_yunet
    for name, cap, scratch, status in (
        ("yunet_error_capacity", fc.max_detections - 1, -1, UP_ERR_OUTPUT),
        ("yunet_error_scratch", -1, scratch_size(fc) - 4, UP_ERR_SCRATCH),
    ):
        bad = VectorRecord(rec.config_id, rec.data, 0, 0, 0, 0, capacity=cap, scratch_bytes=scratch)
        out.append(CheckCase(name, bad, OutputRecord.error(status, 5), None))

    # The packed RetinaFace: [N, 16] rows read in place by up_run_keypoints (int8; float32 converted, still packed).
    for spec, seed, cases_n in _packed_specs(small):
        fc, core = spec.firmware_config()
        cid = len(configs)
        configs.append((f"c{cid}_{spec.name}", fc))
        for r in packed_records(spec, cid, generated_packed(spec, cases_n, seed)):
            v = r.vector
            data = v.data.reshape(-1, 16)
            host = r.expected  # an error record: the documented status, which the binding cannot be asked for
            if v.keypoint_stride == 16 and v.score_stride == 16 and v.capacity < 0 and v.scratch_bytes < 0:
                host = output_of(core.run_full, (data[:, 4:6], data[:, :4], data[:, 6:]), 5)
            gold = None if r.expected.status in (UP_ERR_OUTPUT, UP_ERR_SCRATCH, UP_ERR_STRIDE) else r.expected
            label = r.name.split("/", 1)[1]  # error records named error_* as the others
            name = f"error_{spec.name}_{label[6:]}" if label.startswith("error_") else f"{spec.name}_{label}"
            out.append(CheckCase(name, v, host, gold))

    # Error statuses: the same inputs with too few output rows, too little scratch, a too-small row stride.
    fc, core, sc, bx, cid = first
    for name, cap, scratch in (
        ("error_capacity", fc.max_detections - 1, -1),
        ("error_scratch", -1, scratch_size(fc) - 4),
    ):
        status = run_raw(
            core, sc, bx, core.scratch_bytes if scratch < 0 else scratch, fc.max_detections if cap < 0 else cap
        )
        rec = VectorRecord.separate(cid, sc, bx, capacity=cap, scratch_bytes=scratch)
        out.append(CheckCase(name, rec, OutputRecord.error(int(status)), None))
    rec = VectorRecord.separate(cid, sc, bx)
    rec.score_stride = fc.num_classes - 1  # the binding refuses such views; the contract is UP_ERR_STRIDE
    out.append(CheckCase("error_stride", rec, OutputRecord.error(UP_ERR_STRIDE), None))
    return configs, out


def yunet_cases(small: bool) -> list[tuple[str, YuNet, dict, dict | None]]:
    """(name, YuNet, outputs, quantization) of check_cases' YuNet records: nasa_group.jpg (14 faces at 0.6) through
    the int8 model at 320x320 (the micro:bit, whose 8 KiB of input hold 512 points at most: ultraface_10.jpg in a
    128x96 frame, 12 faces) when the shared data, OpenCV and onnxruntime are there, and small generated frames: ties,
    clustered boxes, products on the threshold, a lone candidate, float32 and the single-test preset."""
    lim = {"top_k": 64, "max_detections": 16} if small else {"top_k": 400}
    out = []
    name, frame = ("ultraface_10", (128, 96)) if small else ("nasa_group", (320, 320))
    photo = yunet_photo(f"images/{name}.jpg", frame)
    if photo is not None:
        top = {"top_k": 64, "max_detections": 16} if small else {"top_k": 5000}
        out.append((f"yunet_{name}_{frame[0]}x{frame[1]}_s8", YuNet(frame, 0.6, 0.3, **top), *photo))
    gen = [(5, (96, 64), "ties", True, "opencv"), (6, (64, 64), "clustered", False, "opencv")]
    gen += [(7, (64, 64), "threshold", True, "opencv"), (8, (64, 32), "lone", True, "opencv")]
    gen += [(9, (96, 64), "random", True, "single-test")]
    if not small:
        gen.append((10, (100, 70), "clustered", False, "single-test"))
    for seed, size, mode, int8, preset in gen:
        o, q = yunet_outputs(seed, size, mode, 0.5, int8=int8)
        name = f"yunet_{mode}_{size[0]}x{size[1]}_{'s8' if int8 else 'f32'}" + ("_single" if preset != "opencv" else "")
        out.append((name, YuNet(size, 0.5, 0.3, preset=preset, **lim), o, q))
    return out


def _packed_specs(small: bool):
    """(ModelSpec, seed, cases) of check_cases' packed RetinaFace configurations: int8 and float32 (converted to
    int32 on the host) at small frames, each case mode once; the micro:bit's within its 8 KiB of input (64x64
    int8: 168 rows; 32x32 float: 42 rows of int32) and 5 KiB of outputs and scratch."""
    lim = {"candidate_limit": 50, "max_detections": 20} if small else {"candidate_limit": 400, "max_detections": 100}
    s8, f32 = ((64, 64), (32, 32)) if small else ((96, 64), (160, 160))
    return [
        (ModelSpec.retinaface_packed("packed_s8", input_size=s8, score_threshold=0.3, **lim), 31, 6),
        (
            ModelSpec.retinaface_packed("packed_f32", input_size=f32, input_kind="f32", score_threshold=0.5, **lim),
            32,
            6,
        ),
    ]


def _extra_specs(small: bool):
    """(ModelSpec, seed, mode) of check_cases' configurations beyond hard-NMS Ultraface: the micro:bit's fit its
    8 KiB of input and 5 KiB of outputs and scratch (64x48 Ultraface, a 32x32 BlazeFace with 56 anchors)."""
    q = {"score_quant": (1 / 256, -128), "box_quant": (0.04, 3)}
    if small:
        size, lim, bf = (64, 48), {"candidate_limit": 50, "max_detections": 20}, (32, 32)
    else:
        size, lim, bf = (128, 96), {}, (128, 128)
    pad = {"pixel_size": size}
    return [
        (ModelSpec("blend_s8_pad_clip", input_size=size, nms="blend", clip=True, **pad, **q, **lim), 21, "random"),
        (
            ModelSpec("weighted_i32_ge", input_size=size, input_kind="i32", nms="weighted", score_test=">=", **lim),
            22,
            "ties",
        ),
        (ModelSpec("soft_linear_s8", input_size=size, nms="soft-linear", **q, **lim), 23, "random"),
        (
            ModelSpec("soft_gaussian_i32_pad", input_size=size, input_kind="i32", nms="soft-gaussian", **pad, **lim),
            24,
            "degenerate",
        ),
        (ModelSpec("classes_s8", input_size=size, class_thresholds=(0.6, 0.7), **q, **lim), 25, "random"),
        (
            ModelSpec(
                "classes_i32_blend", input_size=size, input_kind="i32", class_thresholds=(0.5, 0.7), nms="blend", **lim
            ),
            26,
            "ties",
        ),
        (ModelSpec.blazeface("blazeface_s8", input_size=bf, **lim), 27, "random"),
        (
            ModelSpec.blazeface("blazeface_i32_soft", input_size=bf, input_kind="i32", nms="soft-gaussian", **lim),
            28,
            "random",
        ),
        (
            ModelSpec.blazeface("blazeface_i32_extreme", input_size=bf, input_kind="i32", nms="blend", **lim),
            29,
            "extreme",
        ),
    ]


def check_board(
    board: Board | str, work_dir: Path, *, count_instructions: bool = False, timeout: float = 120.0
) -> CheckReport:
    """Builds the harness with check_cases' configs, runs every case on qemu and compares (see mismatches)."""
    board = get_board(board)
    work_dir = Path(work_dir)
    configs, cases_ = check_cases(board)
    write_config_dir(work_dir / "configs", configs)
    image = build_harness(board, work_dir / "build", work_dir / "configs")
    run = run_vectors(
        image, [c.record for c in cases_], work_dir / "run", timeout=timeout, count_instructions=count_instructions
    )
    return CheckReport(board, image, cases_, run, configs)
