"""Approvals on the page: the steps a run waits on (``approval: required``) and their answers.

Both go through ``goap.running.approval`` (pending requests read from the state file, an
answer written through the run record, or queued for the run that holds the state); the
dashboard adds only who answered.
"""

from __future__ import annotations

from typing import Any

from dashboard.reading import Where
from goap.running import approval

WHO = "goap ui"


class Unknown(Exception):
    """No such action in the catalog."""


def pending(where: Where) -> list[dict[str, Any]]:
    """The approvals the state file's run waits on ({"action", "requested_at", "reason"})."""
    if not where.state_path.exists():
        return []
    try:
        return list(approval.pending(where.state_path))
    except Exception:  # noqa: BLE001 - an unreadable file is said by the snapshot itself
        return []


def answer(where: Where, action: str, approve: bool, why: str) -> dict[str, Any]:
    if action not in {a.name for a in where.catalog.actions}:
        raise Unknown(f"no action {action!r} in {where.catalog.path}")
    return approval.answer(where.catalog.path, where.state_path, action, approve, WHO, why)
