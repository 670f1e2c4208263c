"""The state file: the world state, the journal and the run's bookkeeping, on disk.

Compatible with the seed's ``plans/deployment_state.json`` (seed 000, section 7.1) plus a
journal (``history``) and a schema version. Every write is atomic (temp file, fsync, rename,
fsync of the directory), so the file is valid JSON at every instant, even after kill -9.
One process at a time holds the file's lock (``flock``: the kernel drops it when the holder
dies, so a killed run never leaves a lock that blocks forever).
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from state.model import StateError, StateTypeError, WorldSchema
from state.status import AttemptOutcome, RunStatus, Via

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
    history: list[JournalEntry] = Field(default_factory=list)
    world: dict[str, Any] = Field(default_factory=dict, exclude=True)
    _schema: WorldSchema = PrivateAttr()

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


def load_state(path: Path, schema: WorldSchema, catalog_name: str) -> StateFile:
    """Read and check a state file against the catalog's variables."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateError(f"{path}: no state file; run `goap run` first, or pass --state") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); restore it or "
            f"start over with `goap state reset`"
        ) from None
    if not isinstance(data, dict):
        raise StateError(f"{path}: not a goap state file (expected a JSON object)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise StateError(
            f"{path}: state schema version {version!r} is not supported (this goap "
            f"reads version {SCHEMA_VERSION}); use --state for a new file"
        )
    data.pop("world", None)  # not a field of the file: never read one from it
    try:
        state = StateFile.of(schema, **data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise StateError(
            f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}; fix the "
            f"file or start over with `goap state reset`"
        ) from None
    if state.catalog_fingerprint != schema.fingerprint():
        raise StateError(
            f"{path} belongs to catalog {state.catalog!r} with a different set of "
            f"variables than {catalog_name!r}; pass --state with another path, or "
            f"`goap state reset` to start over"
        )
    try:
        state.world = schema.flatten(state.world_state)
    except StateTypeError as exc:
        raise StateError(f"{path}: world_state: {exc}; fix it with `goap state set`") from None
    return state


def save_state(path: Path, state: StateFile) -> None:
    state.updated_at = now()
    write_atomic(path, state.to_json(indent=2) + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StateLock:
    """An exclusive, non-blocking lock on a state file, held by one process at a time."""

    def __init__(self, state_path: Path):
        self.path = state_path.with_name(state_path.name + ".lock")
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StateError(
                f"{self.path.with_suffix('')} is in use by another goap process "
                f"(pid {holder}); wait for it to finish or stop it"
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
