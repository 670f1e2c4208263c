"""The state file: the world state, the journal and the run's bookkeeping, on disk.

Compatible with the seed's ``plans/deployment_state.json`` (seed 000, section 7.1) plus a
journal (``history``) and a schema version. Every write is atomic (``state.files``: an
exclusive temp file, fsync, rename, fsync of the directory), so the file is valid JSON at
every instant, even after kill -9 or on a full disk. One process at a time holds the file's
lock (``flock``: the kernel drops it when the holder dies, so a killed run never leaves a
lock that blocks forever); the state file and its lock are never links, so every name that
reaches the file meets the same lock.

Reading is total: any bytes in the file (not UTF-8, not JSON, nested 100,000 deep, a
5000-digit number, NaN) give a StateError that says what to do, never a traceback; what is
written holds only finite numbers, so it is always valid JSON.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from state.files import open_fd, owned, write_atomic
from state.model import StateError, StateTypeError, WorldSchema, quoted
from state.status import AttemptOutcome, Decision, RunStatus, Via

SCHEMA_VERSION = 1


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JournalEntry(BaseModel):
    seq: int
    run_id: str
    action: str
    id: str | None = None
    attempt: int = 1
    started_at: str
    ended_at: str | None = None
    duration_s: float | None = None
    outcome: AttemptOutcome = "started"
    error: str | None = None
    tail: str | None = None
    facts: dict[str, Any] = {}
    forced: bool = False
    via: Via = "run"
    # a remote job's handle ({"backend", "id", ...}): written before the runner waits on it,
    # so a resumed run reattaches instead of submitting again
    job: dict[str, Any] | None = None
    # the approval this start used ({"who", "at", "why"}), for an action the catalog gates
    approval: dict[str, Any] | None = None


class ApprovalRequest(BaseModel):
    """An action the run stopped before, waiting for a human's answer."""

    action: str
    requested_at: str
    reason: str = ""


class ApprovalDecision(BaseModel):
    """A human's answer (``goap approve`` / ``goap deny``) in this run.

    An approval is used by one start of the action; the last decision on an action is the
    one that counts (a later approval lifts a denial)."""

    id: str  # unique: an answer taken twice (a crash between two writes) counts once
    action: str
    decision: Decision
    who: str
    why: str = ""
    at: str
    used: bool = False


class Failure(BaseModel):
    action: str
    attempts: int
    error: str
    at: str


class StateFile(BaseModel):
    """The file's fields; the world is held flat (``world``) and nested only when written.

    ``world_state`` on disk groups the dotted names (``jq '.world_state.git_state'``); in
    memory every reader and writer uses ``world``, the flat, typed dict of the catalog's
    schema, and ``world_state`` is filled from it only when the file is serialised.
    """

    schema_version: int = SCHEMA_VERSION
    catalog: str
    catalog_fingerprint: str
    deployment_id: str
    run_id: str | None = None
    status: RunStatus = "pending"
    started_at: str | None = None
    completed_at: str | None = None
    updated_at: str | None = None
    current_phase: str | None = None
    last_action: str | None = None
    actions_completed: list[str] = []
    actions_pending: list[str] = []
    plan: list[str] = []
    world_state: dict[str, Any]  # as read or last written; the truth in memory is `world`
    failures: list[Failure] = []
    penalties: dict[str, float] = {}
    report: str | None = None
    awaiting: list[ApprovalRequest] = []  # approval requests not yet answered
    approvals: list[ApprovalDecision] = []  # this run's answers, oldest first
    history: list[JournalEntry] = Field(default_factory=list)
    world: dict[str, Any] = Field(default_factory=dict, exclude=True)
    _schema: WorldSchema = PrivateAttr()
    invalid: dict[str, str] = Field(default_factory=dict, exclude=True)  # name -> problem

    @classmethod
    def of(cls, schema: WorldSchema, **fields: Any) -> StateFile:
        state = cls(**fields)
        state._schema = schema
        return state

    def to_json(self, indent: int | None = None) -> str:
        """The file's text: ``world`` nested into ``world_state`` here, and only here."""
        self.world_state = self._schema.nest(self.world)
        return self.model_dump_json(indent=indent)

    def document(self) -> dict[str, Any]:
        """The file as a JSON document (``goap state show --json``, the MCP ``get_state``)."""
        return json.loads(self.to_json())


