"""Layout guard: no import circle in the package (imports inside functions count: they only hide a circle)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "ultrapost"
# Cython's import statements (the ast module cannot parse .pyx / .pxd).
_CYTHON_INCLUDE = re.compile(r'^include\s+"([^"]+)"', re.M)
_CYTHON_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+c?import\s+([\w*, ]+)|c?import\s+([\w., ]+))", re.M)


def module_name(path: Path, top: Path) -> str:
    parts = list(path.relative_to(top.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str) -> list[tuple[str, list[str]]]:
    """(module, names imported from it) for every import statement in the file, at any depth."""
    text = path.read_text()
    if path.suffix in (".pyx", ".pxd"):
        # An included .pxi is part of the module that includes it.
        text += "".join((path.parent / f).read_text() for f in _CYTHON_INCLUDE.findall(text))
        out = []
        for m in _CYTHON_IMPORT.finditer(text):
            if m.group(1):
                out.append((m.group(1), [n.strip() for n in m.group(2).split(",")]))
            else:
                out += [(n.strip().split(" ")[0], []) for n in m.group(3).split(",")]
        return out
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.append((base, [alias.name for alias in node.names]))
    return out


def import_graph(top: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports. ``from p import x`` points at p.x when that is a module, else
    at p; ``import p.q`` points at p.q."""
    files = {module_name(p, top): p for p in sorted(top.rglob("*")) if p.suffix in (".py", ".pyx", ".pxd")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        for target, names in _imports(path, name):
            for t in [f"{target}.{n}" for n in names if f"{target}.{n}" in files] or [target]:
                if t in files and t != name:
                    graph[name].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None (depth-first search, in sorted order: deterministic)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_no_import_circle_in_the_package():
    graph = import_graph(PACKAGE)
    assert len(graph) > 40 and "ultrapost.firmware.check" in graph
    assert "ultrapost.core.config" in graph["ultrapost.core._core"]  # the .pyx is read too
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_circle_guard_sees_imports_inside_functions(tmp_path):
    top = tmp_path / "pkg"
    (top / "sub").mkdir(parents=True)
    (top / "__init__.py").write_text("")
    (top / "sub" / "__init__.py").write_text("")
    (top / "low.py").write_text("def f():\n    from pkg.sub import high\n    return high\n")
    (top / "sub" / "high.py").write_text("from .. import low\n")
    (top / "other.py").write_text("import pkg.low\n")
    graph = import_graph(top)
    assert graph["pkg.low"] == {"pkg.sub.high"} and graph["pkg.sub.high"] == {"pkg.low"}
    assert find_cycle(graph) == ["pkg.low", "pkg.sub.high", "pkg.low"]
    (top / "low.py").write_text("def f():\n    return 1\n")
    assert find_cycle(import_graph(top)) is None
