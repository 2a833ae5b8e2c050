"""ultrapost.nms against torchvision.ops.nms, cv2.dnn.NMSBoxes and onnxruntime's NonMaxSuppression
(run: ``pytest benchmarks/test_bench_nms.py``; the full range, to 100,000 boxes: ``ultrapost bench --nms``).

Each method is timed by pytest-benchmark on the same generated box set (ultrapost.bench_nms.box_set); before
timing, every peer's kept indices are compared with ultrapost's. Peers that are not installed are skipped with the
reason. Speed is reported, never asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

from ultrapost.bench import nms as bench_nms

CASES = [(kind, n) for kind in bench_nms.SETS for n in (1000, 10000)]
METHODS = ("ultrapost", *bench_nms.PEERS)


@pytest.fixture(scope="module")
def calls():
    cache = {}

    def get(kind, n):
        if (kind, n) not in cache:
            boxes, scores = bench_nms.box_set(kind, n)
            cache[kind, n] = bench_nms.calls(boxes, scores, 0.5)
        return cache[kind, n]

    return get


@pytest.mark.parametrize("kind, n", CASES)
def test_peers_decide_like_ultrapost(calls, kind, n):
    fns = calls(kind, n)
    ref = fns["ultrapost"]()
    for name, fn in fns.items():
        keep = np.asarray(fn(), dtype=np.int64)
        assert np.array_equal(keep, ref), f"{name} differs from ultrapost on {kind} N={n}"


@pytest.mark.benchmark(max_time=1.0, min_rounds=3)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind, n", CASES)
def test_bench_nms(benchmark, calls, kind, n, method):
    fns = calls(kind, n)
    if method not in fns:
        pytest.skip(f"{method} not installed ({bench_nms.missing_peers().get(method, '?')})")
    benchmark.group = f"nms {kind} N={n}"
    benchmark(fns[method])
