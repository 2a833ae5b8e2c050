"""Builds the C core for Cortex-M boards, runs it on qemu through semihosting, and measures it.

Boards (``BOARDS``): ``an386`` (Cortex-M4, qemu ``mps2-an386``), ``an505`` (Cortex-M33, qemu ``mps2-an505``, the core
of NXP's MCX N947) and ``m0plus`` (Cortex-M0+ code, ARMv6-M without FPU or long multiply, run on qemu's ``microbit``
Cortex-M0, which executes the same instruction set). The firmware sources live in ``firmware/`` of the source tree;
``firmware/README.md`` specifies the binary formats implemented here:

- vector files (``UPVEC001``): records of config id + int8 or int32 input tensors, written by :func:`write_vectors`;
- output files (``UPOUT002``): status, count, boxes, scores, anchors (keypoints, labels) per record, read by
  :func:`read_outputs`;
- stats files (``UPSTA001``): stack bytes used and scratch bytes per record, read by :func:`read_stats`;
- config headers: :func:`config_header` and :func:`registry_header` turn fixed-point configs into the C the
  harness compiles in.

Measurements: :func:`footprint` (sizes of the core's input sections kept in a linked image, from the linker map),
:func:`stack_usage` (worst call chain from gcc's ``-fcallgraph-info=su``), and exact instruction counts of each
``up_run`` call from qemu's per-instruction execution trace (``run_vectors(..., count_instructions=True)``).

Run by hand: ``python -m ultrapost.firmware --help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# ---------------------------------------------------------------------------------------------------------------------
# Source tree and tools


def source_root() -> Path:
    """The tree holding csrc/ and firmware/: $ULTRAPOST_SOURCE_ROOT, else the checkout this module sits in (an
    in-place or editable build), else the working directory or one of its parents (an installed package run
    from a checkout), else the copy an installed package carries (ultrapost/_src, made by setup.py)."""
    env = os.environ.get("ULTRAPOST_SOURCE_ROOT")
    candidates = [Path(env)] if env else []
    candidates += list(Path(__file__).resolve().parents)
    cwd = Path.cwd().resolve()
    candidates += [cwd, *cwd.parents]
    candidates.append(Path(__file__).resolve().parent / "_src")
    for root in candidates:
        if (root / "firmware" / "src" / "harness.c").is_file() and (root / "csrc" / "ultrapost.h").is_file():
            return root
    raise FileNotFoundError(
        "firmware sources not found (an installed package carries them in ultrapost/_src; this one does not): "
        "set ULTRAPOST_SOURCE_ROOT to a checkout with csrc/ and firmware/"
    )


def firmware_dir() -> Path:
    return source_root() / "firmware"


def csrc_dir() -> Path:
    return source_root() / "csrc"


TOOL_PREFIX = "arm-none-eabi-"
QEMU = "qemu-system-arm"


def _tool(name: str) -> str:
    path = shutil.which(TOOL_PREFIX + name)
    if path is None:
        raise FileNotFoundError(f"{TOOL_PREFIX}{name} not found on PATH (install gcc-arm-none-eabi)")
    return path


def toolchain_available() -> bool:
    """arm-none-eabi gcc, binutils and newlib (for memcpy/memset) are installed."""
    if any(shutil.which(TOOL_PREFIX + t) is None for t in ("gcc", "nm", "objdump", "size")):
        return False
    try:
        out = subprocess.run(
            [TOOL_PREFIX + "gcc", "-mthumb", "-mcpu=cortex-m4", "-print-file-name=libc_nano.a"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return os.path.isabs(out) and os.path.exists(out)


def qemu_available() -> bool:
    return shutil.which(QEMU) is not None


# ---------------------------------------------------------------------------------------------------------------------
# Boards


@dataclass(frozen=True)
class Board:
    """One target: compiler flags, linker script, qemu machine and the harness's buffer sizes.

    io_bytes: input-vector buffer in the board's IO region; arena_bytes: outputs + scratch + guards in RAM.
    """

    name: str
    cpu: str
    machine: str
    linker_script: str
    description: str
    io_bytes: int
    arena_bytes: int
    fpu: str | None = None  # -mfpu for a hard-float build; None: the core has no FPU option

    def cflags(self, float_abi: str = "soft") -> list[str]:
        if float_abi not in ("soft", "hard"):
            raise ValueError(f"float_abi must be 'soft' or 'hard', got {float_abi!r}")
        flags = ["-mthumb", f"-mcpu={self.cpu}", f"-mfloat-abi={float_abi}"]
        if float_abi == "hard":
            if self.fpu is None:
                raise ValueError(f"board {self.name!r} ({self.cpu}) has no FPU for a hard-float build")
            flags.append(f"-mfpu={self.fpu}")
        return flags


BOARDS: dict[str, Board] = {
    "an386": Board(
        "an386",
        "cortex-m4",
        "mps2-an386",
        "an386.ld",
        "Arm MPS2 AN386, Cortex-M4",
        io_bytes=16 << 20,
        arena_bytes=2 << 20,
        fpu="fpv4-sp-d16",
    ),
    "an505": Board(
        "an505",
        "cortex-m33",
        "mps2-an505",
        "an505.ld",
        "Arm MPS2 AN505, Cortex-M33 (as in NXP MCX N947)",
        io_bytes=3 << 20,
        arena_bytes=768 << 10,
        fpu="fpv5-sp-d16",
    ),
    "m0plus": Board(
        "m0plus",
        "cortex-m0plus",
        "microbit",
        "microbit.ld",
        "Cortex-M0+ code (ARMv6-M, no FPU) on qemu's micro:bit Cortex-M0",
        io_bytes=8 << 10,
        arena_bytes=5 << 10,
    ),
}


def get_board(name: str | Board) -> Board:
    if isinstance(name, Board):
        return name
    try:
        return BOARDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown board {name!r}; choose one of {sorted(BOARDS)}") from None


# Exit statuses of the firmware images (firmware/src/semihost.h; a test checks both lists agree).
EXIT_CODES = {
    0: "ok",
    1: "abnormal exit reported by qemu",
    2: "bad command line",
    3: "a host file could not be opened, read or written",
    4: "the vector file is malformed",
    5: "a guard word around an output or scratch buffer changed",
    6: "a compiled-in config failed up_check_config",
    7: "up_run wrote to its const input",
    8: "CPU fault (HardFault, BusFault, UsageFault...)",
    9: "stack overflow caught by MSPLIM",
    10: "a record needs more memory than the image reserves",
}


class FirmwareError(RuntimeError):
    """A build, a qemu run or a firmware image failed; the message says which and why."""


# ---------------------------------------------------------------------------------------------------------------------
# Building

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


def core_sources(csrc: Path | None = None) -> list[Path]:
    """The firmware part of the core: csrc/*.c without "host" in the name."""
    csrc = csrc or csrc_dir()
    return sorted(p for p in csrc.glob("*.c") if "host" not in p.name)


@dataclass
class Image:
    """A linked firmware image and what it was built from."""

    board: Board
    elf: Path
    map_file: Path
    objects: dict[str, list[Path]] = field(default_factory=dict)  # "core", "runtime", "program"
    float_abi: str = "soft"


def _run_tool(cmd: list[str], what: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FirmwareError(f"{what}: timed out after {timeout:.0f} s: {' '.join(cmd)}") from None
    if proc.returncode != 0:
        raise FirmwareError(f"{what} failed ({proc.returncode}):\n{' '.join(cmd)}\n{proc.stderr.strip()}")
    return proc


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
    flags = [_tool("gcc"), *board.cflags(float_abi), opt, *CFLAGS, *WARNINGS, *extra]
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
        _run_tool([*flags, "-c", str(src), "-o", str(obj)], f"compiling {Path(src).name} for {board.name}")
        objects.append(obj)
    return objects


def link(board: Board | str, objects: list[Path], elf: Path, *, float_abi: str = "soft") -> Path:
    """Links objects with the board's linker script, newlib-nano (mem* only) and libgcc; writes elf and elf.map."""
    board = get_board(board)
    elf = Path(elf)
    map_file = elf.with_suffix(".map")
    ld_dir = firmware_dir() / "ld"
    cmd = [
        _tool("gcc"),
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
    _run_tool(cmd, f"linking {elf.name} for {board.name}")
    return map_file


def _runtime_sources() -> list[Path]:
    src = firmware_dir() / "src"
    return [src / "startup.c", src / "semihost.c"]


def build_hello(board: Board | str, out_dir: Path, *, float_abi: str = "soft") -> Image:
    """The bring-up image (firmware/src/hello.c): startup, semihosting file I/O, faults."""
    board = get_board(board)
    out_dir = Path(out_dir)
    src = firmware_dir() / "src"
    runtime = compile_sources(board, _runtime_sources(), out_dir / "runtime", float_abi=float_abi)
    program = compile_sources(board, [src / "hello.c"], out_dir / "program", float_abi=float_abi)
    elf = out_dir / f"hello_{board.name}.elf"
    map_file = link(board, runtime + program, elf, float_abi=float_abi)
    return Image(board, elf, map_file, {"runtime": runtime, "program": program}, float_abi)


def freestanding_flags() -> list[str]:
    """No C library headers at all: only gcc's own freestanding ones (stdint.h, stddef.h, stdbool.h...)."""
    inc = _run_tool([_tool("gcc"), "-print-file-name=include"], "gcc -print-file-name").stdout.strip()
    return ["-nostdinc", "-isystem", inc]


def _compile_core(
    board: Board, out_dir: Path, csrc: Path | None, float_abi: str, opt: str, defines: dict | None = None
) -> list[Path]:
    sources = core_sources(csrc)
    if not sources:
        raise FileNotFoundError(f"no core sources (csrc/*.c) in {csrc or csrc_dir()}")
    return compile_sources(
        board,
        sources,
        out_dir / "core",
        include_dirs=(Path(csrc or csrc_dir()),),
        defines=defines,
        float_abi=float_abi,
        opt=opt,
        extra=tuple(freestanding_flags()),
    )


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
    board = get_board(board)
    out_dir = Path(out_dir)
    config_dir = Path(config_dir)
    if not (config_dir / "configs.h").is_file():
        raise FileNotFoundError(f"{config_dir / 'configs.h'} not found (write it with write_config_dir)")
    core = _compile_core(board, out_dir, csrc, float_abi, opt)
    runtime = compile_sources(board, _runtime_sources(), out_dir / "runtime", float_abi=float_abi)
    program = compile_sources(
        board,
        [firmware_dir() / "src" / "harness.c"],
        out_dir / "program",
        include_dirs=(config_dir, Path(csrc or csrc_dir()), firmware_dir() / "src"),
        defines={"FW_IO_BYTES": board.io_bytes, "FW_ARENA_BYTES": board.arena_bytes},
        float_abi=float_abi,
    )
    elf = out_dir / f"harness_{board.name}.elf"
    map_file = link(board, core + runtime + program, elf, float_abi=float_abi)
    return Image(board, elf, map_file, {"core": core, "runtime": runtime, "program": program}, float_abi)


# The core's compile-time switches (csrc/ultrapost.h) that leave out everything but Ultraface + hard NMS.
MINIMAL_FEATURES = {"UP_NO_SOFT_NMS": None, "UP_NO_MERGE_NMS": None, "UP_NO_KEYPOINTS": None, "UP_NO_LABELS": None}


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
    board = get_board(board)
    out_dir = Path(out_dir)
    core = _compile_core(board, out_dir, csrc, "soft", opt, defines)
    runtime = compile_sources(board, _runtime_sources(), out_dir / "runtime")
    program = compile_sources(
        board,
        [firmware_dir() / "src" / "minimal.c"],
        out_dir / "program",
        include_dirs=(Path(csrc or csrc_dir()),),
    )
    elf = out_dir / f"minimal_{board.name}.elf"
    map_file = link(board, core + runtime + program, elf)
    return Image(board, elf, map_file, {"core": core, "runtime": runtime, "program": program})


# ---------------------------------------------------------------------------------------------------------------------
# Running on qemu


@dataclass
class RunResult:
    returncode: int
    console: str  # semihosting console and qemu messages
    instructions: list[int] | None = None  # per up_run call, when counted

    @property
    def meaning(self) -> str:
        return EXIT_CODES.get(self.returncode, f"unexpected exit status {self.returncode}")


_ARG_OK = re.compile(r"^[^\s]+$")


def qemu_command(image: Image, args: list[str], *, trace_fd: int | None = None) -> list[str]:
    """The qemu command line for an image; args become the semihosting command line (argv[0] is the image)."""
    for a in args:
        if not _ARG_OK.match(a):
            raise ValueError(f"semihosting arguments cannot be empty or contain whitespace: {a!r}")
    argv = [image.elf.stem, *args]
    config = "enable=on,target=native," + ",".join("arg=" + a.replace(",", ",,") for a in argv)
    cmd = [
        QEMU,
        "-M",
        image.board.machine,
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "null",
        "-no-reboot",
        "-semihosting-config",
        config,
        "-kernel",
        str(Path(image.elf).resolve()),  # qemu runs in the run directory: a relative build path would miss
    ]
    if trace_fd is not None:
        # One instruction per translation block, no block chaining: one "Trace" line per executed instruction.
        cmd += ["-singlestep", "-d", "exec,nochain", "-D", f"/dev/fd/{trace_fd}"]
    return cmd


def _call_sites(image: Image, callee: str) -> tuple[int, list[int]]:
    """Entry address of callee and the return address of each `bl callee` in the image."""
    out = _run_tool([_tool("objdump"), "-d", "--no-show-raw-insn", str(image.elf)], "objdump").stdout
    entry = None
    returns = []
    pattern = re.compile(rf"^\s*([0-9a-f]+):\s+(bl|blx)\s+[0-9a-f]+ <{re.escape(callee)}>\s*$")
    for line in out.splitlines():
        m = re.match(rf"^([0-9a-f]+) <{re.escape(callee)}>:$", line)
        if m:
            entry = int(m.group(1), 16)
            continue
        m = pattern.match(line)
        if m:
            returns.append(int(m.group(1), 16) + 4)  # Thumb-2 BL is 4 bytes
    if entry is None:
        raise FirmwareError(f"{callee} not found in {image.elf.name}")
    if re.search(rf"\sb(\.w)?\s+[0-9a-f]+ <{re.escape(callee)}>", out):
        raise FirmwareError(f"{callee} is tail-called in {image.elf.name}: its instructions cannot be delimited")
    return entry, returns


class _TraceCounter:
    """Counts trace lines from callee entry up to (not including) the call's return address."""

    def __init__(self, entry: int, returns: list[int]):
        self.entry = entry
        self.returns = set(returns)
        self.counts: list[int] = []
        self._inside = False
        self._n = 0

    def feed(self, stream) -> None:
        for raw in stream:
            if not raw.startswith(b"Trace "):
                continue
            lb = raw.find(b"[")
            fields = raw[lb + 1 : raw.find(b"]", lb)].split(b"/")
            pc = int(fields[1], 16)
            if self._inside:
                if pc in self.returns:
                    self.counts.append(self._n)
                    self._inside = False
                else:
                    self._n += 1
            elif pc == self.entry:
                self._inside = True
                self._n = 1


def run_image(
    image: Image,
    args: list[str],
    *,
    cwd: Path,
    timeout: float = 60.0,
    count_calls_to: str | None = None,
    check: bool = True,
) -> RunResult:
    """Runs an image on qemu with semihosting (host files relative to cwd).

    timeout bounds every run: qemu is killed and FirmwareError raised. check: raise FirmwareError on a non-zero
    exit status. count_calls_to: count the instructions executed by each call of that function (see
    firmware/README.md, "Instruction counts").
    """
    if not qemu_available():
        raise FileNotFoundError(f"{QEMU} not found on PATH (install qemu-system-arm)")
    counter = None
    read_fd = write_fd = None
    if count_calls_to is not None:
        entry, returns = _call_sites(image, count_calls_to)
        if len(returns) != 1:
            raise FirmwareError(f"expected one call site of {count_calls_to} in {image.elf.name}, found {len(returns)}")
        counter = _TraceCounter(entry, returns)
        read_fd, write_fd = os.pipe()
    cmd = qemu_command(image, args, trace_fd=write_fd)
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(write_fd,) if write_fd is not None else (),
    )
    threads = []
    if counter is not None:
        os.close(write_fd)
        trace = os.fdopen(read_fd, "rb", buffering=1 << 20)
        threads.append(threading.Thread(target=counter.feed, args=(trace,), daemon=True))
    chunks: dict[str, bytes] = {}

    def drain(name, stream):
        chunks[name] = stream.read()

    threads.append(threading.Thread(target=drain, args=("out", proc.stdout), daemon=True))
    threads.append(threading.Thread(target=drain, args=("err", proc.stderr), daemon=True))
    for t in threads:
        t.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        for t in threads:
            t.join(5)
        raise FirmwareError(
            f"{image.elf.name} on {image.board.machine} did not finish within {timeout:.0f} s (qemu killed)"
        ) from None
    finally:
        for t in threads:
            t.join(timeout)
        if counter is not None:
            trace.close()
    console = (chunks.get("out", b"") + chunks.get("err", b"")).decode("utf-8", "replace")
    result = RunResult(proc.returncode, console, counter.counts if counter else None)
    if check and proc.returncode != 0:
        raise FirmwareError(
            f"{image.elf.name} on {image.board.machine} exited {proc.returncode} ({result.meaning}):\n{console.strip()}"
        )
    return result


# ---------------------------------------------------------------------------------------------------------------------
# Binary formats (firmware/README.md)

VEC_MAGIC = b"UPVEC001"
OUT_MAGIC = b"UPOUT002"
STA_MAGIC = b"UPSTA001"
_FILE_HEADER = struct.Struct("<8sII")
_RECORD_HEADER = struct.Struct("<IIIIiIiiiI")
_OUT_RECORD = struct.Struct("<iiiI")
MAX_KEYPOINTS = 8  # UP_MAX_KEYPOINTS
_STA_RECORD = struct.Struct("<IIII")
_ELEMENT_DTYPES = {1: np.dtype("<i1"), 4: np.dtype("<i4")}


@dataclass
class VectorRecord:
    """One up_run call: a config id and the input elements, with tensor offsets and row strides in elements.

    capacity: output rows given to up_run (-1: the config's max_detections); scratch_bytes: scratch given
    (-1: up_scratch_size). Other values let vectors test the core's own error statuses.
    """

    config_id: int
    data: np.ndarray  # 1-D int8 or int32
    score_offset: int
    score_stride: int
    box_offset: int
    box_stride: int
    capacity: int = -1
    scratch_bytes: int = -1

    def __post_init__(self):
        data = np.asarray(self.data)
        if data.dtype not in (np.int8, np.int32):
            raise TypeError(f"vector data must be int8 or int32, got {data.dtype}")
        self.data = np.ascontiguousarray(data.reshape(-1), dtype=data.dtype.newbyteorder("<"))
        for name in ("config_id", "score_offset", "box_offset"):
            v = getattr(self, name)
            if not 0 <= int(v) < 2**32:
                raise ValueError(f"{name} must be in [0, 2**32), got {v}")
            if int(v) != v:
                raise ValueError(f"{name} must be an integer, got {v}")
        for name in ("score_stride", "box_stride"):
            v = getattr(self, name)
            if not -(2**31) <= int(v) < 2**31:
                raise ValueError(f"{name} must fit int32, got {v}")
        for name in ("capacity", "scratch_bytes"):
            v = getattr(self, name)
            if not -1 <= int(v) < 2**31:
                raise ValueError(f"{name} must be -1 (default) or a non-negative int32, got {v}")
        if self.score_offset > self.data.size or self.box_offset > self.data.size:
            raise ValueError(
                f"tensor offsets ({self.score_offset}, {self.box_offset}) beyond the {self.data.size} elements"
            )

    @classmethod
    def separate(cls, config_id: int, scores, boxes, **kw) -> VectorRecord:
        """Score rows [N, C] followed by box rows [N, 4] (or [N, 4 + 2P]: keypoints after the box), both of the
        same dtype (int8 or int32)."""
        scores, boxes = np.asarray(scores), np.asarray(boxes)
        if (
            scores.ndim != 2
            or boxes.ndim != 2
            or boxes.shape[1] < 4
            or boxes.shape[1] % 2
            or scores.shape[0] != boxes.shape[0]
        ):
            raise ValueError(f"expected scores [N, C] and boxes [N, 4 + 2P], got {scores.shape} and {boxes.shape}")
        if scores.dtype != boxes.dtype:
            raise TypeError(f"scores and boxes must share a dtype, got {scores.dtype} and {boxes.dtype}")
        data = np.concatenate([scores.reshape(-1), boxes.reshape(-1)])
        return cls(config_id, data, 0, scores.shape[1], scores.size, boxes.shape[1], **kw)

    @classmethod
    def single_tensor(cls, config_id: int, tensor, *, score_column: int = 0, box_column: int = 2, **kw):
        """One [N, W] tensor holding scores and boxes side by side (NXP ultraslim: [172, 6], columns 0 and 2)."""
        tensor = np.asarray(tensor)
        if tensor.ndim != 2:
            raise ValueError(f"expected a 2-D tensor, got shape {tensor.shape}")
        w = tensor.shape[1]
        return cls(config_id, tensor.reshape(-1), score_column, w, box_column, w, **kw)

    @property
    def element_size(self) -> int:
        return self.data.dtype.itemsize


def write_vectors(path, records: list[VectorRecord]) -> None:
    """Writes a vector file (UPVEC001)."""
    parts = [_FILE_HEADER.pack(VEC_MAGIC, len(records), 0)]
    for r in records:
        if not isinstance(r, VectorRecord):
            raise TypeError(f"records must be VectorRecord, got {type(r).__name__}")
        payload = r.data.tobytes()
        parts.append(
            _RECORD_HEADER.pack(
                r.config_id,
                r.element_size,
                r.data.size,
                r.score_offset,
                r.score_stride,
                r.box_offset,
                r.box_stride,
                r.capacity,
                r.scratch_bytes,
                0,
            )
        )
        parts.append(payload + b"\0" * (-len(payload) % 4))
    Path(path).write_bytes(b"".join(parts))


def _header(buf: bytes, magic: bytes, what: str) -> tuple[int, int]:
    if len(buf) < _FILE_HEADER.size:
        raise ValueError(f"{what}: {len(buf)} bytes, shorter than the {_FILE_HEADER.size}-byte header")
    got, count, reserved = _FILE_HEADER.unpack_from(buf, 0)
    if got != magic:
        raise ValueError(f"{what}: magic {got!r}, expected {magic!r}")
    if reserved != 0:
        raise ValueError(f"{what}: reserved header word is {reserved}, expected 0")
    return count, _FILE_HEADER.size


def read_vectors(path) -> list[VectorRecord]:
    """Reads a vector file (UPVEC001); ValueError names what is malformed."""
    buf = Path(path).read_bytes()
    count, pos = _header(buf, VEC_MAGIC, str(path))
    records = []
    for i in range(count):
        if pos + _RECORD_HEADER.size > len(buf):
            raise ValueError(f"{path}: truncated in the header of record {i}")
        (cid, esize, n, soff, sstride, boff, bstride, cap, scratch, reserved) = _RECORD_HEADER.unpack_from(buf, pos)
        pos += _RECORD_HEADER.size
        if esize not in _ELEMENT_DTYPES or reserved != 0:
            raise ValueError(f"{path}: record {i} has element size {esize} / reserved {reserved}")
        nbytes = n * esize
        if pos + nbytes > len(buf):
            raise ValueError(f"{path}: truncated in the data of record {i}")
        data = np.frombuffer(buf, _ELEMENT_DTYPES[esize], n, pos).copy()
        pos += nbytes + (-nbytes % 4)
        records.append(VectorRecord(cid, data, soff, sstride, boff, bstride, cap, scratch))
    if pos != len(buf):
        raise ValueError(f"{path}: {len(buf) - pos} trailing bytes after record {count - 1}")
    return records


@dataclass
class OutputRecord:
    """What up_run returned for one record: status, and the kept boxes (Q20), scores (Q30), anchors, plus the
    keypoints (Q20, [K, 2P]) when the config has P > 0 keypoints and the labels when it has labels."""

    status: int
    boxes: np.ndarray  # int32 [K, 4]
    scores: np.ndarray  # int32 [K]
    anchors: np.ndarray  # int32 [K]
    keypoints: np.ndarray | None = None  # int32 [K, 2P], None: the config has no keypoints
    labels: np.ndarray | None = None  # int32 [K], None: the config has no labels

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.int32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.int32).reshape(-1)
        self.anchors = np.asarray(self.anchors, dtype=np.int32).reshape(-1)
        k = self.boxes.shape[0]
        if self.scores.shape != (k,) or self.anchors.shape != (k,):
            raise ValueError(
                f"boxes, scores and anchors disagree on the count: {k}, {self.scores.size}, {self.anchors.size}"
            )
        if self.keypoints is not None:
            kp = np.asarray(self.keypoints, dtype=np.int32)
            if kp.ndim != 2 or kp.shape[0] != k or kp.shape[1] % 2 or kp.shape[1] == 0:
                raise ValueError(f"keypoints must be [{k}, 2P] with P > 0, got shape {kp.shape}")
            self.keypoints = kp
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int32).reshape(-1)
            if self.labels.shape != (k,):
                raise ValueError(f"labels must be [{k}], got {self.labels.size} values")
        if self.status != 0 and k != 0:
            raise ValueError(f"a failed record (status {self.status}) carries no detections, got {k}")

    @classmethod
    def of(cls, out: dict, num_keypoints: int = 0, has_labels: bool = False) -> OutputRecord:
        """From an output dict (the golden model's or the binding's run_full): boxes, scores, anchors and, when
        the config has them, keypoints and labels."""
        k = len(out["anchors"])
        kp = out.get("keypoints") if num_keypoints else None
        if num_keypoints and kp is None:
            kp = np.zeros((k, 2 * num_keypoints), np.int32)
        lab = out.get("labels") if has_labels else None
        return cls(0, out["boxes"], out["scores"], out["anchors"], kp, lab)

    @classmethod
    def error(cls, status: int, num_keypoints: int = 0, has_labels: bool = False) -> OutputRecord:
        """A refused record of a config with (or without) keypoints and labels."""
        kp = np.zeros((0, 2 * num_keypoints), np.int32) if num_keypoints else None
        return cls(status, [], [], [], kp, np.zeros(0, np.int32) if has_labels else None)

    @property
    def num_keypoints(self) -> int:
        return 0 if self.keypoints is None else self.keypoints.shape[1] // 2

    def __len__(self) -> int:
        return self.boxes.shape[0]

    def parts(self) -> list[tuple[str, np.ndarray]]:
        out = [("boxes", self.boxes), ("scores", self.scores), ("anchors", self.anchors)]
        if self.keypoints is not None:
            out.append(("keypoints", self.keypoints))
        if self.labels is not None:
            out.append(("labels", self.labels))
        return out

    def equals(self, other: OutputRecord) -> bool:
        """Bit-exact equality (status, values and dtypes, keypoints and labels included)."""
        if self.status != other.status or self.num_keypoints != other.num_keypoints:
            return False
        if (self.labels is None) != (other.labels is None):
            return False
        return all(
            a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
            for (_, a), (_, b) in zip(self.parts(), other.parts(), strict=True)
        )


def write_outputs(path, records: list[OutputRecord]) -> None:
    """Writes an output file (UPOUT002), e.g. the host's results to compare with the firmware's byte for byte."""
    parts = [_FILE_HEADER.pack(OUT_MAGIC, len(records), 0)]
    for r in records:
        parts.append(_OUT_RECORD.pack(r.status, len(r), r.num_keypoints, int(r.labels is not None)))
        parts += [a.astype("<i4").tobytes() for _, a in r.parts()]
    Path(path).write_bytes(b"".join(parts))


def read_outputs(path) -> list[OutputRecord]:
    """Reads an output file (UPOUT002); ValueError names what is malformed."""
    buf = Path(path).read_bytes()
    count, pos = _header(buf, OUT_MAGIC, str(path))
    records = []
    for i in range(count):
        if pos + _OUT_RECORD.size > len(buf):
            raise ValueError(f"{path}: truncated in the header of record {i}")
        status, k, p, has_labels = _OUT_RECORD.unpack_from(buf, pos)
        pos += _OUT_RECORD.size
        if k < 0 or (status != 0 and k != 0):
            raise ValueError(f"{path}: record {i} has status {status} and count {k}")
        if not 0 <= p <= MAX_KEYPOINTS or has_labels not in (0, 1):
            raise ValueError(f"{path}: record {i} has {p} keypoints and labels flag {has_labels}")
        words = k * (6 + 2 * p + has_labels)
        if pos + 4 * words > len(buf):
            raise ValueError(f"{path}: truncated in the arrays of record {i}")
        arr = np.frombuffer(buf, "<i4", words, pos).astype(np.int32)
        pos += 4 * words
        kp = arr[6 * k : (6 + 2 * p) * k].reshape(k, 2 * p) if p else None
        lab = arr[(6 + 2 * p) * k :] if has_labels else None
        records.append(OutputRecord(status, arr[: 4 * k], arr[4 * k : 5 * k], arr[5 * k : 6 * k], kp, lab))
    if pos != len(buf):
        raise ValueError(f"{path}: {len(buf) - pos} trailing bytes after record {count - 1}")
    return records


@dataclass
class RecordStats:
    stack_bytes: int  # stack used by the up_run call (high-water below the caller's SP)
    scratch_bytes: int  # scratch given to up_run
    scratch_size: int  # up_scratch_size(cfg)


def read_stats(path) -> list[RecordStats]:
    buf = Path(path).read_bytes()
    count, pos = _header(buf, STA_MAGIC, str(path))
    if len(buf) != pos + count * _STA_RECORD.size:
        raise ValueError(f"{path}: {len(buf)} bytes, expected {pos + count * _STA_RECORD.size}")
    return [RecordStats(*_STA_RECORD.unpack_from(buf, pos + i * _STA_RECORD.size)[:3]) for i in range(count)]


@dataclass
class HarnessRun:
    outputs: list[OutputRecord]
    stats: list[RecordStats]
    instructions: list[int] | None
    console: str


def run_vectors(
    image: Image,
    records: list[VectorRecord],
    work_dir: Path,
    *,
    timeout: float = 60.0,
    count_instructions: bool = False,
) -> HarnessRun:
    """Writes records to work_dir/vectors.bin, runs the harness image on them and reads the outputs back."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    write_vectors(work_dir / "vectors.bin", records)
    for name in ("outputs.bin", "stats.bin"):
        (work_dir / name).unlink(missing_ok=True)
    result = run_image(
        image,
        ["vectors.bin", "outputs.bin", "stats.bin"],
        cwd=work_dir,
        timeout=timeout,
        count_calls_to="up_run" if count_instructions else None,
    )
    outputs = read_outputs(work_dir / "outputs.bin")
    stats = read_stats(work_dir / "stats.bin")
    if len(outputs) != len(records) or len(stats) != len(records):
        raise FirmwareError(f"{len(records)} records in, {len(outputs)} outputs and {len(stats)} stats out")
    if result.instructions is not None and len(result.instructions) != len(records):
        raise FirmwareError(f"{len(records)} records but {len(result.instructions)} counted up_run calls")
    return HarnessRun(outputs, stats, result.instructions, result.console)


# ---------------------------------------------------------------------------------------------------------------------
# Config headers


_STRUCT_RE = re.compile(r"typedef\s+struct\s*\{(?P<body>.*?)\}\s*up_config_t\s*;", re.S)
_MEMBER_RE = re.compile(r"^\s*(?P<type>(?:const\s+)?\w+(?:\s*\*)?)\s*(?P<name>\w+)\s*;", re.M)
_INT_TYPES = {"int32_t": (-(2**31), 2**31 - 1), "int64_t": (-(2**63), 2**63 - 1), "uint8_t": (0, 255)}


def config_fields(header: Path | None = None) -> list[tuple[str, str]]:
    """(C type, name) of each up_config_t member, in order, read from csrc/ultrapost.h."""
    text = Path(header or csrc_dir() / "ultrapost.h").read_text()
    m = _STRUCT_RE.search(text)
    if m is None:
        raise ValueError("up_config_t not found in ultrapost.h")
    body = re.sub(r"/\*.*?\*/", "", m.group("body"), flags=re.S)
    return [
        (re.sub(r"\s+", " ", f.group("type")).replace(" *", "*"), f.group("name")) for f in _MEMBER_RE.finditer(body)
    ]


