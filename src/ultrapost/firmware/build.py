"""Compiling and linking the C core for a board (hello, harness and minimal images), and the host builds of the
same core under ASan/UBSan, valgrind and libFuzzer (firmware/host)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ultrapost.firmware.boards import Board, get_board
from ultrapost.firmware.toolchain import csrc_dir, firmware_dir, run_tool, tool

WARNINGS = ["-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes"]
CFLAGS = [
    "-std=c99",
    "-g",
    "-ffunction-sections",
    "-fdata-sections",
    "-ffreestanding",
    "-fno-common",
    "-fstack-usage",
    "-fcallgraph-info=su",
]


# Stage files with their own entry point, linked only into the images that call it (YuNet's up_yunet_run: the
# vector harness and its host twin; the pre-processing's up_pre_run and the warp's up_warp_run); the anchor-based
# core's minimal image, footprint and stack figures leave them out.
OWN_ENTRY_STAGES = ("up_yunet.c", "up_preprocess.c", "up_warp.c")
PREPROCESS_STAGES = ("up_preprocess.c", "up_warp.c")
# The host's driver of the pre-processing stage (csrc/host): in the pre-processing fuzz target, beside up_preprocess.c.
HOST_PREPROCESS = "up_host_preprocess.c"


def core_sources(csrc: Path | None = None, *, preprocess: bool = False) -> list[Path]:
    """The firmware part of the anchor-based core: csrc/*.c without "host" in the name, nor a stage of
    ``OWN_ENTRY_STAGES`` (but the pre-processing stages, ``PREPROCESS_STAGES``, with ``preprocess=True``)."""
    csrc = csrc or csrc_dir()
    return sorted(
        p
        for p in csrc.glob("*.c")
        if "host" not in p.name and (p.name not in OWN_ENTRY_STAGES or (preprocess and p.name in PREPROCESS_STAGES))
    )


@dataclass
class Image:
    """A linked firmware image and what it was built from."""

    board: Board
    elf: Path
    map_file: Path
    objects: dict[str, list[Path]] = field(default_factory=dict)  # "core", "runtime", "program"
    float_abi: str = "soft"


def compile_sources(
    board: Board | str,
    sources: list[Path],
    out_dir: Path,
    *,
    include_dirs: tuple[Path, ...] = (),
    defines: dict[str, object] | None = None,
    float_abi: str = "soft",
    opt: str = "-Os",
    werror: bool = True,
    extra: tuple[str, ...] = (),
) -> list[Path]:
    """Compiles each source to out_dir/<stem>.o (plus .su and .ci stack files); returns the objects."""
    board = get_board(board)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    flags = [tool("gcc"), *board.cflags(float_abi), opt, *CFLAGS, *WARNINGS, *extra]
    if werror:
        flags.append("-Werror")
    for d in include_dirs:
        flags.append(f"-I{d}")
    for key, value in (defines or {}).items():
        flags.append(f"-D{key}" if value is None else f"-D{key}={value}")
    objects = []
    stems = [Path(s).stem for s in sources]
    if len(set(stems)) != len(stems):
        raise ValueError(f"source file names must be unique: {sorted(stems)}")
    for src in sources:
        obj = out_dir / (Path(src).stem + ".o")
        run_tool([*flags, "-c", str(src), "-o", str(obj)], f"compiling {Path(src).name} for {board.name}")
        objects.append(obj)
    return objects


def link(board: Board | str, objects: list[Path], elf: Path, *, float_abi: str = "soft") -> Path:
    """Links objects with the board's linker script, newlib-nano (mem* only) and libgcc; writes elf and elf.map."""
    board = get_board(board)
    elf = Path(elf)
    map_file = elf.with_suffix(".map")
    ld_dir = firmware_dir() / "ld"
    cmd = [
        tool("gcc"),
        *board.cflags(float_abi),
        "-nostdlib",
        "-nostartfiles",
        "-T",
        str(ld_dir / board.linker_script),
        f"-L{ld_dir}",
        "-Wl,--gc-sections",
        f"-Wl,-Map={map_file}",
        "-Wl,--no-warn-rwx-segments",
        *map(str, objects),
        "-Wl,--start-group",
        "-lc_nano",
        "-lgcc",
        "-Wl,--end-group",
        "-o",
        str(elf),
    ]
    run_tool(cmd, f"linking {elf.name} for {board.name}")
    return map_file


def runtime_sources() -> list[Path]:
    src = firmware_dir() / "src"
    return [src / "startup.c", src / "semihost.c"]


# The core's compile-time switches (csrc/ultrapost.h; cmake/features.cmake lists the same) and those that leave out
# everything but Ultraface + hard NMS.
FEATURES = ("SOFT_NMS", "MERGE_NMS", "KEYPOINTS", "LABELS", "BOXES")
MINIMAL_FEATURES = {
    "UP_NO_SOFT_NMS": None,
    "UP_NO_MERGE_NMS": None,
    "UP_NO_KEYPOINTS": None,
    "UP_NO_LABELS": None,
    "UP_NO_BOXES": None,
}


def cmake_image(
    board: Board | str,
    name: str,
    out_dir: Path,
    *,
    float_abi: str = "soft",
    opt: str = "-Os",
    defines: dict | None = None,
    configs: Path | None = None,
    csrc: Path | None = None,
    pre_configs: Path | None = None,
) -> Image:
    """One firmware image (hello, minimal or harness) built by the project's CMake description -- CMakeLists.txt,
    firmware/CMakeLists.txt and the toolchain file cmake/arm-none-eabi.cmake, what a firmware team builds -- in
    out_dir (the CMake build directory: the image is out_dir/<name>_<board>.elf, its map beside it), with the board's
    parameters as cache variables. defines: core feature switches (UP_NO_*)."""
    board = get_board(board)
    if shutil.which("cmake") is None:
        raise FileNotFoundError("cmake not found on PATH (install cmake)")
    root = csrc_dir().parent
    if csrc is not None and Path(csrc).resolve() != csrc_dir().resolve():
        raise ValueError(f"firmware images build the source tree's core ({csrc_dir()}), not {csrc}")
    switches = {f"UP_NO_{f}" for f in FEATURES}
    unknown = sorted(set(defines or {}) - switches)
    if unknown:
        raise ValueError(f"core defines must be feature switches {sorted(switches)}, got {unknown}")
    if float_abi not in ("soft", "hard"):
        raise ValueError(f"float_abi must be 'soft' or 'hard', got {float_abi!r}")
    fpu = board.fpu if float_abi == "hard" else ""
    if float_abi == "hard" and not fpu:
        raise ValueError(f"board {board.name!r} ({board.cpu}) has no FPU for a hard-float build")
    tool("gcc")  # a clear error when the toolchain is missing
    build = Path(out_dir).resolve()
    configure = [
        "cmake", "-S", str(root), "-B", str(build), "-G", "Unix Makefiles",
        f"-DCMAKE_TOOLCHAIN_FILE={root / 'cmake' / 'arm-none-eabi.cmake'}", "-DCMAKE_BUILD_TYPE=",
        f"-DULTRAPOST_CPU={board.cpu}", f"-DULTRAPOST_FLOAT_ABI={float_abi}", f"-DULTRAPOST_FPU={fpu}",
        f"-DULTRAPOST_FIRMWARE_BOARD={board.name}", f"-DULTRAPOST_FW_LINKER_SCRIPT={board.linker_script}",
        f"-DULTRAPOST_FW_IO_BYTES={board.io_bytes}", f"-DULTRAPOST_FW_ARENA_BYTES={board.arena_bytes}",
        f"-DULTRAPOST_FW_CONFIGS={Path(configs).resolve() if configs else ''}", f"-DULTRAPOST_FW_OPT={opt}",
        f"-DULTRAPOST_FW_PRE_CONFIGS={Path(pre_configs).resolve() if pre_configs else ''}",
        "-DULTRAPOST_FREESTANDING=ON", "-DULTRAPOST_WERROR=ON", "-DULTRAPOST_INSTALL=OFF",
        *[f"-DULTRAPOST_NO_{f}={'ON' if f'UP_NO_{f}' in (defines or {}) else 'OFF'}" for f in FEATURES],
    ]  # fmt: skip
    run_tool(configure, f"configuring the firmware build for {board.name}")
    target = f"{name}_{board.name}"
    run_tool(["cmake", "--build", str(build), "--target", target, "-j2"], f"building {target}", timeout=300)

    def objects(tgt: str) -> list[Path]:
        return sorted(build.glob(f"**/CMakeFiles/{tgt}.dir/**/*.obj"))

    groups = {"runtime": objects("ultrapost_fw_runtime"), "program": objects(f"{target}_program")}
    if name == "preharness":  # the pre-processing stage alone
        groups["core"] = [p for p in objects("ultrapost_core_objects") if p.name.startswith("up_preprocess.")]
    elif name != "hello":  # the core objects the image links: firmware/CMakeLists.txt leaves out OWN_ENTRY_STAGES,
        # but the harness links YuNet's stage (it runs YuNet configs too)
        stems = {p.name for p in core_sources()} | ({"up_yunet.c"} if name == "harness" else set())
        groups["core"] = [p for p in objects("ultrapost_core_objects") if p.name.removesuffix(".obj") in stems]
    return Image(board, build / f"{target}.elf", build / f"{target}.map", groups, float_abi)


