"""The lifecycle of one child process, apart from what it runs and why (as luigi's TaskProcess).

The child gets its own process group, is killed with it on timeout or interrupt, and dies
with us if we are killed (PR_SET_PDEATHSIG). Every descendant carries the child's mark in
its environment (``goap.running.orphans``): when the child ends, whatever still carries the
mark is killed too, so nothing an action started outlives it. Its output is scrubbed of
secrets line by line as it is written to the log; the last lines become the error tail. A
log that cannot be written (a full disk) never stops the pipe from being drained, so the
child is never blocked by us.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

from goap.loading.secrets import scrub
from goap.running import orphans
from state.files import open_append

TAIL_LINES = 40
# Sensors start children from several threads at once. A preexec_fn runs between fork and
# exec, where a lock another thread held at the fork stays locked forever: so libc is
# loaded here, once (no dlopen after the fork), and one thread forks at a time.
try:
    _PRCTL: Callable[..., int] | None = ctypes.CDLL("libc.so.6", use_errno=True).prctl
except (OSError, AttributeError):
    _PRCTL = None
_FORKING = threading.Lock()


def die_with(parent: int, nice: int = 0) -> Callable[[], None]:
    """preexec_fn: die with ``parent``, also if it died between fork and this call; run
    ``nice`` steps nicer (before exec, so every process of the child inherits it)."""

    def arm() -> None:
        if nice:
            os.nice(nice)
            _autogroup_nice(nice)
        if _PRCTL is not None:
            _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent is already gone: the signal will never come
            os._exit(1)

    return arm


def _autogroup_nice(nice: int) -> None:
    """Where the kernel groups CPU time by session (autogroup, on in most Linux desktops and
    VMs), a process's nice only weighs inside its session, and each child starts one: the
    session's own nice is what yields the CPU to other children. Best effort."""
    try:
        fd = os.open("/proc/self/autogroup", os.O_WRONLY)
    except OSError:
        return  # no autogroup: the process's nice is enough
    try:
        os.write(fd, str(nice).encode())
    except OSError:
        pass
    finally:
        os.close(fd)


class Output:
    """A child's output on its way to the log: scrubbed line by line, the last lines kept."""

    def __init__(self, log: Path, secrets: list[str]):
        self.log: IO[str] | None = open_append(log)
        self.log_error = ""
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.secrets = secrets
        self.reader: threading.Thread | None = None

    def pump(self, stream: IO[bytes]) -> None:
        """Drain ``stream`` to the log in a thread of its own, until its writers are gone."""
        self.reader = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self.reader.start()

    def _drain(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                line = scrub(raw.decode("utf-8", "replace"), self.secrets)
                self.tail.append(line)
                if self.log is None:
                    continue
                try:
                    self.log.write(line)
                    self.log.flush()
                except OSError as exc:  # keep draining the pipe; the tail still has the output
                    self.log_error = f"[goap: the log stopped: {exc.strerror}]\n"
                    with contextlib.suppress(OSError):
                        self.log.close()
                    self.log = None

    def close(self) -> str:
        """The tail, once the reader has drained what is left (a few seconds at most)."""
        if self.reader is not None:
            self.reader.join(5)
        if self.log is not None:
            with contextlib.suppress(OSError):
                self.log.close()
        return "".join(self.tail) + self.log_error


def kill_group(pid: int, exited: Callable[[float], bool]) -> None:
    """SIGTERM the process group ``pid`` leads, then SIGKILL what is left after a short grace;
    ``exited(seconds)`` waits up to that long for the leader to end."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if exited(grace):
            return


def wait_for(
    poll: Callable[[float], int | None],
    kill: Callable[[], None],
    timeout: float,
    stop: Callable[[], bool],
    tick: Callable[[], None],
) -> tuple[int | None, str]:
    """(exit code, "" | "timeout" | "interrupted"): ``poll(seconds)`` waits that long for the
    exit code; ``tick`` is called as it waits, ``kill`` on a timeout or a stop request."""
    deadline = time.monotonic() + timeout
    while (code := poll(0.1)) is None:
        tick()
        if stop():
            kill()
            return None, "interrupted"
        if time.monotonic() > deadline:
            kill()
            return None, "timeout"
    return code, ""


class Child:
    """A running child process whose output goes, scrubbed, to a log file."""

    def __init__(
        self,
        argv: list[str],
        cwd: Path,
        log: Path,
        secrets: list[str],
        env: dict[str, str] | None = None,
        nice: int = 0,
    ):
        self.output = Output(log, secrets)
        self.mark = orphans.child_mark()
        env = dict(os.environ if env is None else env, **{orphans.CHILD: self.mark})
        try:
            self.proc = self._start(argv, cwd, env, nice)
        except BaseException:
            self.output.close()
            raise
        assert self.proc.stdout is not None
        self.output.pump(self.proc.stdout)

    @staticmethod
    def _start(
        argv: list[str], cwd: Path, env: dict[str, str], nice: int
    ) -> subprocess.Popen[bytes]:
        with _FORKING:
            return subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with(os.getpid(), nice),
                env=env,
            )

    def _poll(self, seconds: float) -> int | None:
        try:
            return self.proc.wait(seconds)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGTERM the whole group, then SIGKILL what is left after a short grace."""
        kill_group(self.proc.pid, lambda grace: self._poll(grace) is not None)

    def wait(
        self, timeout: float, stop: Callable[[], bool], tick: Callable[[], None] = lambda: None
    ) -> tuple[int | None, str]:
        """Return (exit code, "" | "timeout" | "interrupted"); ``tick`` is called as it waits."""
        return wait_for(self._poll, self.kill, timeout, stop, tick)

    def close(self) -> str:
        """End whatever the child left running (its group, its marked descendants); the tail."""
        return end_all(self.proc.pid, self.mark, self.output)


def end_all(pid: int, mark: str, output: Output) -> str:
    """SIGKILL the group ``pid`` leads and every process carrying ``mark``; the output's tail."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    orphans.end(orphans.CHILD, mark)
    return output.close()
