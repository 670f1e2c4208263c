"""What the dashboard shows, read from the files the other commands write.

Everything here is a read: the state file through ``state.store.load_state`` (as every
command reads it), a journal entry's log and progress channel where the run record puts
them, the workdir's ``artifacts/`` and the local registry's manifests as JSON. Reads are
bounded (a log's tail, a listing's length, a manifest's size), so a large workdir or a
log of gigabytes costs the server no more than a small one. Nothing here writes a file.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goap.loading.catalog import Catalog
from goap.planning.planner import PlanOptions, plan
from goap.running.errors import RunError
from goap.running.progress import cleaned
from goap.running.record import logs_root
from goap.running.resources import goap_toml
from state.files import safe_name
from state.model import StateError
from state.status import UNFINISHED
from state.store import JournalEntry, StateFile, load_state, now

ATTEMPTS_SHOWN = 500  # newest journal entries in a snapshot (the timeline's bars)
TAIL_BYTES = 16 * 1024  # of a log, shown under a timeline bar
PROGRESS_BYTES = 64 * 1024  # of a progress channel: only its newest record matters
LISTED = 500  # files of artifacts/ listed, at most
JSON_BYTES = 1 << 20  # a manifest or report larger than this is not shown
PLAN_OPTIONS = PlanOptions(timeout=5.0, max_expansions=200_000)  # the page waits for it


@dataclass(frozen=True)
class Where:
    """The three paths a dashboard is about (absolute)."""

    catalog: Catalog
    state_path: Path
    workdir: Path


# ------------------------------------------------------------------ small bounded reads


def read_tail(path: Path, limit: int) -> tuple[bytes, int] | None:
    """The last ``limit`` bytes of a plain file (never through a link) and its size."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        start = max(0, info.st_size - limit)
        return os.pread(fd, info.st_size - start, start), info.st_size
    finally:
        os.close(fd)


def read_json(path: Path) -> Any:
    """A small JSON file's document, or None (absent, a link, too large, not JSON)."""
    found = read_tail(path, JSON_BYTES + 1)
    if found is None or found[1] > JSON_BYTES:
        return None
    try:
        return json.loads(found[0])
    except (ValueError, RecursionError):
        return None


def mtime_ns(path: Path) -> tuple[int, int]:
    """(mtime, size) of ``path``, (0, 0) when it is not there: what the watcher compares."""
    try:
        info = os.stat(path)
    except OSError:
        return (0, 0)
    return (info.st_mtime_ns, info.st_size)


# ------------------------------------------------------------------ the state file


def read_state(where: Where) -> StateFile | None:
    """The state file as other commands read it; None when there is none yet."""
    if not where.state_path.exists():
        return None
    return load_state(where.state_path, where.catalog.schema, where.catalog.name)


def log_path(where: Where, seq: int, action: str, run_id: str) -> Path:
    """The log of one attempt: where ``RunRecord.log_path`` put it for the runner."""
    folder = logs_root(where.state_path) / safe_name(where.state_path.name)
    return folder / safe_name(run_id or "run") / safe_name(f"{seq:05d}-{action}.log")


def channel_path(where: Where, attempt: dict[str, Any]) -> Path:
    """The progress channel of an attempt (an attempt document): beside its log."""
    log = log_path(where, attempt["seq"], attempt["action"], attempt["run_id"])
    return log.with_name(log.name + ".progress")


def newest_progress(path: Path) -> dict[str, Any] | None:
    """The newest complete record of a progress channel (``goap.running.progress``)."""
    found = read_tail(path, PROGRESS_BYTES)
    if found is None:
        return None
    for raw in reversed(found[0].split(b"\n")[:-1]):  # the last piece may be half a line
        try:
            record = cleaned(json.loads(raw), [])
        except (ValueError, RecursionError):
            continue
        if record is not None:
            return record
    return None


def attempt_document(entry: JournalEntry) -> dict[str, Any]:
    """One journal entry for the timeline (its failure tail is fetched on its own)."""
    return {
        "seq": entry.seq,
        "run_id": entry.run_id,
        "action": entry.action,
        "id": entry.id,
        "attempt": entry.attempt,
        "started_at": entry.started_at,
        "ended_at": entry.ended_at,
        "duration_s": entry.duration_s,
        "outcome": entry.outcome,
        "error": entry.error,
        "facts": entry.facts,
        "forced": entry.forced,
        "via": entry.via,
        "job": entry.job,
        "has_tail": bool(entry.tail),
    }


def in_flight(where: Where, state: StateFile) -> list[dict[str, Any]]:
    """The attempts of the current run that started and have not ended, with the newest
    record of their progress channels."""
    if state.status not in UNFINISHED:
        return []
    flying = []
    for entry in state.history:
        if entry.run_id == state.run_id and entry.outcome == "started":
            attempt = attempt_document(entry)
            attempt["progress"] = newest_progress(channel_path(where, attempt))
            flying.append(attempt)
    return flying


def next_plan(where: Where, state: StateFile | None) -> dict[str, Any]:
    """The current optimal plan from the persisted world (with this run's penalties, as the
    runner would replan), in ``goap plan --json``'s words."""
    from goap.faces.documents import plan_document

    world = state.world if state is not None else where.catalog.initial
    penalties = state.penalties if state is not None else None
    result = plan(where.catalog, world, None, penalties, PLAN_OPTIONS)
    return plan_document(result)


