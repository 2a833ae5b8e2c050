"""The pre-processing stage on the boards: camera frames (RGB565, RGB888, YUYV; strided rows, crops, letterbox,
every interpolation, NHWC and NCHW, int8, uint8 and float32 words) through ``up_pre_run`` on qemu, each tensor
compared byte for byte with the host build of the same C and with the golden model, and the instructions per output
pixel of the camera case (160x120 RGB565 to ultraslim's 128x128 int8 input; the micro:bit, whose 16 KiB of RAM
cannot hold that tensor, runs 40x30 to 32x32: the same scale factors, so the same filter taps)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ultrapost.core.preprocess_config import BYTES_PER_PIXEL, PreConfig, prepare_config
from ultrapost.firmware.boards import Board, get_board
from ultrapost.firmware.build import Image, build_pre_harness
from ultrapost.firmware.formats import RecordStats, read_stats
from ultrapost.firmware.preformats import (
    FrameRecord,
    TensorRecord,
    read_tensors,
    tensor_bytes,
    write_frames,
    write_pre_config_dir,
)
from ultrapost.firmware.qemu import run_image
from ultrapost.firmware.spec import UP_ERR_OUTPUT, UP_ERR_SCRATCH, UP_ERR_STRIDE
from ultrapost.firmware.toolchain import FirmwareError
from ultrapost.golden.preprocess import pre_run, pre_scratch_size

UP_ERR_FRAME = -9
# ultraslim's input (shared data MANIFEST: NHWC RGB int8, scale 1/128, zero point -1: q = pixel - 128), stretched
# with Pillow's bilinear resize as the recorded inputs were made.
ULTRASLIM_INPUT = dict(
    resize="stretch", interpolation="pil", channel_order="RGB", layout="NHWC", mean=127.0, std=128.0,
    dtype="int8", quantization=(1 / 128, -1),
)  # fmt: skip


@dataclass
class PreRun:
    tensors: list[TensorRecord]
    stats: list[RecordStats]
    instructions: list[int] | None
    console: str


def run_frames(
    image: Image, records: list[FrameRecord], work_dir: Path, *, timeout: float = 120.0, count_instructions=False
) -> PreRun:
    """Writes records to work_dir/frames.bin, runs the pre-processing runner on them, reads the tensors back."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    write_frames(work_dir / "frames.bin", records)
    for name in ("tensors.bin", "stats.bin"):
        (work_dir / name).unlink(missing_ok=True)
    result = run_image(
        image,
        ["frames.bin", "tensors.bin", "stats.bin"],
        cwd=work_dir,
        timeout=timeout,
        count_calls_to="up_pre_run" if count_instructions else None,
    )
    tensors, stats = read_tensors(work_dir / "tensors.bin"), read_stats(work_dir / "stats.bin")
    if len(tensors) != len(records) or len(stats) != len(records):
        raise FirmwareError(f"{len(records)} frames in, {len(tensors)} tensors and {len(stats)} stats out")
    if result.instructions is not None and len(result.instructions) != len(records):
        raise FirmwareError(f"{len(records)} frames but {len(result.instructions)} counted runs")
    return PreRun(tensors, stats, result.instructions, result.console)


@dataclass
class PreCase:
    name: str
    record: FrameRecord
    host: TensorRecord  # the host build of the same C (the Cython binding), or the documented error status
    golden: TensorRecord | None  # the numpy golden model (None for error records)
    pixels: int = 0  # output pixels (width x height) of the tensor


