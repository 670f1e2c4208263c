"""CI executors (A09 monitor, A10 resolve) and the CI sensor, over two backends.

``[backends] ci`` picks the backend:

* ``local`` (default): clones the pushed commit from the git remote into a fresh temporary
  directory and runs ``[ci] commands`` there (default: ``ruff check .``, ``ruff format --check
  .``, ``python -m pytest -q``; ``python`` is the engine's interpreter, other tools resolve
  beside it first), each command being one job. The result is kept per commit in
  ``.goap/ci/<sha>.json``: that record is the CI status of the commit.
* ``github``: GitHub Actions through PyGithub: workflow runs for the commit and its check runs,
  polled with exponential backoff until all are completed or the timeout passes.

A failing CI is an observation (``passed: False``), not a failure of the monitor; the monitor
fails only when it cannot find out. ``resolve_ci_failure`` applies the automatic fixes that
exist (ruff), commits and pushes them, and otherwise fails with the CI log tail to escalate.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from git import GitCommandError, Repo
from pydantic import BaseModel, Field

from actions.config import GoapConfig, load_config, state_dir
from actions.contract import InWorkdir, WorkdirArgs, known
from actions.credentials import redact, token_from_env
from actions.git import (
    NO_PROMPT,
    CommitArgs,
    PushArgs,
    commit,
    dirty_paths,
    open_repo,
    push,
    remote_url,
)
from actions.paths import write_text
from actions.process import ProcessResult, command_argv, require_tool, run_process, tail
from goap.executor import ActionFailed, facts, progress

JOB_TAIL_LINES = 30
OK_CONCLUSIONS = {"success", "skipped", "neutral"}


class CiJob(BaseModel):
    name: str
    conclusion: str | None
    duration_s: float | None = None


class CiRecord(BaseModel):
    """What CI says about one commit, in both backends' common vocabulary."""

    sha: str
    backend: Literal["local", "github"]
    status: Literal["missing", "queued", "in_progress", "completed"]
    conclusion: str | None = None
    failed_jobs: list[str] = Field(default_factory=list)
    jobs: list[CiJob] = Field(default_factory=list)
    duration_s: float | None = None
    log_tail: str = ""
    url: str | None = None
    finished_at: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "completed" and self.conclusion == "success"

    def facts(self) -> dict[str, Any]:
        return known({**self.model_dump(mode="json"), "passed": self.passed})


class MonitorCiArgs(WorkdirArgs):
    sha: str | None = Field(None, description="Commit whose CI to wait for; default: HEAD.")
    remote: str | None = Field(
        None, description="Local backend: remote to clone from; default: [git] remote."
    )
    timeout_s: float | None = Field(
        None,
        gt=0,
        description="Give up after this long; default: [ci] timeout_s or [github] timeout_s.",
    )
    rerun: bool = Field(
        False, description="Local backend: run CI again even if this commit has a record."
    )


class CiStatusArgs(WorkdirArgs):
    sha: str | None = Field(None, description="Commit to report on; default: HEAD.")


class ResolveCiFailureArgs(WorkdirArgs):
    sha: str | None = Field(
        None,
        description="The failing commit (its CI log is attached on escalation); default: HEAD.",
    )
    paths: list[InWorkdir] = Field(
        default_factory=lambda: ["."], description="Where to apply the automatic ruff fixes."
    )
    message: str = Field(
        "style: apply automatic ruff fixes", min_length=1, description="Message of the fix commit."
    )
    push: bool = Field(True, description="Push the fix commit (so CI runs again).")
    remote: str | None = Field(None, description="Remote to push to; default: [git] remote.")
    timeout_s: float = Field(300, gt=0, description="Time allowed for each ruff command.")


# ---------------------------------------------------------------------------------- executors


