"""The pre-processing stage on the emulated boards: camera frames through up_pre_run on Cortex-M4, M33 and M0+,
every tensor byte-identical to the host build of the same C and to the golden model; its C headers and files.

Without arm-none-eabi-gcc or qemu-system-arm the board tests skip (and fail under ULTRAPOST_REQUIRE_DATA=1).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import require_tool

from ultrapost import firmware as fw
from ultrapost.core.preprocess_config import PIXEL_FORMATS, prepare_config
from ultrapost.firmware.precheck import ULTRASLIM_INPUT, check_pre_board, frame_of, golden_tensor, host_tensor
from ultrapost.firmware.preformats import (
    FrameRecord,
    TensorRecord,
    pre_config_header,
    read_frames,
    read_tensors,
    write_frames,
    write_tensors,
)

BOARDS = ["an386", "an505", "m0plus"]


def need_qemu():
    require_tool(fw.toolchain_available(), "arm-none-eabi-gcc with newlib (gcc-arm-none-eabi, libnewlib-arm-none-eabi)")
    require_tool(fw.qemu_available(), "qemu-system-arm")


@pytest.fixture(scope="module")
def pre_checks(tmp_path_factory):
    need_qemu()
    root = tmp_path_factory.mktemp("precheck")
    # The timeout bounds a hung image only. (`firmware-check` counts the camera cases' instructions:
    # tests/test_cli_firmware.py.)
    return {b: check_pre_board(b, root / b, timeout=600) for b in BOARDS}


@pytest.mark.parametrize("board", BOARDS)
def test_board_tensors_identical_to_host_and_golden(board, pre_checks):
    report = pre_checks[board]
    assert report.mismatches == []
    got = report.run.tensors
    ok = [c for c, t in zip(report.cases, got, strict=True) if t.status == 0]
    assert len(ok) >= 7 and all(c.golden.equals(c.host) for c in ok)
    # RGB565, RGB888 and YUYV frames, every interpolation, both layouts, int8/uint8 bytes and float32 words
    used = [report.configs[c.record.config_id][1] for c in ok]
    assert {PIXEL_FORMATS[c.pixel_format] for c in used} == {"RGB565", "RGB888", "YUYV"}
    assert {c.resample for c in used} == {0, 1, 2} and {c.layout for c in used} == {0, 1}
    assert {c.out_bytes for c in used} == {1, 4} and any(c.rect_x or c.rect_y for c in used)
    assert any(c.record.stride_bytes > c.record.width * 3 for c in ok)  # rows strided inside a wider buffer
    # the stage's own refusals: scratch short, tensor short, stride below a row, another frame size
    assert sorted(t.status for t in got if t.status) == [-9, -5, -4, -3]
    # byte for byte: the board's tensor file is the file of the host's tensors
    host_file = report.image.elf.parent / "host_tensors.bin"
    write_tensors(host_file, [c.host for c in report.cases])
    assert host_file.read_bytes() == (report.image.elf.parent.parent / "run" / "tensors.bin").read_bytes()


@pytest.mark.parametrize("board", BOARDS)
def test_stack_within_the_static_bound_and_scratch_as_documented(board, pre_checks):
    report = pre_checks[board]
    static = fw.stack_usage(fw.ci_files(report.image), "up_pre_run", report.image)
    assert static.unbounded == []
    used = [s.stack_bytes for s in report.run.stats]
    assert 0 < max(used) <= static.bytes
    from ultrapost.golden.preprocess import pre_scratch_size

    for case, st in zip(report.cases, report.run.stats, strict=True):
        assert st.scratch_size == pre_scratch_size(report.configs[case.record.config_id][1]), case.name
    assert fw.forbidden_symbols(report.image) == []


def test_boards_agree(pre_checks):
    a, b = pre_checks["an386"], pre_checks["an505"]
    assert [c.name for c in a.cases] == [c.name for c in b.cases]
    assert all(x.equals(y) for x, y in zip(a.run.tensors, b.run.tensors, strict=True))


def test_frame_and_tensor_files_round_trip(tmp_path):
    pixels = frame_of("RGB888", (30, 4), 1)[:, 5:25]  # rows strided inside a wider buffer
    rec = FrameRecord.of(2, pixels, scratch_bytes=100)
    assert rec.stride_bytes == 90 and rec.width == 20 and rec.data.size == 3 * 90 + 60
    write_frames(tmp_path / "f.bin", [rec, FrameRecord(0, [1, 2, 3], 1, 1, 3)])
    back = read_frames(tmp_path / "f.bin")
    assert back[0].data.tobytes() == rec.data.tobytes() and back[0].scratch_bytes == 100
    assert back[1].data.tolist() == [1, 2, 3] and back[1].out_bytes == -1
    tensors = [TensorRecord(0, np.arange(7, dtype=np.int8)), TensorRecord(-5, [])]
    write_tensors(tmp_path / "t.bin", tensors)
    assert all(x.equals(y) for x, y in zip(read_tensors(tmp_path / "t.bin"), tensors, strict=True))
    (tmp_path / "t.bin").write_bytes((tmp_path / "t.bin").read_bytes() + b"x")
    with pytest.raises(ValueError, match="trailing"):
        read_tensors(tmp_path / "t.bin")
    with pytest.raises(ValueError, match="carries no tensor"):
        TensorRecord(-3, [1])


def test_pre_config_header_compiles_with_the_core_and_has_no_float(tmp_path):
    """The header of a config (what `ultrapost codegen --preprocess` writes) is integers only and compiles for
    every board with the stage, warning-free and without any float or libc symbol."""
    require_tool(shutil.which("arm-none-eabi-gcc") is not None, "arm-none-eabi-gcc")
    cfg = prepare_config((160, 120), (128, 128), pixel_format="RGB565", **ULTRASLIM_INPUT)
    text = pre_config_header("cam", cfg, comment="test")
    assert "float" not in text and "double" not in text and re.search(r"\d\.\d|\de-", text) is None
    (tmp_path / "pre_cam.h").write_text(text)
    (tmp_path / "use.c").write_text(
        '#include "pre_cam.h"\n'
        "int32_t use(const uint8_t *frame, void *scratch, int8_t *out);\n"
        "int32_t use(const uint8_t *frame, void *scratch, int8_t *out)\n{\n"
        "    if (up_pre_check_config(&cam_pre_config) != UP_OK) return -100;\n"
        "    return up_pre_run(&cam_pre_config, frame, CAM_FRAME_WIDTH, CAM_FRAME_HEIGHT,\n"
        "                      CAM_FRAME_WIDTH * CAM_BYTES_PER_PIXEL, scratch, CAM_SCRATCH_BYTES,\n"
        "                      out, CAM_TENSOR_BYTES);\n"
        "}\n"
    )
    for board in BOARDS:
        obj = tmp_path / f"{board}.o"
        cmd = ["arm-none-eabi-gcc", *fw.BOARDS[board].cflags(), "-std=c99", "-Os", "-ffreestanding", *fw.WARNINGS]
        cmd += ["-Werror", f"-I{fw.csrc_dir()}", f"-I{tmp_path}", "-c", str(tmp_path / "use.c"), "-o", str(obj)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        nm = subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], capture_output=True, text=True, check=True)
        assert set(nm.stdout.split()) - {"U"} == {"up_pre_check_config", "up_pre_run"}, board
    # the sizes are those of the host's config
    assert "#define CAM_TENSOR_BYTES 49152" in text and "#define CAM_FRAME_BYTES 38400" in text
    from ultrapost.golden.preprocess import pre_scratch_size

    assert f"#define CAM_SCRATCH_BYTES {pre_scratch_size(cfg)}" in text
    with pytest.raises(ValueError, match="C identifier"):
        pre_config_header("Cam", cfg)


def test_host_and_golden_agree_on_the_generated_frames():
    """The board cases' expected tensors: the host C and the golden model give the same bytes on every format."""
    for fmt in ("RGB565", "RGB888", "YUYV"):
        cfg = prepare_config((40, 30), (32, 32), pixel_format=fmt, **ULTRASLIM_INPUT)
        pixels = frame_of(fmt, (40, 30), 3)
        assert host_tensor(cfg, pixels).equals(golden_tensor(cfg, pixels))