def frame_of(fmt: str, size, seed: int) -> np.ndarray:
    """A generated uint8 frame [H, W, bytes per pixel]: smooth gradients (what a resize sees in a photo) plus noise
    over every code of the format."""
    w, h = size
    rng = np.random.default_rng(seed)
    bpp = BYTES_PER_PIXEL[fmt]
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = (xx * 255 // max(w - 1, 1) + yy * 97 // max(h - 1, 1))[:, :, None] + np.arange(bpp) * 61
    noise = rng.integers(-40, 41, (h, w, bpp))
    return (np.where(rng.random((h, w, 1)) < 0.2, rng.integers(0, 256, (h, w, bpp)), smooth + noise) % 256).astype(
        np.uint8
    )


def host_tensor(cfg: PreConfig, pixels: np.ndarray) -> TensorRecord:
    from ultrapost.core._preprocess import PreprocessConfig

    return TensorRecord(0, PreprocessConfig(cfg).run(pixels))


def golden_tensor(cfg: PreConfig, pixels: np.ndarray) -> TensorRecord:
    status, words = pre_run(cfg, pixels, pixels.shape[1], pixels.shape[0], int(pixels.strides[0]))
    return TensorRecord(int(status), words if status == 0 else np.zeros(0, np.uint8))


def camera_case(board: Board | str) -> tuple[str, tuple[int, int], tuple[int, int]]:
    """(name, frame, input) of the board's instruction-count case: 160x120 RGB565 to 128x128 int8 (ultraslim's
    input, Pillow's bilinear); the micro:bit 40x30 to 32x32 (the same scale factors, so the same taps)."""
    if get_board(board).name == "m0plus":
        return "camera_rgb565_40x30_s8_pil", (40, 30), (32, 32)
    return "camera_rgb565_160x120_s8_pil", (160, 120), (128, 128)


def camera_cases(board: Board | str):
    """The camera case in each interpolation: (name, pixel format, frame, input, Preprocessor options, view)."""
    name, frame, size = camera_case(board)
    return [
        (name.replace("_pil", "_" + interp), "RGB565", frame, size, {**ULTRASLIM_INPUT, "interpolation": interp}, None)
        for interp in ("pil", "cv2", "nearest")
    ]


def _specs(small: bool):
    """(name, pixel format, frame size, input size, Preprocessor options, view) per case; view: (buffer width,
    x offset) for rows strided inside a wider buffer, or None."""
    s8 = ULTRASLIM_INPUT
    u8 = dict(dtype="uint8", mean=0.0, std=1.0)
    if small:
        return [
            ("rgb888_48x36_u8_pil_nchw", "RGB888", (48, 36), (24, 18), {**u8, "layout": "NCHW"}, None),
            (
                "yuyv_32x24_u8_cv2_letterbox_bgr",
                "YUYV",
                (32, 24),
                (30, 30),
                {**u8, "interpolation": "cv2", "resize": "letterbox", "channel_order": "BGR", "pad_value": 114},
                None,
            ),
            ("rgb888_strided_crop_s8_pil", "RGB888", (30, 20), (16, 16), {**s8, "crop": (3, 2, 25, 17)}, (40, 6)),
            ("yuyv_40x30_f32_pil_nchw", "YUYV", (40, 30), (12, 10), {"layout": "NCHW"}, None),
        ]
    return [
        ("rgb888_320x240_s8_pil", "RGB888", (320, 240), (128, 128), s8, None),
        ("rgb888_320x240_f32_pil_nchw", "RGB888", (320, 240), (80, 60), {"layout": "NCHW"}, None),
        ("yuyv_160x120_u8_pil_bgr", "YUYV", (160, 120), (128, 128), {**u8, "channel_order": "BGR"}, None),
        (
            "yuyv_96x72_s8_cv2_letterbox",
            "YUYV",
            (96, 72),
            (128, 128),
            {**s8, "interpolation": "cv2", "resize": "letterbox", "pad_value": 114},
            None,
        ),
        ("rgb565_160x480_s8_pil_tall", "RGB565", (160, 480), (128, 96), s8, None),
        ("rgb888_strided_crop_u8_pil", "RGB888", (160, 120), (64, 64), {**u8, "crop": (10, 5, 140, 110)}, (200, 20)),
        (
            "yuyv_strided_crop_s8_nearest_nchw",
            "YUYV",
            (96, 64),
            (40, 40),
            {**s8, "interpolation": "nearest", "layout": "NCHW", "crop": (5, 3, 80, 58)},
            (128, 16),
        ),
    ]


def _config(fmt: str, frame_size, input_size, options: dict) -> PreConfig:
    opts = dict(options)
    return prepare_config(frame_size, input_size, pixel_format=fmt, **opts)


def pre_cases(board: Board | str) -> tuple[list[tuple[str, PreConfig]], list[PreCase]]:
    """Configs and frame records for a board, with the host's and the golden model's tensors; the camera case
    first, then every format, interpolation, layout and type, strided rows and crops, and records the stage must
    refuse with its status (scratch 4 bytes short, tensor 1 byte short, stride below a row, another frame size)."""
    board = get_board(board)
    small = board.name == "m0plus"
    specs = [*camera_cases(board), *_specs(small)]
    configs: list[tuple[str, PreConfig]] = []
    cases: list[PreCase] = []
    for i, (label, fmt, fsize, isize, options, view) in enumerate(specs):
        cfg = _config(fmt, fsize, isize, options)
        cid = len(configs)
        configs.append((f"p{cid}_" + re.sub(r"[^a-z0-9]+", "_", label.lower()), cfg))
        if view is None:
            pixels = frame_of(fmt, fsize, 100 + i)
        else:
            buf_w, x0 = view
            pixels = frame_of(fmt, (buf_w, fsize[1]), 100 + i)[:, x0 : x0 + fsize[0]]
        host, gold = host_tensor(cfg, pixels), golden_tensor(cfg, pixels)
        rec = FrameRecord.of(cid, pixels)
        cases.append(PreCase(label, rec, host, gold, cfg.out_width * cfg.out_height))
        if i == 0:
            first = (cfg, cid, pixels, rec)
    cfg, cid, pixels, rec = first
    scratch = pre_scratch_size(cfg)
    errors = [
        ("error_scratch", dict(scratch_bytes=scratch - 4), UP_ERR_SCRATCH),
        ("error_output", dict(out_bytes=tensor_bytes(cfg) - 1), UP_ERR_OUTPUT),
        ("error_stride", dict(stride_bytes=rec.stride_bytes - 1), UP_ERR_STRIDE),
        ("error_frame", dict(height=rec.height - 1), UP_ERR_FRAME),
    ]
    for label, change, status in errors:
        fields = dict(
            config_id=cid, data=rec.data, width=rec.width, height=rec.height, stride_bytes=rec.stride_bytes
        )  # fmt: skip
        fields.update(change)
        cases.append(PreCase(label, FrameRecord(**fields), TensorRecord(status, []), None))
    return configs, cases


@dataclass
class PreCheckReport:
    board: Board
    image: Image
    cases: list[PreCase]
    run: PreRun
    configs: list[tuple[str, PreConfig]] = field(default_factory=list)

    @property
    def mismatches(self) -> list[str]:
        bad = []
        for case, got in zip(self.cases, self.run.tensors, strict=True):
            if not got.equals(case.host):
                bad.append(f"{case.name}: firmware status {got.status}, host status {case.host.status}")
            elif case.golden is not None and not got.equals(case.golden):
                bad.append(f"{case.name}: firmware differs from the golden model")
        return bad

    @property
    def identical(self) -> int:
        return len(self.cases) - len(self.mismatches)

    counted: dict[str, int] | None = None  # instructions of up_pre_run for the camera cases, by name

    def instructions_per_output_pixel(self) -> dict[str, float] | None:
        if self.counted is None:
            return None
        pixels = {c.name: c.pixels for c in self.cases}
        return {name: round(n / pixels[name], 2) for name, n in self.counted.items()}


def check_pre_board(
    board: Board | str, work_dir: Path, *, count_instructions: bool = False, timeout: float = 300.0
) -> PreCheckReport:
    """Builds the pre-processing runner with pre_cases' configs, runs every frame on qemu and compares; with
    count_instructions, runs the camera cases again with qemu's instruction trace (a traced run is about 50 times
    slower: the other cases are not counted)."""
    board = get_board(board)
    work_dir = Path(work_dir)
    configs, cases = pre_cases(board)
    write_pre_config_dir(work_dir / "configs", configs)
    image = build_pre_harness(board, work_dir / "build", work_dir / "configs")
    run = run_frames(image, [c.record for c in cases], work_dir / "run", timeout=timeout)
    report = PreCheckReport(board, image, cases, run, configs)
    if count_instructions:
        camera = [c for c in cases if c.name.startswith("camera_")]
        counted = run_frames(
            image, [c.record for c in camera], work_dir / "count", timeout=timeout, count_instructions=True
        )
        if any(not got.equals(c.host) for got, c in zip(counted.tensors, camera, strict=True)):
            raise FirmwareError(f"{board.name}: a traced camera run differs from the untraced one")
        report.counted = dict(zip([c.name for c in camera], counted.instructions, strict=True))
    return report
