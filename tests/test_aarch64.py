"""The host C on 64-bit Arm (Raspberry Pi, Jetson): the core and the host library cross-built with
cmake/aarch64-linux-gnu.cmake (Debian gcc-aarch64-linux-gnu) and run under qemu-aarch64 (Debian qemu-user).
The host library is built twice, with its NEON pre-tests (the default on aarch64) and portable only
(ULTRAPOST_HOST_NO_SIMD). Two drivers: firmware/host/vector_runner.c over the built-in vector suite of
`firmware-check` (every record's output bytes equal the golden model's expected.bin) and firmware/host/f32_runner.c
over float32 cases of every path through up_run_f32, and logits on the edges of the NEON pre-test (equal to the
golden model)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import require_tool
from test_host_portable import CASES

from ultrapost import Ultraface
from ultrapost import firmware as fw
from ultrapost.firmware import vectorsets as vs

ROOT = Path(__file__).resolve().parents[1]
SYSROOT = "/usr/aarch64-linux-gnu"


def run(cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def logit_edges_case():
    """Two-logit rows around the score bound: s1 - s0 within a few Q20 units of it, at offsets where the float32
    difference rounds, and at the +-1024 ends of the float32 range (beyond is refused before any scan); IoU
    threshold 1 and no limits, so every passing anchor is an output (a pre-test that ruled out a passing anchor
    would show)."""
    family = Ultraface((320, 240), score_threshold=0.7, iou_threshold=1.0, logits=True, candidate_limit=None)
    n = family.num_anchors
    bound = family.config("f32", False)[0].score_bound / 2.0**20
    rng = np.random.default_rng(5)
    offsets = np.array([0.0, -0.3, 5.5, 123.456, -999.9, 999.9, 1000.5, -1000.5, 1023.0, -1023.99, -1024.0, 1024.0])
    s0 = rng.choice(offsets, n) + rng.choice([0.0, 1.0], n) * rng.normal(0, 3, n)
    s1 = s0 + bound + rng.integers(-4, 5, n) / 2.0**20
    rows = rng.random(n) < 0.2  # and some rows plain random
    s1[rows] = rng.normal(0, 4, rows.sum())
    scores = np.clip(np.stack([s0, s1], axis=1), -1024.0, 1024.0).astype(np.float32)
    boxes = rng.normal(0, 0.5, (n, 4)).astype(np.float32)
    return family, scores, boxes, None


F32_CASES = {**CASES, "logit_edges": logit_edges_case}


def case_config(name):
    family, scores, boxes, _ = F32_CASES[name]()
    if name == "blazeface":
        fc = family.config("f32")[0]
        golden = family.postprocess(scores, boxes, backend="golden").fixed
    else:
        decoded = name.startswith("decoded")
        fc = family.config("f32", decoded)[0]
        golden = family.postprocess(scores, boxes, decoded, backend="golden").fixed
    return fc, scores, boxes, golden


@pytest.fixture(scope="module")
def aarch64_build(tmp_path_factory):
    """The cross builds: the suite's vector_runner, and one f32_runner per case with the NEON pre-tests and
    without (ULTRAPOST_HOST_NO_SIMD), warnings as errors."""
    require_tool(shutil.which("cmake") is not None, "cmake")
    require_tool(shutil.which("aarch64-linux-gnu-gcc") is not None, "aarch64-linux-gnu-gcc (apt gcc-aarch64-linux-gnu)")
    require_tool(shutil.which("qemu-aarch64") is not None, "qemu-aarch64 (apt qemu-user)")
    tmp = tmp_path_factory.mktemp("aarch64")
    suite = vs.write_suite(tmp / "suite", cases=3)
    cases = {}
    for i, name in enumerate(F32_CASES):
        fc, scores, boxes, golden = case_config(name)
        d = tmp / f"cfg{i}"
        d.mkdir()
        (d / "cfg.h").write_text(fw.config_header("t", fc))
        cases[name] = (i, fc, scores, boxes, golden)
    dirs = ";".join(str(tmp / f"cfg{i}") for i in range(len(F32_CASES)))
    builds = {}
    for variant in ("neon", "portable"):
        build = builds[variant] = tmp / variant
        run(
            [
                "cmake",
                "-S",
                ROOT,
                "-B",
                build,
                f"-DCMAKE_TOOLCHAIN_FILE={ROOT / 'cmake' / 'aarch64-linux-gnu.cmake'}",
                "-DCMAKE_BUILD_TYPE=Release",
                "-DULTRAPOST_WERROR=ON",
                "-DULTRAPOST_INSTALL=OFF",
                "-DULTRAPOST_RUNNERS=ON",
                f"-DULTRAPOST_HOST_NO_SIMD={'ON' if variant == 'portable' else 'OFF'}",
                f"-DULTRAPOST_RUNNER_CONFIGS={suite if variant == 'neon' else ''}",
                f"-DULTRAPOST_RUNNER_F32_CONFIGS={dirs}",
            ]
        )
        run(["cmake", "--build", build, "-j2"])
    return builds, suite, cases


def qemu(exe: Path, *args, cwd=None):
    return run(["qemu-aarch64", "-L", SYSROOT, exe, *args], cwd=cwd)


def test_binaries_are_aarch64(aarch64_build):
    builds, _, _ = aarch64_build
    for exe in (builds["neon"] / "vector_runner", builds["neon"] / "f32_runner_0", builds["portable"] / "f32_runner_0"):
        assert re.search(r"Machine:\s+AArch64", run(["readelf", "-h", exe]).stdout)


def test_vector_suite_identical_to_golden(aarch64_build, tmp_path):
    builds, suite, _ = aarch64_build
    qemu(builds["neon"] / "vector_runner", suite / "vectors.bin", tmp_path / "outputs.bin")
    got = (tmp_path / "outputs.bin").read_bytes()
    want = (suite / "expected.bin").read_bytes()
    records = fw.read_outputs(suite / "expected.bin")
    assert len(records) > 100 and any(len(r) for r in records)
    assert got == want


def read_f32_outputs(path: Path, fc):
    raw = np.fromfile(path, np.int32)
    status, k = int(raw[0]), int(raw[1])
    nkp = 2 * fc.num_keypoints
    parts, pos = {}, 2
    for name, width in (
        ("boxes", 4),
        ("scores", 1),
        ("anchors", 1),
        ("keypoints", nkp),
        ("labels", 1 if fc.num_labels > 0 else 0),
    ):
        if width:
            parts[name] = raw[pos : pos + k * width].reshape(k, width) if width > 1 else raw[pos : pos + k]
            pos += k * width
    assert pos == len(raw)
    return status, parts


@pytest.mark.parametrize("variant", ["neon", "portable"])
@pytest.mark.parametrize("name", list(F32_CASES))
def test_float32_host_path_equals_golden(aarch64_build, tmp_path, name, variant):
    builds, _, cases = aarch64_build
    build = builds[variant]
    i, fc, scores, boxes, golden = cases[name]
    s = np.ascontiguousarray(scores, np.float32).reshape(fc.num_anchors, -1)
    b = np.ascontiguousarray(boxes, np.float32).reshape(fc.num_anchors, -1)
    s.tofile(tmp_path / "s.bin")
    b.tofile(tmp_path / "b.bin")
    qemu(
        build / f"f32_runner_{i}", tmp_path / "s.bin", tmp_path / "b.bin", tmp_path / "o.bin", s.shape[1], b.shape[1], 2
    )
    status, got = read_f32_outputs(tmp_path / "o.bin", fc)
    assert status == 0
    assert len(got["anchors"]) == len(golden["anchors"]) > 0
    for key, want in golden.items():
        assert got[key].dtype == np.int32 and np.array_equal(got[key], want), key
