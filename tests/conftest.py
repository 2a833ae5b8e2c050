"""Shared fixtures: where the real models and photos are, and how a missing file is reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ultrapost.data import data_dir

REQUIRE_DATA = os.environ.get("ULTRAPOST_REQUIRE_DATA") == "1"


def require(path_in_data: str) -> Path:
    """A file of the shared data; skips with a reason when absent, fails under ULTRAPOST_REQUIRE_DATA=1."""
    root = data_dir()
    path = root / path_in_data if root else None
    if path is None or not path.exists():
        msg = f"shared data file {path_in_data!r} not found (set ULTRAPOST_TEST_DATA or place ../shared/data)"
        if REQUIRE_DATA:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def require_tool(ok: bool, what: str) -> None:
    """Skips when a toolchain is absent, fails under ULTRAPOST_REQUIRE_DATA=1."""
    if not ok:
        if REQUIRE_DATA:
            pytest.fail(f"{what} is required here (ULTRAPOST_REQUIRE_DATA=1)")
        pytest.skip(f"{what} not available")
