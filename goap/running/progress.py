"""The progress channel: what a running executor says about itself while it works.

A training step of minutes, or a CI wait, must not look frozen. Each child gets a file
named by ``GOAP_PROGRESS`` in its environment; whatever runs there (a Python executor via
:func:`report`, a shell script with ``echo '{"step": 3, "total": 10}' >> "$GOAP_PROGRESS"``)
appends one JSON object per line. The runner polls the file while it waits for the child and
hands the newest record to the view (and ``goap run --json --stream``). A file, not a pipe:
any descendant can write it without inheriting a descriptor, and nothing blocks when the
runner reads late. What is read is bounded and cleaned: a few short scalar fields, masked.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from goap.loading.secrets import scrub
from state.files import create_new

ENV = "GOAP_PROGRESS"
MAX_FIELDS = 12
MAX_KEY = 40
MAX_TEXT = 200
READ_LIMIT = 64 * 1024  # bytes read per poll: only the newest records matter


def report(**fields: Any) -> None:
    """Say how far the work is, e.g. ``report(step=120, total=400, loss=0.123)``.

    Known fields: ``step`` and ``total`` (shown as 120/400), ``message`` (a short text);
    any other scalar is shown as ``name value``. Outside goap (no channel) it does nothing,
    so an executor may call it unconditionally.
    """
    _append(fields)


def _append(document: dict[str, Any]) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps(document, default=str, allow_nan=False) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return  # the runner is gone or the channel was closed: progress is best effort
    try:
        os.write(fd, line.encode())
    except OSError:
        pass
    finally:
        os.close(fd)


REATTACH_ENV, LEAVE_ENV = "GOAP_REATTACH", "GOAP_LEAVE_JOBS"
MAX_HANDLE = 2000  # characters of a job handle's JSON


def report_job(backend: str, id: str, **more: Any) -> None:
    """Say that this attempt's work now runs elsewhere, as job ``id`` of ``backend`` (a
    Modal call, a cloud training job). goap journals the handle; after a crash, the next
    attempt gets it back from :func:`reattach` instead of starting the work again. Call it
    right after submitting, before waiting."""
    _append({"job": {"backend": backend, "id": id, **more}})


def reattach() -> dict[str, Any] | None:
    """The job handle an earlier, cut-off attempt of this action reported, if any: attach to
    it (it may still run, or have finished) instead of submitting again."""
    raw = os.environ.get(REATTACH_ENV)
    if not raw:
        return None
    try:
        handle = json.loads(raw)
    except ValueError:
        return None
    return handle if isinstance(handle, dict) and "id" in handle else None


def leave_jobs() -> bool:
    """Whether a stopped run leaves remote jobs running (``goap run --leave-jobs``): an
    executor that is sent SIGTERM cancels its job unless this is true."""
    return os.environ.get(LEAVE_ENV) == "1"


def job_in(record: Any) -> dict[str, Any] | None:
    """The job handle of one channel record, if it is one (small, scalar values only)."""
    if not isinstance(record, dict) or not isinstance(record.get("job"), dict):
        return None
    handle = record["job"]
    scalar = all(isinstance(v, str | int | float | bool) for v in handle.values())
    if not scalar or not isinstance(handle.get("id"), str) or not handle.get("backend"):
        return None
    return handle if len(json.dumps(handle)) <= MAX_HANDLE else None


def cleaned(record: Any, secrets: list[str]) -> dict[str, Any] | None:
    """The fields of one record that may be shown: short names, scalar values, masked."""
    if not isinstance(record, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in list(record.items())[:MAX_FIELDS]:
        if not isinstance(key, str) or not key or len(key) > MAX_KEY:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        if isinstance(value, bool | int | float):
            out[key] = value
        elif isinstance(value, str):
            out[key] = scrub(value[:MAX_TEXT], secrets)
    return out or None


def shown(record: dict[str, Any]) -> str:
    """One line for a person: ``step 120/400 · loss 0.123 · training``."""
    parts = []
    if "step" in record:
        total = record.get("total")
        parts.append(f"step {record['step']}" + (f"/{total}" if total is not None else ""))
    for key, value in record.items():
        if key in ("step", "total", "message"):
            continue
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{key} {text}")
    if "message" in record:
        parts.append(str(record["message"]))
    return " · ".join(parts)


class Channel:
    """The runner's end of one child's progress file: created empty, polled, removed."""

    def __init__(self, path: Path, secrets: list[str]):
        self.path, self.secrets, self.offset = path, secrets, 0
        self.partial = b""
        self.job: dict[str, Any] | None = None  # the newest job handle the child reported
        path.unlink(missing_ok=True)  # an earlier attempt's (unlink never follows a link)
        create_new(path, 0o600).close()

    def poll(self) -> dict[str, Any] | None:
        """The newest complete, valid record written since the last poll (None: nothing)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            size = os.fstat(fd).st_size
            if size <= self.offset:
                return None
            start = max(self.offset, size - READ_LIMIT)
            if start > self.offset:
                self.partial = b""  # we skipped ahead: the partial line is not continued
            data = os.pread(fd, size - start, start)
        finally:
            os.close(fd)
        self.offset = start + len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        newest = None
        for raw in lines:
            try:
                document = json.loads(raw)
            except ValueError:
                continue
            if (handle := job_in(document)) is not None:
                self.job = handle
            elif (record := cleaned(document, self.secrets)) is not None:
                newest = record
        return newest

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def job_left_in(path: Path) -> dict[str, Any] | None:
    """The last job handle in a channel file a dead runner left behind (its first 1 MB)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 20)
    except OSError:
        return None
    found = None
    for raw in data.split(b"\n"):
        try:
            found = job_in(json.loads(raw)) or found
        except ValueError:
            continue
    return found
