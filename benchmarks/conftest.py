"""Benchmarks of ultrapost against its peers on real model outputs (run: ``pytest benchmarks/``).

Not part of the default ``pytest`` run (pyproject's testpaths is tests/). Each benchmark records its median and p90
here; at the end of the run a table of ratios against the targets is printed, twice: from pytest-benchmark's
medians (each method timed on its own, one after another) and from the methods timed in turns
(``bench.time_calls``), which a shared machine's slow phases hit alike. Targets are reported, not asserted: speed is
measured, never a pass/fail unit test.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ultrapost.data import require_file

REQUIRE_DATA = os.environ.get("ULTRAPOST_REQUIRE_DATA") == "1"

# (what, numerator method, denominator method, target, how the target reads)
TARGETS = (
    ("numpy predict() / ultrapost", "numpy_predict", "ultrapost", 100.0, ">="),
    ("OpenCV path / ultrapost", "opencv_nms", "ultrapost", 45.0, ">="),
    ("ultrapost / numpy copy of inputs", "ultrapost", "numpy_copy", 2.0, "<="),
)

# workload name -> method -> (median us, p90 us): pytest-benchmark's, and timed in turns
RESULTS: dict[str, dict[str, tuple[float, float]]] = {}
INTERLEAVED: dict[str, dict[str, tuple[float, float]]] = {}


def shared(path_in_data: str) -> Path:
    """A file of the shared data; skips when absent, fails under ULTRAPOST_REQUIRE_DATA=1."""
    return require_file(path_in_data)


def record(workload: str, method: str, benchmark) -> None:
    """Keep a finished benchmark's median and p90 (per call, microseconds) for the summary."""
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: the function ran once, untimed
        return
    data = np.asarray(stats.stats.data, dtype=np.float64)
    RESULTS.setdefault(workload, {})[method] = (float(np.median(data)) * 1e6, float(np.percentile(data, 90)) * 1e6)


def record_interleaved(workload: str, timings) -> None:
    """Keep the medians and p90s of ``bench.time_calls`` results (methods timed in turns) for the summary."""
    for method, t in timings.items():
        INTERLEAVED.setdefault(workload, {})[method] = (t.median_us, t.p90_us)


def _pair(value) -> str:
    return "-" if value is None else f"{value[0]:.1f} / {value[1]:.1f}"


def _tables(tr, title: str, results) -> None:
    tr.write_line(title)
    methods = ("ultrapost", "numpy_predict", "opencv_nms", "onnxruntime_nms", "numpy_copy")
    w = max(len(name) for name in results) + 2
    tr.write_line("median / p90 us per call")
    tr.write_line(f"{'workload':<{w}}" + "".join(f"{m:>18}" for m in methods))
    for name, res in results.items():
        cells = "".join(f"{_pair(res.get(m)):>18}" for m in methods)
        tr.write_line(f"{name:<{w}}{cells}")
    tr.write_line("")
    tr.write_line(f"{'workload':<{w}}" + "".join(f"{t[0]:>34}" for t in TARGETS))
    for name, res in results.items():
        cells = []
        for _what, num, den, target, sense in TARGETS:
            if num in res and den in res:
                ratio = res[num][0] / res[den][0]
                met = ratio >= target if sense == ">=" else ratio <= target
                cells.append(f"{ratio:.1f}x ({sense} {target:g}: {'met' if met else 'NOT met'})")
            else:
                cells.append("-")
        tr.write_line(f"{name:<{w}}" + "".join(f"{c:>34}" for c in cells))
    tr.write_line("")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not RESULTS and not INTERLEAVED:
        return
    tr = terminalreporter
    tr.section("ultrapost ratios (medians of this run; targets are reported, not asserted)")
    if RESULTS:
        _tables(tr, "pytest-benchmark: each method timed on its own, one after another", RESULTS)
    if INTERLEAVED:
        _tables(tr, "timed in turns: the methods of a workload alternate every 5 samples of ~20 us", INTERLEAVED)
