"""Execute a plan action by action, persisting the world after every step, and replan.

The loop: sense the real world, plan from it, run the next action (with retries), merge what
the executor observed over the declared effects, sense again, persist, and compare the world
with what the plan expected; any difference (or a failure) means planning again from the
truth. A failed action (attempts spent) is penalized for the rest of the run so another
route is preferred; a run-wide failure budget ends the run as ``escalated``.

The runner holds the policy only: what happened is written by the run record
(``goap.running.record``), and how an executor runs is the ``execute`` seam
(``goap.running.execution``), real child processes unless a test scripts them.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from goap.loading.catalog import Action, Catalog, Executor
from goap.loading.logic import simulate, with_effects
from goap.loading.secrets import MASKER, referenced
from goap.planning.planner import PlanOptions, PlanResult, plan
from goap.running import orphans
from goap.running.errors import RunError
from goap.running.execution import (
    INTERRUPTED,
    ChildProcesses,
    Execution,
    ExecutionContext,
    Outcome,
)
from goap.running.protocol import Call
from goap.running.record import RunRecord, logs_root, read_state, read_world
from state.model import StateTypeError, quoted, shown
from state.status import RunEnd, Via
from state.store import StateLock

CIRCLE_LIMIT = 3  # the same action from the same world this often means no progress
EXIT: dict[RunEnd, int] = {
    "completed": 0,
    "failed": 1,
    "escalated": 1,
    "no_plan": 3,
    "interrupted": 130,
}


class Events(Protocol):
    """What a progress view hears from the runner."""

    def planned(self, result: PlanResult, done: list[str]) -> None: ...
    def started(self, action: Action, attempt: int) -> None: ...
    def progress(self, action: Action, fields: dict[str, Any]) -> None: ...
    def finished(self, action: Action, outcome: Outcome, attempt: int) -> None: ...
    def note(self, text: str) -> None: ...


class Silent:
    def planned(self, result: PlanResult, done: list[str]) -> None: ...
    def started(self, action: Action, attempt: int) -> None: ...
    def progress(self, action: Action, fields: dict[str, Any]) -> None: ...
    def finished(self, action: Action, outcome: Outcome, attempt: int) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass
class Progress:
    """What a run did so far: the steps it executed and the plans it made."""

    executed: list[dict[str, Any]] = field(default_factory=list)
    plans: int = 0  # plans made, the first one included
    plan: list[str] = field(default_factory=list)  # the last one


@dataclass(frozen=True)
class RunResult:
    status: RunEnd
    message: str
    state_path: Path
    progress: Progress
    failures: list[dict[str, Any]]
    world: dict[str, Any]  # flat, as the run left it

    @property
    def executed(self) -> list[dict[str, Any]]:
        return self.progress.executed

    @property
    def plans(self) -> int:
        return self.progress.plans

    @property
    def exit_code(self) -> int:
        return EXIT[self.status]


@dataclass(frozen=True)
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
    """The action ``name`` with an agent's ``args`` laid over its ``with:``.

    What an agent sends is confined to what the catalog allows: only the arguments the
    action's ``agent.args`` names (``workdir`` never), and ``${NAME}`` only for the names its
    ``agent.env`` lists (the server's environment is not the agent's to read). RunError
    for bad names, with the agent's text capped.
    """
    try:
        action = catalog.action(name)
    except KeyError:
        names = ", ".join(a.name for a in catalog.actions)
        raise RunError(
            f"unknown action {quoted(name)} in {catalog.path}; actions: {names}"
        ) from None
    if not args:
        return action
    if action.executor is None or action.executor.run is None:
        raise RunError(f"action {name} runs a command; it takes no --arg")
    allowed = action.agent.args
    refused = sorted(k for k in args if k not in allowed)
    if refused:
        listed = ", ".join(sorted(allowed)) or "none"
        raise RunError(
            f"action {name} does not let an agent set {', '.join(map(quoted, refused[:5]))}; "
            f"it allows: {listed} (the catalog's `agent: {{args: [...]}}` on the action)"
        )
    reads = sorted(referenced(args) - action.agent.env)
    if reads:
        raise RunError(
            f"action {name}: an agent's arguments may not read ${{{reads[0]}}} from the "
            f"environment (allowed: {', '.join(sorted(action.agent.env)) or 'none'}); "
            f"write $$ for a literal $"
        )
    executor = replace(action.executor, args={**action.executor.args, **args})
    return replace(action, executor=executor)


def calls(catalog: Catalog, actions: tuple[Action, ...] | list[Action]) -> list[Call]:
    """The Python calls these actions (and the catalog's sensors) will make, for checking."""
    out: list[Call] = [
        {"target": a.executor.run, "args": a.executor.args, "where": f"action {a.name}"}
        for a in actions
        if a.executor and a.executor.run
    ]
    return out + [
        {"target": s.executor.run or "", "args": s.executor.args, "where": f"sensor {s.name}"}
        for s in catalog.sensors
    ]


class Runner:
    def __init__(
        self,
        catalog: Catalog,
        state_path: Path,
        workdir: Path,
        events: Events | None = None,
        options: PlanOptions | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        execute: Execution | None = None,
    ):
        self.catalog, self.state_path = catalog, state_path
        self.events = events or Silent()
        self.options = options or PlanOptions()
        self.sleep = sleep
        self.execute = execute or ChildProcesses()
        self.stop_requested = False
        MASKER.declare(catalog.secrets)
        self.ctx = ExecutionContext.create(
            workdir,
            logs_root(state_path),
            {
                # what executors may want to know about the run that calls them
                "GOAP_STATE_FILE": str(state_path.resolve()),
                "GOAP_WORKDIR": str(workdir.resolve()),
                # inherited by every descendant: how leftovers of a killed run are found
                orphans.OWNER: orphans.owner_mark(state_path),
            },
            stop=lambda: self.stop_requested,
        )
        self.record: RunRecord | None = None  # the record of the run in progress

    # ------------------------------------------------------------ entry points

    def run(self, resume: bool = False) -> RunResult:
        """Run to the goal; raise RunError/StateError for bad input (nothing is written)."""
        with StateLock(self.state_path), self._signals():
            self._end_leftovers()
            state = read_state(self.catalog, self.state_path)  # a bad file is refused first
            self._preflight()
            sensed = None
            if not resume and state.status == "completed":
                sensed = self._sense(state.world)
                if all(c.holds(sensed) for c in self.catalog.goal):
                    # nothing to do: the file keeps the summary of the run that did the work
                    message = "the goal already holds: nothing to do"
                    self.events.note(message)
                    return RunResult("completed", message, self.state_path, Progress(), [], sensed)
            self.record = RunRecord.open(self.catalog, self.state_path, resume, state)
            return self._loop(self.record, sensed)

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
            self._end_leftovers()
            record = self.record = RunRecord.single(self.catalog, self.state_path)
            self.execute.check(calls(self.catalog, [action]), self.ctx)
            world = self._sense(record.world)
            unmet = [str(c) for c in action.pre if not c.holds(world)]
            if unmet and not force:
                raise RunError(
                    f"{name} does not apply: unmet preconditions: {'; '.join(unmet)} "
                    f"(run `goap next` for what applies, or --force to run it anyway)"
                )
            record.sensed(world)
            outcome, world = self._perform(record, action, world, "skill", bool(unmet))
            return StepResult(action.name, outcome, world, unmet if force else [])

    def dry_run(self) -> PlanResult:
        world = self._sense(read_world(self.catalog, self.state_path))
        return plan(self.catalog, world, options=self.options)

    # ------------------------------------------------------------ setup

    def _preflight(self) -> None:
        missing = [a.name for a in self.catalog.actions if a.executor is None]
        if missing:
            raise RunError(
                f"{self.catalog.path}: actions with nothing to execute: "
                f"{', '.join(missing)}; give each a `cmd:` or a `run:`"
            )
        self.execute.check(calls(self.catalog, self.catalog.actions), self.ctx)

    def _end_leftovers(self) -> None:
        """Kill what a run that died (kill -9) left running for this state file, first.

        We hold the lock, so any process still carrying this file's mark is an orphan that
        would otherwise do its action at the same time as the run that repeats it.
        """
        ended = orphans.end(orphans.OWNER, self.ctx.env[orphans.OWNER])
        if ended:
            pids = ", ".join(map(str, ended))
            self.events.note(f"ended {len(ended)} process(es) left by an earlier run: {pids}")

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

    def _loop(self, record: RunRecord, sensed: dict[str, Any] | None = None) -> RunResult:
        """``sensed``: the world the sensors just saw, when the caller already asked them."""
        world = self._sense(record.world) if sensed is None else sensed
        done = Progress()
        visits: dict[tuple[str, frozenset[tuple[str, Any]]], int] = {}
        # action -> (the world it failed from, the error), once it failed the same way twice
        settled: dict[str, tuple[frozenset[tuple[str, Any]], str]] = {}
        while True:
            if all(c.holds(world) for c in self.catalog.goal):
                return self._finish(record, done, "completed", "goal reached")
            if self.stop_requested:
                return self._finish(record, done, "interrupted", "interrupted")
            planned = plan(self.catalog, world, penalties=record.penalties, options=self.options)
            if not planned.found:
                return self._finish(record, done, "no_plan", planned.message)
            here = frozenset(world.items())
            stuck = [a.name for a in planned.actions if settled.get(a.name, ("",))[0] == here]
            if stuck:  # the plan would repeat a failure that repeats itself: no other route
                message = _no_route(stuck[0], settled[stuck[0]][1])
                return self._finish(record, done, "escalated", message)
            done.plans += 1
            done.plan = [a.name for a in planned.actions]
            record.planned(planned.actions, world)
            self.events.planned(planned, list(record.completed))
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
                        record,
                        done,
                        "escalated",
                        f"escalated: the run is going in circles: {action.name} was about to "
                        f"run a {visits[key]}th time from the same world state",
                    )
                expected = simulate([action], world)
                before = world
                outcome, world = self._perform(record, action, world, expected=expected)
                done.executed.append(
                    {
                        "action": action.name,
                        "id": action.id,
                        "ok": outcome.ok,
                        "seconds": round(outcome.seconds, 3),
                        "error": outcome.error or None,
                        "log": outcome.log or None,
                    }
                )
                if outcome.interrupted or self.stop_requested:
                    return self._finish(record, done, "interrupted", "interrupted")
                if outcome.ok and outcome.error:  # it ran; what it observed cannot be stored
                    return self._finish(record, done, "escalated", _unobserved(action, outcome))
                if not outcome.ok:
                    errors = record.errors(action.name)
                    if len(errors) >= 2 and errors[-1] == errors[-2]:  # it repeats itself
                        settled[action.name] = (frozenset(before.items()), outcome.error)
                    if len(record.failures) >= self.catalog.failure_budget:
                        return self._finish(record, done, "escalated", self._report(record))
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
        self,
        record: RunRecord,
        action: Action,
        world: dict[str, Any],
        via: Via = "run",
        forced: bool = False,
        expected: dict[str, Any] | None = None,
    ) -> tuple[Outcome, dict[str, Any]]:
        """Run one action with its retry policy; every attempt is recorded. The new world.

        ``expected`` is the world its declared effects promise (computed when not given).
        """
        assert action.executor is not None
        if expected is None:  # forced actions apply whatever their preconditions say
            expected = with_effects(action.effects, world)
        outcome = INTERRUPTED
        attempt = 0
        for attempt in range(1, action.retry.attempts + 1):
            if attempt > 1:
                self._wait(action.retry.wait_before(attempt))
                if self.stop_requested:
                    outcome = INTERRUPTED
                    break
            entry = record.attempt_started(action, attempt, via, forced)
            self.events.started(action, attempt)
            log = record.log_path(f"{entry.seq:05d}-{action.name}.log", self.ctx.logs)
            where = f"action {action.name}"
            ctx = replace(self.ctx, progress=lambda fields: self.events.progress(action, fields))
            outcome = self.execute.action(action.executor, where, log, ctx)
            outcome = replace(outcome, log=str(log))
            after = world
            if outcome.ok:  # it ran: its effects hold, what it observed overrides them
                after, problems = self._observe(expected, action.executor, where, outcome.facts)
                if problems:  # recorded as executed, never run again for this
                    outcome = replace(outcome, error="; ".join(problems), retryable=False)
            elif outcome.facts:  # what the executor saw before failing is still the truth
                world = after = self._observe(world, action.executor, where, outcome.facts)[0]
            self.events.finished(action, outcome, attempt)
            if outcome.ok:
                after = self._sense(after)
            record.attempt_ended(entry, action, outcome, after)
            if outcome.ok:
                return outcome, after
            if outcome.interrupted or not outcome.retryable:
                break
        if not outcome.interrupted:
            record.step_failed(action, attempt, outcome.error, self._penalty())
        return outcome, world

    def _penalty(self) -> float:
        """Large enough that any route avoiding the action is preferred."""
        return sum(a.cost for a in self.catalog.actions)

    def _wait(self, seconds: float) -> None:
        """Sleep in short steps, so a stop request ends the wait (``sleep`` is a seam)."""
        left = seconds
        while not self.stop_requested and left > 0:
            step = min(left, 0.1)
            self.sleep(step)
            left -= step

    def _observe(
        self, world: dict[str, Any], executor: Executor, where: str, facts: dict[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        """Observed facts, bound by ``observe:``, override the declared effects.

        A fact that does not fit its variable leaves the variable as it was and is one of
        the problems returned, naming the action or sensor, the variable and the fact.
        """
        world, problems = dict(world), []
        for var_name, fact in executor.observe.items():
            if fact in facts:
                try:
                    world[var_name] = self.catalog.schema[var_name].coerce(facts[fact])
                except StateTypeError as exc:
                    problems.append(
                        f"{where} observed {fact} = {shown(facts[fact])}, which "
                        f"`observe: {{{var_name}: {fact}}}` cannot store: {exc}"
                    )
        return world, problems

    def _sense(self, world: dict[str, Any]) -> dict[str, Any]:
        sensors = [(s.name, s.executor) for s in self.catalog.sensors]
        if not sensors:
            return world
        if self.record is not None:
            log = self.record.log_path("sensors.log", self.ctx.logs)
        else:  # a dry run: no run, no lock; its own folder
            log = self.ctx.logs / "dry-run" / "sensors.log"
        outcomes = self.execute.sense(sensors, log, self.ctx)
        for (name, executor), outcome in zip(sensors, outcomes, strict=True):
            if not outcome.ok:
                self.events.note(f"sensor {name} failed: {outcome.error}")
                continue
            world, problems = self._observe(world, executor, f"sensor {name}", outcome.facts)
            for problem in problems:
                self.events.note(problem)
        return world

    # ------------------------------------------------------------ the end

    def _report(self, record: RunRecord) -> str:
        lines = [
            f"escalated: {len(record.failures)} failures reached the budget of "
            f"{self.catalog.failure_budget}; a human needs to look:"
        ]
        counted: dict[tuple[str, int, str], int] = {}
        for failure in record.failures:  # the same failure twice is one line, counted
            key = (failure.action, failure.attempts, failure.error)
            counted[key] = counted.get(key, 0) + 1
        for (action, attempts, error), times in counted.items():
            again = f", {times} times" if times > 1 else ""
            lines.append(f"- {action} (after {attempts} attempts{again}): {error}")
        return "\n".join(lines)

    def _finish(self, record: RunRecord, done: Progress, end: RunEnd, message: str) -> RunResult:
        record.finished(end, message)
        self.events.note(message)
        failures = [f.model_dump() for f in record.failures]
        return RunResult(end, message, self.state_path, done, failures, dict(record.world))


def _no_route(action: str, error: str) -> str:
    return (
        f"escalated: {action} fails the same way every time and there is no other route to "
        f"the goal: {error}\na human needs to look: fix the cause, then `goap run`"
    )


def _unobserved(action: Action, outcome: Outcome) -> str:
    return (
        f"escalated: {action.name} ran and is recorded as executed (it will not run again "
        f"by itself), but what it observed cannot be stored: {outcome.error}\nfix the "
        f"executor or its `observe:`, check the world with `goap state show`, then `goap run`"
    )


__all__ = ["RunResult", "Runner", "StepResult", "with_args"]
