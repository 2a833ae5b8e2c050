"""The ``ultrapost`` command line (``main``, in cli/app.py) and one module per subcommand."""

from ultrapost.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
