"""Running an external command with a timeout and keeping what it printed.

Every tool the executors drive (ruff, pytest, npm, tsc, CI commands) goes through
:func:`run_process`, so timeouts kill the whole process tree, output is redacted once, and
facts and log tails are cut the same way everywhere.

The command runs in its own process group so a timeout can kill its descendants too (npm ->
sh -> node). Because that group is outside the engine's reach, the command must not outlive
this process when the engine stops it: a SIGTERM to this process kills the group first, and
the command gets SIGKILL if this process dies (PR_SET_PDEATHSIG), as the engine's own
children do.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from actions.credentials import redact
from goap.executor import ActionFailed

TAIL_LINES = 40
HEAD_LINES = 15


@dataclass(frozen=True)
class ProcessResult:
    """What a finished (or killed) command did: exit code, merged stdout+stderr, duration."""

    argv: list[str]
    returncode: int | None
    output: str
    duration_s: float
    timed_out: bool

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


def run_process(
    argv: list[str],
    cwd: Path,
    timeout_s: float,
    env: dict[str, str] | None = None,
) -> ProcessResult:
    """Run ``argv`` in ``cwd``; on timeout kill its whole process group and mark it timed out."""
    start = time.monotonic()
    groups: list[int] = []
    with _sigterm_kills(groups):
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except FileNotFoundError as exc:
            raise ActionFailed(
                f"command not found: {argv[0]}; install it or fix the command",
                facts={"command": shlex.join(argv)},
            ) from exc
        groups.append(proc.pid)
        timed_out = False
        try:
            output, _ = proc.communicate(timeout=max(timeout_s, 0.001))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            try:
                output, _ = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                output = ""
    return ProcessResult(
        argv=list(argv),
        returncode=None if timed_out else proc.returncode,
        output=redact(output or ""),
        duration_s=round(time.monotonic() - start, 3),
        timed_out=timed_out,
    )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _die_with_parent() -> None:
    """In the child before exec: receive SIGKILL when the parent process dies (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextmanager
def _sigterm_kills(groups: list[int]) -> Iterator[None]:
    """While active, a SIGTERM first kills the process groups in ``groups``, then proceeds.

    Installed before the command starts; the command's group is added as Popen returns.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    restore = signal.SIG_DFL if previous is None else previous

    def handler(signum: int, frame: FrameType | None) -> None:
        for pgid in groups:
            _kill_group(pgid)
        signal.signal(signal.SIGTERM, restore)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, restore)


def find_tool(name: str) -> str | None:
    """Path of executable ``name``: the one beside this Python (its venv) first, then PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    return shutil.which(name)


def command_argv(command: str) -> list[str]:
    """Split a command line; ``python`` means this interpreter, tools resolve via its venv."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("empty command")
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    elif "/" not in argv[0]:
        argv[0] = find_tool(argv[0]) or argv[0]
    return argv


def require_tool(name: str, install_hint: str) -> str:
    """Path of executable ``name`` or an ActionFailed that says how to install it."""
    path = find_tool(name)
    if path is None:
        raise ActionFailed(f"{name} not found beside {sys.executable} or on PATH; {install_hint}")
    return path


def head(text: str, lines: int = HEAD_LINES) -> str:
    """The first ``lines`` lines of ``text``."""
    return "\n".join(text.splitlines()[:lines])


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.splitlines()[-lines:])
