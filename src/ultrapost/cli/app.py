"""The ``ultrapost`` command line: one subcommand per module in ultrapost.cli."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines ``add_parser(subparsers)`` and sets ``func`` on its parser.
COMMANDS = ("bench", "detect", "verify", "codegen", "vectors", "firmware_check")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ultrapost",
        description="Fixed-point face-detector post-processing: decode, threshold and NMS in portable C.",
    )
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
    except (FileNotFoundError, ValueError, TypeError, RuntimeError) as exc:
        print(f"ultrapost {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
