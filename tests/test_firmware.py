"""The C core on emulated Cortex-M boards: bring-up, byte-identical results, footprint, stack, instruction counts.

Every qemu run is bounded by a timeout. Without arm-none-eabi-gcc or qemu-system-arm these tests skip (and fail
under ULTRAPOST_REQUIRE_DATA=1).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import require, require_tool

from ultrapost import firmware as fw

BOARDS = ["an386", "an505", "m0plus"]


def need_toolchain():
    require_tool(fw.toolchain_available(), "arm-none-eabi-gcc with newlib (gcc-arm-none-eabi, libnewlib-arm-none-eabi)")


def need_qemu():
    need_toolchain()
    require_tool(fw.qemu_available(), "qemu-system-arm")


@pytest.fixture(scope="module")
def hello_images(tmp_path_factory):
    need_toolchain()
    root = tmp_path_factory.mktemp("hello")
    return {b: fw.build_hello(b, root / b) for b in BOARDS}


# -- bring-up: startup, semihosting file I/O, exit statuses -----------------------------------------------------


def _hello_expected(payload: bytes) -> tuple[bytes, int]:
    h = 2166136261
    for byte in payload:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    body = bytes(b ^ 0x5A for b in payload)
    return b"UPHELLO1" + struct.pack("<I", len(payload)) + body + struct.pack("<II", h, 0x1234ABCD), h


@pytest.mark.parametrize("board", BOARDS)
def test_hello_reads_and_writes_host_files(board, hello_images, tmp_path):
    need_qemu()
    payload = bytes(range(256)) + b"ultrapost\n"
    (tmp_path / "in.bin").write_bytes(payload)
    result = fw.run_image(hello_images[board], ["in.bin", "out.bin"], cwd=tmp_path, timeout=30)
    assert result.returncode == 0 and "hello: ok" in result.console
    out = (tmp_path / "out.bin").read_bytes()
    expected, _ = _hello_expected(payload)
    assert out[:-4] == expected  # .data copied, .bss cleared, both file directions byte-exact
    stack_used = struct.unpack("<I", out[-4:])[0]
    assert 0 < stack_used < 2048


@pytest.mark.parametrize("board", ["an386", "an505"])
def test_hello_hard_float_abi(board, tmp_path):
    """The harness builds soft-float (the core has no float); hard-float images work too (startup enables CP10/11)."""
    need_qemu()
    image = fw.build_hello(board, tmp_path / "hf", float_abi="hard")
    (tmp_path / "in.bin").write_bytes(b"hard float")
    fw.run_image(image, ["in.bin", "out.bin"], cwd=tmp_path, timeout=30)
    assert (tmp_path / "out.bin").read_bytes()[:-4] == _hello_expected(b"hard float")[0]


def test_m0plus_has_no_hard_float_build():
    with pytest.raises(ValueError, match="no FPU"):
        fw.BOARDS["m0plus"].cflags("hard")
    with pytest.raises(ValueError, match="unknown board"):
        fw.get_board("stm32")


@pytest.mark.parametrize(
    "board, mode, status",
    [
        ("an386", "fault", 8),
        ("an505", "fault", 8),
        ("m0plus", "fault", 8),
        ("an386", "overflow", 8),
        ("an505", "overflow", 9),
        ("m0plus", "overflow", 8),
        ("an386", "usage", 2),
    ],
)
def test_crashes_end_with_a_status(board, mode, status, hello_images, tmp_path):
    """A fault or a stack overflow ends the run with its exit status (MSPLIM on the M33), never a hang."""
    need_qemu()
    result = fw.run_image(hello_images[board], [mode], cwd=tmp_path, timeout=30, check=False)
    assert result.returncode == status, result.console
    with pytest.raises(fw.FirmwareError, match=f"exited {status}"):
        fw.run_image(hello_images[board], [mode], cwd=tmp_path, timeout=30)


def test_a_hung_image_is_killed_at_the_timeout(hello_images, tmp_path):
    need_qemu()
    with pytest.raises(fw.FirmwareError, match="did not finish within 2 s"):
        fw.run_image(hello_images["an505"], ["hang"], cwd=tmp_path, timeout=2)


def test_semihosting_arguments_are_checked(hello_images):
    with pytest.raises(ValueError, match="whitespace"):
        fw.qemu_command(hello_images["an386"], ["a file.bin"])


def test_exit_codes_match_the_firmware_header():
    text = (fw.firmware_dir() / "src" / "semihost.h").read_text()
    codes = {int(v) for v in re.findall(r"#define FW_EXIT_\w+ (\d+)", text)}
    assert codes == set(fw.EXIT_CODES) - {1}


@pytest.mark.parametrize("board", BOARDS)
def test_instruction_count_is_exact(board, hello_images, tmp_path):
    """probe(n) runs exactly 2n + 1 instructions; the trace counter must say so on every core."""
    need_qemu()
    payload = b"x" * 300
    (tmp_path / "in.bin").write_bytes(payload)
    result = fw.run_image(hello_images[board], ["in.bin", "out.bin"], cwd=tmp_path, timeout=30, count_calls_to="probe")
    n = len(payload) + 1
    assert result.instructions == [2 * n + 1]


# -- the core on the boards ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    need_qemu()
    root = tmp_path_factory.mktemp("check")
    # A bound against a hung image, not a speed test: on a machine shared with other builds the counted an386 run
    # took nearly three minutes.
    return {b: fw.check_board(b, root / b, count_instructions=True, timeout=600) for b in BOARDS}


@pytest.mark.parametrize("board", BOARDS)
def test_board_outputs_identical_to_host(board, checks):
    report = checks[board]
    assert report.mismatches == []
    statuses = [o.status for o in report.run.outputs]
    assert statuses.count(0) >= 6 and {-3, -4, -5} <= set(statuses)
    assert sum(len(o) for o in report.run.outputs) > 50
    # Every NMS kind, keypoints and labels ran and came back with detections.
    nms = [getattr(fc, "nms_kind", "yunet") for _, fc in report.configs]
    kinds = {nms[c.record.config_id] for c, o in zip(report.cases, report.run.outputs, strict=True) if len(o)}
    assert kinds == {0, 1, 2, 3, 4, "yunet"}
    assert any(o.num_keypoints == 6 and len(o) for o in report.run.outputs)
    assert any(o.labels is not None and len(set(o.labels.tolist())) == 2 for o in report.run.outputs)
    # The outputs file holds exactly what the host produced, byte for byte.
    host_file = report.image.elf.parent / "host_outputs.bin"
    fw.write_outputs(host_file, [c.host for c in report.cases])
    assert host_file.read_bytes() == (report.image.elf.parent.parent / "run" / "outputs.bin").read_bytes()


@pytest.mark.parametrize("board", BOARDS)
def test_yunet_identical_on_every_board(board, checks):
    """YuNet's own pipeline (up_yunet_run) in the same board run: int8 and float32 records, both presets, the lone
    candidate, and a photo through the int8 model (nasa_group.jpg at 320x320: 14 faces; the micro:bit's 8 KiB of
    input: ultraface_10.jpg in 128x96, 12 faces) identical to the host C and the golden model."""
    report = checks[board]
    got = {c.name: o for c, o in zip(report.cases, report.run.outputs, strict=True) if c.name.startswith("yunet")}
    assert len(got) >= 8 and all(o.num_keypoints == 5 for o in got.values())
    assert sum(len(o) for o in got.values()) > 50
    assert got["yunet_lone_64x32_s8"].scores.size == 1
    assert got["yunet_error_capacity"].status == -4 and got["yunet_error_scratch"].status == -3
    name = "ultraface_10_128x96" if board == "m0plus" else "nasa_group_320x320"
    require(f"images/{name.rsplit('_', 1)[0]}.jpg")
    require("yunet/face_detection_yunet_2026may_int8_320_int8out.onnx")
    assert len(got[f"yunet_{name}_s8"]) == (12 if board == "m0plus" else 14)


@pytest.mark.parametrize("board", BOARDS)
def test_packed_retinaface_identical_on_every_board(board, checks):
    """The packed RetinaFace's [N, 16] rows read in place (UPVEC002 records, up_run_keypoints) in the same board
    run: int8 and float32 converted to int32, every case mode (the extreme one refused out of range), and the
    records the core must refuse (a keypoint stride below 10 among them), identical to the host C and golden."""
    report = checks[board]
    got = {c.name: (c, o) for c, o in zip(report.cases, report.run.outputs, strict=True) if "packed_" in c.name}
    assert len(got) == 20 and all(c.record.keypoint_stride in (9, 16) for c, _ in got.values())
    assert all(o.num_keypoints == 5 for _, o in got.values()) and sum(len(o) for _, o in got.values()) > 100
    for kind in ("s8", "f32"):
        assert got[f"packed_{kind}_5_extreme"][1].status == -8 and len(got[f"packed_{kind}_2_all_pass"][1]) == 20 * (
            1 if board == "m0plus" else 5
        )
        assert got[f"error_packed_{kind}_keypoint_stride"][1].status == -5
        assert got[f"error_packed_{kind}_capacity"][1].status == -4
    assert {c.record.element_size for c, _ in got.values()} == {1, 4}


def test_boards_agree_on_shared_cases(checks):
    a, b = checks["an386"], checks["an505"]
    assert [c.name for c in a.cases] == [c.name for c in b.cases]
    for x, y in zip(a.run.outputs, b.run.outputs, strict=True):
        assert x.equals(y)


@pytest.mark.parametrize("board", BOARDS)
def test_instruction_counts_and_stack(board, checks, tmp_path):
    report = checks[board]
    counts = report.run.instructions
    assert len(counts) == len(report.cases) and all(c > 0 for c in counts)
    by_name = dict(zip([c.name for c in report.cases], counts, strict=True))
    # An argument error returns before any scan; a run over every anchor costs far more. (The config check, the
    # exact IoU threshold's included, takes about 350 instructions on the M0+, whose 64-bit shifts are calls.)
    assert by_name["error_stride"] < 400 < min(v for k, v in by_name.items() if not k.startswith("error"))

    # The measured stack of every up_run (up_run_keypoints, up_yunet_run) call stays within the static bound from
    # gcc's call graph.
    def root_of(case):
        if case.name.startswith("yunet"):
            return "up_yunet_run"
        return "up_run_keypoints" if case.record.keypoint_stride else "up_run"

    for root in ("up_run", "up_run_keypoints", "up_yunet_run"):
        static = fw.stack_usage(fw.ci_files(report.image), root, report.image)
        assert static.unbounded == []
        used = [s.stack_bytes for c, s in zip(report.cases, report.run.stats, strict=True) if root_of(c) == root]
        assert 0 < max(used) <= static.bytes, root
    assert all(s.scratch_bytes >= 0 for s in report.run.stats)
    # The board's up_scratch_size is the documented size a firmware allocates (fw.scratch_size).
    for case, st in zip(report.cases, report.run.stats, strict=True):
        assert st.scratch_size == fw.scratch_size(report.configs[case.record.config_id][1]), case.name


# -- no-FPU image, footprint ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minimal_images(tmp_path_factory):
    need_toolchain()
    root = tmp_path_factory.mktemp("minimal")
    return {b: fw.build_minimal(b, root / b) for b in BOARDS}


@pytest.mark.parametrize("board", BOARDS)
def test_minimal_image_links_no_float_and_no_heap(board, minimal_images):
    image = minimal_images[board]
    symbols = fw.linked_symbols(image)
    assert "up_run" in symbols and "up_sigmoid_q30" in symbols
    assert fw.forbidden_symbols(image) == []


def test_float_detector_finds_float_helpers(tmp_path):
    """The no-float check can fail: an image that divides floats on the M0+ links __aeabi_fdiv."""
    need_toolchain()
    src = tmp_path / "floaty.c"
    src.write_text("volatile float a = 3.0f, b = 7.0f;\nint main(void) { return (int)(a / b * 100.0f); }\n")
    objs = fw.compile_sources("m0plus", [src, *fw.runtime_sources()], tmp_path / "o")
    elf = tmp_path / "floaty.elf"
    image = fw.Image(fw.BOARDS["m0plus"], elf, fw.link("m0plus", objs, elf))
    assert "__aeabi_fdiv" in fw.forbidden_symbols(image)


@pytest.mark.parametrize("board", BOARDS)
def test_minimal_image_runs_the_null_paths(board, minimal_images, tmp_path):
    need_qemu()
    assert fw.run_image(minimal_images[board], [], cwd=tmp_path, timeout=30).returncode == 0


def test_core_sources_include_only_freestanding_headers():
    allowed = {"<stdint.h>", "<stddef.h>", "<stdbool.h>"}
    local = {p.name for p in fw.csrc_dir().glob("*.h")}
    seen = set()
    for path in fw.core_sources():
        for inc in re.findall(r"^\s*#\s*include\s+([<\"][^>\"]+[>\"])", path.read_text(), re.M):
            name = inc.strip('"')
            assert inc in allowed or (inc.startswith('"') and name in local and "host" not in name), (path, inc)
            seen.add(inc)
    assert seen


@pytest.mark.parametrize("board", BOARDS)
def test_footprint(board, minimal_images):
    image = minimal_images[board]
    fp = fw.footprint(image)
    assert {p.stem for p in image.objects["core"]} <= {Path(n).stem for n in fp.by_object}
    assert 1000 < fp.text < 16384 and fp.data == 0 and fp.bss == 0  # no mutable globals
    # The map's core sections plus everything else account for the image's .text/.rodata, up to alignment.
    groups = sum(f.text + f.rodata for f in (fw.footprint(image, g) for g in ("core", "runtime", "program")))
    libs = fw.footprint_of_members(image, _all_members(image))
    sizes = _section_sizes(image)
    total = sizes[".text"] + sizes[".rodata"]
    assert 0 <= total - groups - libs.text - libs.rodata < 64
    if board == "m0plus":  # ARMv6-M has no 32x32->64 multiply: libgcc's helper comes with the core
        assert any("muldi3" in m for m in fp.library_members)


def _all_members(image):
    return sorted({origin for _n, _a, _s, origin in fw.map_sections(image.map_file) if origin.endswith(".o)")})


def _section_sizes(image):
    out = subprocess.run([fw.tool("size"), "-A", str(image.elf)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def test_static_stack_sees_recursion(hello_images):
    """hello's overflow mode recurses: the call-graph bound must refuse to give a number for it."""
    image = hello_images["an386"]
    report = fw.stack_usage(fw.ci_files(image, "program"), "main", image)
    assert any(u.startswith("recursion through") and u.endswith(":recurse") for u in report.unbounded)


