"""The lifecycle of one child process, apart from what it runs and why (as luigi's TaskProcess).

The child gets its own process group, is killed with it on timeout or interrupt, and dies
with us if we are killed (PR_SET_PDEATHSIG), so a resumed run never races an orphan. Its
output is scrubbed of secrets line by line as it is written to the log; the last lines
become the error tail.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from goap.loading.secrets import scrub

TAIL_LINES = 40


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
