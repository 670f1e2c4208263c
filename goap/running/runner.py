"""Execute a plan action by action, persisting the world after every step, and replan.

The loop: sense the real world, plan from it, run the next action (with retries), merge what
the executor observed over the declared effects, sense again, persist, and compare the world
with what the plan expected; any difference (or a failure) means planning again from the
truth. A failed action (attempts spent) is penalized for the rest of the run so another
route is preferred; a run-wide failure budget ends the run as ``escalated``.

An action the catalog gates (``approval:``) starts only with an approval of this run not yet
used (``goap.running.approval``): otherwise the runner asks (status ``waiting_approval``),
lets the steps that do not wait on it start and finish, and then waits, taking answers in
every half second (or, ``wait_approval=False``, ends the run as ``waiting_approval``). A
denied action is left out of planning for the rest of the run (a later approval lifts it).

The runner holds the policy only: what happened is written by the run record
(``goap.running.record``), and how an executor runs is the ``execute`` seam
(``goap.running.execution``), real child processes unless a test scripts them.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from goap.loading.catalog import Action, Catalog, Executor
from goap.loading.logic import with_effects
from goap.loading.secrets import MASKER, referenced, scrub
from goap.planning.planner import PlanOptions, PlanResult, plan
from goap.planning.schedule import tails, waits_for, writes
from goap.running import approval as approvals
from goap.running import orphans
from goap.running.errors import RunError
from goap.running.execution import (
    INTERRUPTED,
    ChildProcesses,
    Execution,
    ExecutionContext,
    Outcome,
    call_request,
    failed,
    from_answer,
    masked,
)
from goap.running.jobs import DetachedProcesses, JobBackend, RayJobs, assignments, job_id
from goap.running.progress import LEAVE_ENV, REATTACH_ENV, job_left_in
from goap.running.protocol import Call
from goap.running.record import RunRecord, logs_root, read_state, read_world
from goap.running.resources import (
    DEFAULT_JOBS,
    OFF_PATH_NICE,
    capacities,
    fits,
    goap_toml,
    hold,
    off_path_nice,
    problems,
)
from state.files import open_append
from state.model import StateError, StateTypeError, quoted, shown
from state.status import RunEnd, Via
from state.store import ApprovalDecision, JournalEntry, StateLock

CIRCLE_LIMIT = 3  # the same action from the same world this often means no progress
EXIT: dict[RunEnd, int] = {
    "completed": 0,
    "failed": 1,
    "escalated": 1,
    "no_plan": 3,
    "interrupted": 130,
    "waiting_approval": 4,
}
APPROVAL_POLL = 0.5  # seconds between looks at the answers file while a step awaits one


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
    awaiting: list[dict[str, Any]] = field(default_factory=list)  # approvals it waits for

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
        jobs: int = DEFAULT_JOBS,
        leave_jobs: bool = False,
        wait_approval: bool = True,
    ):
        self.catalog, self.state_path = catalog, state_path
        self.events = events or Silent()
        self.options = options or PlanOptions()
        self.sleep = sleep
        self.execute = execute or ChildProcesses()
        if jobs < 1:
            raise RunError(f"--jobs {jobs}: at least 1 step must be able to run")
        self.jobs = jobs
        self.workdir = workdir
        self.capacity: dict[str, float] = {}  # read at the preflight (goap.toml, the machine)
        self.nice = OFF_PATH_NICE  # of steps off the critical path ([schedule] of goap.toml)
        self.assigned: dict[str, str] = {}  # action -> job backend ([jobs] of goap.toml)
        self.job_settings: dict[str, Any] = {}
        self.backends: dict[str, JobBackend] = {}
        self.leave_jobs = leave_jobs  # on SIGINT/SIGTERM: leave remote jobs running
        self.stop_requested = False
        self.wait_approval = wait_approval  # False: a run that must wait ends instead
        self.gated = any(a.approval for a in catalog.actions)
        self.announced: set[str] = set()  # actions whose wait this process has shown
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
        with StateLock(self.state_path), self._signals(), self._executing():
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
            self._answers(self.record)  # what was answered while no runner held the state
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
        with StateLock(self.state_path), self._signals(), self._executing():
            if action.executor is None:
                raise RunError(f"action {name} has nothing to execute (no cmd or run)")
            self._end_leftovers()
            record = self.record = RunRecord.single(self.catalog, self.state_path)
            self._check_resources([action])
            self.execute.check(calls(self.catalog, [action]), self.ctx)
            world = self._sense(record.world)
            unmet = [str(c) for c in action.pre if not c.holds(world)]
            if unmet and not force:
                raise RunError(
                    f"{name} does not apply: unmet preconditions: {'; '.join(unmet)} "
                    f"(run `goap next` for what applies, or --force to run it anyway)"
                )
            granted = self._approval_of_one(record, action)
            record.sensed(world)
            board = _Board(world)
            outcome = self._perform(record, action, board, "skill", bool(unmet), granted)
            world = board.world
            return StepResult(action.name, outcome, world, unmet if force else [])

    def _approval_of_one(self, record: RunRecord, action: Action) -> ApprovalDecision | None:
        """A gated action driven alone needs an approval as in a run: else it is asked
        for (the request stays in the state file for `goap approve`) and refused."""
        if action.approval is None:
            return None
        self._answers(record, live=False)
        granted = record.approval_for(action.name)
        if granted is None:
            record.approval_requested(action, waits=False)
            raise RunError(
                f"{action.name} needs approval{_reason(action)}: asked; answer with `goap "
                f"approve {self.catalog.path} {action.name}`, then run it again"
            )
        return granted

    def dry_run(self) -> PlanResult:
        with self._executing():
            world = self._sense(read_world(self.catalog, self.state_path))
        return plan(self.catalog, world, options=self.options)

    @contextmanager
    def _executing(self) -> Iterator[None]:
        """While a run (one step, a dry run) lasts; at its end the execution lets go of what
        it kept for the run (the sensor host of ``ChildProcesses``)."""
        try:
            yield
        finally:
            close = getattr(self.execute, "close", None)
            if close is not None:
                close()

    # ------------------------------------------------------------ setup

    def _preflight(self) -> None:
        missing = [a.name for a in self.catalog.actions if a.executor is None]
        if missing:
            raise RunError(
                f"{self.catalog.path}: actions with nothing to execute: "
                f"{', '.join(missing)}; give each a `cmd:` or a `run:`"
            )
        self._check_resources(self.catalog.actions)
        self.execute.check(calls(self.catalog, self.catalog.actions), self.ctx)

    def _check_resources(self, actions: tuple[Action, ...] | list[Action]) -> None:
        """Capacities and job backends from goap.toml, checked against the catalog."""
        toml = goap_toml(self.workdir)
        self.assigned, self.job_settings = assignments(*toml)
        names = {a.name for a in self.catalog.actions}
        unknown = sorted(set(self.assigned) - names)
        if unknown:
            raise RunError(
                f"{self.workdir / 'goap.toml'}: [jobs] names {', '.join(unknown)}, which "
                f"{self.catalog.path} does not have; actions: {', '.join(sorted(names))}"
            )
        self.capacity = capacities(*toml)
        self.nice = off_path_nice(*toml)
        found = problems(actions, self.capacity)
        if found:
            raise RunError(f"{self.catalog.path}: " + "\n".join(found))

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
            denied = record.denied()
            planned = plan(
                self._without(denied), world, penalties=record.penalties, options=self.options
            )
            if not planned.found:
                return self._finish(record, done, "no_plan", _denied_report(planned, denied))
            here = frozenset(world.items())
            stuck = [a.name for a in planned.actions if settled.get(a.name, ("",))[0] == here]
            if stuck:  # the plan would repeat a failure that repeats itself: no other route
                message = _no_route(stuck[0], settled[stuck[0]][1])
                return self._finish(record, done, "escalated", message)
            done.plans += 1
            done.plan = [a.name for a in planned.actions]
            record.planned(planned.actions, world)
            self.events.planned(planned, list(record.completed))
            board = _Board(world)
            ended = self._schedule(record, planned.actions, board, done, visits, settled)
            world = board.world
            if ended is not None:
                return self._finish(record, done, *ended)

    def _schedule(
        self,
        record: RunRecord,
        steps: tuple[Action, ...],
        board: _Board,
        done: Progress,
        visits: dict[tuple[str, frozenset[tuple[str, Any]]], int],
        settled: dict[str, tuple[frozenset[tuple[str, Any]], str]],
    ) -> tuple[RunEnd, str] | None:
        """Run the plan's steps, each as soon as the steps it waits for have landed, up to
        ``jobs`` at once and within the resources. The first surprise (a failure, a world
        the plan did not expect, a step that no longer applies) starts nothing new; what runs
        finishes, then the caller replans. Returns how the run ends, or None to replan."""
        waits, tail = waits_for(steps), tails(steps, record.durations())
        predicted = dict(board.world)  # the plan's world with every landed step applied
        pending, landed = list(range(len(steps))), set()
        running: dict[Future[Outcome], int] = {}
        held: dict[str, float] = {}
        blocked: set[int] = set()  # steps waiting for an approval
        polled = time.monotonic()
        halt: str | None = None  # why nothing new starts
        ended: tuple[RunEnd, str] | None = None
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="goap-step") as pool:
            while True:
                while halt is None and not self.stop_requested and len(running) < self.jobs:
                    ready = [
                        i
                        for i in pending
                        if i not in blocked
                        and waits[i] <= landed
                        and fits(steps[i], held, self.capacity)
                    ]
                    if not ready:
                        break
                    i = max(ready, key=lambda k: tail[k])  # the longest chain first
                    action = steps[i]
                    with board.lock:
                        now = dict(board.world)
                    unmet = [str(c) for c in action.pre if not c.holds(now)]
                    if unmet:
                        halt = f"{action.name} no longer applies ({', '.join(unmet)}); replanning"
                        break
                    granted = None
                    if action.approval is not None:
                        with board.lock:
                            granted = record.approval_for(action.name)
                            if granted is None:
                                blocked.add(i)
                                self._ask(record, action)
                                continue
                    key = (action.name, frozenset(now.items()))
                    visits[key] = visits.get(key, 0) + 1
                    if visits[key] > CIRCLE_LIMIT:
                        ended = (
                            "escalated",
                            f"escalated: the run is going in circles: {action.name} was about "
                            f"to run a {visits[key]}th time from the same world state",
                        )
                        halt = ""
                        break
                    # off the critical path (a longer chain is still to go): yield the CPU
                    longest = max(tail[k] for k in (*pending, *running.values()))
                    nice = self.nice if tail[i] < longest else 0
                    pending.remove(i)
                    hold(held, action, 1)
                    board.launch(action, now)
                    running[
                        pool.submit(
                            self._perform, record, action, board, "run", False, granted, nice
                        )
                    ] = i
                if not running:
                    if not blocked or halt is not None or ended is not None:
                        break
                    if self.stop_requested:
                        break  # interrupted: the requests stay in the state file
                    answered = self._answers(record, board)
                    if answered:
                        blocked.clear()  # looked at again: approved ones start
                        halt = _denied_step(answered, steps, pending)
                        continue
                    if not self.wait_approval:
                        ended = ("waiting_approval", self._waiting(record))
                        break
                    self._wait(APPROVAL_POLL)
                    continue
                finished, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
                if self.gated and time.monotonic() - polled >= APPROVAL_POLL:
                    polled = time.monotonic()
                    answered = self._answers(record, board)
                    if answered:
                        blocked.clear()
                        halt = halt or _denied_step(answered, steps, pending)
                for future in finished:
                    i = running.pop(future)
                    action = steps[i]
                    hold(held, action, -1)
                    outcome = future.result()
                    before = board.landed(action)
                    done.executed.append(_executed(action, outcome))
                    if outcome.ok and not outcome.error:
                        landed.add(i)
                        predicted = with_effects(action.effects, predicted)
                    why = self._surprise(record, action, outcome, before, predicted, board, settled)
                    if why is None:
                        continue
                    if why[0] == "differs" and running and halt is None and ended is None:
                        flying = [steps[j] for j in running.values()]
                        fresh = self._replan_in_flight(record, board, flying, done, why[1], settled)
                        if fresh is not None:  # go on with the running steps and the new plan
                            steps = (*flying, *fresh)
                            waits, tail = waits_for(steps), tails(steps, record.durations())
                            running = {f: k for k, f in enumerate(running)}
                            pending = list(range(len(flying), len(steps)))
                            landed, blocked = set(), set()
                            with board.lock:
                                predicted = dict(board.world)
                            continue
                    if why[0] == "differs":
                        halt = halt or f"{why[1]}; replanning"
                    elif why[0] == "replan":
                        halt = halt or why[1]
                    else:
                        ended, halt = ended or why, halt if halt is not None else ""
        if ended is not None:
            return ended
        if self.stop_requested:
            return "interrupted", "interrupted"
        if halt:
            self.events.note(halt)
        return None

    def _surprise(
        self,
        record: RunRecord,
        action: Action,
        outcome: Outcome,
        before: dict[str, Any],
        predicted: dict[str, Any],
        board: _Board,
        settled: dict[str, tuple[frozenset[tuple[str, Any]], str]],
    ) -> tuple[Any, str] | None:
        """What a landed step means for the run: (end, why) to stop the run, ("replan", why)
        to start nothing new and replan, ("differs", why) when it went well but the world is
        not the one the plan expected, or None to go on."""
        if outcome.interrupted or self.stop_requested:
            return ("interrupted", "interrupted")
        if outcome.ok and outcome.error:  # it ran; what it observed cannot be stored
            return ("escalated", _unobserved(action, outcome))
        if not outcome.ok:
            errors = record.errors(action.name)
            if len(errors) >= 2 and errors[-1] == errors[-2]:  # it repeats itself
                settled[action.name] = (frozenset(before.items()), outcome.error)
            if len(record.failures) >= self.catalog.failure_budget:
                return ("escalated", self._report(record))
            return ("replan", f"{action.name} failed; replanning around it")
        with board.lock:
            busy = board.written()
            changed = [
                k for k in board.world if k not in busy and board.world[k] != predicted.get(k)
            ]
        if changed:
            return (
                "differs",
                f"the world differs from the plan after {action.name} ({', '.join(changed)})",
            )
        return None

    def _replan_in_flight(
        self,
        record: RunRecord,
        board: _Board,
        flying: list[Action],
        done: Progress,
        why: str,
        settled: dict[str, tuple[frozenset[tuple[str, Any]], str]],
    ) -> tuple[Action, ...] | None:
        """The world differs from the plan while steps still run: plan again at once, from
        the world as it will be when they have landed as declared (if one does not, its own
        landing is the next surprise). The new plan's steps start beside them, so a fact one
        step revealed does not idle the machine until a long training ends. None when there
        is no plan from there: then nothing new starts and the caller replans as before."""
        with board.lock:
            world = dict(board.world)
        assumed = world
        for action in flying:
            assumed = with_effects(action.effects, assumed)
        planned = plan(
            self._without(record.denied()), assumed, penalties=record.penalties,
            options=self.options,
        )  # fmt: skip
        here = frozenset(assumed.items())
        if not planned.found or any(settled.get(a.name, ("",))[0] == here for a in planned.actions):
            return None  # the caller's replan reports it (no plan, or a failure repeating)
        done.plans += 1
        done.plan = [a.name for a in (*flying, *planned.actions)]
        with board.lock:
            running = f"{len(flying)} step{'s' if len(flying) > 1 else ''} still running"
            self.events.note(f"{why}; replanned, {running}")
            record.planned((*flying, *planned.actions), world)
            self.events.planned(planned, list(record.completed))
        return planned.actions

    # ------------------------------------------------------------ approvals

    def _without(self, denied: dict[str, ApprovalDecision]) -> Catalog:
        """The catalog planning sees: without the actions denied in this run."""
        if not denied:
            return self.catalog
        return replace(
            self.catalog, actions=tuple(a for a in self.catalog.actions if a.name not in denied)
        )

    def _ask(self, record: RunRecord, action: Action) -> None:
        """Record that the run waits for ``action``'s approval; say so once per process."""
        record.approval_requested(action)
        if action.name not in self.announced:
            self.announced.add(action.name)
            label = f"{action.id} {action.name}" if action.id else action.name
            self.events.note(
                f"waiting for approval of {label}{_reason(action)}: goap approve "
                f"{self.catalog.path} {action.name}  (or goap deny)"
            )

    def _answers(
        self, record: RunRecord, board: _Board | None = None, live: bool = True
    ) -> list[ApprovalDecision]:
        """Take the answers queued for this run into the state file; note each one."""
        if not approvals.has_queued(record.path):
            return []
        try:
            with board.lock if board is not None else contextlib.nullcontext():
                taken = approvals.take(record, live)
        except StateError as exc:  # a link planted as the answers file: never followed
            if "answers" not in self.announced:
                self.announced.add("answers")
                self.events.note(f"answers are not read: {exc}")
            return []
        for d in taken:
            why = f": {d.why}" if d.why else ""
            self.events.note(f"{d.action} {d.decision} by {d.who} at {d.at}{why}")
            self.announced.discard(d.action)
        return taken

    def _waiting(self, record: RunRecord) -> str:
        names = [r.action for r in record.state.awaiting]
        return (
            f"waiting for approval of {', '.join(names)}: `goap approve {self.catalog.path} "
            f"{names[0] if names else 'ACTION'}` (or `goap deny`), then `goap run --resume`"
        )

    def _perform(
        self,
        record: RunRecord,
        action: Action,
        board: _Board,
        via: Via = "run",
        forced: bool = False,
        granted: ApprovalDecision | None = None,
        nice: int = 0,
    ) -> Outcome:
        """Run one action with its retry policy; every attempt is recorded (the new world is
        the board's). ``granted``: the approval its first attempt uses; ``nice``: its child's
        CPU niceness.

        Several may run at once (one thread each): the board's lock orders what they write
        to the record, and each lays only its own writes over the world.
        """
        assert action.executor is not None
        with board.lock:
            start = dict(board.world)
        expected = with_effects(action.effects, start)  # what its declared effects promise
        outcome = INTERRUPTED
        attempt = 0
        for attempt in range(1, action.retry.attempts + 1):
            if attempt > 1:
                self._wait(action.retry.wait_before(attempt))
                if self.stop_requested:
                    outcome = INTERRUPTED
                    break
            with board.lock:
                used = granted if attempt == 1 else None
                entry = record.attempt_started(action, attempt, via, forced, used)
                self.events.started(action, attempt)
            log = record.log_path(f"{entry.seq:05d}-{action.name}.log", self.ctx.logs)
            where = f"action {action.name}"
            backend = self._backend(action)
            if backend is None:
                ctx = replace(self._child_context(record, entry, action, board), nice=nice)
                outcome = self.execute.action(action.executor, where, log, ctx)
            else:
                outcome = self._remote(backend, record, entry, action, log, board)
            outcome = replace(outcome, log=str(log))
            with board.lock:
                if outcome.ok:  # it ran: its effects hold, what it observed overrides them
                    after, problems = self._observe(expected, action.executor, where, outcome.facts)
                    if problems:  # recorded as executed, never run again for this
                        outcome = replace(outcome, error="; ".join(problems), retryable=False)
                else:  # what the executor saw before failing is still the truth
                    after = self._observe(start, action.executor, where, outcome.facts)[0]
                world, laid = board.lay(action, after)
                self.events.finished(action, outcome, attempt)
            if outcome.ok:  # outside the lock: other steps start and land while sensors run
                seen = self._sense(world, note=lambda text: self._note(board, text))
            with board.lock:
                if outcome.ok:
                    world = board.sensed(action, seen, since=laid)
                record.attempt_ended(entry, action, outcome, world)
            if outcome.ok:
                return outcome
            if outcome.interrupted or not outcome.retryable:
                break
        if not outcome.interrupted:
            with board.lock:
                record.step_failed(action, attempt, outcome.error, self._penalty())
        return outcome

    # ------------------------------------------------------------ remote jobs

    def _child_context(
        self, record: RunRecord, entry: JournalEntry, action: Action, board: _Board
    ) -> ExecutionContext:
        """The context of one attempt in a child: its progress and job handle are heard, and
        the job an earlier, cut-off attempt reported is handed back (``GOAP_REATTACH``)."""
        env = dict(self.ctx.env)
        if self.leave_jobs:
            env[LEAVE_ENV] = "1"
        previous = record.cut_off(action.name, before=entry.seq)
        handle = previous.job if previous is not None else None
        if previous is not None and handle is None:  # the runner died before it heard it
            name = f"{previous.seq:05d}-{action.name}.log.progress"
            handle = job_left_in(record.log_path(name, self.ctx.logs))
        if handle is not None:
            env[REATTACH_ENV] = json.dumps(handle)
            self._note(board, f"{action.name}: handing job {handle['id']} back to the executor")
            with board.lock:
                record.job_submitted(entry, handle)

        def heard(job: dict[str, Any]) -> None:
            with board.lock:
                record.job_submitted(entry, job)

        return replace(
            self.ctx,
            env=env,
            progress=lambda fields: self._said(board, action, fields),
            job=heard,
        )

    def _backend(self, action: Action) -> JobBackend | None:
        """The job backend ``goap.toml`` gives this action (None: a child, as always)."""
        name = self.assigned.get(action.name, "local")
        if name == "local" or action.executor is None or action.executor.run is None:
            return None
        if name not in self.backends:
            if name == "detached":
                root = logs_root(self.state_path).parent / "jobs"
                self.backends[name] = DetachedProcesses(root, self.ctx.workdir)
            else:
                ray = self.job_settings.get("ray", {})
                address = str(ray.get("address", "http://127.0.0.1:8265"))
                self.backends[name] = RayJobs(address, tuple(ray.get("env", ())))
        return self.backends[name]

    def _remote(
        self,
        backend: JobBackend,
        record: RunRecord,
        entry: JournalEntry,
        action: Action,
        log: Path,
        board: _Board,
    ) -> Outcome:
        """Submit the action as a job (or reattach to the one a dead runner left), wait."""
        assert action.executor is not None and action.executor.run is not None
        started = time.monotonic()
        handle = record.reattachable(action.name, before=entry.seq)
        if handle is not None and backend.poll(handle) != "gone":
            self._note(
                board, f"{action.name}: reattached to job {handle['id']}; not submitted again"
            )
            with board.lock:
                record.job_submitted(entry, handle)  # this attempt watches the same job
        else:
            if handle is not None:
                self._note(
                    board, f"{action.name}: job {handle['id']} no longer exists; submitting again"
                )
            lost = {"replaces": handle["id"]} if handle is not None else {}  # journal note
            handle = {"backend": backend.name, "id": job_id(entry.run_id, action.name, entry.seq)}
            handle |= lost
            with board.lock:
                record.job_submitted(entry, handle)  # before the job exists: a crash now is safe
            request = call_request(action.executor, f"action {action.name}", self.ctx)
            env = {k: v for k, v in self.ctx.env.items() if k not in (orphans.OWNER, orphans.CHILD)}
            try:
                handle = backend.submit(handle["id"], request, env)
            except Exception as exc:  # noqa: BLE001 - a backend's own failure is the action's
                return failed(f"{backend.name} refused job {handle['id']}: {exc}")
            with board.lock:
                record.job_submitted(entry, handle | lost)
        delay, deadline, unreachable = 0.1, started + action.executor.timeout, ""
        while True:
            try:
                state = backend.poll(handle)
            except Exception as exc:  # noqa: BLE001 - a cluster that does not answer now
                if not unreachable:
                    self._note(board, f"{action.name}: {backend.name} does not answer: {exc}")
                state, unreachable = "running", str(exc)
            if state != "running":
                break
            if self.stop_requested:
                if not self.leave_jobs:
                    backend.cancel(handle)
                return replace(INTERRUPTED, seconds=time.monotonic() - started)
            if time.monotonic() > deadline:
                backend.cancel(handle)
                why = f"; last, {backend.name} did not answer: {unreachable}" if unreachable else ""
                return failed(
                    f"job {handle['id']} timed out after {action.executor.timeout:g} s{why}",
                    seconds=time.monotonic() - started,
                )
            self._wait(delay)
            delay = min(delay * 1.5, 2.0)
        seconds = time.monotonic() - started
        if state == "gone":
            return failed(
                f"job {handle['id']} on {backend.name} is gone (it ended without an answer)",
                seconds=seconds,
            )
        answer, tail = backend.result(handle)
        secrets = self.ctx.secrets(action.executor.args)
        with contextlib.suppress(OSError), open_append(log) as out:
            out.write(scrub(tail + "\n", secrets))
        if answer is None:
            return masked(
                failed(f"job {handle['id']} ended without an answer", tail=tail, seconds=seconds),
                secrets,
            )
        return masked(from_answer(answer, Outcome("failed", tail=tail, seconds=seconds)), secrets)

    def _note(self, board: _Board, text: str) -> None:
        with board.lock:
            self.events.note(text)

    def _said(self, board: _Board, action: Action, fields: dict[str, Any]) -> None:
        with board.lock:  # the views are not thread-safe: one event at a time
            self.events.progress(action, fields)

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

    def _sense(
        self, world: dict[str, Any], note: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """``world`` with what the sensors see laid over it; ``note`` hears their problems."""
        note = note or self.events.note
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
                note(f"sensor {name} failed: {outcome.error}")
                continue
            world, problems = self._observe(world, executor, f"sensor {name}", outcome.facts)
            for problem in problems:
                note(problem)
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
        awaiting = [r.model_dump() for r in record.state.awaiting]
        world = dict(record.world)
        return RunResult(end, message, self.state_path, done, failures, world, awaiting)


class _Board:
    """The world while steps run at once: one lock, and what each running step writes.

    The schedule never runs two steps that touch the same variable at once, so a landing
    step lays only its own writes over the world, and a sensor's view of a variable that a
    step still running writes is ignored (it would see that step half done). Sensors run
    outside the lock, so each change has a number: a round of sensors that started at
    change N does not overwrite a variable changed after N (its view of it is older).
    """

    def __init__(self, world: dict[str, Any]):
        self.world = dict(world)
        self.lock = threading.RLock()
        self.running: dict[str, tuple[frozenset[str], dict[str, Any]]] = {}  # writes, start
        self.changes = 0
        self.changed: dict[str, int] = {}  # variable -> the number of its latest change

    def launch(self, action: Action, start: dict[str, Any]) -> None:
        with self.lock:
            self.running[action.name] = (writes(action), start)

    def landed(self, action: Action) -> dict[str, Any]:
        """It is done: the world it started from."""
        with self.lock:
            entry = self.running.pop(action.name, None)
        return entry[1] if entry else dict(self.world)

    def written(self, but: str = "") -> frozenset[str]:
        """Variables that running steps (all but ``but``) write."""
        with self.lock:
            return frozenset(v for name, (w, _) in self.running.items() if name != but for v in w)

    def lay(self, action: Action, after: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """The world with the values ``action`` left for the variables it writes, and the
        number of this change (a sensor round started now passes it to ``sensed``)."""
        with self.lock:
            self.changes += 1
            for name in writes(action):
                self.world[name] = after[name]
                self.changed[name] = self.changes
            return dict(self.world), self.changes

    def sensed(self, action: Action, seen: dict[str, Any], since: int) -> dict[str, Any]:
        """What sensors that started at change ``since`` saw after ``action``, but for what
        other running steps write and what changed after they started."""
        with self.lock:
            busy = self.written(but=action.name)
            self.changes += 1
            world = {}
            for k, v in seen.items():
                if k in busy or self.changed.get(k, 0) > since or k not in self.world:
                    world[k] = self.world.get(k, v)
                else:
                    if self.world[k] != v:
                        self.changed[k] = self.changes
                    world[k] = v
            self.world = world
            return dict(self.world)


def _executed(action: Action, outcome: Outcome) -> dict[str, Any]:
    return {
        "action": action.name,
        "id": action.id,
        "ok": outcome.ok,
        "seconds": round(outcome.seconds, 3),
        "error": outcome.error or None,
        "log": outcome.log or None,
    }


def _reason(action: Action) -> str:
    return f" ({action.approval.reason})" if action.approval and action.approval.reason else ""


def _denied_step(
    answered: list[ApprovalDecision], steps: tuple[Action, ...], pending: list[int]
) -> str | None:
    """Why to replan, when an answer denies a step this plan still has to run."""
    names = {steps[i].name for i in pending}
    for d in answered:
        if d.decision == "denied" and d.action in names:
            return f"{d.action} was denied by {d.who}; replanning without it"
    return None


def _denied_report(planned: PlanResult, denied: dict[str, ApprovalDecision]) -> str:
    """The no-plan message, naming the denials that left no route."""
    if not denied:
        return planned.message
    said = "; ".join(
        f"{d.action} (denied by {d.who} at {d.at}" + (f": {d.why})" if d.why else ")")
        for d in denied.values()
    )
    return (
        f"{planned.message}\nno route to the goal is left without the denied actions: {said}; "
        f"a new `goap run` asks for approval again"
    )


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
