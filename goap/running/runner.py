"""Execute a plan action by action, persisting the world after every step, and replan.

The loop: sense the real world, plan from it, run the next action (with retries), merge what
the executor observed over the declared effects, sense again, persist, and compare the world
with what the plan expected; any difference (or a failure) means planning again from the
truth. A failed action (attempts spent) is penalized for the rest of the run so another
route is preferred; a run-wide failure budget ends the run as ``escalated``.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from goap.loading.catalog import Action, Catalog, Executor
from goap.loading.logic import simulate
from goap.planning.planner import PlanOptions, PlanResult, plan
from goap.running.errors import RunError
from goap.running.execution import Outcome, run_executor, run_sensors, worker_query
from state.model import StateTypeError
from state.store import (
    Failure,
    JournalEntry,
    StateError,
    StateFile,
    StateLock,
    load_state,
    new_state,
    now,
    save_state,
)

CIRCLE_LIMIT = 3  # the same action from the same world this often means no progress
EXIT = {"completed": 0, "failed": 1, "escalated": 1, "no_plan": 3, "interrupted": 130}


class Events(Protocol):
    """What a progress view hears from the runner."""

    def planned(self, result: PlanResult, done: list[str]) -> None: ...
    def started(self, action: Action, attempt: int) -> None: ...
    def finished(self, action: Action, outcome: Outcome, attempt: int) -> None: ...
    def note(self, text: str) -> None: ...


class Silent:
    def planned(self, result: PlanResult, done: list[str]) -> None: ...
    def started(self, action: Action, attempt: int) -> None: ...
    def finished(self, action: Action, outcome: Outcome, attempt: int) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass
class RunResult:
    status: str
    message: str
    state_path: Path
    executed: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    replans: int = 0
    plan: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT[self.status]


@dataclass
class StepResult:
    """What one action driven by ``run_one`` did."""

    action: str
    outcome: Outcome
    world: dict[str, Any]
    forced_over: list[str]  # preconditions that did not hold when --force ran it

    @property
    def exit_code(self) -> int:
        return 0 if self.outcome.ok else 130 if self.outcome.interrupted else 1


def with_args(catalog: Catalog, name: str, args: dict[str, Any]) -> Action:
    """The action ``name`` with ``args`` laid over its ``with:``; RunError for bad names."""
    try:
        action = catalog.action(name)
    except KeyError:
        names = ", ".join(a.name for a in catalog.actions)
        raise RunError(f"unknown action {name!r} in {catalog.path}; actions: {names}") from None
    if not args:
        return action
    if action.executor is None or action.executor.run is None:
        raise RunError(f"action {name} runs a command; it takes no --arg")
    executor = replace(action.executor, args={**action.executor.args, **args})
    return replace(action, executor=executor)


def default_state_path(catalog_path: Path) -> Path:
    """plans/deployment.yaml -> plans/deployment_state.json (the seed's file name)."""
    return catalog_path.with_name(f"{catalog_path.stem}_state.json")


class Runner:
    def __init__(
        self,
        catalog: Catalog,
        state_path: Path,
        workdir: Path,
        events: Events | None = None,
        options: PlanOptions | None = None,
        sleep: Any = time.sleep,
    ):
        self.catalog, self.state_path, self.workdir = catalog, state_path, workdir.resolve()
        self.events = events or Silent()
        self.options = options or PlanOptions()
        self.sleep = sleep
        self.stop_requested = False
        self.via, self.forced = "run", False  # how journal entries are marked
        self.logs = state_path.parent / ".goap" / "logs"
        # what executors may want to know about the run that calls them
        self.child_env = {
            "GOAP_STATE_FILE": str(state_path.resolve()),
            "GOAP_WORKDIR": str(self.workdir),
        }

    # ------------------------------------------------------------ entry points

    def run(self, resume: bool = False) -> RunResult:
        """Run to the goal; raise RunError/StateError for bad input (nothing is written)."""
        with StateLock(self.state_path), self._signals():
            if self.state_path.exists():  # a bad state file is refused before anything else
                load_state(self.state_path, self.catalog.schema, self.catalog.name)
            self._preflight()
            return self._loop(self._open(resume))

    def run_one(
        self, name: str, args: dict[str, Any] | None = None, force: bool = False
    ) -> StepResult:
        """Run exactly one action against the persisted state (agents drive goap this way).

        Same guarantees as ``run``: the lock, preconditions checked against the sensed state
        (``force`` runs it anyway and says so in the journal), retries, atomic persistence.
        Bad input raises RunError/StateError and writes nothing.
        """
        action = with_args(self.catalog, name, args or {})
        with StateLock(self.state_path), self._signals():
            if action.executor is None:
                raise RunError(f"action {name} has nothing to execute (no cmd or run)")
            state = (
                load_state(self.state_path, self.catalog.schema, self.catalog.name)
                if self.state_path.exists()
                else new_state(self.catalog.name, self.catalog.schema)
            )
            check_executors(self._calls([action]), self.workdir)
            world = self._sense(state.world(self.catalog.schema), state)
            unmet = [str(c) for c in action.pre if not c.holds(world)]
            if unmet and not force:
                raise RunError(
                    f"{name} does not apply: unmet preconditions: {'; '.join(unmet)} "
                    f"(run `goap next` for what applies, or --force to run it anyway)"
                )
            self.via, self.forced = "skill", bool(unmet)
            state.run_id = state.run_id or now()
            outcome, world = self._perform(state, action, world)
            state.world_state = self.catalog.schema.nest(world)
            save_state(self.state_path, state)
            return StepResult(action.name, outcome, world, unmet if force else [])

    def dry_run(self) -> PlanResult:
        world = self._sense(open_world(self.catalog, self.state_path), None)
        return plan(self.catalog, world, options=self.options)

    # ------------------------------------------------------------ setup

    def _open(self, resume: bool) -> StateFile:
        exists = self.state_path.exists()
        if resume and not exists:
            raise RunError(
                f"{self.state_path}: nothing to resume (no state file); run without "
                f"--resume to start"
            )
        state = (
            load_state(self.state_path, self.catalog.schema, self.catalog.name)
            if exists
            else new_state(self.catalog.name, self.catalog.schema)
        )
        unfinished = state.status in ("running", "interrupted")
        if unfinished and not resume:
            raise RunError(
                f"{self.state_path}: run {state.run_id} did not finish "
                f"({state.status}); continue it with `goap run --resume`, or start "
                f"over with `goap state reset`"
            )
        if resume and unfinished:
            for entry in state.history:
                if entry.run_id == state.run_id and entry.outcome == "started":
                    entry.outcome, entry.error = "interrupted", "the runner stopped mid-action"
                    entry.ended_at = now()
        else:  # a new run: fresh failure budget and penalties, same world
            state.run_id = now()
            state.failures, state.penalties, state.report = [], {}, None
            state.started_at, state.completed_at = now(), None
            state.actions_completed = []
        state.status = "running"
        save_state(self.state_path, state)
        return state

    def _preflight(self) -> None:
        missing = [a.name for a in self.catalog.actions if a.executor is None]
        if missing:
            raise RunError(
                f"{self.catalog.path}: actions with nothing to execute: "
                f"{', '.join(missing)}; give each a `cmd:` or a `run:`"
            )
        check_executors(self._calls(self.catalog.actions), self.workdir)

    def _calls(self, actions: tuple[Action, ...] | list[Action]) -> list[dict[str, Any]]:
        """The Python calls these actions (and the sensors) will make, for checking."""
        calls = [
            {"target": a.executor.run, "args": a.executor.args, "where": f"action {a.name}"}
            for a in actions
            if a.executor and a.executor.run
        ]
        return calls + [
            {"target": s.executor.run, "args": s.executor.args, "where": f"sensor {s.name}"}
            for s in self.catalog.sensors
        ]

    @contextmanager
    def _signals(self) -> Iterator[None]:
        def request_stop(signum: int, frame: Any) -> None:
            self.stop_requested = True

        try:
            previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: no handlers, stop() stays available
            previous = {}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # ------------------------------------------------------------ the loop

    def _loop(self, state: StateFile) -> RunResult:
        schema = self.catalog.schema
        world = self._sense(state.world(schema), state)
        result = RunResult("running", "", self.state_path)
        visits: dict[tuple[str, frozenset[tuple[str, Any]]], int] = {}
        while True:
            if all(c.holds(world) for c in self.catalog.goal):
                return self._finish(state, result, "completed", "goal reached")
            if self.stop_requested:
                return self._finish(state, result, "interrupted", "interrupted")
            planned = plan(self.catalog, world, penalties=state.penalties, options=self.options)
            if not planned.found:
                return self._finish(state, result, "no_plan", planned.message)
            result.replans += 1
            result.plan = [a.name for a in planned.actions]
            state.plan = result.plan
            state.actions_pending = [a.label for a in planned.actions]
            state.world_state = schema.nest(world)  # what the sensors saw
            save_state(self.state_path, state)
            self.events.planned(planned, list(state.actions_completed))
            for action in planned.actions:
                unmet = [str(c) for c in action.pre if not c.holds(world)]
                if unmet:
                    self.events.note(
                        f"{action.name} no longer applies ({', '.join(unmet)}); replanning"
                    )
                    break
                key = (action.name, frozenset(world.items()))
                visits[key] = visits.get(key, 0) + 1
                if visits[key] > CIRCLE_LIMIT:
                    return self._finish(
                        state,
                        result,
                        "escalated",
                        f"escalated: the run is going in circles: {action.name} was about to "
                        f"run a {visits[key]}th time from the same world state",
                    )
                expected = simulate([action], world)
                outcome, world = self._perform(state, action, world)
                result.executed.append(
                    {
                        "action": action.name,
                        "id": action.id,
                        "ok": outcome.ok,
                        "seconds": round(outcome.seconds, 3),
                        "error": outcome.error or None,
                    }
                )
                if outcome.interrupted or self.stop_requested:
                    return self._finish(state, result, "interrupted", "interrupted")
                if not outcome.ok:
                    if len(state.failures) >= self.catalog.failure_budget:
                        return self._finish(state, result, "escalated", self._report(state))
                    self.events.note(f"{action.name} failed; replanning around it")
                    break
                if world != expected:
                    changed = [k for k in world if world[k] != expected.get(k)]
                    self.events.note(
                        f"the world differs from the plan after {action.name} "
                        f"({', '.join(changed)}); replanning"
                    )
                    break

    def _perform(
        self, state: StateFile, action: Action, world: dict[str, Any]
    ) -> tuple[Outcome, dict[str, Any]]:
        """Run one action with its retry policy; persist every attempt. Returns the new world."""
        assert action.executor is not None
        outcome = Outcome(False)
        for attempt in range(1, action.attempts + 1):
            if attempt > 1:
                self._wait(action.delay * action.backoff ** (attempt - 2))
                if self.stop_requested:
                    outcome = Outcome(False, error="interrupted", interrupted=True)
                    break
            entry = self._journal_start(state, action, attempt)
            self.events.started(action, attempt)
            outcome = run_executor(
                action.executor,
                where=f"action {action.name}",
                workdir=self.workdir,
                log=self.logs / f"{entry.seq:05d}-{action.name}.log",
                stop=lambda: self.stop_requested,
                env=self.child_env,
            )
            new_world = world
            if outcome.ok:
                try:
                    new_world = self._observe(
                        simulate([action], world), action.executor, outcome.facts
                    )
                except StateTypeError as exc:
                    outcome.ok, outcome.error, outcome.retryable = False, str(exc), False
            self._journal_end(state, entry, outcome)
            self.events.finished(action, outcome, attempt)
            if outcome.ok:
                new_world = self._sense(new_world, state)
                state.world_state = self.catalog.schema.nest(new_world)
                state.last_action = action.label
                state.current_phase = action.skill or state.current_phase
                state.actions_completed.append(action.label)
                if action.label in state.actions_pending:
                    state.actions_pending.remove(action.label)
                save_state(self.state_path, state)
                return outcome, new_world
            if outcome.interrupted:
                save_state(self.state_path, state)
                return outcome, world
            if outcome.facts:  # what the executor saw before failing is still the truth
                try:
                    world = self._observe(world, action.executor, outcome.facts)
                except StateTypeError:
                    pass
            save_state(self.state_path, state)
            if not outcome.retryable:
                break
        if not outcome.interrupted:
            state.failures.append(
                Failure(action=action.name, attempts=attempt, error=outcome.error, at=now())
            )
            state.penalties[action.name] = state.penalties.get(action.name, 0.0) + self._penalty()
            state.world_state = self.catalog.schema.nest(world)
            save_state(self.state_path, state)
        return outcome, world

    def _penalty(self) -> float:
        """Large enough that any route avoiding the action is preferred."""
        return sum(a.cost for a in self.catalog.actions)

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stop_requested and (left := end - time.monotonic()) > 0:
            self.sleep(min(left, 0.1))

    def _observe(
        self, world: dict[str, Any], executor: Executor, facts: dict[str, Any]
    ) -> dict[str, Any]:
        """Observed facts, bound by ``observe:``, override the declared effects."""
        world = dict(world)
        for var_name, fact in executor.observe.items():
            if fact in facts:
                world[var_name] = self.catalog.schema[var_name].coerce(facts[fact])
        return world

    def _sense(self, world: dict[str, Any], state: StateFile | None) -> dict[str, Any]:
        sensors = [(s.name, s.executor) for s in self.catalog.sensors]
        outcomes = run_sensors(
            sensors,
            workdir=self.workdir,
            log=self.logs / "sensors.log",
            stop=lambda: self.stop_requested,
            env=self.child_env,
        )
        for (name, executor), outcome in zip(sensors, outcomes, strict=True):
            if not outcome.ok:
                self.events.note(f"sensor {name} failed: {outcome.error}")
                continue
            try:
                world = self._observe(world, executor, outcome.facts)
            except StateTypeError as exc:
                self.events.note(f"sensor {name}: {exc}")
        return world

    # ------------------------------------------------------------ journal and the end

    def _journal_start(self, state: StateFile, action: Action, attempt: int) -> JournalEntry:
        entry = JournalEntry(
            seq=len(state.history) + 1,
            run_id=state.run_id or "",
            action=action.name,
            id=action.id,
            attempt=attempt,
            started_at=now(),
            forced=self.forced,
            via=self.via,
        )
        state.history.append(entry)
        state.last_action = action.label
        state.current_phase = action.skill or state.current_phase
        save_state(self.state_path, state)
        return entry

    def _journal_end(self, state: StateFile, entry: JournalEntry, outcome: Outcome) -> None:
        entry.ended_at = now()
        entry.duration_s = round(outcome.seconds, 3)
        entry.outcome = (
            "succeeded" if outcome.ok else "interrupted" if outcome.interrupted else "failed"
        )
        entry.error = outcome.error or None
        entry.tail = outcome.tail[-4000:] if (outcome.tail and not outcome.ok) else None
        entry.facts = outcome.facts

    def _report(self, state: StateFile) -> str:
        lines = [
            f"escalated: {len(state.failures)} failures reached the budget of "
            f"{self.catalog.failure_budget}; a human needs to look:"
        ]
        for failure in state.failures:
            lines.append(f"- {failure.action} (after {failure.attempts} attempts): {failure.error}")
        return "\n".join(lines)

    def _finish(self, state: StateFile, result: RunResult, status: str, message: str) -> RunResult:
        state.status = {"no_plan": "failed"}.get(status, status)  # type: ignore[assignment]
        if status == "completed":
            state.completed_at = now()
            state.actions_pending = []
            state.plan = []
        if status in ("escalated", "no_plan"):
            state.report = message
        save_state(self.state_path, state)
        result.status, result.message = status, message
        result.failures = [f.model_dump() for f in state.failures]
        self.events.note(message)
        return result


def check_executors(calls: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """Import every target and validate every call's arguments in a child; RunError if bad."""
    if not calls:
        return {}
    targets = sorted({c["target"] for c in calls})
    request = {"op": "check", "targets": targets, "calls": calls, "workdir": str(workdir)}
    answer = worker_query(request)
    if not answer["ok"]:
        raise RunError("; ".join(answer["problems"].values()))
    return answer["schemas"]


def open_world(catalog: Catalog, state_path: Path) -> dict[str, Any]:
    """The persisted world for ``catalog`` (the defaults when there is no state file yet)."""
    if state_path.exists():
        return load_state(state_path, catalog.schema, catalog.name).world(catalog.schema)
    return catalog.initial


__all__ = ["RunError", "RunResult", "Runner", "StateError", "default_state_path", "open_world"]
