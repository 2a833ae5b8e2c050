"""Running an image on qemu through semihosting, with exact instruction counts of each ``up_run`` call from
qemu's per-instruction execution trace (firmware/README.md, "Instruction counts"), and a harness run on a
vector file (``run_vectors``)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from ultrapost.firmware.boards import EXIT_CODES
from ultrapost.firmware.build import Image
from ultrapost.firmware.footprint import linked_symbols
from ultrapost.firmware.formats import OutputRecord, RecordStats, VectorRecord, read_outputs, read_stats, write_vectors
from ultrapost.firmware.toolchain import QEMU, FirmwareError, qemu_available, run_tool, tool


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
    out = run_tool([tool("objdump"), "-d", "--no-show-raw-insn", str(image.elf)], "objdump").stdout
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
    """Counts trace lines from a callee's entry up to (not including) its call's return address; callees: entry
    address -> return addresses of its call sites."""

    def __init__(self, callees: dict[int, set[int]]):
        self.callees = callees
        self.returns: set[int] = set()
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
            elif pc in self.callees:
                self.returns = self.callees[pc]
                self._inside = True
                self._n = 1


def run_image(
    image: Image,
    args: list[str],
    *,
    cwd: Path,
    timeout: float = 60.0,
    count_calls_to: str | tuple[str, ...] | None = None,
    check: bool = True,
) -> RunResult:
    """Runs an image on qemu with semihosting (host files relative to cwd).

    timeout bounds every run: qemu is killed and FirmwareError raised. check: raise FirmwareError on a non-zero
    exit status. count_calls_to: count the instructions executed by each call of that function, or of any of
    several (one count per call, in call order; see firmware/README.md, "Instruction counts").
    """
    if not qemu_available():
        raise FileNotFoundError(f"{QEMU} not found on PATH (install qemu-system-arm)")
    counter = None
    read_fd = write_fd = None
    if count_calls_to is not None:
        callees = {}
        names = (count_calls_to,) if isinstance(count_calls_to, str) else count_calls_to
        # Of several, those the image links (a harness without YuNet configs drops up_yunet_run's call).
        linked = [n for n in names if len(names) == 1 or n in linked_symbols(image)]
        if not linked:
            raise FirmwareError(f"none of {', '.join(names)} is linked in {image.elf.name}")
        for name in linked:
            entry, returns = _call_sites(image, name)
            if len(returns) != 1:
                raise FirmwareError(f"expected one call site of {name} in {image.elf.name}, found {len(returns)}")
            callees[entry] = set(returns)
        counter = _TraceCounter(callees)
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
        count_calls_to=("up_run", "up_run_keypoints", "up_yunet_run") if count_instructions else None,
    )
    outputs = read_outputs(work_dir / "outputs.bin")
    stats = read_stats(work_dir / "stats.bin")
    if len(outputs) != len(records) or len(stats) != len(records):
        raise FirmwareError(f"{len(records)} records in, {len(outputs)} outputs and {len(stats)} stats out")
    if result.instructions is not None and len(result.instructions) != len(records):
        raise FirmwareError(f"{len(records)} records but {len(result.instructions)} counted runs")
    return HarnessRun(outputs, stats, result.instructions, result.console)