_PREFIX_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


def _int_literal(v: int, ctype: str) -> str:
    lo, hi = _INT_TYPES[ctype]
    if not lo <= v <= hi:
        raise ValueError(f"{v} does not fit {ctype}")
    if ctype == "int64_t":
        return f"INT64_C({v})" if v != lo else "INT64_MIN"
    if ctype == "int32_t" and v == lo:
        return "INT32_MIN"
    return str(v)


def _config_values(config) -> dict:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    if isinstance(config, dict):
        return config
    raise TypeError(f"a config is a FixedConfig or a dict of up_config_t members, got {type(config).__name__}")


# Table lengths the core indexes (csrc/ultrapost.h): a shorter table would be read out of bounds on the target.
def _table_length(name: str, values: dict) -> int | None:
    if name == "priors":
        return 4 * int(values["num_anchors"])
    if name == "score_lut":
        return 511 if int(values["score_kind"]) == 1 else 256
    if name in ("center_lut", "size_lut", "box_lut"):
        return 256
    return None


def config_header(
    prefix: str, config, *, comment: str = "", header: Path | None = None, defines: dict[str, int] | None = None
) -> str:
    """C source of one config: `static const up_config_t <prefix>_config` and its const tables.

    config: an ultrapost.config.FixedConfig, or a dict with every up_config_t member by name (as in
    csrc/ultrapost.h); table members are int32 arrays or None. defines: integer macros written before the
    config, named <PREFIX>_<KEY> (e.g. SCRATCH_BYTES, to size a static buffer).
    """
    if not _PREFIX_RE.match(prefix):
        raise ValueError(f"config prefix must be a lower-case C identifier, got {prefix!r}")
    values = _config_values(config)
    fields = config_fields(header)
    names = [n for _, n in fields]
    missing = sorted(set(names) - set(values))
    extra = sorted(set(values) - set(names))
    if missing or extra:
        raise ValueError(f"config {prefix!r}: missing members {missing}, unknown members {extra}")
    guard = f"UP_CFG_{prefix.upper()}_H"
    lines = ["/* Generated by ultrapost; do not edit. */"]
    if comment:
        lines.append("/* " + comment.replace("*/", "* /") + " */")
    lines += [f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", "", '#include "ultrapost.h"', ""]
    for key, value in (defines or {}).items():
        if not re.match(r"^[A-Z][A-Z0-9_]*$", key) or isinstance(value, bool) or int(value) != value:
            raise ValueError(f"config {prefix!r}: define {key}={value!r} is not an upper-case name and an integer")
        lines.append(f"#define {prefix.upper()}_{key} {int(value)}")
    if defines:
        lines.append("")
    init = []
    for ctype, name in fields:
        v = values[name]
        if ctype.endswith("*"):
            if v is None:
                init.append(f"    .{name} = NULL,")
                continue
            arr = np.asarray(v)
            if arr.dtype != np.int32:
                raise TypeError(f"config {prefix!r}: table {name} must be int32, got {arr.dtype}")
            flat = arr.reshape(-1)
            want = _table_length(name, values)
            if flat.size == 0 or (want is not None and flat.size != want):
                raise ValueError(f"config {prefix!r}: table {name} has {flat.size} entries, the core reads {want}")
            lines.append(f"static const int32_t {prefix}_{name}[{flat.size}] = {{")
            for start in range(0, flat.size, 8):
                lines.append("    " + ", ".join(_int_literal(int(x), "int32_t") for x in flat[start : start + 8]) + ",")
            lines += ["};", ""]
            init.append(f"    .{name} = {prefix}_{name},")
        elif ctype == "bool":
            if not isinstance(v, (bool, np.bool_)):
                raise TypeError(f"config {prefix!r}: {name} must be a bool, got {type(v).__name__}")
            init.append(f"    .{name} = {'true' if v else 'false'},")
        elif ctype in _INT_TYPES:
            if isinstance(v, (bool, np.bool_)) or int(v) != v:
                raise TypeError(f"config {prefix!r}: {name} must be an integer, got {v!r}")
            try:
                init.append(f"    .{name} = {_int_literal(int(v), ctype)},")
            except ValueError as exc:
                raise ValueError(f"config {prefix!r}: {name}: {exc}") from None
        else:
            raise ValueError(f"up_config_t member {name} has a type ({ctype}) the generator does not know")
    lines.append(f"static const up_config_t {prefix}_config = {{")
    lines += init
    lines += ["};", "", f"#endif /* {guard} */", ""]
    return "\n".join(lines)


def registry_header(prefixes: list[str]) -> str:
    """C source of configs.h: includes each config header and lists the configs by id (their order)."""
    if not prefixes:
        raise ValueError("at least one config is needed")
    if len(set(prefixes)) != len(prefixes):
        raise ValueError(f"config prefixes must be unique: {prefixes}")
    for p in prefixes:
        if not _PREFIX_RE.match(p):
            raise ValueError(f"config prefix must be a lower-case C identifier, got {p!r}")
    lines = [
        "/* Generated by ultrapost; do not edit. Config ids are indices into up_fw_configs. */",
        "#ifndef UP_FW_CONFIGS_H",
        "#define UP_FW_CONFIGS_H",
        "",
        '#include "ultrapost.h"',
        "",
    ]
    lines += [f'#include "cfg_{p}.h"' for p in prefixes]
    lines += [
        "",
        f"#define UP_FW_NUM_CONFIGS {len(prefixes)}",
        "",
        "static const up_config_t *const up_fw_configs[UP_FW_NUM_CONFIGS] = {",
    ]
    lines += [f"    &{p}_config," for p in prefixes]
    lines += ["};", "", "static const char *const up_fw_config_names[UP_FW_NUM_CONFIGS] = {"]
    lines += [f'    "{p}",' for p in prefixes]
    lines += ["};", "", "#endif /* UP_FW_CONFIGS_H */", ""]
    return "\n".join(lines)


def write_config_dir(out_dir: Path, configs: list[tuple[str, object]], *, header: Path | None = None) -> Path:
    """Writes cfg_<prefix>.h for each (prefix, config) and configs.h; config ids follow the list order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for prefix, values in configs:
        (out_dir / f"cfg_{prefix}.h").write_text(config_header(prefix, values, header=header))
    (out_dir / "configs.h").write_text(registry_header([p for p, _ in configs]))
    return out_dir


# ---------------------------------------------------------------------------------------------------------------------
# Measurements


@dataclass
class Footprint:
    """Bytes of the given objects' input sections kept in a linked image (after --gc-sections)."""

    text: int
    rodata: int
    data: int
    bss: int
    by_object: dict[str, dict[str, int]]
    library_members: list[str]  # archive members (libgcc/libc) pulled in by these objects

    @property
    def flash(self) -> int:
        return self.text + self.rodata + self.data


def _section_kind(name: str) -> str | None:
    if name.startswith(".text") or name in (".glue_7", ".glue_7t", ".vfp11_veneer", ".v4_bx"):
        return "text"
    if name.startswith(".rodata") or name == ".vectors":
        return "rodata"
    if name.startswith(".data"):
        return "data"
    if name.startswith((".bss", "COMMON")):
        return "bss"
    return None


def map_sections(map_file: Path) -> list[tuple[str, int, int, str]]:
    """(input section, address, size, file) for every input section the linker kept (GNU ld map)."""
    text = Path(map_file).read_text()
    start = text.find("Linker script and memory map")
    if start < 0:
        raise ValueError(f"{map_file}: not a GNU ld map file")
    lines = text[start:].splitlines()
    out = []
    entry = re.compile(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
    tail = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = entry.match(line)
        if m:
            out.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16), m.group(4).strip()))
        elif re.match(r"^ \S+$", line) and i + 1 < len(lines):
            m2 = tail.match(lines[i + 1])
            if m2:
                out.append((line.strip(), int(m2.group(1), 16), int(m2.group(2), 16), m2.group(3).strip()))
                i += 1
        i += 1
    return out