@facts(
    *CiRecord.model_fields,
    "passed",
    failure=("token_env", "token_present"),
)
def monitor_ci(args: MonitorCiArgs) -> dict[str, Any]:
    """A09: wait for CI of the commit and report its conclusion and failing jobs."""
    config = load_config(args.workdir)
    sha = resolve_sha(args.workdir, args.sha)
    if config.backends.ci == "github":
        record = _wait_for_github(config, sha, args.timeout_s or config.github.timeout_s)
    else:
        record = None if args.rerun else read_record(args.workdir, sha)
        if record is None:
            remote = args.remote or config.git.remote
            record = _run_local_ci(config, sha, remote, args.timeout_s or config.ci.timeout_s)
    _write_record(args.workdir, record)
    return record.facts()


@facts(
    *CiRecord.model_fields,
    "passed",
    failure=("token_env", "token_present"),
    note='status is "missing" when CI never ran for the commit.',
)
def ci_status(args: CiStatusArgs) -> dict[str, Any]:
    """Sensor: CI status of the commit (local record, or one query to GitHub)."""
    config = load_config(args.workdir)
    try:
        sha = resolve_sha(args.workdir, args.sha)
    except ActionFailed:
        if args.sha is not None:
            raise
        return {"backend": config.backends.ci, "status": "missing", "passed": False}
    if config.backends.ci == "github":
        return _observe_github(config, sha).facts()
    record = read_record(args.workdir, sha)
    return (record or CiRecord(sha=sha, backend="local", status="missing")).facts()


@facts(
    "fixed",
    "ci_passed",
    "sha",
    "fixed_files",
    "skipped_dirty_files",
    "remaining_lint_errors",
    "also_failing",
    "pushed",
    failure=(
        "failed_jobs",
        "failing_tests",
        "first_error",
        "untracked_files",
        "uncommitted_files",
        "command",
        "branch",
        "paths",
        "committed",
        "secrets_found",
        "rejected",
        "remote",
    ),
    note="A failure is a diagnosis and changes nothing; a failed fix commit or push carries "
    "the facts of actions.git:commit or push.",
)
def resolve_ci_failure(args: ResolveCiFailureArgs) -> dict[str, Any]:
    """A10: fix what CI's ruff jobs name, commit and push that; anything else is diagnosed.

    An automatic fix touches only the files a failed ruff job names in its log (and only
    within ``paths``); other failed jobs are listed in ``also_failing`` (CI of the fix commit
    tells whether they pass). When no ruff job names a file, nothing is "fixed": the action
    fails with a diagnosis (failing test ids, the first error line, and the files the workdir
    has but the commit lacks: untracked or uncommitted, what a CI checkout never sees). Only
    files that were clean before the fix are committed: uncommitted work of the user is never
    swept into the fix commit (it is listed in ``skipped_dirty_files``).
    """
    config = load_config(args.workdir)
    sha = resolve_sha(args.workdir, args.sha)
    record = _last_known_record(config, sha)
    if record is not None and record.passed:
        return {"fixed": False, "ci_passed": True, "sha": sha, "fixed_files": []}
    repo = open_repo(args.workdir)
    root = Path(repo.working_tree_dir or args.workdir)
    failed_jobs = record.failed_jobs if record else []
    others = [job for job in failed_jobs if not _RUFF_JOB.search(job)]
    targets = _named_files(record.log_tail if record else "", root, args.workdir, args.paths)
    if len(others) == len(failed_jobs) or not targets:  # no ruff job names a file to fix
        raise _diagnosis(sha, record, repo, failed_jobs)
    dirty_before = set(dirty_paths(repo))
    ruff = require_tool("ruff", "install ruff (pip install ruff)")
    fix = run_process([ruff, "check", "--fix", "--", *targets], args.workdir, args.timeout_s)
    fmt = run_process([ruff, "format", "--", *targets], args.workdir, args.timeout_s)
    for result in (fix, fmt):
        if result.timed_out or result.returncode not in (0, 1):
            raise ActionFailed(
                f"`{result.command}` did not run cleanly (exit {result.returncode}); fix ruff or "
                "its configuration",
                tail=tail(result.output),
            )
    fixed = sorted(set(dirty_paths(repo)) - dirty_before)
    if not fixed:
        raise _diagnosis(sha, record, repo, failed_jobs, "ruff has nothing to fix automatically")
    committed = commit(
        CommitArgs(workdir=args.workdir, paths=[str(root / p) for p in fixed], message=args.message)
    )
    pushed = push(PushArgs(workdir=args.workdir, remote=args.remote)) if args.push else None
    return {
        "fixed": True,
        "ci_passed": False,
        "fixed_files": fixed,
        "skipped_dirty_files": sorted(dirty_before),
        "remaining_lint_errors": _remaining_lint_errors(fix.output),
        "also_failing": others,  # not fixed here: CI of the fix commit tells whether they pass
        "sha": committed["sha"],
        "pushed": bool(pushed and pushed["pushed"]),
    }


