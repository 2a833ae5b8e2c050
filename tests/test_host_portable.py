"""The host's portable float32 code -- what the extension runs on hosts without AVX2 (ARM, older x86) -- against
the golden model. The extension on this machine takes the AVX2 variants, so firmware/host/f32_runner.c is built
with the core and the host library (csrc/host) under UP_HOST_NO_SIMD (and ASan + UBSan) and run on generated cases
of every path through up_run_f32: packed single-class probabilities, logits, multi-class labels, BlazeFace
keypoints, corners, clip, pads, ">=" tests, a candidate limit below the passing count, and NaN."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from conftest import require_tool

from ultrapost import firmware as fw
from ultrapost.families.cases import blazeface_case, make_case, multiclass_case

CASES = {
    "raw_random": lambda: make_case(11, (320, 240), "f32", "random"),
    "raw_extreme_clip": lambda: make_case(12, (160, 120), "f32", "extreme", clip=True),
    "raw_degenerate_limit": lambda: make_case(13, (160, 120), "f32", "degenerate", candidate_limit=40),
    "decoded_pads": lambda: make_case(14, (320, 240), "f32", "random", decoded=True, pixel_size=(320, 240)),
    "decoded_inclusive": lambda: make_case(15, (160, 120), "f32", "extreme", decoded=True, score_test=">="),
    "logits": lambda: make_case(16, (320, 240), "f32", "random", logits=True),
    "multiclass": lambda: multiclass_case(17, "f32"),
    "blazeface": lambda: blazeface_case(20, "f32"),
}


@pytest.fixture(scope="module")
def core_objects(tmp_path_factory):
    """The core and the host library compiled once, portable code only, with the sanitizers."""
    require_tool(shutil.which("gcc") is not None, "gcc")
    out = tmp_path_factory.mktemp("portable")
    host = fw.csrc_dir() / "host"
    flags = [
        "gcc",
        "-std=c99",
        "-g",
        "-O1",
        *fw.WARNINGS,
        "-Werror",
        *fw.SANITIZE,
        "-DUP_HOST_NO_SIMD",
        f"-I{fw.csrc_dir()}",
        f"-I{host}",
    ]
    objects = []
    for src in [*sorted(fw.csrc_dir().glob("*.c")), *sorted(host.glob("*.c"))]:
        obj = out / (src.stem + ".o")
        subprocess.run([*flags, "-c", str(src), "-o", str(obj)], check=True, capture_output=True, text=True)
        objects.append(obj)
    return flags, objects


def test_host_vector_code_compiles_without_warnings(tmp_path):
    """The AVX2 variant of the host files under the same warnings as everything else (the extension builds it with
    setup.py's flags, which do not make warnings errors)."""
    require_tool(shutil.which("gcc") is not None, "gcc")
    host = fw.csrc_dir() / "host"
    assert sorted(host.glob("*.c")), f"no host sources in {host}"
    for src in sorted(host.glob("*.c")):
        out = subprocess.run(
            [
                "gcc",
                "-std=c99",
                "-O2",
                *fw.WARNINGS,
                "-Werror",
                f"-I{fw.csrc_dir()}",
                f"-I{host}",
                "-c",
                str(src),
                "-o",
                str(tmp_path / (src.stem + ".o")),
            ],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, f"{src.name}:\n{out.stderr}"


def run_portable(tmp_path, core_objects, family, fc, scores, boxes):
    """Builds f32_runner for one config and runs it twice on the same tensors; returns (status, outputs)."""
    flags, objects = core_objects
    (tmp_path / "cfg.h").write_text(fw.config_header("t", fc))
    exe = tmp_path / "f32_runner"
    build = subprocess.run(
        [*flags, f"-I{tmp_path}", str(fw.firmware_dir() / "host" / "f32_runner.c"), *map(str, objects), "-o", str(exe)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    s = np.ascontiguousarray(scores, np.float32).reshape(fc.num_anchors, -1)
    b = np.ascontiguousarray(boxes, np.float32).reshape(fc.num_anchors, -1)
    s.tofile(tmp_path / "s.bin")
    b.tofile(tmp_path / "b.bin")
    run = subprocess.run(
        [
            str(exe),
            str(tmp_path / "s.bin"),
            str(tmp_path / "b.bin"),
            str(tmp_path / "o.bin"),
            str(s.shape[1]),
            str(b.shape[1]),
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    raw = np.fromfile(tmp_path / "o.bin", np.int32)
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


@pytest.mark.parametrize("name", list(CASES))
def test_portable_host_code_equals_golden(tmp_path, core_objects, name):
    family, scores, boxes, _ = CASES[name]()
    if name == "blazeface":
        fc = family.config("f32")[0]
        golden = family.postprocess(scores, boxes, backend="golden").fixed
    else:
        decoded = name.startswith("decoded")
        fc = family.config("f32", decoded)[0]
        golden = family.postprocess(scores, boxes, decoded, backend="golden").fixed
    status, got = run_portable(tmp_path, core_objects, family, fc, scores, boxes)
    assert status == 0
    assert len(got["anchors"]) == len(golden["anchors"]) > 0
    for key, want in golden.items():
        assert np.array_equal(got[key], want), key


@pytest.mark.parametrize("where", ["scores", "boxes"])
def test_portable_host_code_refuses_nan(tmp_path, core_objects, where):
    pp, scores, boxes, _ = make_case(11, (160, 120), "f32", "random")
    (scores if where == "scores" else boxes)[len(scores) - 1, 0] = np.nan  # the last row: the tail of every loop
    status, got = run_portable(tmp_path, core_objects, pp, pp.config("f32", False)[0], scores, boxes)
    assert status == -6 and len(got["anchors"]) == 0