def _archive_members_for(map_file: Path, objects: set[str]) -> list[str]:
    """Archive members the map says were pulled in by one of objects (transitively through other members)."""
    text = Path(map_file).read_text()
    end = text.find("Discarded input sections")
    if end < 0:
        end = text.find("Memory Configuration")
    block = text[: end if end >= 0 else len(text)]
    pulled: dict[str, str] = {}
    lines = block.splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith(" ") and "(" in line and i + 1 < len(lines):
            m = re.match(r"^\s+(\S+) \((\S+)\)$", lines[i + 1])
            if m:
                pulled[line.strip()] = m.group(1)
    chosen = []
    for member, requester in pulled.items():
        seen = set()
        r = requester
        while r in pulled and r not in seen:
            seen.add(r)
            r = pulled[r]
        if r in objects:
            chosen.append(member)
    return sorted(chosen)


def footprint(image: Image, group: str = "core") -> Footprint:
    """Sizes of one object group (default: the core) in the linked image, from the linker map.

    Counts exactly the input sections the linker kept from those objects, so unused functions (gc'd),
    alignment inside sections and literal pools are all accounted honestly; padding between sections is not.
    Library members the group pulled in (e.g. libgcc's 64-bit division) are listed, and counted in their
    own Footprint via footprint_of_members.
    """
    objects = {str(p) for p in image.objects.get(group, [])}
    if not objects:
        raise ValueError(f"image {image.elf.name} has no object group {group!r}")
    totals = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    by_object: dict[str, dict[str, int]] = {}
    for name, _addr, size, origin in map_sections(image.map_file):
        if origin not in objects or size == 0:
            continue
        kind = _section_kind(name)
        if kind is None:
            continue
        totals[kind] += size
        obj = by_object.setdefault(Path(origin).name, {"text": 0, "rodata": 0, "data": 0, "bss": 0})
        obj[kind] += size
    members = _archive_members_for(image.map_file, objects)
    return Footprint(totals["text"], totals["rodata"], totals["data"], totals["bss"], by_object, members)


