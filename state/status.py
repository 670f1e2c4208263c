"""One status vocabulary for a run, its state file and its journal (as luigi's task_status).

A run *ends* in one of ``RunEnd``; the state file's ``status`` is a ``RunStatus``, which has
no ``no_plan`` (the seed's file format says ``failed`` for a run that found no plan), so
``persisted`` maps the one onto the other. Each attempt of an action has an
``AttemptOutcome`` in the journal; an attempt that ended has a ``StepOutcome``.

``waiting_approval``: the run stopped before an action the catalog gates (``approval:``)
and waits for a human's ``goap approve`` / ``goap deny`` (a ``Decision``). It is
unfinished, as ``running`` and ``interrupted`` are: ``goap run --resume`` continues it.
"""

from __future__ import annotations

from typing import Literal

RunStatus = Literal[
    "pending", "running", "completed", "failed", "escalated", "interrupted", "waiting_approval"
]
RunEnd = Literal["completed", "failed", "escalated", "no_plan", "interrupted", "waiting_approval"]
StepOutcome = Literal["succeeded", "failed", "interrupted"]
AttemptOutcome = Literal["started", "succeeded", "failed", "interrupted"]
Via = Literal["run", "skill"]  # goap run, or one action driven by an agent
Decision = Literal["approved", "denied"]  # a human's answer to an approval request

UNFINISHED: tuple[RunStatus, ...] = ("running", "interrupted", "waiting_approval")


def persisted(end: RunEnd) -> RunStatus:
    """The state file's status for a run that ended ``end``."""
    return "failed" if end == "no_plan" else end
