"""The build descriptions firmware teams use -- CMake, Zephyr (zephyr/module.yml, zephyr/CMakeLists.txt, Kconfig),
ESP-IDF (idf_component.yml, the component CMakeLists.txt) and PlatformIO (library.json) -- parse, and each selects
exactly the portable core: every csrc/*.c file (a new stage file joins them all without an edit) and no host file.
The feature switches offered (CMake options, Kconfig) are the UP_NO_* switches ultrapost.h documents."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"


def portable_sources() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in CSRC.glob("*.c")}


def glob_set(pattern: str) -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in ROOT.glob(pattern) if p.is_file()}


def cmake_globs(path: Path, variable: str) -> list[str]:
    """The patterns of `file(GLOB <variable> CONFIGURE_DEPENDS "${_up_root}/...")` in a CMake file."""
    text = path.read_text()
    pats = re.findall(rf'file\(GLOB {variable} CONFIGURE_DEPENDS "\$\{{_up_root\}}/([^"]+)"\)', text)
    assert pats, f"{path.name}: no file(GLOB {variable} ...)"
    return pats


def test_there_is_a_portable_core_and_a_host_part():
    assert len(portable_sources()) >= 5
    assert (CSRC / "ultrapost.h").is_file()
    assert (CSRC / "host" / "up_host.h").is_file() and list((CSRC / "host").glob("*.c"))


def test_cmake_core_and_host_globs():
    assert set().union(*(glob_set(p) for p in cmake_globs(ROOT / "CMakeLists.txt", "_up_core_sources"))) == (
        portable_sources()
    )
    host = set().union(*(glob_set(p) for p in cmake_globs(ROOT / "CMakeLists.txt", "_up_host_sources")))
    assert host == glob_set("csrc/host/*.c") and not host & portable_sources()


def test_zephyr_module():
    module = yaml.safe_load((ROOT / "zephyr" / "module.yml").read_text())
    assert module["name"] == "ultrapost"
    assert (ROOT / module["build"]["cmake"] / "CMakeLists.txt").is_file()
    assert (ROOT / module["build"]["kconfig"]).is_file()
    sources = set().union(*(glob_set(p) for p in cmake_globs(ROOT / "zephyr" / "CMakeLists.txt", "_up_sources")))
    assert sources == portable_sources()
    text = (ROOT / "zephyr" / "CMakeLists.txt").read_text()
    assert "if(CONFIG_ULTRAPOST)" in text and 'zephyr_include_directories("${_up_root}/csrc")' in text


def test_esp_idf_component():
    manifest = yaml.safe_load((ROOT / "idf_component.yml").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    assert manifest["license"] == "MIT" and "idf" in manifest["dependencies"]
    # The component CMakeLists (the repository root's, in its ESP_PLATFORM branch): SRC_DIRS is not recursive, so
    # "csrc" is exactly csrc/*.c.
    text = (ROOT / "CMakeLists.txt").read_text()
    branch = text[text.index("if(ESP_PLATFORM)") : text.index("return()", text.index("if(ESP_PLATFORM)"))]
    m = re.search(r'idf_component_register\(SRC_DIRS "([^"]+)" INCLUDE_DIRS "([^"]+)"\)', branch)
    assert m and glob_set(m.group(1) + "/*.c") == portable_sources() and m.group(2) == "csrc"
    # What the component manager uploads holds every portable source and header, and what the branch includes.
    shipped = set().union(*(glob_set(p) for p in manifest["files"]["include"]))
    assert portable_sources() | glob_set("csrc/*.h") | {"CMakeLists.txt", "Kconfig", "cmake/features.cmake"} <= shipped
    assert not shipped & glob_set("csrc/host/*")


def platformio_selection(src_dir: Path, filters: list[str]) -> set[str]:
    """PlatformIO's srcFilter: +<glob> adds, -<glob> removes (a directory: everything under it), in order."""
    chosen: set[str] = set()
    for f in filters:
        m = re.fullmatch(r"([+-])<([^>]+)>", f.strip())
        assert m, f"bad srcFilter entry {f!r}"
        sign, pat = m.groups()
        hits = set()
        for p in src_dir.rglob("*"):
            rel = p.relative_to(src_dir).as_posix()
            if fnmatch.fnmatch(rel, pat.rstrip("/")) or (pat.endswith("/") and rel.startswith(pat)):
                hits |= {q.relative_to(ROOT).as_posix() for q in ([p] if p.is_file() else p.rglob("*"))}
        chosen = chosen | hits if sign == "+" else chosen - hits
    return {c for c in chosen if c.endswith(".c")}


def test_platformio_library():
    lib = json.loads((ROOT / "library.json").read_text())
    assert lib["name"] == "ultrapost" and lib["license"] == "MIT"
    build = lib["build"]
    assert build["includeDir"] == "csrc"
    assert platformio_selection(ROOT / build["srcDir"], build["srcFilter"]) == portable_sources()
    shipped = set().union(*(glob_set(p) for p in lib["export"]["include"]))
    assert portable_sources() | glob_set("csrc/*.h") <= shipped


def test_versions_agree():
    """One version everywhere: pyproject, CMake project(), the component and library manifests."""
    pyproject = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    cmake = re.search(r"project\(ultrapost VERSION (\S+)", (ROOT / "CMakeLists.txt").read_text()).group(1)
    idf = yaml.safe_load((ROOT / "idf_component.yml").read_text())["version"]
    pio = json.loads((ROOT / "library.json").read_text())["version"]
    assert pyproject == cmake == idf == pio


def header_switches() -> list[str]:
    text = (CSRC / "ultrapost.h").read_text()
    block = text[text.index("Compile-time switches") :]
    block = block[: block.index("*/")]
    return re.findall(r"UP_NO_([A-Z_]+) \.", block)


def test_feature_switches_are_the_headers():
    switches = header_switches()
    assert len(switches) >= 4
    cmake = re.search(r"set\(ULTRAPOST_FEATURES ([A-Z_ ]+)\)", (ROOT / "cmake" / "features.cmake").read_text())
    assert cmake.group(1).split() == switches
    kconfig = re.findall(r"^config ULTRAPOST_NO_([A-Z_]+)$", (ROOT / "Kconfig").read_text(), re.M)
    assert kconfig == switches
    # Every switch is used by the core (a stale name would silently build the full core).
    core = "".join(p.read_text() for p in CSRC.glob("*.c"))
    for s in switches:
        assert f"UP_NO_{s}" in core


@pytest.mark.parametrize("path", ["zephyr/Kconfig", "Kconfig"])
def test_kconfig_syntax(path):
    """Kconfig files: every config has a type line, if/endif and menu/endmenu balance, rsource targets exist."""
    text = (ROOT / path).read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert sum(ln.startswith("if ") for ln in lines) == lines.count("endif")
    assert sum(ln.startswith("menu ") for ln in lines) == lines.count("endmenu")
    for i, ln in enumerate(lines):
        if ln.startswith("config "):
            assert lines[i + 1].startswith("bool "), ln
        if ln.startswith("rsource "):
            assert ((ROOT / path).parent / ln.split('"')[1]).is_file()
