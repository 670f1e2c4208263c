"""User-facing errors of the ML half: each message names the file at fault and the fix.

The command line prints these without a traceback; any other exception is a bug.
"""


class ModelsError(Exception):
    """Base class for errors caused by bad input (files, configs), not by bugs."""


class DatasetError(ModelsError):
    """The dataset on disk is missing, malformed, or holds unreadable images."""


class CheckpointError(ModelsError):
    """A checkpoint is missing, unreadable, of the wrong kind, or from another config."""