def build_hello(board: Board | str, out_dir: Path, *, float_abi: str = "soft") -> Image:
    """The bring-up image (firmware/src/hello.c): startup, semihosting file I/O, faults."""
    return cmake_image(board, "hello", out_dir, float_abi=float_abi)


def freestanding_flags() -> list[str]:
    """No C library headers at all: only gcc's own freestanding ones (stdint.h, stddef.h, stdbool.h...)."""
    inc = run_tool([tool("gcc"), "-print-file-name=include"], "gcc -print-file-name").stdout.strip()
    return ["-nostdinc", "-isystem", inc]


def build_harness(
    board: Board | str,
    out_dir: Path,
    config_dir: Path,
    *,
    csrc: Path | None = None,
    float_abi: str = "soft",
    opt: str = "-Os",
) -> Image:
    """The vector runner (firmware/src/harness.c) with the core and the configs in config_dir/configs.h."""
    config_dir = Path(config_dir)
    if not (config_dir / "configs.h").is_file():
        raise FileNotFoundError(f"{config_dir / 'configs.h'} not found (write it with write_config_dir)")
    return cmake_image(board, "harness", out_dir, float_abi=float_abi, opt=opt, configs=config_dir, csrc=csrc)


def build_pre_harness(
    board: Board | str, out_dir: Path, config_dir: Path, *, float_abi: str = "soft", opt: str = "-Os"
) -> Image:
    """The pre-processing runner (firmware/src/pre_harness.c) with up_preprocess.c and the configs in
    config_dir/pre_configs.h (ultrapost.firmware.preformats.write_pre_config_dir)."""
    config_dir = Path(config_dir)
    if not (config_dir / "pre_configs.h").is_file():
        raise FileNotFoundError(f"{config_dir / 'pre_configs.h'} not found (write it with write_pre_config_dir)")
    return cmake_image(board, "preharness", out_dir, float_abi=float_abi, opt=opt, pre_configs=config_dir)


