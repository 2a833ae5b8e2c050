"""The ``ultrapost`` command line: one subcommand per module in ultrapost.cli."""

from __future__ import annotations

import argparse
import importlib
import sys
import zipfile

# Each module defines ``add_parser(subparsers)`` and sets ``func`` on its parser.
COMMANDS = ("bench", "detect", "verify", "codegen", "vectors", "firmware_check")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ultrapost",
        description="Fixed-point face-detector post-processing: decode, threshold and NMS in portable C.",
    )
    parser.add_argument("--debug", action="store_true", help="on an error, show the Python traceback too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"ultrapost.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"ultrapost.cli.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FORESEEN as exc:
        if args.debug:
            raise
        print(f"ultrapost {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1


# What a command can meet on bad files, options or sizes: one line each (a traceback with --debug). Anything else
# is a bug and keeps its traceback.
FORESEEN = (OSError, ValueError, TypeError, RuntimeError, MemoryError, EOFError, zipfile.BadZipFile)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, MemoryError):
        return f"out of memory{': ' + text if text else ''} (try smaller sizes or counts)"
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
