"""The package version, below every module that reports it (the root package imports them all)."""

__version__ = "0.1.0"
