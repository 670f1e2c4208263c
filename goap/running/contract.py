"""The contract between the runner and the Python callables a catalog names with `run:`.

An executor is a plain function ``fn(args: SomeArgsModel) -> dict[str, Any]`` (or with plain
keyword parameters). The runner builds its arguments from the action's ``with:`` mapping, with
``${VAR}`` resolved from the environment at execution time. The returned dict holds *facts*
observed in the real world, in the executor's own vocabulary (``{"branch": "feature/x",
"exists": True}``); a catalog binds facts to world-state variables with ``observe:``, and
observed values override the declared effects. Facts that are not bound are kept in the
journal entry as outputs (metrics, paths).

A failure is an exception. Raise :class:`ActionFailed` to attach a log tail and the facts
observed before failing; any other exception is recorded with its message.
"""

from __future__ import annotations

from typing import Any


class ActionFailed(Exception):
    """An executor's clean failure: a one-line reason, an optional log tail and facts."""

    def __init__(self, message: str, *, tail: str = "", facts: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.tail = tail
        self.facts = dict(facts or {})
