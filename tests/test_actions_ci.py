"""actions.ci: local CI in real clones of a bare remote; GitHub CI over a real local HTTP server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_actions_support import (  # noqa: F401
    FAKE_GITHUB_TOKEN,
    Request,
    git,
    init_repo,
    isolated_env,
    json_server,
    write,
    write_config,
)

from actions.ci import (
    CiStatusArgs,
    MonitorCiArgs,
    ResolveCiFailureArgs,
    ci_status,
    monitor_ci,
    resolve_ci_failure,
)
from actions.config import ConfigError
from actions.git import CommitArgs, PushArgs, commit, push
from goap.executor import ActionFailed

pytestmark = pytest.mark.usefixtures("isolated_env")

FAST_PYTEST = "python -m pytest -q -p no:cacheprovider -p no:hypothesispytest"
LOCAL_CI = f"""
[ci]
commands = ["ruff check .", "ruff format --check .", "{FAST_PYTEST}"]
timeout_s = 120
"""
CALC = "def add(a: int, b: int) -> int:\n    return a + b\n"
CALC_WITH_LINT = "import os\n\n\ndef add(a: int, b: int) -> int:\n    return a+b\n"
TEST_CALC = "from calc import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A committed, pushed Python project whose local CI passes."""
    repo = init_repo(tmp_path / "ws")
    write_config(repo, LOCAL_CI)
    write(repo / "calc.py", CALC)
    write(repo / "tests" / "test_calc.py", TEST_CALC)
    commit(CommitArgs(workdir=repo, paths=["."], message="project"))
    push(PushArgs(workdir=repo, create_remote=True))
    return repo


def commit_and_push(repo: Path, name: str, text: str, message: str) -> str:
    write(repo / name, text)
    sha = commit(CommitArgs(workdir=repo, paths=[name], message=message))["sha"]
    push(PushArgs(workdir=repo))
    return sha


# ------------------------------------------------------------------------------ local backend


