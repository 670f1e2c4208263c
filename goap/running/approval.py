"""Approval gates: a human's answers reach a run through a small append-only file.

An action the catalog gates (``approval:``) starts only with an approval recorded in this
run and not yet used; the runner asks (the state file says ``waiting_approval`` and what it
awaits) and waits. The runner is the only writer of the state file while it runs (it holds
the lock), so an answer (``goap approve``, ``goap deny``, the dashboard, the MCP tools)
never writes the state file under it: it appends one JSON line to ``<state>.answers``
beside it, under ``flock``, never through a link (``state.files``), and the runner takes the
lines into the state file (its ``approvals``, and the journal entry of the start that uses
one) every half second. When no runner holds the state, the answer is applied to the state
file at once, under the state's lock, through the run record.

Each answer carries an id and the record keeps the ids it took, so a runner killed between
writing the state file and emptying the answers file takes the rest again, but only once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from goap.loading.catalog import Catalog, load_catalog
from goap.running.errors import RunError
from goap.running.record import RunRecord
from state.files import open_fd
from state.model import StateError, quoted
from state.store import (
    ApprovalDecision,
    StateBusy,
    StateLock,
    load_state,
    now,
    read_document,
)

WHO_MAX, WHY_MAX = 100, 2000  # characters: a name, and a reason a person writes
ANSWERS_MAX = 4 << 20  # bytes of queued answers read at once (each line is under 3 KB)


def answers_path(state_path: Path) -> Path:
    """``<state>.answers`` beside the real state file (as its lock is)."""
    real = Path(os.path.realpath(state_path.parent)) / state_path.name
    return real.with_name(real.name + ".answers")


# ------------------------------------------------------------------ the API


def pending(state_path: Path) -> list[dict[str, Any]]:
    """The approvals the state file's run waits for: ``{"action", "requested_at", "reason"}``.

    An answer already queued for the runner to take counts as given. No state file: none.
    """
    if not os.path.lexists(state_path):
        return []
    # The answers before the state file: the runner saves what it takes before it empties
    # the answers file, so an answer is seen in one or the other, never in neither.
    queued = _queued(state_path)
    document = read_document(state_path)
    if not isinstance(document, dict) or not isinstance(document.get("awaiting", []), list):
        raise StateError(f"{state_path}: not a goap state file (expected a JSON object)")
    answered = {d.action for d, run in queued if run == document.get("run_id")}
    return [
        {
            "action": str(r.get("action")),
            "requested_at": r.get("requested_at"),
            "reason": r.get("reason", ""),
        }
        for r in document.get("awaiting", [])
        if isinstance(r, dict) and r.get("action") not in answered
    ]


def answer(
    catalog_path: Path, state_path: Path, action: str, approve: bool, who: str, why: str = ""
) -> dict[str, Any]:
    """Approve or deny ``action``, awaited by the run of ``state_path``; the decision document
    ``{"action", "decision", "who", "why", "at", "queued"}`` (``queued``: a runner holds the
    state and takes it in within a second; otherwise it is in the state file already).

    Only an awaited action can be answered (and a denied one approved, which lifts the
    denial). Bad input raises CatalogError, StateError or RunError.
    """
    catalog = load_catalog(catalog_path)
    decision = _decision(catalog, action, approve, who, why)
    lock = StateLock(state_path)
    try:
        lock.acquire()
    except StateBusy:  # a runner holds it: queue the answer for it
        record = RunRecord(catalog, state_path, _load(catalog, state_path))
        _check_awaited(record, decision)
        _append(answers_path(state_path), decision, record.state.run_id)
        return _document(decision, queued=True)
    try:
        record = RunRecord(catalog, state_path, _load(catalog, state_path))
        take(record, live=False)  # answers a dead runner left first, in their order
        _check_awaited(record, decision)
        record.decided([decision], live=False)
    finally:
        lock.release()
    return _document(decision, queued=False)


# ------------------------------------------------------------------ the runner's side


def take(record: RunRecord, live: bool = True) -> list[ApprovalDecision]:
    """Take the queued answers of this run into the record (saved), empty the file, and
    return the new decisions. Answers for another run (one that ended since) are dropped."""
    path = answers_path(record.path)
    if not os.path.lexists(path):
        return []
    fd = open_fd(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = os.read(fd, ANSWERS_MAX)
        decisions = [d for d, run in _parse(raw) if run == record.state.run_id]
        new = record.decided(decisions, live) if decisions else []
        os.ftruncate(fd, 0)  # after the state file holds them: a crash before this is safe
        os.fsync(fd)
    finally:
        os.close(fd)  # closing drops the flock
    return new


def has_queued(state_path: Path) -> bool:
    """Whether answers wait in the answers file (cheap: one lstat)."""
    with contextlib.suppress(OSError):
        return os.lstat(answers_path(state_path)).st_size > 0
    return False


# ------------------------------------------------------------------ helpers


def _decision(catalog: Catalog, action: str, approve: bool, who: str, why: str) -> ApprovalDecision:
    try:
        gated = catalog.action(action)
    except KeyError:
        names = ", ".join(a.name for a in catalog.actions if a.approval) or "none"
        raise RunError(
            f"unknown action {quoted(action)} in {catalog.path}; actions that need "
            f"approval: {names}"
        ) from None
    if gated.approval is None:
        raise RunError(
            f"{action} needs no approval: {catalog.path} gives it no `approval: required`"
        )
    who = who.strip()
    if not who or len(who) > WHO_MAX or not who.isprintable():
        raise RunError(
            f"--as {quoted(who)}: say who answers, in at most {WHO_MAX} printable characters"
        )
    if len(why) > WHY_MAX:
        raise RunError(f"--why is {len(why)} characters; at most {WHY_MAX}")
    return ApprovalDecision(
        id=uuid.uuid4().hex,
        action=action,
        decision="approved" if approve else "denied",
        who=who,
        why=why,
        at=now(),
    )


def _load(catalog: Catalog, state_path: Path) -> Any:
    if not os.path.lexists(state_path):
        raise RunError(
            f"{state_path}: no run yet, so nothing awaits approval; `goap run` asks when it "
            f"reaches a gated action"
        )
    return load_state(state_path, catalog.schema, catalog.name)


def _check_awaited(record: RunRecord, decision: ApprovalDecision) -> None:
    """An answer must answer something: an awaited action (or lift a denial)."""
    name = decision.action
    if record.awaited(name) is not None:
        return
    if decision.decision == "approved" and name in record.denied():
        return  # a later approval lifts a denial
    awaited = ", ".join(r.action for r in record.state.awaiting) or "nothing"
    if decision.decision == "denied" and name in record.denied():
        raise RunError(f"{name} is already denied in run {record.state.run_id} of {record.path}")
    raise RunError(
        f"{name} is not awaiting approval in {record.path} (awaiting: {awaited}); "
        f"goap asks when a run is about to start it"
    )


def _append(path: Path, decision: ApprovalDecision, run_id: str | None) -> None:
    line = json.dumps({**decision.model_dump(exclude={"used"}), "run_id": run_id}) + "\n"
    fd = open_fd(path, os.O_WRONLY | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _queued(state_path: Path) -> list[tuple[ApprovalDecision, Any]]:
    """(answer, run id) of those waiting in the file (read only, never via a link)."""
    path = answers_path(state_path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise StateError(
                f"{path} is a symbolic link; goap never reads answers through links: remove it"
            ) from None
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        raw = os.read(fd, ANSWERS_MAX)
    finally:
        os.close(fd)
    return _parse(raw)


def _parse(raw: bytes) -> list[tuple[ApprovalDecision, Any]]:
    """(decision, run id) of each well-formed line; others (a torn write) are skipped."""
    out = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            data = json.loads(line)
            run = data.pop("run_id", None)
            out.append((ApprovalDecision.model_validate(data), run))
        except (ValueError, TypeError, AttributeError, ValidationError):
            continue
    return out


def _document(decision: ApprovalDecision, queued: bool) -> dict[str, Any]:
    return {
        "action": decision.action,
        "decision": decision.decision,
        "who": decision.who,
        "why": decision.why,
        "at": decision.at,
        "queued": queued,
    }


__all__ = ["answer", "answers_path", "pending", "take"]
