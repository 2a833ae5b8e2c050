"""Where the C sources are and which tools build and run them: the tree holding csrc/ and firmware/, the
arm-none-eabi toolchain and qemu-system-arm, and how a tool is run (``run_tool``: a failure is a FirmwareError
naming the command)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


class FirmwareError(RuntimeError):
    """A build, a qemu run or a firmware image failed; the message says which and why."""


def source_root() -> Path:
    """The tree holding csrc/ and firmware/: $ULTRAPOST_SOURCE_ROOT, else the checkout this module sits in (an
    in-place or editable build), else the working directory or one of its parents (an installed package run
    from a checkout), else the copy an installed package carries (ultrapost/_src, made by setup.py)."""
    env = os.environ.get("ULTRAPOST_SOURCE_ROOT")
    candidates = [Path(env)] if env else []
    candidates += list(Path(__file__).resolve().parents)
    cwd = Path.cwd().resolve()
    candidates += [cwd, *cwd.parents]
    candidates.append(Path(__file__).resolve().parents[1] / "_src")  # ultrapost/_src (this is ultrapost/firmware/)
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


def tool(name: str) -> str:
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


def run_tool(cmd: list[str], what: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FirmwareError(f"{what}: timed out after {timeout:.0f} s: {' '.join(cmd)}") from None
    if proc.returncode != 0:
        raise FirmwareError(f"{what} failed ({proc.returncode}):\n{' '.join(cmd)}\n{proc.stderr.strip()}")
    return proc
