"""The dashboard's writes, each one done by goap itself, never by the server.

"Run" starts ``goap run CATALOG --state S --workdir W`` (``--resume`` when the state file's
run did not finish) as a real process in a session of its own: it outlives the server, a
Ctrl-C in the server's terminal never reaches it, and it takes the state file's lock and
writes the run record exactly as it does from a terminal. The server refuses while a
process holds the lock, and the run it starts refuses by itself if one took it meanwhile
(the lock is the only arbiter; this check only answers early). Its output goes to a log
of its own under ``.goap/logs/dashboard/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboard.reading import Where, lock_holder, read_state, read_tail
from goap.running.record import logs_root
from state.files import create_new
from state.status import UNFINISHED
from state.store import now

EARLY_S = 1.5  # a run that refuses (bad input, the lock taken) exits within this


class Refused(Exception):
    """A write the dashboard will not do now: HTTP 409 with this message."""


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    command: list[str]
    log: Path
    at: str

    def document(self) -> dict[str, Any]:
        code = self.process.poll()  # also reaps it: no zombie under a long-lived server
        return {
            "pid": self.process.pid,
            "command": self.command,
            "log": str(self.log),
            "started_at": self.at,
            "running": code is None,
            "exit_code": code,
        }


@dataclass
class Runs:
    """The runs this server started (the newest is shown), one at a time."""

    where: Where
    newest: Started | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def command(self) -> list[str]:
        where = self.where
        argv = [sys.executable, "-m", "goap", "run", str(where.catalog.path)]
        argv += ["--state", str(where.state_path), "--workdir", str(where.workdir)]
        state = read_state(where)  # a bad state file: StateError, the caller's 409
        if state is not None and state.status in UNFINISHED:
            argv.append("--resume")
        return argv

    def start(self) -> dict[str, Any]:
        with self.lock:
            if self.newest is not None and self.newest.process.poll() is None:
                raise Refused(f"the run this dashboard started (pid {self.newest.process.pid}) "
                              "is still running")  # fmt: skip
            holder = lock_holder(self.where.state_path)
            if holder["held"]:
                raise Refused(
                    f"{self.where.state_path} is in use by another goap process (pid "
                    f"{holder['pid']}); wait for it to finish or stop it"
                )
            argv = self.command()
            folder = logs_root(self.where.state_path) / "dashboard"
            folder.mkdir(parents=True, exist_ok=True)
            stamp = now().replace(":", "").replace(".", "-")
            log = folder / f"run-{stamp}.log"
            with create_new(log, 0o600) as out:  # never through a link, never reused
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # detached: the server's signals never reach it
                    cwd=self.where.workdir,
                    env={**os.environ, "NO_COLOR": "1"},
                )
            self.newest = Started(process, argv, log, now())
        deadline = time.monotonic() + EARLY_S
        while time.monotonic() < deadline and process.poll() is None:
            if lock_holder(self.where.state_path)["pid"] == process.pid:
                break  # it holds the state: it runs
            time.sleep(0.05)
        if process.poll() == 2:  # goap's "invalid input" (the lock taken, a bad catalog)
            found = read_tail(log, 2000)
            said = found[0].decode(errors="replace").strip() if found else ""
            raise Refused(said.splitlines()[-1] if said else "goap run refused to start")
        return self.newest.document()

    def document(self) -> dict[str, Any] | None:
        return self.newest.document() if self.newest is not None else None
