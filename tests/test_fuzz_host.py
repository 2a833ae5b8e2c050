"""The host float32 path (csrc/host, with its AVX2 code) against the portable integer path, under libFuzzer with
ASan and UBSan (firmware/host/fuzz_host_diff.c), for a third of $ULTRAPOST_FUZZ_SECONDS (CI sets it; 8 s by
default so a local run stays short). The README ("C-level safety") says how to run it for hours."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from conftest import require_tool

from ultrapost import firmware as fw


def test_host_differential_fuzzer_bounded_run(tmp_path):
    require_tool(shutil.which("clang") is not None, "clang with libFuzzer")
    seconds = max(1, round(float(os.environ.get("ULTRAPOST_FUZZ_SECONDS", "8")) / 3))
    exe = fw.build_host_fuzzer(tmp_path)
    proc = subprocess.run(
        [str(exe), "-seed=1", f"-max_total_time={seconds}", "-rss_limit_mb=1024"],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    done = re.search(r"Done (\d+) runs in (\d+) second", proc.stderr)
    assert done, proc.stderr[-2000:]
    print(f"libFuzzer (host differential): {done.group(1)} executions in {done.group(2)} s, no finding")


def test_host_differential_fuzzer_sees_a_divergence(tmp_path):
    """The target is not blind: with the host's float32 decode made to read prior sizes as unsigned (the
    divergence it found), it aborts within seconds."""
    require_tool(shutil.which("clang") is not None, "clang with libFuzzer")
    exe = fw.build_host_fuzzer(tmp_path, defines={"UP_FUZZ_NEGATIVE_PRIOR_SIZES": "1"})
    proc = subprocess.run(
        [str(exe), "-seed=1", "-max_total_time=60", "-rss_limit_mb=1024"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert proc.returncode != 0, "the differential target missed negative prior sizes"
