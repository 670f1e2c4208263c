"""The run record: every state transition of a run, each one persisted atomically.

The runner decides (what to run, when to retry, when to give up); the record writes down
what happened, in named transitions that say what the state file holds afterwards:
opened or resumed, planned, approval requested, answers decided, attempt started (using
an approval where the action is gated), attempt ended, step failed (with its penalty),
finished (completed, failed, escalated, interrupted or waiting_approval). Each transition
ends in one atomic write of the state file (``state.store.save_state``), so the
crash-safety story reads in one place: a ``started`` journal entry is on disk before its
child runs, and the world an action produced is on disk together with the entry saying it succeeded.

It lives in ``goap/`` rather than ``state/`` because it speaks of catalog actions and
outcomes; ``state/`` stays a file format that imports nothing of the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from goap.loading.catalog import Action, Catalog
from goap.loading.secrets import MASKER
from goap.planning.schedule import mean_durations
from goap.running.errors import RunError
from goap.running.execution import Outcome
from state.files import safe_name
from state.model import json_safe
from state.status import UNFINISHED, RunEnd, Via, persisted
from state.store import (
    ApprovalDecision,
    ApprovalRequest,
    Failure,
    JournalEntry,
    StateFile,
    load_state,
    new_state,
    now,
    save_state,
)

TAIL_KEPT = 4000  # characters of a failure's log tail kept in the journal


def logs_root(state_path: Path) -> Path:
    """Where a state file's runs keep their logs: ``.goap/logs/<state file>/`` beside it."""
    return state_path.parent / ".goap" / "logs"


def run_logs(state_path: Path) -> list[Path]:
    """The log files of the newest run of ``state_path`` (and every sensor log), in order."""
    root = logs_root(state_path) / safe_name(state_path.name)
    runs = (
        sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        if root.is_dir()
        else []
    )
    return sorted(runs[-1].glob("*.log")) if runs else []


def read_state(catalog: Catalog, path: Path) -> StateFile:
    """The state file at ``path``, or a new one (not written) when there is none yet."""
    if path.exists():
        return load_state(path, catalog.schema, catalog.name)
    return new_state(catalog.name, catalog.schema)


def read_world(catalog: Catalog, path: Path) -> dict[str, Any]:
    """The persisted flat world for ``catalog`` (the defaults when there is no file yet)."""
    return read_state(catalog, path).world