# -- formats and generated headers ------------------------------------------------------------------------------


def test_vector_and_output_files_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    s8 = rng.integers(-128, 128, (7, 2), dtype=np.int8)
    b8 = rng.integers(-128, 128, (7, 4), dtype=np.int8)
    t32 = rng.integers(-(2**31), 2**31, (5, 6), dtype=np.int64).astype(np.int32)
    records = [
        fw.VectorRecord.separate(0, s8, b8),
        fw.VectorRecord.single_tensor(3, t32, capacity=2),
        fw.VectorRecord(1, np.arange(3, dtype=np.int8), 0, 2, 1, 1, scratch_bytes=0),
    ]
    fw.write_vectors(tmp_path / "v.bin", records)
    back = fw.read_vectors(tmp_path / "v.bin")
    for a, b in zip(records, back, strict=True):
        assert a.data.dtype == b.data.dtype and np.array_equal(a.data, b.data)
        assert (
            a.config_id,
            a.score_offset,
            a.score_stride,
            a.box_offset,
            a.box_stride,
            a.capacity,
            a.scratch_bytes,
        ) == (b.config_id, b.score_offset, b.score_stride, b.box_offset, b.box_stride, b.capacity, b.scratch_bytes)
    assert back[0].score_stride == 2 and back[0].box_offset == 14 and back[1].box_offset == 2
    raw = (tmp_path / "v.bin").read_bytes()
    assert raw[:8] == b"UPVEC001" and len(raw) % 4 == 0

    outs = [
        fw.OutputRecord(0, [[1, 2, 3, 4]], [5], [6]),
        fw.OutputRecord.error(-4),
        fw.OutputRecord(0, [[1, 2, 3, 4], [5, 6, 7, 8]], [9, 10], [11, 12], [[13, 14], [15, 16]], [1, 2]),
        fw.OutputRecord.error(-3, num_keypoints=6, has_labels=True),
    ]
    fw.write_outputs(tmp_path / "o.bin", outs)
    back = fw.read_outputs(tmp_path / "o.bin")
    assert all(a.equals(b) for a, b in zip(outs, back, strict=True))
    assert back[2].num_keypoints == 1 and back[3].num_keypoints == 6 and back[3].labels.size == 0
    assert (tmp_path / "o.bin").read_bytes() == b"UPOUT002" + struct.pack("<II", 4, 0) + struct.pack(
        "<10i", 0, 1, 0, 0, 1, 2, 3, 4, 5, 6
    ) + struct.pack("<4i", -4, 0, 0, 0) + struct.pack("<4i", 0, 2, 1, 1) + struct.pack(
        "<18i", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 2
    ) + struct.pack("<4i", -3, 0, 6, 1)
    # Keypoints and labels are part of equality.
    assert not back[2].equals(fw.OutputRecord(0, back[2].boxes, back[2].scores, back[2].anchors))
    assert not back[2].equals(fw.OutputRecord(0, back[2].boxes, [9, 10], [11, 12], [[13, 14], [15, 17]], [1, 2]))


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda b: b[:10], "shorter than"),
        (lambda b: b"XXVEC001" + b[8:], "magic"),
        (lambda b: b[:-4], "truncated"),
        (lambda b: b + b"\0\0\0\0", "trailing"),
    ],
)
def test_malformed_vector_files_are_named(damage, words, tmp_path):
    fw.write_vectors(
        tmp_path / "v.bin", [fw.VectorRecord.separate(0, np.zeros((3, 2), np.int8), np.zeros((3, 4), np.int8))]
    )
    (tmp_path / "v.bin").write_bytes(damage((tmp_path / "v.bin").read_bytes()))
    with pytest.raises(ValueError, match=words):
        fw.read_vectors(tmp_path / "v.bin")


