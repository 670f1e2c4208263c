"""Run one executor (an argv or a Python callable) as a child process and report the outcome.

The child gets its own process group, is killed with it on timeout or interrupt, and dies
with us if we are killed (PR_SET_PDEATHSIG), so a resumed run never races an orphan. Its
output is scrubbed of secrets line by line as it is written to the log; the last lines
become the error tail.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from goap.loading.catalog import Executor
from goap.loading.secrets import MissingVariable, interpolate, referenced, scrub, secret_values

TAIL_LINES = 40


@dataclass
class Outcome:
    ok: bool
    facts: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    tail: str = ""
    retryable: bool = True
    interrupted: bool = False
    seconds: float = 0.0


def _die_with(parent: int) -> Callable[[], None]:
    """preexec_fn: die with ``parent``, also if it died between fork and this call."""

    def arm() -> None:
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:  # the parent is already gone: the signal will never come
            os._exit(1)

    return arm


class Child:
    """A running child process whose output goes, scrubbed, to a log file."""

    def __init__(
        self,
        argv: list[str],
        cwd: Path,
        log: Path,
        secrets: list[str],
        env: dict[str, str] | None = None,
    ):
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log.open("a", encoding="utf-8")
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.secrets = secrets
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with(os.getpid()),
            env=env,
        )
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = scrub(raw.decode("utf-8", "replace"), self.secrets)
            self.log.write(line)
            self.log.flush()
            self.tail.append(line)

    def kill(self) -> None:
        """SIGTERM the whole group, then SIGKILL what is left after a short grace."""
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue

    def wait(self, timeout: float, stop: Callable[[], bool]) -> tuple[int | None, str]:
        """Return (exit code, "" | "timeout" | "interrupted")."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                code = self.proc.wait(0.1)
                break
            except subprocess.TimeoutExpired:
                if stop():
                    self.kill()
                    return None, "interrupted"
                if time.monotonic() > deadline:
                    self.kill()
                    return None, "timeout"
        return code, ""

    def close(self) -> str:
        self.reader.join(5)
        self.log.close()
        return "".join(self.tail)


def run_executor(
    executor: Executor,
    *,
    where: str,
    workdir: Path,
    log: Path,
    stop: Callable[[], bool] = lambda: False,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Execute ``executor`` once; never raises for the executor's own failures.

    ``env`` adds variables to the child's environment (the runner passes GOAP_STATE_FILE).
    """
    secrets = secret_values(referenced(list(executor.cmd or ())) | referenced(executor.args))
    if executor.cmd is not None:
        try:
            argv = interpolate(list(executor.cmd), where)
        except MissingVariable as exc:
            return Outcome(False, error=str(exc), retryable=False)
        outcome, code = _run_child(argv, executor.timeout, workdir, log, secrets, stop, env)
        if outcome.error or code == 0:
            outcome.ok = not outcome.error
            return outcome
        outcome.error = f"{executor.cmd[0]} exited with code {code}"
        return outcome
    request = {"op": "call", "target": executor.run, "args": executor.args, "where": where}
    outcome, result = _run_worker(request, executor.timeout, workdir, log, secrets, stop, env)
    return outcome if result is None else _from_worker(result, secrets, outcome)


def run_sensors(
    sensors: list[tuple[str, Executor]],
    *,
    workdir: Path,
    log: Path,
    stop: Callable[[], bool] = lambda: False,
    env: dict[str, str] | None = None,
) -> list[Outcome]:
    """Call every sensor in one child process (one interpreter start, shared imports)."""
    if not sensors:
        return []
    secrets = secret_values(set().union(*(referenced(e.args) for _, e in sensors)))
    calls = [{"target": e.run, "args": e.args, "where": f"sensor {n}"} for n, e in sensors]
    timeout = sum(e.timeout for _, e in sensors)
    outcome, result = _run_worker(
        {"op": "sense", "calls": calls}, timeout, workdir, log, secrets, stop, env
    )
    if result is None:
        return [outcome for _ in sensors]
    return [_from_worker(r, secrets, outcome) for r in result["results"]]


def _run_worker(
    request: dict[str, Any],
    timeout: float,
    workdir: Path,
    log: Path,
    secrets: list[str],
    stop: Callable[[], bool],
    env: dict[str, str] | None = None,
) -> tuple[Outcome, dict[str, Any] | None]:
    """Run a goap.running.worker request in a child; the worker's JSON answer, or why there is none."""
    with tempfile.TemporaryDirectory(prefix="goap-") as tmp:
        request_path, result_path = Path(tmp) / "request.json", Path(tmp) / "result.json"
        request_path.write_text(json.dumps({**request, "workdir": str(workdir)}))
        argv = [sys.executable, "-m", "goap.running.worker", str(request_path), str(result_path)]
        outcome, code = _run_child(argv, timeout, workdir, log, secrets, stop, env)
        if outcome.error:
            return outcome, None
        if not result_path.exists():
            outcome.error = f"executor process died (exit code {code})"
            return outcome, None
        return outcome, json.loads(result_path.read_text())


def _run_child(
    argv: list[str],
    timeout: float,
    workdir: Path,
    log: Path,
    secrets: list[str],
    stop: Callable[[], bool],
    env: dict[str, str] | None = None,
) -> tuple[Outcome, int | None]:
    """Start, wait, and collect the tail; the Outcome says only timeout/interrupt/start errors."""
    started = time.monotonic()
    try:
        child = Child(argv, workdir, log, secrets, env={**_child_env(), **(env or {})})
    except OSError as exc:
        error = f"cannot start {argv[0]!r}: {exc.strerror}"
        return Outcome(False, error=error, retryable=False), None
    code, why = child.wait(timeout, stop)
    outcome = Outcome(False, tail=child.close(), seconds=time.monotonic() - started)
    if why == "interrupted":
        outcome.error, outcome.interrupted = "interrupted", True
    elif why == "timeout":
        outcome.error = f"timed out after {timeout:g} s"
    return outcome, code


def _from_worker(result: dict[str, Any], secrets: list[str], process: Outcome) -> Outcome:
    """The executor's own outcome, scrubbed of secrets."""
    facts = json.loads(scrub(json.dumps(result.get("facts", {})), secrets))
    return Outcome(
        result["ok"],
        facts,
        scrub(result.get("error", ""), secrets),
        scrub(result.get("tail") or process.tail, secrets),
        result.get("retryable", True),
        seconds=process.seconds,
    )


def _child_env() -> dict[str, str]:
    """The child's environment: ours, with the runner's own import path so goap is found."""
    env = dict(os.environ)
    roots = [str(Path(__file__).resolve().parent.parent)]
    if env.get("PYTHONPATH"):
        roots.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(roots)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def worker_query(request: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    """Run a ``check`` request in a child (the executors' imports stay out of this process)."""
    workdir = Path(request.get("workdir") or ".")
    with tempfile.TemporaryDirectory(prefix="goap-") as tmp:
        outcome, result = _run_worker(
            request, timeout, workdir, Path(tmp) / "check.log", [], lambda: False
        )
    if result is None:
        raise RuntimeError(f"executor check failed: {outcome.error}\n{outcome.tail[-2000:]}")
    return result