_RUFF_JOB = re.compile(r"\bruff\b")
# ruff's concise lines "path:row:col: CODE", "Would reformat: path", " --> path:row:col"
_NAMED = re.compile(r"^(?:Would reformat: (\S+)|\s*--> (\S+?):\d+:\d+|(\S+?):\d+:\d+: )", re.M)
_FAILED_TEST = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)
_FIRST_ERROR = re.compile(r"^(?:E\s+.+|.*(?:Error|error):.+)$", re.M)


def _named_files(log: str, root: Path, workdir: Path, paths: list[str]) -> list[str]:
    """Files a ruff job's log names, that exist here and lie within ``paths``."""
    allowed = [(workdir / p).resolve() for p in paths]
    found: list[str] = []
    for match in _NAMED.finditer(log):
        name = next(g for g in match.groups() if g)
        path = (root / name).resolve()
        inside = any(path == a or path.is_relative_to(a) for a in allowed)
        if path.is_file() and inside and str(path) not in found:
            found.append(str(path))
    return found


def _diagnosis(
    sha: str, record: CiRecord | None, repo: Repo, jobs: list[str], why: str = ""
) -> ActionFailed:
    """Why CI fails, as far as its log and the workdir tell, instead of a claimed fix."""
    log = record.log_tail if record else ""
    tests = list(dict.fromkeys(_FAILED_TEST.findall(log)))[:20]
    first = _FIRST_ERROR.search(log)
    own = Path(os.environ.get("GOAP_STATE_FILE", "/nonexistent")).name  # goap's, not the project's
    untracked = sorted(p for p in repo.untracked_files if not Path(p).name.startswith(own))[:20]
    uncommitted = sorted(set(dirty_paths(repo)) - set(repo.untracked_files))[:20]
    parts = [f"CI of {sha[:12]} is failing"]
    parts.append(f"failed jobs: {', '.join(jobs)}" if jobs else "no CI record")
    if tests:
        parts.append(f"failing tests: {', '.join(tests[:5])}")
    if first:
        parts.append(f"first error: {first.group(0).strip()[:200]}")
    if untracked or uncommitted:
        lacks = [f"{p} (untracked)" for p in untracked] + [
            f"{p} (uncommitted)" for p in uncommitted
        ]
        parts.append(f"the commit lacks what the workdir has: {', '.join(lacks[:8])}")
    if why:
        parts.append(why)
    return ActionFailed(
        "; ".join(parts) + "; nothing was changed: a person must fix it (CI log tail attached)",
        tail=log,
        facts={
            "fixed": False,
            "ci_passed": False,
            "failed_jobs": jobs,
            "failing_tests": tests,
            "first_error": first.group(0).strip()[:200] if first else None,
            "untracked_files": untracked,
            "uncommitted_files": uncommitted,
        },
    )


# ------------------------------------------------------------------------------ local backend