def test_bad_records_are_refused():
    with pytest.raises(TypeError, match="int8 or int32"):
        fw.VectorRecord(0, np.zeros(4, np.float32), 0, 2, 0, 4)
    with pytest.raises(ValueError, match="beyond"):
        fw.VectorRecord(0, np.zeros(4, np.int8), 9, 2, 0, 4)
    with pytest.raises(ValueError, match="capacity"):
        fw.VectorRecord(0, np.zeros(4, np.int8), 0, 2, 0, 4, capacity=-2)
    with pytest.raises(TypeError, match="share a dtype"):
        fw.VectorRecord.separate(0, np.zeros((3, 2), np.int8), np.zeros((3, 4), np.int32))
    with pytest.raises(ValueError, match="carries no detections"):
        fw.OutputRecord(-3, [[0, 0, 1, 1]], [1], [0])
    with pytest.raises(ValueError, match="keypoints must be"):
        fw.OutputRecord(0, [[0, 0, 1, 1]], [1], [0], [[1, 2, 3]])
    with pytest.raises(ValueError, match="labels must be"):
        fw.OutputRecord(0, [[0, 0, 1, 1]], [1], [0], None, [1, 2])


def _tiny_config():
    from ultrapost import Ultraface

    pp = Ultraface((64, 48), score_threshold=0.6, candidate_limit=30, max_detections=10)
    return pp.config("s8", False, ((1 / 256, -128), (0.04, 3)))[0]


