"""Approvals on the page: the steps a run waits on (``approval: required``) and their answers.

Both go through ``goap.running.approval`` (pending requests read from the state file, an
answer written through the run record); the dashboard adds only who answered. Without that
module (a goap that predates approvals) there is nothing pending and an answer is a 501.
"""

from __future__ import annotations

from typing import Any

from dashboard.reading import Where

WHO = "goap ui"


class Unavailable(Exception):
    """This goap has no approvals."""


class Unknown(Exception):
    """No such action in the catalog."""


def _module() -> Any:
    try:
        from goap.running import approval
    except ImportError:
        return None
    return approval


def pending(where: Where) -> list[dict[str, Any]]:
    """The approvals the state file's run waits on ({"action", "requested_at", "reason"})."""
    module = _module()
    if module is None or not where.state_path.exists():
        return []
    try:
        return list(module.pending(where.state_path))
    except Exception:  # noqa: BLE001 - an unreadable file is said by the snapshot itself
        return []


def answer(where: Where, action: str, approve: bool, why: str) -> dict[str, Any]:
    module = _module()
    if module is None:
        raise Unavailable("this goap has no approvals (goap.running.approval is missing)")
    if action not in {a.name for a in where.catalog.actions}:
        raise Unknown(f"no action {action!r} in {where.catalog.path}")
    return module.answer(where.catalog.path, where.state_path, action, approve, WHO, why)
