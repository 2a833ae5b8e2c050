"""What a linked image costs: :func:`footprint` (sizes of the core's input sections kept, from the linker map),
:func:`forbidden_symbols` (float helpers or heap functions linked) and :func:`stack_usage` (worst call chain
from gcc's ``-fcallgraph-info=su``, callees without stack info framed from the disassembly)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ultrapost.firmware.build import Image
from ultrapost.firmware.toolchain import run_tool, tool


@dataclass
class Footprint:
    """Bytes of the given objects' input sections kept in a linked image (after --gc-sections)."""

    text: int
    rodata: int
    data: int
    bss: int
    by_object: dict[str, dict[str, int]]
    library_members: list[str]  # archive members (libgcc/libc) pulled in by these objects

    @property
    def flash(self) -> int:
        return self.text + self.rodata + self.data


def _section_kind(name: str) -> str | None:
    if name.startswith(".text") or name in (".glue_7", ".glue_7t", ".vfp11_veneer", ".v4_bx"):
        return "text"
    if name.startswith(".rodata") or name == ".vectors":
        return "rodata"
    if name.startswith(".data"):
        return "data"
    if name.startswith((".bss", "COMMON")):
        return "bss"
    return None


def map_sections(map_file: Path) -> list[tuple[str, int, int, str]]:
    """(input section, address, size, file) for every input section the linker kept (GNU ld map)."""
    text = Path(map_file).read_text()
    start = text.find("Linker script and memory map")
    if start < 0:
        raise ValueError(f"{map_file}: not a GNU ld map file")
    lines = text[start:].splitlines()
    out = []
    entry = re.compile(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
    tail = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = entry.match(line)
        if m:
            out.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16), m.group(4).strip()))
        elif re.match(r"^ \S+$", line) and i + 1 < len(lines):
            m2 = tail.match(lines[i + 1])
            if m2:
                out.append((line.strip(), int(m2.group(1), 16), int(m2.group(2), 16), m2.group(3).strip()))
                i += 1
        i += 1
    return out


def object_key(path) -> str:
    """An object file as the linker map names it: CMake's objects from their CMakeFiles/ directory on (the map
    gives them relative to the directory the link ran in), any other by its absolute path."""
    p = Path(path).as_posix()
    i = p.rfind("CMakeFiles/")
    return p[i:] if i >= 0 else os.path.abspath(p)


def _archive_members_for(map_file: Path, objects: set[str]) -> list[str]:
    """Archive members the map says were pulled in by one of objects (transitively through other members)."""
    text = Path(map_file).read_text()
    end = text.find("Discarded input sections")
    if end < 0:
        end = text.find("Memory Configuration")
    block = text[: end if end >= 0 else len(text)]
    pulled: dict[str, str] = {}
    lines = block.splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith(" ") and "(" in line and i + 1 < len(lines):
            m = re.match(r"^\s+(\S+) \((\S+)\)$", lines[i + 1])
            if m:
                pulled[line.strip()] = m.group(1)
    chosen = []
    for member, requester in pulled.items():
        seen = set()
        r = requester
        while r in pulled and r not in seen:
            seen.add(r)
            r = pulled[r]
        if object_key(r) in objects:
            chosen.append(member)
    return sorted(chosen)


