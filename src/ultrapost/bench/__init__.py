"""Timing ultrapost against the post-processors people use today (``ultrapost bench``, benchmarks/).

Modules: ``timing`` (interleaved timing), ``workloads`` (what is timed), ``peers`` (the other post-processors),
``compare`` (methods, decisions, the whole comparison). The names ``ultrapost bench`` and benchmarks/ use are
re-exported here.
"""

from ultrapost.bench.compare import (
    LABELS,
    METHODS,
    NEEDS,
    PEERS,
    check_decisions,
    compare,
    missing_methods,
    peer_calls,
    run_method,
    same_as,
    scaling,
    summarize,
    versions,
)
from ultrapost.bench.timing import (
    Timing,
    time_calls,
)
from ultrapost.bench.workloads import (
    Workload,
    model_workload,
    synthetic_outputs,
    synthetic_workload,
)

__all__ = [
    "LABELS",
    "METHODS",
    "NEEDS",
    "PEERS",
    "check_decisions",
    "compare",
    "missing_methods",
    "peer_calls",
    "run_method",
    "same_as",
    "scaling",
    "summarize",
    "versions",
    "time_calls",
    "Timing",
    "model_workload",
    "synthetic_outputs",
    "synthetic_workload",
    "Workload",
]