def test_config_header_matches_the_struct(tmp_path):
    cfg = _tiny_config()
    names = [n for _, n in fw.config_fields()]
    assert names[0] == "num_anchors" and "priors" in names and "iou_eps_q40" in names
    text = fw.config_header("tiny", cfg)
    assert "static const up_config_t tiny_config = {" in text
    assert f".num_anchors = {cfg.num_anchors}," in text
    assert f"static const int32_t tiny_priors[{4 * cfg.num_anchors}]" in text
    values = {n: getattr(cfg, n) for n in names}
    with pytest.raises(ValueError, match="missing members"):
        fw.config_header("tiny", {k: v for k, v in values.items() if k != "clip"})
    with pytest.raises(ValueError, match="unknown members"):
        fw.config_header("tiny", {**values, "extra": 1})
    with pytest.raises(ValueError, match="the core reads 256"):
        fw.config_header("tiny", {**values, "center_lut": values["center_lut"][:255]})
    with pytest.raises(ValueError, match="does not fit int32_t"):
        fw.config_header("tiny", {**values, "score_bound": 2**31})
    with pytest.raises(ValueError, match="identifier"):
        fw.config_header("Tiny-1", cfg)
    with pytest.raises(ValueError, match="unique"):
        fw.registry_header(["a", "a"])