def test_codegen_preprocess_writes_the_tables_of_the_python_config(tmp_path, capsys):
    """`ultrapost codegen --preprocess` writes the header of the Preprocessor the options describe (the family's
    input conventions and its int8 quantization), and refuses what it cannot make."""
    from ultrapost.cli.app import main
    from ultrapost.pipeline.preprocessor import Preprocessor

    out = tmp_path / "pre_cam.h"
    args = ["codegen", "--family", "ultraslim", "--name", "cam", "--preprocess", "--frame", "160x120"]
    assert main([*args, "--pixel-format", "RGB565", "-o", str(out)]) == 0
    assert "cam_pre_config" in capsys.readouterr().out
    cfg = Preprocessor((128, 128), pixel_format="RGB565", **ULTRASLIM_INPUT).config((160, 120))
    body = [line for line in out.read_text().splitlines() if not line.startswith("/* ultraslim input")]
    assert body == pre_config_header("cam", cfg).splitlines()
    # YUYV, cv2, a crop and a letterbox into a 320x240 Ultraface input, uint8 NHWC BGR
    assert main([*args, "--pixel-format", "YUYV", "--interpolation", "cv2", "--crop", "10,0,120,120", "--resize",
                 "letterbox", "--layout", "NHWC", "--channel-order", "BGR", "--input-dtype", "uint8", "--input-scale",
                 "1", "--input-zero-point", "0", "--mean", "0", "--std", "1", "--family", "ultraface", "-o",
                 str(out)]) == 0  # fmt: skip
    cfg = Preprocessor((320, 240), resize="letterbox", interpolation="cv2", channel_order="BGR", layout="NHWC",
                       mean=0.0, std=1.0, dtype="uint8", quantization=(1.0, 0), pixel_format="YUYV",
                       crop=(10, 0, 120, 120)).config((160, 120))  # fmt: skip
    assert [line for line in out.read_text().splitlines() if not line.startswith("/* ultraface input")] == (
        pre_config_header("cam", cfg).splitlines()
    )
    capsys.readouterr()
    for extra, words in (
        ([], "--frame"),
        (["--frame", "160x120", "--family", "blazeface"], "--input-scale and --input-zero-point"),
        (["--frame", "160x120", "--crop", "100,0,100,120"], "outside the 160x120 frame"),
        (["--frame", "160x120", "--host"], "no --host"),
    ):
        base = ["codegen", "--family", "ultraslim", "--preprocess"]
        assert main([*base, *extra, "-o", str(tmp_path / "x.h")]) == 1
        assert words in capsys.readouterr().err
    assert main(["codegen", "--family", "ultraslim", "--frame", "160x120", "-o", str(tmp_path / "x.h")]) == 1
    assert "add --preprocess" in capsys.readouterr().err


