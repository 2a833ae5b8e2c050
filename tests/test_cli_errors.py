"""The command line on what it can foresee (missing or unwritable paths, image bombs, bad archives, sizes that
would exhaust memory, out-of-range options): one line naming the file or option, a non-zero exit, and a
traceback only with ``--debug``."""

from __future__ import annotations

import os
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import require
from PIL import Image

from ultrapost.cli import main

RFB = "ultraface/version-RFB-320.onnx"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(code, err, command, *words):
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"ultrapost {command}: error: "), lines[0]
    assert "Traceback" not in err
    for w in words:
        assert str(w) in lines[0], (w, lines[0])
    return lines[0]


def png_bomb(path: Path, width: int = 100000, height: int = 100000) -> Path:
    """A PNG whose header claims width x height (the pixel data is never reached)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    )
    return path


def child(argv, limit_gib: int = 3, timeout: float = 300) -> subprocess.CompletedProcess:
    """The CLI in a child process whose address space is limited, so a command that would allocate without bound
    fails there (MemoryError) instead of taking the machine's memory."""

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit_gib << 30, limit_gib << 30))

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(
        [sys.executable, "-m", "ultrapost", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        env=env,
    )


# -- images -----------------------------------------------------------------------------------------------------------


def test_detect_on_an_image_bomb(capsys, tmp_path):
    model = require(RFB)
    bomb = png_bomb(tmp_path / "bomb.png")
    code, out, err = run(capsys, "detect", bomb, "--model", model)
    one_line(code, err, "detect", bomb)


def test_bench_on_an_image_bomb(capsys, tmp_path):
    model = require(RFB)
    bomb = png_bomb(tmp_path / "bomb.png")
    code, out, err = run(capsys, "bench", "--model", model, "--image", bomb, "--quick", "--no-scaling")
    one_line(code, err, "bench", bomb)


# -- output paths -----------------------------------------------------------------------------------------------------


def _bad_outputs(tmp_path):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    return {
        "existing directory": (tmp_path / "adir", tmp_path / "adir"),
        "under a regular file": (tmp_path / "afile" / "out.h", tmp_path / "afile"),
        "unwritable place": (Path("/proc/ultrapost-no-such-dir/out.h"), "/proc/ultrapost-no-such-dir"),
    }


@pytest.mark.parametrize("where", ["existing directory", "under a regular file", "unwritable place"])
def test_codegen_output_errors(capsys, tmp_path, where):
    path, named = _bad_outputs(tmp_path)[where]
    code, out, err = run(capsys, "codegen", "--family", "ultraslim", "-o", path)
    one_line(code, err, "codegen", named)


@pytest.mark.parametrize("where", ["under a regular file", "unwritable place"])
def test_vectors_output_errors(capsys, tmp_path, where):
    path, named = _bad_outputs(tmp_path)[where]
    code, out, err = run(capsys, "vectors", "--family", "ultraslim", "--cases", 1, "-o", path)
    one_line(code, err, "vectors", named)


# -- vectors --inputs -------------------------------------------------------------------------------------------------


def test_vectors_inputs_that_are_not_archives(capsys, tmp_path):
    corrupt = tmp_path / "corrupt.npz"
    np.savez(corrupt, a=np.zeros((172, 6), np.int8))
    corrupt.write_bytes(corrupt.read_bytes()[:40])
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    folder = tmp_path / "folder"
    folder.mkdir()
    for bad in (corrupt, photo, folder, tmp_path / "missing.npz"):
        code, out, err = run(capsys, "vectors", "--family", "ultraslim", "--inputs", bad, "-o", tmp_path / "out")
        one_line(code, err, "vectors", bad, "--inputs")


# -- sizes and options ------------------------------------------------------------------------------------------------


def test_codegen_huge_input_size_is_refused_before_allocating():
    r = child(["codegen", "--input-size", "100000x100000", "--input-kind", "f32", "-o", "-"])
    one_line(r.returncode, r.stderr, "codegen", "--input-size")


def test_vectors_cases_is_bounded(capsys, tmp_path):
    for cases in (100000000, -1):
        code, out, err = run(capsys, "vectors", "--family", "ultraslim", "--cases", cases, "-o", tmp_path / "v")
        one_line(code, err, "vectors", "--cases")


def test_vectors_seed_is_named(capsys, tmp_path):
    code, out, err = run(capsys, "vectors", "--family", "ultraslim", "--seed", -1, "-o", tmp_path / "v")
    one_line(code, err, "vectors", "--seed")


@pytest.mark.parametrize("budget", ["nan", "inf", "-1", "0"])
def test_bench_budget_must_be_finite_and_positive(capsys, budget):
    code, out, err = run(capsys, "bench", "--budget", budget, "--quick", "--no-scaling")
    one_line(code, err, "bench", "--budget")


@pytest.mark.parametrize("timeout", ["-1", "0", "nan", "inf"])
def test_firmware_check_timeout_must_be_finite_and_positive(capsys, tmp_path, timeout):
    code, out, err = run(capsys, "firmware-check", "--timeout", timeout, "--no-suite", "--work-dir", tmp_path)
    one_line(code, err, "firmware-check", "--timeout")


def test_debug_shows_the_traceback(capsys, tmp_path):
    (tmp_path / "adir").mkdir()
    with pytest.raises(OSError):
        main(["--debug", "codegen", "--family", "ultraslim", "-o", str(tmp_path / "adir")])
    code, out, err = run(capsys, "codegen", "--family", "ultraslim", "-o", tmp_path / "adir")
    one_line(code, err, "codegen")