def footprint_of_members(image: Image, members: list[str]) -> Footprint:
    """Sizes of archive members (as named in Footprint.library_members) in the linked image."""
    wanted = set(members)
    totals = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    by_object: dict[str, dict[str, int]] = {}
    for name, _addr, size, origin in map_sections(image.map_file):
        if origin not in wanted or size == 0:
            continue
        kind = _section_kind(name)
        if kind is None:
            continue
        totals[kind] += size
        by_object.setdefault(origin, {"text": 0, "rodata": 0, "data": 0, "bss": 0})[kind] += size
    return Footprint(totals["text"], totals["rodata"], totals["data"], totals["bss"], by_object, [])


def linked_symbols(image: Image) -> dict[str, str]:
    """Symbol name -> nm type letter for every symbol in the image."""
    out = _run_tool([_tool("nm"), str(image.elf)], "nm").stdout
    symbols = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            symbols[parts[-1]] = parts[-2]
    return symbols


FORBIDDEN_SYMBOLS = [
    re.compile(p)
    for p in (
        r"^__aeabi_[fd]",  # soft-float arithmetic, compare, conversion from float/double
        r"^__aeabi_u?[il]2[fd]$",
        r"^__aeabi_ul2[fd]$",  # integer -> float conversions
        r"^__(add|sub|mul|div|neg|cmp|eq|ne|lt|le|gt|ge|unord)[sdtx]f[23]$",
        r"^__(float|fix|extend|trunc)\w*[sdtx]f",
        r"^(_?malloc|_?free|_?calloc|_?realloc|_sbrk|_malloc_r|_free_r|_calloc_r|_realloc_r)$",
    )
]


