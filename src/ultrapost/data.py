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
