"""Errors every layer shares, kept in a module that imports nothing heavy."""


class RunError(Exception):
    """Invalid input found before any action ran (exit code 2); nothing was written."""