def _run_local_ci(config: GoapConfig, sha: str, remote: str, timeout_s: float) -> CiRecord:
    """Clone ``sha`` from ``remote`` into a temporary directory and run every CI command there."""
    url = remote_url(open_repo(config.workdir), remote)
    started = time.monotonic()
    deadline = started + timeout_s
    jobs: list[CiJob] = []
    failed_logs: list[str] = []
    all_logs: list[str] = []
    with tempfile.TemporaryDirectory(prefix="goap-ci-") as tmp:
        checkout = Path(tmp) / "checkout"
        try:
            clone = Repo.clone_from(url, checkout, no_checkout=True, env=NO_PROMPT)
            clone.git.checkout("--quiet", "--detach", sha)
        except GitCommandError as exc:
            raise ActionFailed(
                f"commit {sha[:12]} is not on remote {remote} ({redact(url)}); push it first "
                "(actions.git:push)",
                tail=redact(str(exc.stderr or "")),
                facts={"status": "missing"},
            ) from exc
        env = {**os.environ, "CI": "true"}
        total = len(config.ci.commands)
        for number, command in enumerate(config.ci.commands, 1):
            done = "; ".join(f"{job.name}: {job.conclusion}" for job in jobs)
            progress(
                step=number, total=total, message=f"{done}{'; ' if done else ''}{command}: running"
            )
            result = _run_job(command, checkout, deadline - time.monotonic(), env)
            conclusion = "success" if result.ok else "timed_out" if result.timed_out else "failure"
            jobs.append(CiJob(name=command, conclusion=conclusion, duration_s=result.duration_s))
            log = f"$ {command}\n{result.output}"
            all_logs.append(log)
            if conclusion != "success":
                failed_logs.append(f"$ {command}\n{tail(result.output, JOB_TAIL_LINES)}")
            if result.timed_out:
                break
    failed = [job.name for job in jobs if job.conclusion != "success"]
    timed_out = any(job.conclusion == "timed_out" for job in jobs)
    return CiRecord(
        sha=sha,
        backend="local",
        status="completed",
        conclusion="timed_out" if timed_out else "failure" if failed else "success",
        failed_jobs=failed,
        jobs=jobs,
        duration_s=round(time.monotonic() - started, 3),
        log_tail="\n".join(failed_logs) if failed_logs else tail("\n".join(all_logs)),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _run_job(command: str, checkout: Path, timeout_s: float, env: dict[str, str]) -> ProcessResult:
    """One CI command; a command that cannot start is a failed job, as in any CI."""
    argv = command_argv(command)
    try:
        return run_process(argv, checkout, timeout_s, env)
    except ActionFailed as exc:
        return ProcessResult(argv, 127, exc.message, 0.0, timed_out=False)


def _record_path(workdir: Path, sha: str) -> Path:
    return state_dir(workdir, "ci") / f"{sha}.json"


def read_record(workdir: Path, sha: str) -> CiRecord | None:
    """The stored CI record of commit ``sha`` in this workdir, if CI ran for it."""
    path = _record_path(workdir, sha)
    return CiRecord.model_validate_json(path.read_text()) if path.is_file() else None


def _write_record(workdir: Path, record: CiRecord) -> None:
    write_text(_record_path(workdir, record.sha), record.model_dump_json(indent=2))


def _last_known_record(config: GoapConfig, sha: str) -> CiRecord | None:
    record = read_record(config.workdir, sha)
    if record is None and config.backends.ci == "github":
        try:
            record = _observe_github(config, sha)
        except ActionFailed:
            return None
    return record


# ----------------------------------------------------------------------------- GitHub backend


def _github_repository(config: GoapConfig) -> tuple[Any, str]:
    """The PyGithub repository object (no request is made yet) and the token, for redaction."""
    from github import Auth, Github  # imported only when the GitHub backend is used
    from github.GithubRetry import GithubRetry

    if not config.github.repo:
        raise config.missing("[github] repo", "when [backends] ci = 'github'")
    token = token_from_env(config.github.token_env, "the GitHub API")
    client = Github(
        base_url=config.github.api_url.rstrip("/"),
        auth=Auth.Token(token),
        lazy=True,
        timeout=30,
        retry=GithubRetry(total=3),
    )
    return client.get_repo(config.github.repo), token


def _observe_github(config: GoapConfig, sha: str) -> CiRecord:
    """One look at GitHub: workflow runs and check runs of ``sha``, aggregated."""
    from github import GithubException
    from requests.exceptions import RequestException

    repository, token = _github_repository(config)
    try:
        runs = list(repository.get_workflow_runs(head_sha=sha))
        checks = list(repository.get_commit(sha).get_check_runs())
        statuses = [item.status for item in [*runs, *checks]]
        if not statuses:
            return CiRecord(sha=sha, backend="github", status="missing")
        url = runs[0].html_url if runs else None
        if any(status != "completed" for status in statuses):
            queued = all(status in ("queued", "waiting", "pending") for status in statuses)
            return CiRecord(
                sha=sha, backend="github", status="queued" if queued else "in_progress", url=url
            )
        jobs = [CiJob(name=c.name, conclusion=c.conclusion) for c in checks]
        for run in runs:
            if run.conclusion not in OK_CONCLUSIONS:
                jobs += [CiJob(name=j.name, conclusion=j.conclusion) for j in run.jobs()]
                jobs.append(CiJob(name=run.name, conclusion=run.conclusion))
    except GithubException as exc:
        detail = exc.message or (exc.data.get("message") if isinstance(exc.data, dict) else "")
        raise ActionFailed(
            f"GitHub API answered {exc.status} for {config.github.repo}: "
            f"{redact(str(detail or ''), [token])}; check [github] repo and the token in "
            f"{config.github.token_env}"
        ) from exc
    except RequestException as exc:
        raise ActionFailed(
            f"cannot reach the GitHub API at {config.github.api_url}: "
            f"{redact(type(exc).__name__, [token])}; check the network or [github] api_url"
        ) from exc
    failed = sorted({job.name for job in jobs if job.conclusion not in OK_CONCLUSIONS})
    log_tail = "\n".join([f"failed jobs: {', '.join(failed)}", url or ""]).strip() if failed else ""
    return CiRecord(
        sha=sha,
        backend="github",
        status="completed",
        conclusion="failure" if failed else "success",
        failed_jobs=failed,
        jobs=jobs,
        log_tail=log_tail,
        url=url,
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _wait_for_github(config: GoapConfig, sha: str, timeout_s: float) -> CiRecord:
    """Poll GitHub with exponential backoff until CI of ``sha`` completes or time runs out."""
    deadline = time.monotonic() + timeout_s
    delay = config.github.poll_initial_s
    while True:
        record = _observe_github(config, sha)
        if record.status == "completed":
            return record
        progress(
            message=f"CI of {sha[:12]} is {record.status}",
            waited_s=round(timeout_s - (deadline - time.monotonic())),
        )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ActionFailed(
                f"CI of {sha[:12]} is still {record.status} after {timeout_s:g}s; monitor again "
                "later or raise [github] timeout_s",
                facts=record.facts(),
            )
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, config.github.poll_max_s)


# ----------------------------------------------------------------------------------- helpers


def resolve_sha(workdir: Path, ref: str | None) -> str:
    """Full SHA of ``ref`` (default HEAD) in the workdir's repository."""
    repo = open_repo(workdir)
    try:
        return repo.git.rev_parse("--verify", "--quiet", f"{ref or 'HEAD'}^{{commit}}")
    except GitCommandError as exc:
        if ref and re.fullmatch(r"[0-9a-f]{40}", ref):
            return ref
        raise ActionFailed(
            f"cannot resolve commit {ref or 'HEAD'} in {workdir}; fix `sha`"
        ) from exc


def _remaining_lint_errors(fix_output: str) -> int | None:
    if "All checks passed" in fix_output:
        return 0
    match = re.search(r"(\d+) remaining", fix_output) or re.search(r"Found (\d+) error", fix_output)
    return int(match.group(1)) if match else None
