"""Remote jobs: actions that run elsewhere and outlive the runner.

A child process dies with the runner, so a two-hour training would start again after a
crash. An action whose ``goap.toml`` names a job backend (``[jobs] <action> = "ray"``) is
*submitted* instead: the backend runs the same worker request (``goap.running.worker``)
somewhere that does not depend on us, and the runner only watches it. The protocol is five
calls: ``submit`` (an idempotent job id in, a handle out), ``poll`` (running, done, gone),
``result`` (the worker's answer), ``cancel``, and reattaching, which is ``poll`` on a handle
read back from the journal. Job ids are deterministic (run, action, attempt), and the handle
is in the journal before the runner waits, so ``--resume`` watches the job it left instead of
paying for a second one. goap's retry policy is the only one: backends never retry.

Backends: ``detached`` (a local process in its own session that survives the runner; the
embedded default, and what the tests kill runners over) and ``ray`` (Ray Jobs, through
``JobSubmissionClient`` with ``submission_id``: Ray itself refuses a second job with the
same id, so a resubmit after a crash is recognised by the cluster, not only by us).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from goap.loading.secrets import referenced
from goap.running.errors import RunError
from state.files import create_new, safe_name, write_atomic

JobState = Literal["running", "done", "gone"]
Handle = dict[str, Any]  # JSON: {"backend": name, "id": job id, ...what reattaching needs}
ANSWER_MARK = "GOAP-ANSWER:"  # the worker's answer as the last line of a job's output


class JobBackend(Protocol):
    name: str

    def submit(self, job_id: str, request: dict[str, Any], env: Mapping[str, str]) -> Handle: ...
    def poll(self, handle: Handle) -> JobState: ...
    def result(self, handle: Handle) -> tuple[dict[str, Any] | None, str]: ...  # answer, tail
    def cancel(self, handle: Handle) -> None: ...


def job_id(run_id: str, action: str, attempt: int) -> str:
    """The same (run, action, attempt) always gives the same id."""
    raw = f"goap-{run_id}-{action}-{attempt}"
    return re.sub(r"[^A-Za-z0-9_-]", "_", raw)[:120]


WORKER = [sys.executable, "-P", "-m", "goap.running.worker"]  # then REQUEST ANSWER, or:
ANSWER_LINE = "--answer-line"  # B64REQUEST: the answer is printed, marked, as the last line


def answer_in(output: str) -> dict[str, Any] | None:
    """The answer a worker printed with ``--answer-line`` (the last mark wins)."""
    for line in reversed(output.splitlines()):
        if line.startswith(ANSWER_MARK):
            try:
                answer = json.loads(base64.b64decode(line[len(ANSWER_MARK) :]))
            except ValueError:
                return None
            return answer if isinstance(answer, dict) else None
    return None


# ------------------------------------------------------------------ detached local processes


class DetachedProcesses:
    """Jobs as local processes in their own session, not tied to the runner's life.

    Each job has a folder ``<jobs>/<id>/``: the request, the answer the worker writes, its
    output, and ``pid`` (the process id and its start time, so a reused pid is not taken for
    the job). Submitting an id whose folder exists attaches to it instead.
    """

    name = "detached"

    def __init__(self, root: Path, workdir: Path):
        self.root, self.workdir = root, workdir

    def folder(self, handle_or_id: Handle | str) -> Path:
        ident = handle_or_id if isinstance(handle_or_id, str) else handle_or_id["id"]
        return self.root / safe_name(ident)

    def submit(self, job_id: str, request: dict[str, Any], env: Mapping[str, str]) -> Handle:
        folder = self.folder(job_id)
        handle: Handle = {"backend": self.name, "id": job_id}
        if (folder / "pid").exists() or (folder / "answer.json").exists():
            return handle  # submitted before (we died after it): the same job
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / "request.json", json.dumps(request))
        with create_new(folder / "output.log", 0o600) as log:
            proc = subprocess.Popen(
                [*WORKER, str(folder / "request.json"), str(folder / "answer.json")],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # no PDEATHSIG, no group of ours: it outlives us
                env=dict(env, GOAP_JOB=job_id),
            )
        write_atomic(folder / "pid", f"{proc.pid} {_started(proc.pid)}\n")
        return handle

    def poll(self, handle: Handle) -> JobState:
        folder = self.folder(handle)
        if (folder / "answer.json").exists():
            return "done"
        if self._alive(folder):
            return "running"
        return "gone"

    def result(self, handle: Handle) -> tuple[dict[str, Any] | None, str]:
        folder = self.folder(handle)
        tail = _tail(folder / "output.log")
        try:
            answer = json.loads((folder / "answer.json").read_text())
        except (OSError, ValueError):
            return None, tail
        return (answer if isinstance(answer, dict) else None), tail

    def cancel(self, handle: Handle) -> None:
        pid = self._alive(self.folder(handle))
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    def _alive(self, folder: Path) -> int | None:
        """The job's pid if that process still runs (and is the one we started)."""
        try:
            pid_text, started = (folder / "pid").read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if _started(pid) != started:
            return None  # gone, or the pid now belongs to another process
        with contextlib.suppress(OSError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":  # ended, not yet reaped by its parent (us)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                return None
        return pid


def _started(pid: int) -> str:
    """A process's start time in clock ticks since boot ('-' when there is no such process)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "-"


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(
        line for line in text.splitlines()[-lines:] if not line.startswith(ANSWER_MARK)
    )


# ---------------------------------------------------------------------------------- Ray Jobs


class RayJobs:
    """Ray Jobs: the worker request runs as a job's entrypoint on a Ray cluster.

    The request travels in the entrypoint (base64), the answer comes back as the last line of
    the job's logs, so the cluster needs goap and the executors' modules installed, not our
    file system. The environment variables the action's arguments refer to (``${NAME}``), and
    those ``[jobs.ray] env`` lists, go in the job's ``runtime_env``, and only those: whoever
    can read the cluster's job list can read them.
    """

    name = "ray"

    def __init__(self, address: str, env_names: tuple[str, ...] = ()):
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError:
            raise RunError("the ray job backend needs Ray: pip install 'goap-mlops[ray]'") from None
        self.client = JobSubmissionClient(address)
        self.env_names = env_names

    def submit(self, job_id: str, request: dict[str, Any], env: Mapping[str, str]) -> Handle:
        handle: Handle = {"backend": self.name, "id": job_id}
        if self._status(job_id) is not None:
            return handle  # the cluster has it: submitted before we died
        payload = base64.b64encode(json.dumps(request).encode()).decode()
        entrypoint = shlex.join([*WORKER, ANSWER_LINE, payload])
        names = {*self.env_names, *referenced(request.get("args", {})), "PYTHONPATH"}
        passed = {k: env[k] for k in sorted(names) if k in env}
        self.client.submit_job(
            entrypoint=entrypoint,
            submission_id=job_id,
            runtime_env={"env_vars": passed},
        )
        return handle

    def _status(self, job_id: str) -> str | None:
        try:
            return str(self.client.get_job_status(job_id))
        except RuntimeError as exc:  # the cluster answered; only a 404 means "no such job"
            if "status code 404" in str(exc) or "does not exist" in str(exc):
                return None
            raise

    def poll(self, handle: Handle) -> JobState:
        status = self._status(handle["id"])
        if status is None:
            return "gone"
        status = status.rsplit(".", 1)[-1]
        if status == "STOPPED":  # cancelled: nothing to collect, it runs again if needed
            return "gone"
        return "running" if status in ("PENDING", "RUNNING") else "done"

    def result(self, handle: Handle) -> tuple[dict[str, Any] | None, str]:
        logs = self.client.get_job_logs(handle["id"])
        tail = "\n".join(ln for ln in logs.splitlines()[-40:] if not ln.startswith(ANSWER_MARK))
        return answer_in(logs), tail

    def cancel(self, handle: Handle) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_job(handle["id"])


# ------------------------------------------------------------------------------- settings


def assignments(path: Path, document: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """``[jobs]`` of goap.toml (``document``): action -> backend, and the backends' settings
    (``[jobs.ray] address``)."""
    table = document.get("jobs", {})
    if not isinstance(table, dict):
        raise RunError(f'{path}: [jobs] must be a table, e.g. [jobs] train_dit = "detached"')
    chosen = {k: v for k, v in table.items() if not isinstance(v, dict)}
    settings = {k: v for k, v in table.items() if isinstance(v, dict)}
    for action, backend in chosen.items():
        if backend not in BACKENDS:
            raise RunError(
                f"{path}: [jobs] {action} = {backend!r}: use one of {', '.join(BACKENDS)}"
            )
    return chosen, settings


BACKENDS = ("local", "detached", "ray")  # local: a child process of the runner, as always
