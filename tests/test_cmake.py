"""The CMake project: ultrapost::core and ultrapost::host built, installed and used the three ways a C or C++
project uses them (find_package, pkg-config, add_subdirectory); the C++ example (examples/) run on recorded
tensors prints the faces the Python API gives; the core built for Cortex-M with cmake/arm-none-eabi.cmake."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import require, require_tool

import ultrapost

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
# The public headers: the core's, the pre-processing stage's and the host library's.
PUBLIC_HEADERS = ("ultrapost.h", "host/up_host.h")


def run(cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def cmake_build(src: Path, build: Path, *args: str, target: str | None = None) -> None:
    run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release", *args])
    run(["cmake", "--build", build, "-j2", *(["--target", target] if target else [])])


def require_cmake():
    require_tool(shutil.which("cmake") is not None, "cmake")
    require_tool(shutil.which("g++") is not None and shutil.which("gcc") is not None, "gcc and g++")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The host build (warnings as errors) installed into a prefix."""
    require_cmake()
    tmp = tmp_path_factory.mktemp("cmake")
    prefix = tmp / "prefix"
    cmake_build(ROOT, tmp / "build", "-DULTRAPOST_WERROR=ON", f"-DCMAKE_INSTALL_PREFIX={prefix}")
    run(["cmake", "--install", tmp / "build"])
    return tmp / "build", prefix


def libdir(prefix: Path) -> Path:
    return next(p.parent for p in prefix.rglob("libultrapost_core.a"))


def archive_members(path: Path) -> set[str]:
    return set(run(["ar", "t", path]).stdout.split())


def test_core_archive_holds_every_portable_file_and_no_host_file(installed):
    _, prefix = installed
    stems = {p.name for p in CSRC.glob("*.c")}
    core = {m.rsplit(".", 1)[0] for m in archive_members(libdir(prefix) / "libultrapost_core.a")}
    assert core == stems
    host = {m.rsplit(".", 1)[0] for m in archive_members(libdir(prefix) / "libultrapost.a")}
    assert host == stems | {p.name for p in (CSRC / "host").glob("*.c")}


def declared_functions(header: Path) -> set[str]:
    """Functions a public header declares: a line starting with a type, then up_name( ."""
    return set(re.findall(r"^[A-Za-z][\w ]*[ *](up_\w+)\(", header.read_text(), re.M))


def test_shared_library_exports_exactly_the_public_functions(installed):
    _, prefix = installed
    so = libdir(prefix) / "libultrapost.so"
    out = run(["nm", "-D", "--defined-only", so]).stdout
    exported = {line.split()[-1] for line in out.splitlines() if line.split()[-2] in "TDRB"}
    want = set().union(*(declared_functions(CSRC / h) for h in PUBLIC_HEADERS))
    assert {"up_run", "up_run_f32", "up_check_config", "up_pre_run", "up_yunet_run"} <= want
    assert exported == want


def test_installed_headers_and_package_files(installed):
    _, prefix = installed
    inc = prefix / "include" / "ultrapost"
    assert {p.name for p in inc.iterdir()} == {Path(h).name for h in PUBLIC_HEADERS}
    # Each installed header includes only the others and the C library's.
    for h in inc.iterdir():
        for name in re.findall(r'^#include "([^"]+)"', h.read_text(), re.M):
            assert (inc / name).is_file(), (h.name, name)
    lib = libdir(prefix)
    assert (lib / "cmake" / "ultrapost" / "ultrapostConfig.cmake").is_file()
    assert {p.name for p in (lib / "pkgconfig").iterdir()} == {"ultrapost.pc", "ultrapost-core.pc"}


def generate_config(out_dir: Path) -> Path:
    """The example's config: the ncnn demo's post-processing for RFB-320, as `ultrapost codegen --host` writes it,
    for the raw heads (two-class logits: the softmax the demo's network ends with is done by the config)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    header = out_dir / "cfg_ultraface.h"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run(
        [
            sys.executable,
            "-m",
            "ultrapost",
            "codegen",
            "--host",
            "--name",
            "ultraface",
            "--input-kind",
            "f32",
            "--input-size",
            "320x240",
            "--priors",
            "stride",
            "--clip",
            "--nms",
            "blend",
            "--pixel-size",
            "320x240",
            "--candidate-limit",
            "none",
            "--logits",
            "--eps",
            "0",
            "-o",
            header,
        ],
        env=env,
    )
    return out_dir


def recorded_tensors():
    """Float outputs of RFB-320 (raw heads) recorded on shared photos: logits [4420, 2], deltas [4420, 4]."""
    with np.load(require("int8/outputs_version-RFB-320_raw_int8.npz")) as z:
        return [(name, z[f"{name}_scores_float"], z[f"{name}_boxes_float"]) for name in ("1", "17", "astronaut")]


def check_example(exe: Path, tmp: Path, env=None) -> int:
    """Runs the example on each recorded tensor; its faces must be the Python API's (ncnn preset), exactly."""
    pp = ultrapost.Ultraface.preset("ncnn", input_size=(320, 240), logits=True)
    total = 0
    for name, scores, boxes in recorded_tensors():
        s, b = tmp / f"{name}_s.bin", tmp / f"{name}_b.bin"
        np.ascontiguousarray(scores, np.float32).tofile(s)
        np.ascontiguousarray(boxes, np.float32).tofile(b)
        lines = run([exe, s, b, 640, 480], env=env).stdout.splitlines()
        det = pp.postprocess(scores, boxes)
        assert lines[0] == f"faces {len(det)}"
        rows = [ln.split() for ln in lines[1:]]
        got = np.array([[float(v) for v in r[:5]] for r in rows], dtype=np.float64).reshape(-1, 5)
        want = np.column_stack([det.scores, det.to_pixels(640, 480)]).reshape(-1, 5)
        assert np.array_equal(got, want), name
        assert [int(r[5]) for r in rows] == det.anchors.tolist()
        total += len(det)
    assert total > 0
    return total