def test_generated_headers_compile_for_every_board(tmp_path):
    """Config headers + configs.h + the harness compile against the real ultrapost.h (host gcc too)."""
    need_toolchain()
    cfg = _tiny_config()
    d = fw.write_config_dir(tmp_path / "cfg", [("tiny", cfg), ("tiny_again", cfg)])
    for board in BOARDS:
        fw.compile_sources(
            board,
            [fw.firmware_dir() / "src" / "harness.c"],
            tmp_path / board,
            include_dirs=(d, fw.csrc_dir(), fw.firmware_dir() / "src"),
            defines={"FW_IO_BYTES": 4096, "FW_ARENA_BYTES": 4096},
        )
    require_tool(shutil.which("gcc") is not None, "host gcc")
    probe = tmp_path / "host.c"
    probe.write_text('#include "configs.h"\nint main(void) { return up_check_config(up_fw_configs[1]); }\n')
    subprocess.run(
        ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", f"-I{d}", f"-I{fw.csrc_dir()}", str(probe)],
        check=True,
        timeout=60,
    )


# -- host safety harnesses: ASan/UBSan, valgrind, libFuzzer on the same core ------------------------------------


def test_sanitized_host_runner_matches_the_boards(checks, tmp_path):
    """The board's vector file through the host twin under ASan+UBSan (exact-size buffers): same bytes out."""
    require_tool(shutil.which("gcc") is not None, "host gcc with ASan/UBSan")
    report = checks["an386"]
    run_dir = report.image.elf.parent.parent / "run"
    exe = fw.build_host_runner(tmp_path, report.image.elf.parent.parent / "configs")
    proc = subprocess.run(
        [str(exe), str(run_dir / "vectors.bin"), str(tmp_path / "out.bin")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.bin").read_bytes() == (run_dir / "outputs.bin").read_bytes()


def test_host_runner_under_valgrind(checks, tmp_path):
    require_tool(shutil.which("valgrind") is not None and shutil.which("gcc") is not None, "valgrind")
    report = checks["an505"]
    run_dir = report.image.elf.parent.parent / "run"
    exe = fw.build_host_runner(tmp_path, report.image.elf.parent.parent / "configs", sanitize=False)
    proc = subprocess.run(
        [
            "valgrind",
            "-q",
            "--error-exitcode=99",
            "--leak-check=full",
            str(exe),
            str(run_dir / "vectors.bin"),
            str(tmp_path / "out.bin"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.bin").read_bytes() == (run_dir / "outputs.bin").read_bytes()


def test_fuzzer_bounded_run(tmp_path):
    """libFuzzer + ASan + UBSan over configs, strides, capacities, scratch sizes and inputs, for a fixed time: a
    third of $ULTRAPOST_FUZZ_SECONDS (CI sets 120 for the three fuzz runs: this one, tests/test_fuzz_host.py and
    tests/test_fuzz_api.py; 8 by default so a local run stays short)."""
    require_tool(shutil.which("clang") is not None, "clang with libFuzzer")
    seconds = max(1, round(float(os.environ.get("ULTRAPOST_FUZZ_SECONDS", "8")) / 3))
    exe = fw.build_fuzzer(tmp_path)
    proc = subprocess.run(
        [str(exe), "-seed=1", f"-max_total_time={seconds}", "-rss_limit_mb=1024"],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    done = re.search(r"Done (\d+) runs in (\d+) second", proc.stderr)
    assert done, proc.stderr[-2000:]
    print(f"libFuzzer: {done.group(1)} executions in {done.group(2)} s, no finding")


LABEL_OVERFLOW = r"""
#include <stdint.h>
#include <stdio.h>
#include "ultrapost.h"

/* A config whose only fault is num_labels: class_index + num_labels overflows int32. */
int main(void)
{
    static const int32_t priors[4] = {1 << 19, 1 << 19, 1 << 18, 1 << 18};
    static const int32_t bounds[1] = {0};
    up_config_t c = {0};
    c.num_anchors = 1;
    c.num_classes = 2;
    c.class_index = 1;
    c.input_kind = UP_INPUT_I32;
    c.score_kind = UP_SCORE_PROB;
    c.box_kind = UP_BOX_DELTAS;
    c.nms_kind = UP_NMS_HARD;
    c.candidate_limit = 1;
    c.max_detections = 1;
    c.iou_q16 = 1 << 15;
    c.var_center_q30 = 1 << 27;
    c.var_size_q30 = 1 << 28;
    c.priors = priors;
    c.label_bounds = bounds;
    c.num_labels = INT32_MAX;
    printf("%ld\n", (long)up_check_config(&c));
    return 0;
}
"""


def test_check_config_refuses_num_labels_past_int32_without_overflow(tmp_path):
    """up_check_config must refuse num_labels = INT32_MAX (only class_index + num_labels <= num_classes is
    valid) without signed overflow: class_index + num_labels is int32 arithmetic in csrc/up_pipeline.c, which is
    undefined behaviour and, wrapped, accepts the config (found by firmware/host/fuzz_up_run.c)."""
    require_tool(shutil.which("gcc") is not None, "host gcc with UBSan")
    src = tmp_path / "labels.c"
    src.write_text(LABEL_OVERFLOW)
    exe = tmp_path / "labels"
    cmd = ["gcc", "-std=c99", "-O1", "-fsanitize=undefined", "-fno-sanitize-recover=all", f"-I{fw.csrc_dir()}"]
    subprocess.run([*cmd, str(src), *map(str, fw.core_sources()), "-o", str(exe)], check=True, timeout=120)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    assert "runtime error" not in proc.stderr, "signed overflow in up_check_config: " + proc.stderr.strip()
    assert proc.returncode == 0 and proc.stdout.strip() == "-2", "num_labels = INT32_MAX must be UP_ERR_CONFIG"


def test_qemu_gets_an_absolute_image_path_from_a_relative_build_dir(tmp_path, monkeypatch):
    """qemu runs in the run directory, so a relative build path (the CLI's default) must reach it absolute."""
    monkeypatch.chdir(tmp_path)
    image = fw.Image(board=fw.BOARDS["an386"], elf=Path("build") / "harness_an386.elf", map_file=Path("build/x.map"))
    cmd = fw.qemu_command(image, ["in.bin"])
    kernel = Path(cmd[cmd.index("-kernel") + 1])
    assert kernel.is_absolute() and kernel == (tmp_path / "build" / "harness_an386.elf")