def forbidden_symbols(image: Image) -> list[str]:
    """Float helpers and heap functions linked into the image (there must be none)."""
    return sorted(s for s in linked_symbols(image) if any(p.search(s) for p in FORBIDDEN_SYMBOLS))


@dataclass
class StackReport:
    bytes: int  # worst chain from the root: frame sizes summed along the deepest call chain
    chain: list[tuple[str, int]]  # (function, frame bytes) along that chain
    unbounded: list[str]  # dynamic frames or recursion: the bound does not hold for these
    from_disassembly: list[str]  # callees without gcc stack info (libgcc/libc), framed from the linked code
    indirect: list[str]  # functions making indirect calls (their targets are not followed)


_CI_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_CI_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_REGLIST = re.compile(r"\{([^}]*)\}")


def _reg_count(operands: str) -> int:
    m = _REGLIST.search(operands)
    if not m:
        return 0
    n = 0
    for part in m.group(1).split(","):
        part = part.strip()
        if "-" in part:  # d8-d15
            lo, hi = part.split("-")
            n += int(hi[1:]) - int(lo[1:]) + 1
        elif part:
            n += 1
    return n


def disassembly_frames(image: Image) -> dict[str, tuple[int, set[str]]]:
    """Per function of the linked image: (bytes it can push or reserve, direct callees), from objdump.

    Conservative: every push / stmdb sp! / vpush / sub sp in the body is added, as if all were live at once.
    Used for code gcc's stack files do not cover (libgcc, libc).
    """
    out = _run_tool([_tool("objdump"), "-d", "--no-show-raw-insn", str(image.elf)], "objdump").stdout
    frames: dict[str, tuple[int, set[str]]] = {}
    current = None
    head = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
    insn = re.compile(r"^\s*[0-9a-f]+:\s+(\S+)\s*(.*)$")
    for line in out.splitlines():
        m = head.match(line)
        if m:
            current = m.group(1)
            frames[current] = (0, set())
            continue
        m = insn.match(line)
        if current is None or not m:
            continue
        op, operands = m.group(1), m.group(2)
        size, callees = frames[current]
        if op in ("push", "push.w") or (op.startswith("stmdb") and operands.startswith("sp!")):
            size += 4 * _reg_count(operands)
        elif op.startswith("vpush"):
            regs = _REGLIST.search(operands)
            width = 8 if regs and regs.group(1).strip().startswith("d") else 4
            size += width * _reg_count(operands)
        elif op in ("sub", "sub.w", "subw") and re.match(r"sp,\s*(sp,\s*)?#", operands):
            size += int(re.search(r"#(\d+)", operands).group(1))
        elif op in ("bl", "blx", "b", "b.w", "b.n"):
            t = re.search(r"<([^>+]+)>", operands)
            if t and t.group(1) != current:
                callees.add(t.group(1))
            elif op == "blx" and not t:
                callees.add("__indirect_call")
        frames[current] = (size, callees)
    return frames