def build_minimal(
    board: Board | str,
    out_dir: Path,
    *,
    csrc: Path | None = None,
    opt: str = "-Os",
    defines: dict | None = None,
) -> Image:
    """The smallest image that keeps every public core function (firmware/src/minimal.c); used for footprint
    and for the check that no float helper or heap function is linked. defines: core compile-time switches
    (e.g. MINIMAL_FEATURES)."""
    return cmake_image(board, "minimal", out_dir, opt=opt, defines=defines, csrc=csrc)


# Host safety harnesses (firmware/host): the same core under ASan/UBSan, valgrind and libFuzzer

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]


def build_host_runner(
    out_dir: Path, config_dir: Path, *, sanitize: bool = True, csrc: Path | None = None, compiler: str = "gcc"
) -> Path:
    """firmware/host/vector_runner.c with the core and config_dir/configs.h, for the host (ASan+UBSan unless
    sanitize=False, e.g. for valgrind). Reads and writes the same files as the firmware harness."""
    if shutil.which(compiler) is None:
        raise FileNotFoundError(f"{compiler} not found on PATH")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / ("vector_runner_asan" if sanitize else "vector_runner")
    cmd = [compiler, "-std=c99", "-g", "-O1", *WARNINGS, "-Werror", f"-I{config_dir}", f"-I{csrc or csrc_dir()}"]
    cmd += SANITIZE if sanitize else []
    sources = [*core_sources(csrc), Path(csrc or csrc_dir()) / "up_yunet.c"]  # the harness runs YuNet configs too
    cmd += [str(firmware_dir() / "host" / "vector_runner.c"), *map(str, sources), "-o", str(exe)]
    run_tool(cmd, "building the host vector runner")
    return exe


