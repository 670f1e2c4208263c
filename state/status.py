"""One status vocabulary for a run, its state file and its journal (as luigi's task_status).

A run *ends* in one of ``RunEnd``; the state file's ``status`` is a ``RunStatus``, which has
no ``no_plan`` (the seed's file format says ``failed`` for a run that found no plan), so
``persisted`` maps the one onto the other. Each attempt of an action has an
``AttemptOutcome`` in the journal; an attempt that ended has a ``StepOutcome``.
"""

from __future__ import annotations

from typing import Literal

RunStatus = Literal["pending", "running", "completed", "failed", "escalated", "interrupted"]
RunEnd = Literal["completed", "failed", "escalated", "no_plan", "interrupted"]
StepOutcome = Literal["succeeded", "failed", "interrupted"]
AttemptOutcome = Literal["started", "succeeded", "failed", "interrupted"]
Via = Literal["run", "skill"]  # goap run, or one action driven by an agent

UNFINISHED: tuple[RunStatus, ...] = ("running", "interrupted")


def persisted(end: RunEnd) -> RunStatus:
    """The state file's status for a run that ended ``end``."""
    return "failed" if end == "no_plan" else end