class RunRecord:
    """One state file and the transitions of the run that owns it (under its lock)."""

    def __init__(self, catalog: Catalog, path: Path, state: StateFile):
        self.catalog, self.path, self.state = catalog, path, state

    # ------------------------------------------------------------ opening

    @classmethod
    def open(
        cls, catalog: Catalog, path: Path, resume: bool, state: StateFile | None = None
    ) -> RunRecord:
        """A new run from the persisted world, or (``resume``) the unfinished one continued.

        An attempt that started and never ended is marked ``interrupted``, so it runs again.
        ``state`` is the file as the caller already read it (read here when not given).
        """
        if resume and not path.exists():
            raise RunError(
                f"{path}: nothing to resume (no state file); run without --resume to start"
            )
        state = read_state(catalog, path) if state is None else state
        unfinished = state.status in UNFINISHED
        if unfinished and not resume and state.awaiting:
            names = ", ".join(r.action for r in state.awaiting)
            raise RunError(
                f"{path}: run {state.run_id} waits for approval of {names}; answer with "
                f"`goap approve {catalog.path} {state.awaiting[0].action}` (or `goap deny`), "
                f"then continue it with `goap run --resume`"
            )
        if unfinished and not resume:
            raise RunError(
                f"{path}: run {state.run_id} did not finish ({state.status}); continue it with "
                f"`goap run --resume`, or start over with `goap state reset`"
            )
        if resume and unfinished:
            for entry in state.history:
                if entry.run_id == state.run_id and entry.outcome == "started":
                    entry.outcome, entry.error = "interrupted", "the runner stopped mid-action"
                    entry.ended_at = now()
        else:  # a new run: fresh failure budget and penalties, same world
            state.run_id = now()
            state.failures, state.penalties, state.report = [], {}, None
            state.awaiting, state.approvals = [], []
            state.started_at, state.completed_at = now(), None
            state.actions_completed = []
        state.status = "running"
        record = cls(catalog, path, state)
        record.save()
        return record

    @classmethod
    def single(cls, catalog: Catalog, path: Path) -> RunRecord:
        """The record one agent-driven action writes into (nothing is written yet)."""
        state = read_state(catalog, path)
        state.run_id = state.run_id or now()
        return cls(catalog, path, state)

    # ------------------------------------------------------------ what the record holds

    @property
    def world(self) -> dict[str, Any]:
        return self.state.world

    @property
    def failures(self) -> list[Failure]:
        return self.state.failures

    @property
    def penalties(self) -> dict[str, float]:
        return self.state.penalties

    @property
    def completed(self) -> list[str]:
        return self.state.actions_completed

    def approval_for(self, action: str) -> ApprovalDecision | None:
        """The approval the next start of ``action`` may use: its last decision, if that
        is an approval no start has used yet."""
        last = self._decisions().get(action)
        return last if last is not None and last.decision == "approved" and not last.used else None

    def denied(self) -> dict[str, ApprovalDecision]:
        """Actions whose last decision in this run is a denial: planning leaves them out."""
        return {a: d for a, d in self._decisions().items() if d.decision == "denied"}

    def awaited(self, action: str) -> ApprovalRequest | None:
        return next((r for r in self.state.awaiting if r.action == action), None)

    def _decisions(self) -> dict[str, ApprovalDecision]:
        return {d.action: d for d in self.state.approvals}  # the last one per action wins

    def errors(self, action: str) -> list[str]:
        """The errors of this run's failed attempts of ``action``, oldest first."""
        return [
            e.error or ""
            for e in self.state.history
            if e.run_id == self.state.run_id and e.action == action and e.outcome == "failed"
        ]

    def durations(self) -> dict[str, float]:
        """Each action's mean duration over its succeeded attempts in the journal (the
        schedule favours the longest chain by them)."""
        return mean_durations(
            (e.action, e.duration_s)
            for e in self.state.history
            if e.outcome == "succeeded" and e.duration_s is not None
        )

    def save(self) -> None:
        """The one write of the state file: atomic, and masked of every secret as a whole."""
        save_state(self.path, self.state, scrub=MASKER)

    def log_path(self, name: str, logs: Path) -> Path:
        """This run's own log file ``name`` under ``logs`` (one folder per state file and run).

        Runs after a reset, and two state files in one folder, never share a log file.
        """
        folder = logs / safe_name(self.path.name) / safe_name(self.state.run_id or "run")
        return folder / safe_name(name)

    # ------------------------------------------------------------ transitions

    def sensed(self, world: dict[str, Any]) -> None:
        """What the sensors saw; written with the next transition (the plan made from it)."""
        self.state.world = dict(world)

    def planned(self, actions: tuple[Action, ...], world: dict[str, Any]) -> None:
        """A new plan; a request for an action it no longer uses is withdrawn."""
        names = {a.name for a in actions}
        self.state.awaiting = [r for r in self.state.awaiting if r.action in names]
        if self.state.status == "waiting_approval" and not self.state.awaiting:
            self.state.status = "running"
        self.state.plan = [a.name for a in actions]
        self.state.actions_pending = [a.label for a in actions]
        self.state.world = dict(world)
        self.save()

    def approval_requested(self, action: Action, waits: bool = True) -> bool:
        """The run stops before ``action`` until someone answers; False if already asked.

        ``waits``: the run's status becomes ``waiting_approval`` (a single agent-driven
        action only leaves the request, for ``goap approve`` to answer)."""
        if self.awaited(action.name) is not None:
            if waits and self.state.status != "waiting_approval":  # a resumed run asks again
                self.state.status = "waiting_approval"
                self.save()
            return False
        reason = action.approval.reason if action.approval else ""
        self.state.awaiting.append(
            ApprovalRequest(action=action.name, requested_at=now(), reason=reason)
        )
        if waits:
            self.state.status = "waiting_approval"
        self.save()
        return True

    def decided(self, decisions: list[ApprovalDecision], live: bool) -> list[ApprovalDecision]:
        """Answers taken in (those not taken before); each ends its action's request.

        ``live``: a runner holds the file, so once nothing is awaited it runs again;
        otherwise the status stays as the stopped run left it (``goap run --resume``)."""
        known = {d.id for d in self.state.approvals}
        new = [d for d in decisions if d.id not in known]
        if not new:
            return []
        self.state.approvals.extend(new)
        answered = {d.action for d in new}
        self.state.awaiting = [r for r in self.state.awaiting if r.action not in answered]
        if live and self.state.status == "waiting_approval" and not self.state.awaiting:
            self.state.status = "running"
        self.save()
        return new

    def attempt_started(
        self,
        action: Action,
        attempt: int,
        via: Via = "run",
        forced: bool = False,
        approval: ApprovalDecision | None = None,
    ) -> JournalEntry:
        """``approval``: the decision this start uses (marked used in the same write)."""
        entry = JournalEntry(
            seq=len(self.state.history) + 1,
            run_id=self.state.run_id or "",
            action=action.name,
            id=action.id,
            attempt=attempt,
            started_at=now(),
            forced=forced,
            via=via,
        )
        if approval is not None:
            approval.used = True
            entry.approval = {"who": approval.who, "at": approval.at, "why": approval.why}
        self.state.history.append(entry)
        self._at(action)
        self.save()
        return entry

    def attempt_ended(
        self, entry: JournalEntry, action: Action, outcome: Outcome, world: dict[str, Any]
    ) -> None:
        """The attempt's outcome, and the world after it (what it observed, even failing)."""
        entry.ended_at = now()
        entry.duration_s = round(outcome.seconds, 3)
        entry.outcome = outcome.status
        entry.error = outcome.error or None
        entry.tail = outcome.tail[-TAIL_KEPT:] if (outcome.tail and not outcome.ok) else None
        entry.facts = json_safe(outcome.facts)  # NaN is not JSON: kept as the string "NaN"
        self.state.world = dict(world)
        if outcome.ok:
            self._at(action)
            self.state.actions_completed.append(action.label)
            if action.label in self.state.actions_pending:
                self.state.actions_pending.remove(action.label)
        self.save()

    def job_submitted(self, entry: JournalEntry, handle: dict[str, Any]) -> None:
        """The attempt's remote job, in the journal before anyone waits for it."""
        entry.job = dict(handle)
        self.save()

    def cut_off(self, action: str, before: int) -> JournalEntry | None:
        """This run's last attempt of ``action`` before entry ``before``, if it was cut off
        (the runner died or stopped while it ran)."""
        for entry in reversed(self.state.history):
            if entry.seq < before and entry.run_id == self.state.run_id and entry.action == action:
                return entry if entry.outcome == "interrupted" else None
        return None

    def reattachable(self, action: str, before: int) -> dict[str, Any] | None:
        """The job of the cut-off attempt of ``action`` before entry ``before``, if any."""
        entry = self.cut_off(action, before)
        return entry.job if entry is not None and entry.job else None

    def step_failed(self, action: Action, attempts: int, error: str, penalty: float) -> None:
        """An action's attempts are spent: count the failure, penalize it for this run."""
        self.state.failures.append(
            Failure(action=action.name, attempts=attempts, error=error, at=now())
        )
        self.state.penalties[action.name] = self.state.penalties.get(action.name, 0.0) + penalty
        self.save()

    def finished(self, end: RunEnd, message: str) -> None:
        self.state.status = persisted(end)
        if end == "completed":
            self.state.completed_at = now()
            self.state.actions_pending = []
            self.state.plan = []
        if end in ("escalated", "no_plan"):
            self.state.report = message
        if end not in ("interrupted", "waiting_approval"):
            self.state.awaiting = []  # the run is over: nothing waits any more
        self.save()

    def _at(self, action: Action) -> None:
        self.state.last_action = action.label
        self.state.current_phase = action.skill or self.state.current_phase