def snapshot(where: Where) -> dict[str, Any]:
    """Everything the page shows of the run, as one JSON document (the SSE payload)."""
    head: dict[str, Any] = {
        "catalog": where.catalog.name,
        "catalog_path": str(where.catalog.path),
        "state_path": str(where.state_path),
        "workdir": str(where.workdir),
        "server_time": now(),
        "lock": lock_holder(where.state_path),
    }
    try:
        state = read_state(where)
    except StateError as exc:
        return head | {"status": "unreadable", "error": str(exc)}
    optimal = next_plan(where, state)
    if state is None:
        return head | {
            "status": "pending",
            "world_state": where.catalog.schema.nest(where.catalog.initial),
            "attempts": [],
            "in_flight": [],
            "failures": [],
            "next_plan": optimal,
        }
    return head | {
        "status": state.status,
        "run_id": state.run_id,
        "deployment_id": state.deployment_id,
        "started_at": state.started_at,
        "completed_at": state.completed_at,
        "updated_at": state.updated_at,
        "current_phase": state.current_phase,
        "last_action": state.last_action,
        "plan": state.plan,
        "actions_pending": state.actions_pending,
        "actions_completed": state.actions_completed,
        "failures": [f.model_dump() for f in state.failures],
        "penalties": state.penalties,
        "report": state.report,
        "world_state": where.catalog.schema.nest(state.world),
        "attempts": [attempt_document(e) for e in state.history[-ATTEMPTS_SHOWN:]],
        "attempts_total": len(state.history),
        "in_flight": in_flight(where, state),
        "next_plan": optimal,
    }


def attempt_detail(where: Where, seq: int) -> dict[str, Any] | None:
    """One journal entry with its failure tail and the tail of its log (None: no entry)."""
    state = read_state(where)
    entry = next((e for e in state.history if e.seq == seq), None) if state else None
    if entry is None:
        return None
    path = log_path(where, entry.seq, entry.action, entry.run_id)
    found = read_tail(path, TAIL_BYTES)
    log = None
    if found is not None:
        text = found[0].decode("utf-8", errors="replace")
        log = {"path": str(path), "bytes": found[1], "tail": text, "cut": found[1] > TAIL_BYTES}
    return {**attempt_document(entry), "tail": entry.tail, "log": log}


# ------------------------------------------------------------------ who holds the state


def lock_holder(state_path: Path) -> dict[str, Any]:
    """Whether a goap process holds the state file's lock, and its pid, without taking it.

    Taking the lock to test it, even for a microsecond, could make a ``goap run`` that
    starts at that moment refuse; Linux lists every flock in /proc/locks, so we look there.
    Elsewhere we cannot tell (``held`` is None) and the run we start decides by itself.
    """
    lock = state_path.with_name(state_path.name + ".lock")
    try:
        info = os.stat(lock)
    except OSError:
        return {"held": False, "pid": None}
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return {"held": None, "pid": None}
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for line in lines:
        fields = line.split()
        if "FLOCK" in fields and "->" not in fields and device in fields:
            pid = fields[fields.index(device) - 1]
            return {"held": True, "pid": int(pid) if pid.isdigit() else None}
    return {"held": False, "pid": None}


# ------------------------------------------------------------------ artifacts and registry


def registry_root(workdir: Path) -> Path:
    """The local registry's folder: ``[registry] path`` of the workdir's goap.toml."""
    try:
        _, document = goap_toml(workdir)
    except RunError:
        document = {}
    table = document.get("registry", {})
    value = table.get("path") if isinstance(table, dict) else None
    path = Path(str(value) if isinstance(value, str) and value else ".goap/registry")
    path = path.expanduser()
    return path if path.is_absolute() else workdir / path


def artifact_files(workdir: Path) -> dict[str, Any]:
    """The plain files under ``workdir/artifacts`` (links are not followed), newest first."""
    root = workdir / "artifacts"
    files: list[dict[str, Any]] = []
    more = False
    for folder, dirs, names in os.walk(root):  # walk never descends into a link to a folder
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if len(files) == LISTED:
                more = True
                break
            files.append(
                {
                    "path": path.relative_to(root).as_posix(),
                    "bytes": info.st_size,
                    "modified_ns": info.st_mtime_ns,
                }
            )
        if more:
            break
    files.sort(key=lambda f: f["modified_ns"], reverse=True)
    return {"root": str(root), "files": files, "more": more}


def registry_versions(workdir: Path) -> dict[str, Any]:
    """Every model's versions in the local registry: each ``vN/manifest.json`` and the
    version's ``validation_report.json``, read as JSON (the registry's own format)."""
    root = registry_root(workdir)
    models = []
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for model in folders[:LISTED]:
        versions = []
        for folder in model.iterdir():
            number = folder.name.removeprefix("v")
            if not (folder.name.startswith("v") and number.isdigit()):
                continue
            manifest = read_json(folder / "manifest.json")
            if not isinstance(manifest, dict):
                continue
            versions.append(
                {
                    "version": folder.name,
                    "number": int(number),
                    "path": str(folder),
                    "manifest": manifest,
                    "validation_report": read_json(folder / "validation_report.json"),
                }
            )
        versions.sort(key=lambda v: v["number"])
        models.append({"name": model.name, "versions": versions})
    return {"root": str(root), "models": models}


def artifacts(workdir: Path) -> dict[str, Any]:
    return {"artifacts": artifact_files(workdir), "registry": registry_versions(workdir)}
