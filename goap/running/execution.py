"""Executing an action or the sensors: the context a run gives them, and what came back.

An :class:`ExecutionContext` is built once per run (working directory, log folder, the
children's environment with its secrets, the stop request) and handed to every execution,
instead of five loose arguments. An :class:`Outcome` is immutable: what one attempt did.
:class:`Execution` is the runner's seam: :class:`ChildProcesses` (the default) runs each
executor in a child process (``goap.running.child``, ``goap.running.worker``); a test can
pass a scripted one and exercise retries, penalties, the failure budget and circle detection
in milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from goap.loading.catalog import Executor
from goap.loading.secrets import (
    MASKER,
    MissingVariable,
    interpolate,
    referenced,
    scrub,
    scrub_document,
)
from goap.running.child import Child
from goap.running.errors import RunError
from goap.running.progress import ENV as PROGRESS_ENV
from goap.running.progress import Channel
from goap.running.protocol import Answer, Call, CheckAnswer, CheckRequest, Request
from goap.running.sensor_host import HostLost, SensorHost, SensorHosts
from state.files import safe_name
from state.status import StepOutcome

ENGINE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the goap package


@dataclass(frozen=True)
class ExecutionContext:
    """Where and how a run's executors run: built once per run, shared by every call."""

    workdir: Path
    logs: Path  # the run's log folder (.goap/logs next to the state file)
    env: Mapping[str, str]  # the children's whole environment, secrets included
    stop: Callable[[], bool] = lambda: False  # polled while a child runs
    # hears an action's progress records (goap.running.progress); None: no channel
    progress: Callable[[dict[str, Any]], None] | None = None
    # hears the job handle an executor reports (goap.executor.remote_job); with progress
    job: Callable[[dict[str, Any]], None] | None = None
    nice: int = 0  # the child's CPU niceness: steps off the critical path yield the CPU

    @classmethod
    def create(
        cls,
        workdir: Path,
        logs: Path,
        extra: Mapping[str, str] | None = None,
        stop: Callable[[], bool] = lambda: False,
    ) -> ExecutionContext:
        """Our environment plus ``extra``, with goap's own import path so goap is found."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ENGINE_ROOT), env.get("PYTHONPATH")]))
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(extra or {})
        return cls(workdir.resolve(), logs, env, stop)

    def secrets(self, value: Any) -> list[str]:
        """Values to scrub from what ``value``'s execution writes: interpolated or secret-named.

        The values ``value`` refers to join the process's masker, so every later boundary
        (the state file, the CLI's output) masks them too.
        """
        for name in referenced(value):
            if name in self.env:
                MASKER.add(self.env[name])
        return MASKER.secrets(self.env)


@dataclass(frozen=True)
class Outcome:
    """What one attempt of an executor did."""

    status: StepOutcome
    facts: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    tail: str = ""
    retryable: bool = True
    seconds: float = 0.0
    log: str = ""  # the file its output went to

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    @property
    def interrupted(self) -> bool:
        return self.status == "interrupted"


def failed(error: str, **fields: Any) -> Outcome:
    return Outcome("failed", error=error, **fields)


INTERRUPTED = Outcome("interrupted", error="interrupted", retryable=False)


class Execution(Protocol):
    """How the runner gets things done; the seam where tests put a scripted world."""

    def check(self, calls: list[Call], ctx: ExecutionContext) -> dict[str, Any]:
        """Import every target and validate every call; RunError when one is bad."""
        ...

    def action(self, executor: Executor, where: str, log: Path, ctx: ExecutionContext) -> Outcome:
        """One attempt; never raises for the executor's own failures."""
        ...

    def sense(
        self, sensors: list[tuple[str, Executor]], log: Path, ctx: ExecutionContext
    ) -> list[Outcome]:
        """Every sensor once, one Outcome each, in order."""
        ...


class ChildProcesses:
    """The real execution: every executor in a child process of its own (sensors forked
    from the run's warm host, ``goap.running.sensor_host``, where it can)."""

    def __init__(self) -> None:
        self.hosts = SensorHosts()

    def check(self, calls: list[Call], ctx: ExecutionContext) -> dict[str, Any]:
        return check_executors(calls, ctx)

    def action(self, executor: Executor, where: str, log: Path, ctx: ExecutionContext) -> Outcome:
        return run_executor(executor, where=where, log=log, ctx=ctx)

    def sense(
        self, sensors: list[tuple[str, Executor]], log: Path, ctx: ExecutionContext
    ) -> list[Outcome]:
        targets = sorted({e.run for _, e in sensors if e.run})
        host = self.hosts.get(targets, ctx.workdir, dict(ctx.env)) if targets else None
        return run_sensors(sensors, log=log, ctx=ctx, host=host)

    def close(self) -> None:
        """The end of a run: its sensor host goes."""
        self.hosts.close()


def run_executor(
    executor: Executor,
    *,
    where: str,
    log: Path,
    ctx: ExecutionContext,
    host: SensorHost | None = None,
) -> Outcome:
    """Execute ``executor`` once; never raises for the executor's own failures. ``host``: a
    ``run:`` executor is forked from it (HostLost when it cannot be)."""
    secrets = ctx.secrets([list(executor.cmd or ()), executor.args])
    return masked(_execute(executor, where, log, secrets, ctx, host), secrets)


def _execute(
    executor: Executor,
    where: str,
    log: Path,
    secrets: list[str],
    ctx: ExecutionContext,
    host: SensorHost | None = None,
) -> Outcome:
    if executor.cmd is not None:
        try:
            argv = interpolate(list(executor.cmd), where, ctx.env)
        except MissingVariable as exc:
            return failed(str(exc), retryable=False)
        start = _spawner(argv, log, secrets, ctx)
        process, code = _run_child(start, argv[0], executor.timeout, secrets, ctx, log)
        if process.error:
            return process
        if code == 0:
            return Outcome("succeeded", tail=process.tail, seconds=process.seconds)
        error = f"{executor.cmd[0]} exited with code {code}"
        return failed(error, tail=process.tail, seconds=process.seconds)
    request = call_request(executor, where, ctx)
    process, answer = _run_worker(request, executor.timeout, log, secrets, ctx, host)
    return process if answer is None else from_answer(answer, process)


def call_request(executor: Executor, where: str, ctx: ExecutionContext) -> Request:
    """The worker request that runs a ``run:`` executor, in a child or as a remote job."""
    return {
        "op": "call",
        "target": executor.run or "",
        "args": executor.args,
        "where": where,
        "workdir": str(ctx.workdir),
    }


def run_sensors(
    sensors: list[tuple[str, Executor]],
    *,
    log: Path,
    ctx: ExecutionContext,
    host: SensorHost | None = None,
) -> list[Outcome]:
    """Every sensor in a process of its own, all at once, each with its own deadline:
    forked from ``host`` when there is one, else (or when the host is lost) a child.

    A hung sensor is killed at its own ``timeout`` and fails alone; the others' outcomes
    stand. Each writes its own log, ``<log stem>-<sensor>.log``.
    """
    if not sensors:
        return []

    def one(item: tuple[str, Executor]) -> Outcome:
        name, executor = item
        own_log = log.with_name(f"{log.stem}-{safe_name(name)}{log.suffix}")
        where = f"sensor {name}"
        if host is not None:
            with contextlib.suppress(HostLost):  # then it runs as before, in a child
                return run_executor(executor, where=where, log=own_log, ctx=ctx, host=host)
        return run_executor(executor, where=where, log=own_log, ctx=ctx)

    with ThreadPoolExecutor(max_workers=min(len(sensors), 16)) as pool:
        return list(pool.map(one, sensors))


def masked(outcome: Outcome, secrets: list[str]) -> Outcome:
    """The outcome as it may be kept: error, tail and every string of its facts masked."""
    return replace(
        outcome,
        error=scrub(outcome.error, secrets),
        tail=scrub(outcome.tail, secrets),
        facts=scrub_document(outcome.facts, secrets),
    )


def check_executors(calls: list[Call], ctx: ExecutionContext) -> dict[str, Any]:
    """Import every target and validate every call's arguments in a child; RunError if bad."""
    answer = checked(calls, ctx)
    if not answer["ok"]:
        raise RunError("; ".join(answer["problems"].values()))
    return answer["schemas"]


def checked(calls: list[Call], ctx: ExecutionContext) -> CheckAnswer:
    """The check of these calls (every problem, every target's schema), nothing executed."""
    if not calls:
        return {"ok": True, "problems": {}, "schemas": {}}
    request: CheckRequest = {
        "op": "check",
        "targets": sorted({c["target"] for c in calls}),
        "calls": calls,
        "workdir": str(ctx.workdir),
    }
    return query(request, ctx)


def query(request: CheckRequest, ctx: ExecutionContext, timeout: float = 120) -> CheckAnswer:
    """A ``check`` in a child (the executors' imports stay out of this process)."""
    with tempfile.TemporaryDirectory(prefix="goap-") as tmp:
        process, answer = _run_worker(request, timeout, Path(tmp) / "check.log", [], ctx)
    if answer is None or "problems" not in answer:
        error = process.error if answer is None else answer.get("error")
        raise RunError(
            f"checking the executors failed before anything ran: {error}; an executor "
            f"module crashed on import?\n{MASKER(process.tail[-2000:], ctx.env)}"
        )
    return answer


def _run_worker(
    request: Request,
    timeout: float,
    log: Path,
    secrets: list[str],
    ctx: ExecutionContext,
    host: SensorHost | None = None,
) -> tuple[Outcome, Any]:
    """Run a worker request in a child (or forked from ``host``); its JSON answer, or (why
    there is none, None)."""
    with tempfile.TemporaryDirectory(prefix="goap-") as tmp:
        request_path, answer_path = Path(tmp) / "request.json", Path(tmp) / "answer.json"
        worker = [sys.executable, "-P", "-m", "goap.running.worker"]
        if host is not None:
            start: Spawner = partial(host.fork, dict(request), answer_path, log, secrets)
        else:
            request_path.write_text(json.dumps(request))
            # -P: the workdir is not put first on sys.path, so its json.py cannot replace ours
            start = _spawner([*worker, str(request_path), str(answer_path)], log, secrets, ctx)
        process, code = _run_child(start, worker[0], timeout, secrets, ctx, log)
        if process.error:
            return process, None
        if not answer_path.exists():
            error = f"executor process died (exit code {code})"
            return failed(error, tail=process.tail, seconds=process.seconds), None
        try:
            return process, json.loads(answer_path.read_text())
        except (OSError, ValueError) as exc:
            error = f"executor process left an unreadable answer ({exc})"
            return failed(error, tail=process.tail, seconds=process.seconds), None


class Running(Protocol):
    """A started process, as ``Child`` and ``sensor_host.HostedChild`` are."""

    def wait(
        self, timeout: float, stop: Callable[[], bool], tick: Callable[[], None] = ...
    ) -> tuple[int | None, str]: ...

    def close(self) -> str: ...


Spawner = Callable[[dict[str, str]], Running]  # the environment -> the started process


def _spawner(argv: list[str], log: Path, secrets: list[str], ctx: ExecutionContext) -> Spawner:
    """Start ``argv`` as a ``Child``; OSError when it cannot be started."""
    return lambda env: Child(argv, ctx.workdir, log, secrets, env=env, nice=ctx.nice)


def _run_child(
    start: Spawner,
    what: str,
    timeout: float,
    secrets: list[str],
    ctx: ExecutionContext,
    log: Path,
) -> tuple[Outcome, int | None]:
    """Start, wait, collect the tail. The Outcome's error says only timeout/interrupt/start.
    HostLost (a sensor host that went) passes through, with nothing left running."""
    started = time.monotonic()
    env, tick, channel = dict(ctx.env), (lambda: None), None
    if ctx.progress is not None:
        try:
            channel = Channel(log.with_name(f"{log.name}.progress"), secrets)
        except OSError:
            pass  # progress is best effort: the action runs without it (its log says all)
        else:
            env[PROGRESS_ENV] = str(channel.path)
            tick = _forward(channel, ctx.progress, ctx.job)
    try:
        child = start(env)
    except (OSError, HostLost) as exc:
        if channel is not None:
            channel.close()
        if isinstance(exc, HostLost):
            raise
        return failed(f"cannot start {what!r}: {exc.strerror}", retryable=False), None
    try:
        code, why = child.wait(timeout, ctx.stop, tick)
    except HostLost:
        child.close()
        if channel is not None:
            channel.close()
        raise
    tail, seconds = child.close(), time.monotonic() - started
    if channel is not None:
        tick()  # what it said last
        channel.close()
    if why == "interrupted":
        return Outcome("interrupted", error="interrupted", tail=tail, seconds=seconds), code
    if why == "timeout":
        return failed(f"timed out after {timeout:g} s", tail=tail, seconds=seconds), code
    return Outcome("failed", tail=tail, seconds=seconds), code


def _forward(
    channel: Channel,
    hear: Callable[[dict[str, Any]], None],
    job: Callable[[dict[str, Any]], None] | None,
) -> Callable[[], None]:
    """A tick that hands the channel's newest record, if any, to ``hear``, and a job handle
    the child reported, once, to ``job``."""
    told: list[dict[str, Any] | None] = [None]

    def tick() -> None:
        if (record := channel.poll()) is not None:
            hear(record)
        if job is not None and channel.job is not None and channel.job != told[0]:
            told[0] = channel.job
            job(channel.job)

    return tick


def from_answer(answer: Answer, process: Outcome) -> Outcome:
    """The executor's own outcome (masked by the caller, as every outcome is)."""
    return Outcome(
        "succeeded" if answer["ok"] else "failed",
        answer.get("facts", {}),
        answer.get("error", ""),
        answer.get("tail") or process.tail,
        answer.get("retryable", True),
        seconds=process.seconds,
    )
