"""Every process an action started, found by a mark in its environment, and ended.

A process group and PR_SET_PDEATHSIG cover a child and the processes that stay in its
group; they miss a grandchild that left the group (``setsid``, a daemonizing tool) and
every descendant after the runner itself was killed with SIGKILL (PDEATHSIG reaches only
the direct child). The environment is inherited by every descendant, so each child gets
two marks: ``GOAP_OWNER`` (the state file it works for) and ``GOAP_CHILD`` (this one
child). When a child ends, whatever still carries its ``GOAP_CHILD`` mark is killed; when a
run takes a state file's lock, whatever still carries that file's ``GOAP_OWNER`` mark is
left over from a run that died, and is killed before anything runs again.

Linux only (``/proc``); elsewhere these are no-ops. A descendant that clears its own
environment before exec escapes the mark (the README says so).
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
import uuid
from pathlib import Path

OWNER, CHILD = "GOAP_OWNER", "GOAP_CHILD"
PROC = Path("/proc")


def owner_mark(state_path: Path) -> str:
    """The mark of every process working for this state file (the same for every name)."""
    real = os.path.realpath(state_path)
    return hashlib.sha256(real.encode()).hexdigest()[:20]


def child_mark() -> str:
    return uuid.uuid4().hex


def marked(name: str, value: str) -> list[int]:
    """Pids of live processes whose environment holds ``name=value`` (never our own)."""
    if not PROC.is_dir():
        return []
    needle = f"{name}={value}".encode()
    found = []
    for entry in os.scandir(PROC):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (PROC / entry.name / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def end(name: str, value: str, wait: float = 5.0) -> list[int]:
    """Kill every process marked ``name=value`` and wait until none is left; their pids."""
    ended: list[int] = []
    deadline = time.monotonic() + wait
    while pids := marked(name, value):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
            if pid not in ended:
                ended.append(pid)
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)  # a killed process drops its environment when it becomes a zombie
    return ended