def stack_usage(ci_files: list[Path], root: str, image: Image | None = None) -> StackReport:
    """Worst-case stack of root: the largest sum of frame sizes along any call chain.

    Frames come from gcc's -fcallgraph-info=su files; callees those files do not describe (libgcc's 64-bit
    helpers on ARMv6-M, mem* from libc) are framed from the linked image's disassembly when image is given.
    Recursion or dynamic frames make the bound unknown and are reported, not guessed; indirect calls are
    reported (the firmware core makes none: its only function pointer is the host float path's).
    """
    frames: dict[str, int] = {}
    qualifiers: dict[str, str] = {}
    edges: dict[str, set[str]] = {}
    for ci in ci_files:
        text = Path(ci).read_text()
        for title, label in _CI_NODE.findall(text):
            m = re.search(r"\\n(\d+) bytes \((\w+(?:,\w+)*)\)", label)
            if m:
                frames[title] = int(m.group(1))
                qualifiers[title] = m.group(2)
        for src, dst in _CI_EDGE.findall(text):
            edges.setdefault(src, set()).add(dst)
    if root not in frames:
        raise ValueError(f"{root} has no stack information in the callgraph files")
    unbounded = sorted(f for f, q in qualifiers.items() if q != "static")
    disasm = disassembly_frames(image) if image is not None else {}
    from_disasm: set[str] = set()
    indirect: set[str] = set()
    best: dict[str, tuple[int, list[tuple[str, int]]]] = {}
    on_path: set[str] = set()

    def worst(fn: str, caller: str) -> tuple[int, list[tuple[str, int]]]:
        if fn == "__indirect_call":
            indirect.add(caller)
            return 0, []
        if fn in best:
            return best[fn]
        if fn in on_path:
            unbounded.append(f"recursion through {fn}")
            return 0, []
        if fn in frames:
            own, callees = frames[fn], edges.get(fn, set())
        elif fn in disasm:
            own, callees = disasm[fn]
            from_disasm.add(fn)
        else:
            unbounded.append(f"no stack information for {fn}")
            return 0, []
        on_path.add(fn)
        deepest: tuple[int, list[tuple[str, int]]] = (0, [])
        for callee in sorted(callees):
            cand = worst(callee, fn)
            if cand[0] > deepest[0]:
                deepest = cand
        on_path.discard(fn)
        best[fn] = (own + deepest[0], [(fn, own), *deepest[1]])
        return best[fn]

    total, chain = worst(root, root)
    return StackReport(total, chain, sorted(set(unbounded)), sorted(from_disasm), sorted(indirect))