def test_local_ci_passes_and_is_recorded_per_commit(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sha = git(workspace, "rev-parse", "HEAD")
    assert ci_status(CiStatusArgs(workdir=workspace))["status"] == "missing"
    channel = tmp_path / "ci.progress"  # goap's progress channel: each job as it starts
    channel.touch()
    monkeypatch.setenv("GOAP_PROGRESS", str(channel))
    facts = monitor_ci(MonitorCiArgs(workdir=workspace))
    said = [json.loads(line)["message"] for line in channel.read_text().splitlines()]
    assert said == [
        "ruff check .: running",
        "ruff check .: success; ruff format --check .: running",
        f"ruff check .: success; ruff format --check .: success; {FAST_PYTEST}: running",
    ]
    assert facts["sha"] == sha
    assert (facts["backend"], facts["status"], facts["conclusion"]) == (
        "local",
        "completed",
        "success",
    )
    assert facts["passed"] is True
    assert [job["name"] for job in facts["jobs"]] == [
        "ruff check .",
        "ruff format --check .",
        FAST_PYTEST,
    ]
    assert "1 passed" in facts["log_tail"]
    record = json.loads((workspace / ".goap" / "ci" / f"{sha}.json").read_text())
    assert record["conclusion"] == "success"
    assert ci_status(CiStatusArgs(workdir=workspace, sha=sha)) == facts
    assert git(workspace, "status", "--porcelain") == ""


def test_local_ci_failure_names_failing_jobs_and_keeps_the_log(workspace: Path) -> None:
    commit_and_push(workspace, "calc.py", CALC_WITH_LINT, "lint regression")
    facts = monitor_ci(MonitorCiArgs(workdir=workspace))
    assert facts["passed"] is False
    assert facts["conclusion"] == "failure"
    assert facts["failed_jobs"] == ["ruff check .", "ruff format --check ."]
    assert "F401" in facts["log_tail"]
    assert ci_status(CiStatusArgs(workdir=workspace))["failed_jobs"] == facts["failed_jobs"]


def test_local_ci_tests_the_pushed_commit_not_the_working_tree(workspace: Path) -> None:
    write(workspace / "calc.py", CALC_WITH_LINT)  # uncommitted: CI must not see it
    assert monitor_ci(MonitorCiArgs(workdir=workspace))["passed"] is True


def test_local_ci_result_is_reused_unless_rerun(workspace: Path) -> None:
    first = monitor_ci(MonitorCiArgs(workdir=workspace))
    write_config(workspace, '[ci]\ncommands = ["python -c \\"raise SystemExit(3)\\""]\n')
    assert monitor_ci(MonitorCiArgs(workdir=workspace)) == first
    rerun = monitor_ci(MonitorCiArgs(workdir=workspace, rerun=True))
    assert rerun["conclusion"] == "failure"


def test_ci_status_without_any_commit_is_missing(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "empty", commit=False)
    assert ci_status(CiStatusArgs(workdir=repo)) == {
        "backend": "local",
        "status": "missing",
        "passed": False,
    }


def test_unpushed_commit_is_a_clear_failure(workspace: Path) -> None:
    write(workspace / "new.py", "x = 1\n")
    commit(CommitArgs(workdir=workspace, paths=["new.py"], message="not pushed"))
    with pytest.raises(ActionFailed, match=r"is not on remote goap-local .*push it first"):
        monitor_ci(MonitorCiArgs(workdir=workspace))


def test_local_ci_timeout_is_a_timed_out_conclusion(workspace: Path) -> None:
    write_config(workspace, '[ci]\ncommands = ["python -c \\"import time; time.sleep(30)\\""]\n')
    facts = monitor_ci(MonitorCiArgs(workdir=workspace, timeout_s=1, rerun=True))
    assert (facts["conclusion"], facts["passed"]) == ("timed_out", False)
    assert facts["duration_s"] < 10


def test_a_ci_command_that_cannot_start_is_a_failed_job(workspace: Path) -> None:
    write_config(workspace, '[ci]\ncommands = ["no-such-ci-tool --check", "python -V"]\n')
    facts = monitor_ci(MonitorCiArgs(workdir=workspace, rerun=True))
    assert facts["failed_jobs"] == ["no-such-ci-tool --check"]
    assert [job["conclusion"] for job in facts["jobs"]] == ["failure", "success"]
    assert "command not found: no-such-ci-tool" in facts["log_tail"]


# ------------------------------------------------------------------------- resolve_ci_failure


def test_resolve_fixes_lint_commits_pushes_and_ci_goes_green(workspace: Path) -> None:
    commit_and_push(workspace, "calc.py", CALC_WITH_LINT, "lint regression")
    assert monitor_ci(MonitorCiArgs(workdir=workspace))["passed"] is False
    write(workspace / "notes.txt", "my uncommitted notes\n")

    facts = resolve_ci_failure(ResolveCiFailureArgs(workdir=workspace))
    assert facts["fixed"] is True
    assert facts["fixed_files"] == ["calc.py"]
    assert facts["remaining_lint_errors"] == 0
    assert facts["pushed"] is True
    assert "notes.txt" in facts["skipped_dirty_files"]
    shown = git(workspace, "show", "--name-only", "--format=%s", "HEAD").split()
    assert shown == ["style:", "apply", "automatic", "ruff", "fixes", "calc.py"]
    assert git(workspace / ".goap" / "remote.git", "rev-parse", "main") == facts["sha"]
    assert monitor_ci(MonitorCiArgs(workdir=workspace))["passed"] is True


def test_resolve_diagnoses_a_test_failure_and_changes_nothing(workspace: Path) -> None:
    (workspace / "spaced.py").write_text("def sub(a, b):\n    return a-b\n")  # ruff format would
    git(workspace, "add", "spaced.py")  # change it, but no failure names it
    failing = "from calc import add\n\n\ndef test_add() -> None:\n    assert add(2, 2) == 5\n"
    commit_and_push(workspace, "tests/test_calc.py", failing, "broken test")
    assert FAST_PYTEST in monitor_ci(MonitorCiArgs(workdir=workspace))["failed_jobs"]
    (workspace / "calc_data.json").write_text("{}")  # a file CI never sees
    head = git(workspace, "rev-parse", "HEAD")
    with pytest.raises(ActionFailed, match="failing tests: tests/test_calc.py::test_add") as error:
        resolve_ci_failure(ResolveCiFailureArgs(workdir=workspace))
    assert "first error: E" in error.value.message and "assert 4 == 5" in error.value.tail
    assert "calc_data.json (untracked)" in error.value.message
    assert error.value.facts["fixed"] is False
    assert error.value.facts["failing_tests"] == ["tests/test_calc.py::test_add"]
    assert git(workspace, "rev-parse", "HEAD") == head  # nothing committed, nothing pushed
    assert (workspace / "spaced.py").read_text() == "def sub(a, b):\n    return a-b\n"


def test_resolve_is_a_no_op_when_ci_passed(workspace: Path) -> None:
    monitor_ci(MonitorCiArgs(workdir=workspace))
    facts = resolve_ci_failure(ResolveCiFailureArgs(workdir=workspace))
    assert (facts["fixed"], facts["ci_passed"]) == (False, True)


# ----------------------------------------------------------------------------- GitHub backend


class FakeGitHub:
    """GitHub REST answers for one commit: workflow run 7 with jobs, and check runs."""

    def __init__(self, conclusion: str, polls_before_done: int = 0) -> None:
        self.conclusion = conclusion
        self.polls_left = polls_before_done

    def _status(self) -> str:
        return "in_progress" if self.polls_left > 0 else "completed"

    def runs(self, request: Request, match: re.Match[str]) -> tuple[int, Any]:
        status = self._status()
        base = f"http://{request.headers['host']}"
        run = {
            "id": 7,
            "name": "CI",
            "head_sha": match.group(1),
            "status": status,
            "conclusion": self.conclusion if status == "completed" else None,
            "html_url": "https://github.example/acme/cats/actions/runs/7",
            "jobs_url": f"{base}/repos/acme/cats/actions/runs/7/jobs",
        }
        return 200, {"total_count": 1, "workflow_runs": [run]}

    def jobs(self, request: Request, match: re.Match[str]) -> tuple[int, Any]:
        failed = "failure" if self.conclusion == "failure" else "success"
        jobs = [
            {"id": 1, "name": "lint", "status": "completed", "conclusion": "success"},
            {"id": 2, "name": "test (3.11)", "status": "completed", "conclusion": failed},
        ]
        return 200, {"total_count": 2, "jobs": jobs}

    def check_runs(self, request: Request, match: re.Match[str]) -> tuple[int, Any]:
        status = self._status()
        self.polls_left -= 1
        check = {"id": 3, "name": "lint", "status": status, "conclusion": "success"}
        if status != "completed":
            check["conclusion"] = None
        return 200, {"total_count": 1, "check_runs": [check]}


def github_config(workdir: Path, api_url: str) -> None:
    write_config(
        workdir,
        f"""
[backends]
ci = "github"

[github]
repo = "acme/cats"
api_url = "{api_url}"
poll_initial_s = 0.05
poll_max_s = 0.1
timeout_s = 20
""",
    )


def serve_github(server: Any, fake: FakeGitHub) -> None:
    server.route("GET", r"/repos/acme/cats/actions/runs\?.*head_sha=(\w+).*", fake.runs)
    server.route("GET", r"/repos/acme/cats/actions/runs/7/jobs.*", fake.jobs)
    server.route("GET", r"/repos/acme/cats/commits/(\w+)/check-runs.*", fake.check_runs)


def test_github_ci_is_polled_until_completed(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", FAKE_GITHUB_TOKEN)
    sha = git(workspace, "rev-parse", "HEAD")
    with json_server() as server:
        serve_github(server, FakeGitHub("success", polls_before_done=1))
        github_config(workspace, server.url)
        facts = monitor_ci(MonitorCiArgs(workdir=workspace))
    assert (facts["backend"], facts["conclusion"], facts["passed"]) == ("github", "success", True)
    assert facts["url"] == "https://github.example/acme/cats/actions/runs/7"
    run_queries = [r for r in server.requests if "/actions/runs?" in r.path]
    assert len(run_queries) == 2
    assert all(f"head_sha={sha}" in r.path for r in run_queries)
    assert server.requests[0].headers["authorization"] == f"token {FAKE_GITHUB_TOKEN}"
    assert FAKE_GITHUB_TOKEN not in json.dumps(facts)


def test_github_failure_records_failing_job_names(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", FAKE_GITHUB_TOKEN)
    with json_server() as server:
        serve_github(server, FakeGitHub("failure"))
        github_config(workspace, server.url)
        facts = monitor_ci(MonitorCiArgs(workdir=workspace))
        sensed = ci_status(CiStatusArgs(workdir=workspace))
    assert (facts["conclusion"], facts["passed"]) == ("failure", False)
    assert facts["failed_jobs"] == ["CI", "test (3.11)"]
    assert sensed["failed_jobs"] == facts["failed_jobs"]


def test_github_poll_timeout_is_a_failure_to_monitor(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", FAKE_GITHUB_TOKEN)
    with json_server() as server:
        serve_github(server, FakeGitHub("success", polls_before_done=1000))
        github_config(workspace, server.url)
        with pytest.raises(ActionFailed, match="still in_progress after 0.5s") as error:
            monitor_ci(MonitorCiArgs(workdir=workspace, timeout_s=0.5))
    assert error.value.facts["status"] == "in_progress"


def test_github_api_error_is_reported_without_the_token(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", FAKE_GITHUB_TOKEN)
    with json_server() as server:  # no routes: every request is a 404
        github_config(workspace, server.url)
        with pytest.raises(ActionFailed, match="GitHub API answered 404 for acme/cats") as error:
            ci_status(CiStatusArgs(workdir=workspace))
    assert FAKE_GITHUB_TOKEN not in f"{error.value.message}{error.value.tail}{error.value.facts}"


def test_github_without_token_names_the_variable_and_sends_nothing(workspace: Path) -> None:
    with json_server() as server:
        github_config(workspace, server.url)
        with pytest.raises(ActionFailed, match="GITHUB_TOKEN is not set"):
            monitor_ci(MonitorCiArgs(workdir=workspace))
    assert server.requests == []


def test_github_without_repo_is_a_config_error(workspace: Path) -> None:
    write_config(workspace, '[backends]\nci = "github"\n')
    with pytest.raises(ConfigError, match=r"\[github\] repo is not set"):
        ci_status(CiStatusArgs(workdir=workspace))
