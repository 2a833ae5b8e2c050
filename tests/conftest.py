"""Shared fixtures: where the real models and photos are, and how a missing file is reported."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from ultrapost.data import require_file

REQUIRE_DATA = os.environ.get("ULTRAPOST_REQUIRE_DATA") == "1"


def require(path_in_data: str) -> Path:
    """A file of the shared data; skips with a reason when absent, fails under ULTRAPOST_REQUIRE_DATA=1."""
    return require_file(path_in_data)


def require_tool(ok: bool, what: str) -> None:
    """Skips when a toolchain is absent, fails under ULTRAPOST_REQUIRE_DATA=1."""
    if not ok:
        if REQUIRE_DATA:
            pytest.fail(f"{what} is required here (ULTRAPOST_REQUIRE_DATA=1)")
        pytest.skip(f"{what} not available")


def require_module(name: str, package: str):
    """An optional test dependency (the [models] extra's runtimes and OpenCV), imported; skips naming the pip package
    when absent, fails under ULTRAPOST_REQUIRE_DATA=1 (CI installs it)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if REQUIRE_DATA:
            pytest.fail(f"{package} is required here (ULTRAPOST_REQUIRE_DATA=1)", pytrace=False)
        pytest.skip(f"{package} not installed (pip install {package})", allow_module_level=True)