def new_state(
    catalog_name: str, schema: WorldSchema, world: dict[str, Any] | None = None
) -> StateFile:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
    return StateFile.of(
        schema,
        catalog=catalog_name,
        catalog_fingerprint=schema.fingerprint(),
        deployment_id=f"deploy-{stamp}",
        world_state={},
        world=dict(world or schema.defaults()),
        updated_at=now(),
    )


RESET = "restore it from a backup or start over with `goap state reset`"


def read_document(path: Path) -> Any:
    """The file's JSON, or a StateError whatever its bytes are (never a traceback)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StateError(f"{path}: no state file; run `goap run` first, or pass --state") from None
    except OSError as exc:
        raise StateError(f"{path}: cannot read the state file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise StateError(f"{path}:{line}: not UTF-8 text (byte {exc.start}); {RESET}") from None
    try:
        # NaN, Infinity and 1e400 are read (as floats) so that the variable holding one is
        # named, and `goap state set` can repair it; nothing goap writes holds them
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); {RESET}") from None
    except RecursionError:
        raise StateError(f"{path}: nested too deeply to be a goap state file; {RESET}") from None
    except ValueError as exc:  # an integer too long to convert
        raise StateError(f"{path}: {str(exc)[:120]}; {RESET}") from None


def load_state(
    path: Path, schema: WorldSchema, catalog_name: str, lenient: bool = False
) -> StateFile:
    """Read and check a state file against the catalog's variables.

    A variable whose value does not fit (a hand edit, NaN written by an older goap) is an
    error naming it, unless ``lenient``: then it holds its default and ``invalid`` says
    why, so `goap state set` can repair the file its own advice points to.
    """
    data = read_document(path)
    if not isinstance(data, dict):
        raise StateError(f"{path}: not a goap state file (expected a JSON object)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise StateError(
            f"{path}: state schema version {quoted(version)} is not supported (this goap "
            f"reads version {SCHEMA_VERSION}); use --state for a new file"
        )
    data.pop("world", None)  # not a field of the file: never read one from it
    try:
        state = StateFile.of(schema, **data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise StateError(
            f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg'][:200]}; fix the "
            f"file or start over with `goap state reset`"
        ) from None
    except (TypeError, ValueError) as exc:  # keys that are not names, numbers out of range
        raise StateError(f"{path}: not a goap state file ({str(exc)[:120]}); {RESET}") from None
    if state.catalog_fingerprint != schema.fingerprint():
        raise StateError(
            f"{path} belongs to catalog {quoted(state.catalog)} with a different set of "
            f"variables than {catalog_name!r}; pass --state with another path, or "
            f"`goap state reset` to start over"
        )
    try:
        state.world, bad = schema.flatten_lenient(state.world_state)
    except StateTypeError as exc:
        raise StateError(f"{path}: world_state: {str(exc)[:300]}; {RESET}") from None
    if bad and not lenient:
        first = next(iter(bad))
        raise StateError(
            f"{path}: world_state: {'; '.join(bad.values())}; fix it with `goap state set "
            f"CATALOG {first} VALUE --state {path}` (or `goap state reset`)"
        )
    state.invalid = bad
    return state


def save_state(path: Path, state: StateFile, scrub: Callable[[str], str] | None = None) -> None:
    """Write the file atomically; ``scrub`` masks secrets in its text as the last step."""
    state.updated_at = now()
    text = state.to_json(indent=2) + "\n"
    write_atomic(owned(path), scrub(text) if scrub else text)


class StateBusy(StateError):
    """Another process holds the state file's lock (a run in progress)."""


class StateLock:
    """An exclusive, non-blocking lock on a state file, held by one process at a time."""

    def __init__(self, state_path: Path):
        self.state_path = state_path
        self.path = state_path.with_name(state_path.name + ".lock")
        self.fd: int | None = None

    def acquire(self) -> None:
        real = owned(self.state_path)  # a link to the file is refused, not given its own lock
        self.path = real.with_name(real.name + ".lock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_fd(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StateBusy(
                f"{self.path.with_suffix('')} is in use by another goap process "
                f"(pid {holder[:20]}); wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