def ci_files(image: Image, group: str = "core") -> list[Path]:
    return [p.with_suffix(".ci") for p in image.objects.get(group, [])]


# ---------------------------------------------------------------------------------------------------------------------
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
    cmd += [str(firmware_dir() / "host" / "vector_runner.c"), *map(str, core_sources(csrc)), "-o", str(exe)]
    _run_tool(cmd, "building the host vector runner")
    return exe


def build_fuzzer(out_dir: Path, *, csrc: Path | None = None) -> Path:
    """firmware/host/fuzz_up_run.c as a libFuzzer binary with ASan and UBSan (needs clang)."""
    if shutil.which("clang") is None:
        raise FileNotFoundError("clang not found on PATH (libFuzzer comes with clang)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / "fuzz_up_run"
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
        str(firmware_dir() / "host" / "fuzz_up_run.c"),
        *map(str, core_sources(csrc)),
        "-o",
        str(exe),
    ]
    _run_tool(cmd, "building the fuzzer")
    return exe


# ---------------------------------------------------------------------------------------------------------------------
# End to end: generated cases on a board against the host C and the golden model


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


UP_ERR_SCRATCH, UP_ERR_OUTPUT, UP_ERR_STRIDE = -3, -4, -5


def scratch_size(config) -> int:
    """up_scratch_size of a valid config as csrc/ultrapost.h documents it: per candidate 4 bytes (hard NMS), 20
    (blending, weighted) or 24 (soft-NMS). This is what a firmware allocates; the host binding's Core.scratch_bytes
    may be larger (room for its faster hard NMS). The board harness reports the C's own value in the stats file,
    and the board checks compare the two."""
    nms = int(config.nms_kind)
    per = 4 if nms == 0 else 20 if nms in (1, 2) else 24
    return int(config.candidate_limit) * per


