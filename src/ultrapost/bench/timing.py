"""Timing calls interleaved, in the same run, with the garbage collector off: ``time_calls`` -> ``Timing``."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass
class Timing:
    """Per-call times of one method: each sample is the mean of ``number`` back-to-back calls, in nanoseconds."""

    name: str
    samples_ns: np.ndarray
    number: int

    @property
    def median_us(self) -> float:
        return float(np.median(self.samples_ns)) / 1e3

    @property
    def p90_us(self) -> float:
        return float(np.percentile(self.samples_ns, 90)) / 1e3

    def as_dict(self) -> dict:
        return {
            "median_us": round(self.median_us, 3),
            "p90_us": round(self.p90_us, 3),
            "samples": int(len(self.samples_ns)),
            "calls_per_sample": self.number,
        }


def time_calls(
    calls: Mapping[str, Callable[[], object]],
    *,
    budget: float = 0.5,
    min_samples: int = 15,
    max_samples: int = 5000,
    sample_ns: int = 20_000,
    chunk: int = 5,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> dict[str, Timing]:
    """Time each zero-argument call with ``clock`` (default ``time.perf_counter_ns``; ``time.thread_time_ns``: this
    thread's CPU time, so time descheduled on a shared machine is not counted), interleaving methods in chunks.

    Each method is warmed up once, then sampled until it has spent ``budget`` seconds and has ``min_samples``
    samples (or has ``max_samples``). A sample groups enough calls to last about ``sample_ns`` so the timer's own
    cost stays below 1% for microsecond calls. Interleaving spreads clock-frequency drift over all methods alike;
    the garbage collector is off while timing, as in ``timeit``.
    """
    if budget <= 0:
        raise ValueError(f"budget must be > 0 seconds, got {budget}")
    numbers = {}
    for name, fn in calls.items():
        fn()  # warm-up: lazy imports, caches, first-call allocations
        t0 = clock()
        fn()
        numbers[name] = max(1, sample_ns // max(clock() - t0, 1))
    samples: dict[str, list[float]] = {name: [] for name in calls}
    spent = dict.fromkeys(calls, 0)
    limit_ns = int(budget * 1e9)

    def done(name):
        n = len(samples[name])
        return n >= max_samples or (n >= min_samples and spent[name] >= limit_ns)

    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while not all(done(name) for name in calls):
            for name, fn in calls.items():
                if done(name):
                    continue
                number = numbers[name]
                out = samples[name]
                for _ in range(chunk):
                    t0 = clock()
                    for _ in range(number):
                        fn()
                    dt = clock() - t0
                    out.append(dt / number)
                    spent[name] += dt
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(name, np.asarray(samples[name]), numbers[name]) for name in calls}
