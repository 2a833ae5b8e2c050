"""Locating the shared test data (models and photos) that is not part of the package."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path | None:
    """The shared data folder: $ULTRAPOST_TEST_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("ULTRAPOST_TEST_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data"
        if (parent / ".git").exists() and candidate.is_dir():
            return candidate
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    cwd = Path.cwd()
    for parent in (cwd, *cwd.parents):
        if (parent.parent / "shared" / "data").is_dir():
            return parent.parent / "shared" / "data"
    return None


def require_file(path_in_data: str) -> Path:
    """For the test and benchmark suites: a file of the shared data. When it is absent the calling test skips with
    the reason, or fails when ULTRAPOST_REQUIRE_DATA=1 (as CI sets), so missing data never passes silently."""
    import pytest

    root = data_dir()
    path = root / path_in_data if root else None
    if path is None or not path.exists():
        msg = f"shared data file {path_in_data!r} not found (set ULTRAPOST_TEST_DATA or place ../shared/data)"
        if os.environ.get("ULTRAPOST_REQUIRE_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path
