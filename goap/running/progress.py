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
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps(fields, default=str, allow_nan=False) + "\n"
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
        for raw in reversed(lines):
            try:
                record = cleaned(json.loads(raw), self.secrets)
            except ValueError:
                continue
            if record is not None:
                return record
        return None

    def close(self) -> None:
        self.path.unlink(missing_ok=True)
