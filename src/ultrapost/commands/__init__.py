"""Subcommands of the ``ultrapost`` CLI, one module each."""