def build_fuzzer(out_dir: Path, *, csrc: Path | None = None, target: str = "up_run") -> Path:
    """firmware/host/fuzz_<target>.c (``up_run``: the post-processing; ``up_preprocess``: the pre-processing, with
    the host's driver of it, csrc/host/up_host_preprocess.c; ``up_warp``: the warp stage) as a libFuzzer binary with
    ASan and UBSan (needs clang)."""
    if shutil.which("clang") is None:
        raise FileNotFoundError("clang not found on PATH (libFuzzer comes with clang)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / f"fuzz_{target}"
    cmd = [
        "clang",
        "-std=c99",
        "-g",
        "-O1",
        "-fsanitize=fuzzer",
        *SANITIZE,
        *WARNINGS,
        "-Werror",
        f"-I{csrc or csrc_dir()}",
        f"-I{(csrc or csrc_dir()) / 'host'}",
        str(firmware_dir() / "host" / f"fuzz_{target}.c"),
        *map(str, core_sources(csrc, preprocess=target in ("up_preprocess", "up_warp"))),
        # the pre-processing target checks the host's driver of the stage against up_pre_run
        *([str((csrc or csrc_dir()) / "host" / HOST_PREPROCESS)] if target == "up_preprocess" else []),
        "-o",
        str(exe),
    ]
    run_tool(cmd, "building the fuzzer")
    return exe


def build_host_fuzzer(out_dir: Path, *, csrc: Path | None = None, defines: dict | None = None) -> Path:
    """firmware/host/fuzz_host_diff.c (the host float32 path against the portable integer path) as a libFuzzer
    binary with ASan and UBSan, built with the host files too (needs clang). ``defines``: -D NAME=VALUE pairs."""
    if shutil.which("clang") is None:
        raise FileNotFoundError("clang not found on PATH (libFuzzer comes with clang)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / "fuzz_host_diff"
    root = csrc or csrc_dir()
    core = core_sources(csrc)
    # the post-processing only: not the stages with their own entry points, nor their host drivers
    # (up_host_preprocess.c needs up_preprocess.c)
    own = {*OWN_ENTRY_STAGES, *("up_host_" + s[3:] for s in OWN_ENTRY_STAGES)}
    host = sorted(p for p in root.rglob("*.c") if p not in core and p.name not in own)
    cmd = ["clang", "-std=c99", "-g", "-O1", "-fsanitize=fuzzer", *SANITIZE, *WARNINGS, "-Werror"]
    cmd += [f"-I{d}" for d in sorted({root, *(p.parent for p in host)})]
    cmd += [f"-D{k}={v}" for k, v in (defines or {}).items()]
    cmd += [str(firmware_dir() / "host" / "fuzz_host_diff.c"), *map(str, core), *map(str, host), "-lm", "-o", str(exe)]
    run_tool(cmd, "building the host differential fuzzer")
    return exe
