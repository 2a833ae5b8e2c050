"""The portable core does not know its host: no file of csrc/ outside csrc/host/ names the host library (UP_HOST...,
up_host_...) or includes anything from csrc/host/. The dependency goes one way: csrc/host/ composes the core's stages
and stands in for some of them; the core, which firmware builds, is the same with or without it."""

from __future__ import annotations

import re
from pathlib import Path

CSRC = Path(__file__).resolve().parents[1] / "csrc"
HOST = CSRC / "host"
MENTIONS = re.compile(r"UP_HOST|up_host_")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def portable_files() -> list[Path]:
    return sorted(p for p in CSRC.rglob("*.[ch]") if HOST not in p.parents)


def test_portable_core_does_not_mention_its_host():
    files = portable_files()
    assert files, "csrc/ not found next to the tests"
    host_headers = {p.name for p in HOST.glob("*.h")}
    assert host_headers, "csrc/host/ has no headers"
    for path in files:
        text = path.read_text()
        where = path.relative_to(CSRC).as_posix()
        found = sorted(set(MENTIONS.findall(text)))
        assert not found, f"csrc/{where} mentions {found}"
        for name in INCLUDE.findall(text):
            assert "host" not in Path(name).parts[:-1] and Path(name).name not in host_headers, (
                f"csrc/{where} includes {name}"
            )
