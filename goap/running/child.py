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


def _die_with(parent: int) -> Callable[[], None]:
    """preexec_fn: die with ``parent``, also if it died between fork and this call."""

    def arm() -> None:
        if _PRCTL is not None:
            _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
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
        self.log: IO[str] | None = open_append(log)
        self.log_error = ""
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.secrets = secrets
        self.mark = orphans.child_mark()
        env = dict(os.environ if env is None else env, **{orphans.CHILD: self.mark})
        try:
            self.proc = self._start(argv, cwd, env)
        except BaseException:
            self.log.close()
            raise
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()

    @staticmethod
    def _start(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with _FORKING:
            return subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with(os.getpid()),
                env=env,
            )

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
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

    def wait(
        self, timeout: float, stop: Callable[[], bool], tick: Callable[[], None] = lambda: None
    ) -> tuple[int | None, str]:
        """Return (exit code, "" | "timeout" | "interrupted"); ``tick`` is called as it waits."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                code = self.proc.wait(0.1)
                break
            except subprocess.TimeoutExpired:
                tick()
                if stop():
                    self.kill()
                    return None, "interrupted"
                if time.monotonic() > deadline:
                    self.kill()
                    return None, "timeout"
        return code, ""

    def close(self) -> str:
        """End whatever the child left running (its group, its marked descendants); the tail."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        orphans.end(orphans.CHILD, self.mark)
        self.reader.join(5)
        if self.log is not None:
            with contextlib.suppress(OSError):
                self.log.close()
        return "".join(self.tail) + self.log_error
