"""Run by hand: ``python -m ultrapost.firmware --help`` (bring-up, footprint, the built-in check, a vector file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ultrapost.firmware.boards import BOARDS, get_board
from ultrapost.firmware.build import build_harness, build_hello, build_minimal
from ultrapost.firmware.check import check_board
from ultrapost.firmware.footprint import ci_files, footprint, footprint_of_members, forbidden_symbols, stack_usage
from ultrapost.firmware.formats import read_vectors, write_outputs
from ultrapost.firmware.qemu import run_image, run_vectors
from ultrapost.firmware.toolchain import FirmwareError


def _cmd_hello(args) -> int:
    work = Path(args.build_dir) / args.board
    image = build_hello(args.board, work / "build", float_abi=args.float_abi)
    (work / "hello_in.bin").write_bytes(b"ultrapost firmware bring-up\n")
    result = run_image(image, ["hello_in.bin", "hello_out.bin"], cwd=work, timeout=args.timeout)
    out = (work / "hello_out.bin").read_bytes()
    print(result.console.strip())
    print(f"{image.elf}: wrote {len(out)} bytes to {work / 'hello_out.bin'}")
    return 0


def _cmd_footprint(args) -> int:
    image = build_minimal(args.board, Path(args.build_dir) / args.board / "minimal")
    fp = footprint(image)
    lib = footprint_of_members(image, fp.library_members)
    st = stack_usage(ci_files(image), "up_run", image)
    print(f"board {args.board} ({image.board.cpu}), -Os, gc-sections; core input sections kept in {image.elf.name}")
    print(f"  core:   text {fp.text}  rodata {fp.rodata}  data {fp.data}  bss {fp.bss}")
    for name, sizes in sorted(fp.by_object.items()):
        print(f"    {name:24s} text {sizes['text']:6d}  rodata {sizes['rodata']:6d}")
    print(f"  library members pulled in by the core: text {lib.text}  rodata {lib.rodata}")
    for m in fp.library_members:
        print(f"    {m}")
    print(f"  stack (static, up_run): {st.bytes} bytes via " + " -> ".join(f"{f}({b})" for f, b in st.chain))
    if st.from_disassembly:
        print(f"    framed from the linked code (no gcc stack info): {', '.join(st.from_disassembly)}")
    if st.indirect:
        print(f"    indirect calls, targets not followed, in: {', '.join(st.indirect)}")
    if st.unbounded:
        print(f"    unbounded: {', '.join(st.unbounded)}")
    bad = forbidden_symbols(image)
    print(f"  float helpers or heap functions linked: {bad or 'none'}")
    return 1 if bad else 0


def _cmd_run(args) -> int:
    board = get_board(args.board)
    image = build_harness(board, Path(args.build_dir) / board.name / "harness", Path(args.configs))
    records = read_vectors(args.vectors)
    work = Path(args.build_dir) / board.name / "run"
    run = run_vectors(image, records, work, timeout=args.timeout, count_instructions=args.count)
    write_outputs(args.outputs, run.outputs)
    for i, (o, s) in enumerate(zip(run.outputs, run.stats, strict=True)):
        n = f"  instructions {run.instructions[i]}" if run.instructions else ""
        print(
            f"record {i}: status {o.status}  detections {len(o)}  stack {s.stack_bytes}  scratch {s.scratch_bytes}{n}"
        )
    return 0


def _cmd_check(args) -> int:
    report = check_board(
        args.board, Path(args.build_dir) / args.board / "check", count_instructions=args.count, timeout=args.timeout
    )
    for i, (case, got, st) in enumerate(zip(report.cases, report.run.outputs, report.run.stats, strict=True)):
        n = f"  instructions {report.run.instructions[i]:9d}" if report.run.instructions else ""
        same = "same" if got.equals(case.host) else "DIFFERENT"
        print(
            f"{case.name:34s} status {got.status:3d}  detections {len(got):4d}  {same}  "
            f"stack {st.stack_bytes:4d}  scratch {st.scratch_bytes:6d}{n}"
        )
    bad = report.mismatches
    print(f"{len(report.cases) - len(bad)} of {len(report.cases)} records identical to the host on {args.board}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ultrapost.firmware", description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="build/firmware", help="where objects, images and runs go")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before qemu is killed")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("hello", help="build and run the bring-up image (semihosting file I/O)")
    p.add_argument("--board", default="an386", choices=sorted(BOARDS))
    p.add_argument("--float-abi", default="soft", choices=("soft", "hard"))
    p.set_defaults(func=_cmd_hello)
    p = sub.add_parser("footprint", help="core code/rodata, library members, static stack, float/heap check")
    p.add_argument("--board", default="an505", choices=sorted(BOARDS))
    p.set_defaults(func=_cmd_footprint)
    p = sub.add_parser("check", help="generated cases on a board, compared with the host C and the golden model")
    p.add_argument("--board", default="an505", choices=sorted(BOARDS))
    p.add_argument("--count", action="store_true", help="count the instructions of every up_run call")
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("run", help="run a vector file on a board and write the outputs file")
    p.add_argument("--board", default="an505", choices=sorted(BOARDS))
    p.add_argument("--configs", required=True, help="directory with configs.h and cfg_*.h")
    p.add_argument("--vectors", required=True)
    p.add_argument("--outputs", required=True)
    p.add_argument("--count", action="store_true", help="count the instructions of every up_run call")
    p.set_defaults(func=_cmd_run)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, ValueError, TypeError, FirmwareError) as exc:
        print(f"firmware {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