def test_example_through_find_package(installed, tmp_path):
    """examples/ as its own project against the installed package: find_package(ultrapost CONFIG)."""
    _, prefix = installed
    cfg = generate_config(tmp_path / "cfg")
    cmake_build(
        ROOT / "examples", tmp_path / "build", f"-DCMAKE_PREFIX_PATH={prefix}", f"-DULTRAPOST_EXAMPLE_CONFIG={cfg}"
    )
    exe = tmp_path / "build" / "ultraface_detect"
    assert "libultrapost.so" in run(["ldd", exe]).stdout  # ultrapost::host is the shared library
    check_example(exe, tmp_path)


def test_example_through_pkg_config(installed, tmp_path):
    require_tool(shutil.which("pkg-config") is not None, "pkg-config")
    _, prefix = installed
    cfg = generate_config(tmp_path / "cfg")
    env = {**os.environ, "PKG_CONFIG_PATH": str(libdir(prefix) / "pkgconfig")}
    flags = run(["pkg-config", "--cflags", "--libs", "ultrapost"], env=env).stdout.split()
    objs = []
    for src, cc in (("ultraface_config.c", "gcc"), ("ultraface_detect.cpp", "g++")):
        obj = tmp_path / (src + ".o")
        run(
            [
                cc,
                "-O2",
                "-Wall",
                "-Wextra",
                "-Werror",
                f"-I{cfg}",
                *[f for f in flags if f.startswith("-I")],
                "-c",
                ROOT / "examples" / src,
                "-o",
                obj,
            ]
        )
        objs.append(obj)
    exe = tmp_path / "ultraface_detect"
    run(["g++", *objs, *[f for f in flags if not f.startswith("-I")], "-o", exe])
    check_example(exe, tmp_path, env={**os.environ, "LD_LIBRARY_PATH": str(libdir(prefix))})

    # The core alone, static, from a C program: ultrapost-core.pc.
    src = tmp_path / "core_user.c"
    src.write_text(
        '#include "ultrapost.h"\nint main(void) {\n'
        "    return up_check_config(0) == UP_ERR_NULL && up_exp_q20(0) == (1 << 20) ? 0 : 1;\n}\n"
    )
    core_flags = run(["pkg-config", "--cflags", "--libs", "ultrapost-core"], env=env).stdout.split()
    run(["gcc", "-std=c99", "-Wall", "-Werror", src, *core_flags, "-o", tmp_path / "core_user"])
    run([tmp_path / "core_user"])


def test_add_subdirectory_with_feature_switches(tmp_path):
    """A project that vendors the tree: add_subdirectory, ultrapost::core with UP_NO_* options, the consumer sees
    the same switches (a config needing soft-NMS is refused by a core built without it)."""
    require_cmake()
    app = tmp_path / "app"
    app.mkdir()
    (app / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.21)\nproject(app C)\n"
        f'add_subdirectory("{ROOT.as_posix()}" ultrapost)\n'
        "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE ultrapost::core)\n"
    )
    (app / "main.c").write_text(
        '#include "ultrapost.h"\n#ifndef UP_NO_SOFT_NMS\n#error "the switch did not reach the consumer"\n#endif\n'
        "int main(void) { return up_check_config(0) == UP_ERR_NULL ? 0 : 1; }\n"
    )
    cmake_build(app, tmp_path / "build", "-DULTRAPOST_NO_SOFT_NMS=ON", "-DULTRAPOST_HOST=OFF")
    run([tmp_path / "build" / "app"])
    nm = run(["nm", tmp_path / "build" / "ultrapost" / "libultrapost_core.a"]).stdout
    assert " T up_nms_hard" in nm and "up_nms_soft" not in nm
    assert not (tmp_path / "build" / "ultrapost" / "ultrapost-core.pc").exists()  # no install rules when vendored


def test_core_for_cortex_m_with_the_toolchain_file(tmp_path):
    """cmake/arm-none-eabi.cmake: the same CMakeLists.txt builds the core for a Cortex-M33 (the host library is
    left out on bare metal), freestanding, warnings as errors."""
    require_tool(shutil.which("cmake") is not None, "cmake")
    require_tool(shutil.which("arm-none-eabi-gcc") is not None, "arm-none-eabi-gcc (apt gcc-arm-none-eabi)")
    build = tmp_path / "m33"
    cmake_build(
        ROOT,
        build,
        f"-DCMAKE_TOOLCHAIN_FILE={ROOT / 'cmake' / 'arm-none-eabi.cmake'}",
        "-DULTRAPOST_CPU=cortex-m33",
        "-DULTRAPOST_FREESTANDING=ON",
        "-DULTRAPOST_WERROR=ON",
    )
    lib = build / "libultrapost_core.a"
    assert {m.rsplit(".", 1)[0] for m in archive_members(lib)} == {p.name for p in CSRC.glob("*.c")}
    assert not list(build.glob("libultrapost.*"))
    attrs = run(["arm-none-eabi-readelf", "-A", lib]).stdout
    assert "Tag_CPU_arch: v8-M.mainline" in attrs and "Tag_THUMB_ISA_use" in attrs
    # Each function in its own section (gc-sections keeps only what a firmware calls).
    sections = run(["arm-none-eabi-objdump", "-h", lib]).stdout
    assert ".text.up_run " in sections or re.search(r"\.text\.up_run\s", sections)