@pytest.fixture(scope="module")
def frame_set(tmp_path_factory):
    from conftest import require

    from ultrapost.firmware.wholeframe import MODEL, PHOTOS, frame_cases, write_frame_set

    require(MODEL)
    for photo in PHOTOS:
        require(f"images/{photo}.jpg")
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError:
        require_tool(False, "ai-edge-litert (the int8 ultraslim model on the host)")
    return write_frame_set(tmp_path_factory.mktemp("frames"), frame_cases())


def test_whole_frames_identical_on_the_board(pre_checks, frame_set, tmp_path):
    """Shared photos as 160x120 RGB565 camera frames -> int8 tensor on the board -> the int8 ultraslim model on the
    host (LiteRT's reference kernels) -> up_run on the board -> faces: every tensor and every face identical to the
    host C and the golden model, on the M33 (`firmware-check` runs them on the M4 and the M33:
    tests/test_cli_firmware.py; the micro:bit's 16 KiB of RAM cannot hold the 49,152-byte tensor)."""
    import json

    from ultrapost.firmware.wholeframe import check_frame_set

    board = "an505"
    report = pre_checks[board]  # its runner's config 0 is the frame set's: no second build
    got = check_frame_set(board, frame_set, tmp_path, pre_image=report.image, pre_config=report.configs[0][1])
    assert got["records"] == got["identical"] == 6 and got["mismatches"] == []
    recorded = {r["name"]: r["faces"] for r in json.loads((frame_set / "manifest.json").read_text())["records"]}
    assert got["faces"] == recorded and sum(recorded.values()) >= 8 and recorded["ultraface_1"] == 0
    with pytest.raises(ValueError, match="not the frame set's"):
        check_frame_set(board, frame_set, tmp_path, pre_image=report.image, pre_config=report.configs[1][1])