def check_cases(board: Board | str) -> tuple[list[tuple[str, object]], list[CheckCase]]:
    """Configs and vector cases for a board, with the host's and the golden model's answers.

    The same generator as the C == golden tests (ultrapost.cases): int8 and int32 inputs, raw deltas and decoded
    corners, probabilities and logits, ties, all/none passing, extreme and degenerate boxes, the NXP ultraslim
    single tensor, records that must come back as error statuses, and every NMS kind, "+1 pixel" areas, ">="
    tests, multi-class labels and BlazeFace keypoints (_extra_specs). The micro:bit (m0plus) has 16 KiB of RAM,
    so it gets the smallest input sizes with fewer candidates.
    """
    from ultrapost import cases, golden
    from ultrapost._core import run_raw

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
        ob, osc, oa = core.run(scores, boxes)
        g = golden.run(fc, scores, boxes)
        record = record_of(cid)
        out.append(
            CheckCase(
                name, record, OutputRecord(0, ob, osc, oa), OutputRecord(0, g["boxes"], g["scores"], g["anchors"])
            )
        )
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
        from ultrapost import Ultraface

        pp = Ultraface(
            128, score_threshold=0.5, drop_finest_level=True, clip=True, candidate_limit=50, max_detections=20
        )
        fc, core = pp.config("s8", True, (q, q))
    add("ultraslim_172x6_s8", fc, core, t[:, :2], t[:, 2:], lambda cid: VectorRecord.single_tensor(cid, t))

    # Every NMS kind, "+1 pixel" areas, ">=" tests, multi-class labels and BlazeFace keypoints (ultrapost.vectorsets).
    for spec, seed, mode in _extra_specs(small):
        from ultrapost import vectorsets as vs

        fc, core = spec.firmware_config()
        sc, bx = vs.spec_inputs(spec, *vs.float_inputs(spec, seed, mode))
        cid = len(configs)
        configs.append((f"c{cid}_{spec.name}", fc))
        nkp, labels = int(fc.num_keypoints), int(fc.num_labels) > 0
        out.append(
            CheckCase(
                spec.name,
                VectorRecord.separate(cid, sc, bx),
                OutputRecord.of(core.run_full(sc, bx), nkp, labels),
                OutputRecord.of(golden.run(fc, sc, bx), nkp, labels),
            )
        )

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


def _extra_specs(small: bool):
    """(ModelSpec, seed, mode) of check_cases' configurations beyond hard-NMS Ultraface: the micro:bit's fit its
    8 KiB of input and 5 KiB of outputs and scratch (64x48 Ultraface, a 32x32 BlazeFace with 56 anchors)."""
    from ultrapost.vectorsets import ModelSpec

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


# ---------------------------------------------------------------------------------------------------------------------
# Command line: python -m ultrapost.firmware


def _cmd_hello(args) -> int:
    work = Path(args.build_dir) / args.board
    image = build_hello(args.board, work / "build", float_abi=args.float_abi)
    (work / "hello_in.bin").write_bytes(b"ultrapost firmware bring-up\n")
    result = run_image(image, ["hello_in.bin", "hello_out.bin"], cwd=work, timeout=args.timeout)
    out = (work / "hello_out.bin").read_bytes()
    print(result.console.strip())
    print(f"{image.elf}: wrote {len(out)} bytes to {work / 'hello_out.bin'}")
    return 0


def _cmd_footprint(args) -> int:
    image = build_minimal(args.board, Path(args.build_dir) / args.board / "minimal")
    fp = footprint(image)
    lib = footprint_of_members(image, fp.library_members)
    st = stack_usage(ci_files(image), "up_run", image)
    print(f"board {args.board} ({image.board.cpu}), -Os, gc-sections; core input sections kept in {image.elf.name}")
    print(f"  core:   text {fp.text}  rodata {fp.rodata}  data {fp.data}  bss {fp.bss}")
    for name, sizes in sorted(fp.by_object.items()):
        print(f"    {name:24s} text {sizes['text']:6d}  rodata {sizes['rodata']:6d}")
    print(f"  library members pulled in by the core: text {lib.text}  rodata {lib.rodata}")
    for m in fp.library_members:
        print(f"    {m}")
    print(f"  stack (static, up_run): {st.bytes} bytes via " + " -> ".join(f"{f}({b})" for f, b in st.chain))
    if st.from_disassembly:
        print(f"    framed from the linked code (no gcc stack info): {', '.join(st.from_disassembly)}")
    if st.indirect:
        print(f"    indirect calls, targets not followed, in: {', '.join(st.indirect)}")
    if st.unbounded:
        print(f"    unbounded: {', '.join(st.unbounded)}")
    bad = forbidden_symbols(image)
    print(f"  float helpers or heap functions linked: {bad or 'none'}")
    return 1 if bad else 0


def _cmd_run(args) -> int:
    board = get_board(args.board)
    image = build_harness(board, Path(args.build_dir) / board.name / "harness", Path(args.configs))
    records = read_vectors(args.vectors)
    work = Path(args.build_dir) / board.name / "run"
    run = run_vectors(image, records, work, timeout=args.timeout, count_instructions=args.count)
    write_outputs(args.outputs, run.outputs)
    for i, (o, s) in enumerate(zip(run.outputs, run.stats, strict=True)):
        n = f"  instructions {run.instructions[i]}" if run.instructions else ""
        print(
            f"record {i}: status {o.status}  detections {len(o)}  stack {s.stack_bytes}  scratch {s.scratch_bytes}{n}"
        )
    return 0


def _cmd_check(args) -> int:
    report = check_board(
        args.board, Path(args.build_dir) / args.board / "check", count_instructions=args.count, timeout=args.timeout
    )
    for i, (case, got, st) in enumerate(zip(report.cases, report.run.outputs, report.run.stats, strict=True)):
        n = f"  instructions {report.run.instructions[i]:9d}" if report.run.instructions else ""
        same = "same" if got.equals(case.host) else "DIFFERENT"
        print(
            f"{case.name:34s} status {got.status:3d}  detections {len(got):4d}  {same}  "
            f"stack {st.stack_bytes:4d}  scratch {st.scratch_bytes:6d}{n}"
        )
    bad = report.mismatches
    print(f"{len(report.cases) - len(bad)} of {len(report.cases)} records identical to the host on {args.board}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ultrapost.firmware", description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="build/firmware", help="where objects, images and runs go")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before qemu is killed")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("hello", help="build and run the bring-up image (semihosting file I/O)")
    p.add_argument("--board", default="an386", choices=sorted(BOARDS))
    p.add_argument("--float-abi", default="soft", choices=("soft", "hard"))
    p.set_defaults(func=_cmd_hello)
    p = sub.add_parser("footprint", help="core code/rodata, library members, static stack, float/heap check")
    p.add_argument("--board", default="an505", choices=sorted(BOARDS))
    p.set_defaults(func=_cmd_footprint)
    p = sub.add_parser("check", help="generated cases on a board, compared with the host C and the golden model")
    p.add_argument("--board", default="an505", choices=sorted(BOARDS))
    p.add_argument("--count", action="store_true", help="count the instructions of every up_run call")
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("run", help="run a vector file on a board and write the outputs file")
    p.add_argument("--board", default="an505", choices=sorted(BOARDS))
    p.add_argument("--configs", required=True, help="directory with configs.h and cfg_*.h")
    p.add_argument("--vectors", required=True)
    p.add_argument("--outputs", required=True)
    p.add_argument("--count", action="store_true", help="count the instructions of every up_run call")
    p.set_defaults(func=_cmd_run)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, ValueError, TypeError, FirmwareError) as exc:
        print(f"firmware {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
