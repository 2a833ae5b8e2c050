"""Packaging and portability of the C core: the sdist carries every C source, and the firmware files are strict C99
that include nothing beyond <stdint.h>, <stddef.h> and <stdbool.h>."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import require_tool

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
ALLOWED = {"stdint.h", "stddef.h", "stdbool.h"}


def firmware_sources():
    """Every csrc file that goes into firmware (the host library lives in csrc/host/)."""
    return sorted(p for p in CSRC.glob("*.[ch]") if "host" not in p.name)


def test_firmware_sources_include_only_the_integer_headers():
    assert firmware_sources(), "csrc/ not found next to the tests"
    for path in firmware_sources():
        text = path.read_text()
        for system in re.findall(r"#\s*include\s*<([^>]+)>", text):
            assert system in ALLOWED, f"{path.name} includes <{system}>"
        for local in re.findall(r'#\s*include\s*"([^"]+)"', text):
            assert "host" not in local and (CSRC / local).exists(), f"{path.name} includes {local}"
        code = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)
        assert not re.search(r"\b(float|double)\b", code), f"{path.name} uses float or double"
        assert not re.search(r"\b(malloc|calloc|realloc|free)\s*\(", code), f"{path.name} uses the heap"


@pytest.mark.parametrize("std", ["c99", "c11"])
def test_firmware_sources_compile_as_strict_iso_c(tmp_path, std):
    cc = shutil.which("gcc")
    require_tool(cc is not None, "gcc")
    for path in firmware_sources():
        if path.suffix != ".c":
            continue
        cmd = [
            cc,
            f"-std={std}",
            "-pedantic-errors",
            "-Wall",
            "-Wextra",
            "-Wconversion",
            "-Wshadow",
            "-Wstrict-prototypes",
            "-Werror",
            "-ffreestanding",
            "-nostdinc",
            f"-I{CSRC}",
            f"-isystem{Path(subprocess.check_output([cc, '-print-file-name=include'], text=True).strip())}",
            "-c",
            str(path),
            "-o",
            str(tmp_path / (path.stem + ".o")),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True)
        assert result.returncode == 0, f"{path.name}:\n{result.stderr}"


def test_sdist_carries_every_c_source(tmp_path):
    require_tool(shutil.which("git") is not None and (ROOT / ".git").exists(), "a git checkout")
    require_tool(importlib.util.find_spec("build") is not None, "the 'build' package (test extra)")
    out = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (sdist,) = tmp_path.glob("ultrapost-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {Path(n).relative_to(Path(n).parts[0]).as_posix() for n in tar.getnames() if len(Path(n).parts) > 1}
    tracked = subprocess.check_output(["git", "ls-files", "csrc", "src"], cwd=ROOT, text=True).split()
    needed = [t for t in tracked if t.endswith((".c", ".h", ".pyx", ".pxd", ".py"))]
    # The build descriptions (CMake, Zephyr, ESP-IDF, PlatformIO) and the example: firmware-check builds through
    # CMakeLists.txt, so the wheel built from the sdist ships it.
    needed += subprocess.check_output(
        ["git", "ls-files", "CMakeLists.txt", "cmake", "firmware", "zephyr", "examples", "Kconfig", "*.yml", "*.json"],
        cwd=ROOT,
        text=True,
    ).split()
    missing = [t for t in needed if t not in names]
    assert not missing, f"sdist lacks {missing}"


def test_firmware_commands_work_outside_a_checkout(tmp_path):
    """An installed package carries csrc/ and the firmware harness (ultrapost/_src), identical to the checkout's,
    so `ultrapost codegen` (and vectors, firmware-check) run from any directory."""
    import os

    import ultrapost
    from ultrapost import firmware

    env = {k: v for k, v in os.environ.items() if k != "ULTRAPOST_SOURCE_ROOT"}
    out = subprocess.run(
        [sys.executable, "-m", "ultrapost", "codegen", "--family", "ultraslim", "-o", "-"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "ultraslim_config" in out.stdout
    shipped = Path(ultrapost.__file__).resolve().parent / "_src"
    if ROOT in Path(ultrapost.__file__).resolve().parents:  # an in-place build: the checkout itself is the source
        assert firmware.source_root() == ROOT
        return
    for name in ("csrc", "csrc/host", "firmware/src", "firmware/ld", "firmware/host", ".", "cmake", "firmware"):
        for f in sorted((ROOT / name).glob("*")):
            # the top level ships only its CMakeLists.txt (MANIFEST.in is the sdist's, not the package's)
            if f.name == "CMakeLists.txt" or (name != "." and f.suffix in (".c", ".h", ".ld", ".cmake", ".in")):
                copy = shipped / name / f.name
                assert copy.is_file() and copy.read_bytes() == f.read_bytes(), f"{copy} differs from {f}"