def _section_sizes(
    map_file: Path, origins: set[str], label, key=str
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Bytes per section kind of the kept input sections from these origins (compared as key(origin)): in total,
    and by label(origin)."""
    totals = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    by_object: dict[str, dict[str, int]] = {}
    for name, _addr, size, origin in map_sections(map_file):
        kind = _section_kind(name) if size and key(origin) in origins else None
        if kind is not None:
            totals[kind] += size
            by_object.setdefault(label(origin), dict.fromkeys(totals, 0))[kind] += size
    return totals, by_object


def footprint(image: Image, group: str = "core") -> Footprint:
    """Sizes of one object group (default: the core) in the linked image, from the linker map.

    Counts exactly the input sections the linker kept from those objects, so unused functions (gc'd),
    alignment inside sections and literal pools are all accounted honestly; padding between sections is not.
    Library members the group pulled in (e.g. libgcc's 64-bit division) are listed, and counted in their
    own Footprint via footprint_of_members.
    """
    objects = {object_key(p) for p in image.objects.get(group, [])}
    if not objects:
        raise ValueError(f"image {image.elf.name} has no object group {group!r}")
    totals, by_object = _section_sizes(image.map_file, objects, lambda origin: Path(origin).name, object_key)
    members = _archive_members_for(image.map_file, objects)
    return Footprint(totals["text"], totals["rodata"], totals["data"], totals["bss"], by_object, members)


def footprint_of_members(image: Image, members: list[str]) -> Footprint:
    """Sizes of archive members (as named in Footprint.library_members) in the linked image."""
    totals, by_object = _section_sizes(image.map_file, set(members), lambda origin: origin)
    return Footprint(totals["text"], totals["rodata"], totals["data"], totals["bss"], by_object, [])


def linked_symbols(image: Image) -> dict[str, str]:
    """Symbol name -> nm type letter for every symbol in the image."""
    out = run_tool([tool("nm"), str(image.elf)], "nm").stdout
    symbols = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            symbols[parts[-1]] = parts[-2]
    return symbols


FORBIDDEN_SYMBOLS = [
    re.compile(p)
    for p in (
        r"^__aeabi_[fd]",  # soft-float arithmetic, compare, conversion from float/double
        r"^__aeabi_u?[il]2[fd]$",
        r"^__aeabi_ul2[fd]$",  # integer -> float conversions
        r"^__(add|sub|mul|div|neg|cmp|eq|ne|lt|le|gt|ge|unord)[sdtx]f[23]$",
        r"^__(float|fix|extend|trunc)\w*[sdtx]f",
        r"^(_?malloc|_?free|_?calloc|_?realloc|_sbrk|_malloc_r|_free_r|_calloc_r|_realloc_r)$",
    )
]


def forbidden_symbols(image: Image) -> list[str]:
    """Float helpers and heap functions linked into the image (there must be none)."""
    return sorted(s for s in linked_symbols(image) if any(p.search(s) for p in FORBIDDEN_SYMBOLS))


@dataclass
class StackReport:
    bytes: int  # worst chain from the root: frame sizes summed along the deepest call chain
    chain: list[tuple[str, int]]  # (function, frame bytes) along that chain
    unbounded: list[str]  # dynamic frames or recursion: the bound does not hold for these
    from_disassembly: list[str]  # callees without gcc stack info (libgcc/libc), framed from the linked code
    indirect: list[str]  # functions making indirect calls (their targets are not followed)


_CI_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_CI_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_REGLIST = re.compile(r"\{([^}]*)\}")


def _reg_count(operands: str) -> int:
    m = _REGLIST.search(operands)
    if not m:
        return 0
    n = 0
    for part in m.group(1).split(","):
        part = part.strip()
        if "-" in part:  # d8-d15
            lo, hi = part.split("-")
            n += int(hi[1:]) - int(lo[1:]) + 1
        elif part:
            n += 1
    return n


def disassembly_frames(image: Image) -> dict[str, tuple[int, set[str]]]:
    """Per function of the linked image: (bytes it can push or reserve, direct callees), from objdump.

    Conservative: every push / stmdb sp! / vpush / sub sp in the body is added, as if all were live at once.
    Used for code gcc's stack files do not cover (libgcc, libc).
    """
    out = run_tool([tool("objdump"), "-d", "--no-show-raw-insn", str(image.elf)], "objdump").stdout
    frames: dict[str, tuple[int, set[str]]] = {}
    current = None
    head = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
    insn = re.compile(r"^\s*[0-9a-f]+:\s+(\S+)\s*(.*)$")
    for line in out.splitlines():
        m = head.match(line)
        if m:
            current = m.group(1)
            frames[current] = (0, set())
            continue
        m = insn.match(line)
        if current is None or not m:
            continue
        op, operands = m.group(1), m.group(2)
        size, callees = frames[current]
        if op in ("push", "push.w") or (op.startswith("stmdb") and operands.startswith("sp!")):
            size += 4 * _reg_count(operands)
        elif op.startswith("vpush"):
            regs = _REGLIST.search(operands)
            width = 8 if regs and regs.group(1).strip().startswith("d") else 4
            size += width * _reg_count(operands)
        elif op in ("sub", "sub.w", "subw") and re.match(r"sp,\s*(sp,\s*)?#", operands):
            size += int(re.search(r"#(\d+)", operands).group(1))
        elif op in ("bl", "blx", "b", "b.w", "b.n"):
            t = re.search(r"<([^>+]+)>", operands)
            if t and t.group(1) != current:
                callees.add(t.group(1))
            elif op == "blx" and not t:
                callees.add("__indirect_call")
        frames[current] = (size, callees)
    return frames


def stack_usage(ci_files: list[Path], root: str, image: Image | None = None) -> StackReport:
    """Worst-case stack of root: the largest sum of frame sizes along any call chain.

    Frames come from gcc's -fcallgraph-info=su files; callees those files do not describe (libgcc's 64-bit
    helpers on ARMv6-M, mem* from libc) are framed from the linked image's disassembly when image is given.
    Recursion or dynamic frames make the bound unknown and are reported, not guessed; indirect calls are
    reported (the firmware core makes none: its only function pointer is the host float path's).
    """
    frames: dict[str, int] = {}
    qualifiers: dict[str, str] = {}
    edges: dict[str, set[str]] = {}
    for ci in ci_files:
        text = Path(ci).read_text()
        for title, label in _CI_NODE.findall(text):
            m = re.search(r"\\n(\d+) bytes \((\w+(?:,\w+)*)\)", label)
            if m:
                frames[title] = int(m.group(1))
                qualifiers[title] = m.group(2)
        for src, dst in _CI_EDGE.findall(text):
            edges.setdefault(src, set()).add(dst)
    if root not in frames:
        raise ValueError(f"{root} has no stack information in the callgraph files")
    unbounded = sorted(f for f, q in qualifiers.items() if q != "static")
    disasm = disassembly_frames(image) if image is not None else {}
    from_disasm: set[str] = set()
    indirect: set[str] = set()
    best: dict[str, tuple[int, list[tuple[str, int]]]] = {}
    on_path: set[str] = set()

    def worst(fn: str, caller: str) -> tuple[int, list[tuple[str, int]]]:
        if fn == "__indirect_call":
            indirect.add(caller)
            return 0, []
        if fn in best:
            return best[fn]
        if fn in on_path:
            unbounded.append(f"recursion through {fn}")
            return 0, []
        if fn in frames:
            own, callees = frames[fn], edges.get(fn, set())
        elif fn in disasm:
            own, callees = disasm[fn]
            from_disasm.add(fn)
        else:
            unbounded.append(f"no stack information for {fn}")
            return 0, []
        on_path.add(fn)
        deepest: tuple[int, list[tuple[str, int]]] = (0, [])
        for callee in sorted(callees):
            cand = worst(callee, fn)
            if cand[0] > deepest[0]:
                deepest = cand
        on_path.discard(fn)
        best[fn] = (own + deepest[0], [(fn, own), *deepest[1]])
        return best[fn]

    total, chain = worst(root, root)
    return StackReport(total, chain, sorted(set(unbounded)), sorted(from_disasm), sorted(indirect))


def ci_files(image: Image, group: str = "core") -> list[Path]:
    return [p.with_suffix(".ci") for p in image.objects.get(group, [])]


def reachable_footprint(image: Image, root: str, group: str = "core") -> Footprint:
    """Sizes of what a firmware calling only ``root`` keeps of an object group: the kept function sections
    (``-ffunction-sections``) of every function gcc's call graph reaches from root, and the .rodata of the objects
    defining them (library members pulled in by the group are listed, not attributed)."""
    edges: dict[str, set[str]] = {}
    for ci in ci_files(image, group):
        for src, dst in _CI_EDGE.findall(Path(ci).read_text()):
            edges.setdefault(src.rsplit(":", 1)[-1], set()).add(dst.rsplit(":", 1)[-1])
    reached, todo = set(), [root]
    while todo:
        fn = todo.pop()
        if fn not in reached:
            reached.add(fn)
            todo += edges.get(fn, ())
    objects = {object_key(p) for p in image.objects.get(group, [])}
    owners = {
        origin
        for name, _a, size, origin in map_sections(image.map_file)
        if object_key(origin) in objects and name.startswith(".text.") and name[6:] in reached
    }
    totals = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    by_object: dict[str, dict[str, int]] = {}
    for name, _a, size, origin in map_sections(image.map_file):
        kind = _section_kind(name) if origin in owners and size else None
        if kind == "text" and name[6:] not in reached:
            continue
        if kind is not None:
            totals[kind] += size
            by_object.setdefault(Path(origin).name, dict.fromkeys(totals, 0))[kind] += size
    if root not in reached or not owners:
        raise ValueError(f"{root} not found in the {group} objects of {image.elf.name}")
    return Footprint(totals["text"], totals["rodata"], totals["data"], totals["bss"], by_object, [])
