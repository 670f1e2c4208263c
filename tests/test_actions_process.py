"""actions.process and actions.credentials: process-tree timeouts, cleanup, redaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_actions_support import FAKE_GITHUB_TOKEN, FAKE_HF_TOKEN, isolated_env  # noqa: F401

from actions.credentials import find_secrets, redact, token_from_env
from actions.process import command_argv, run_process
from goap.executor import ActionFailed

pytestmark = pytest.mark.usefixtures("isolated_env")
ROOT = Path(__file__).resolve().parent.parent


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_timeout_kills_the_whole_tree_and_keeps_output(tmp_path: Path) -> None:
    marker = "31.4159"
    script = f"echo started; sleep {marker} & sleep {marker}"
    result = run_process(["sh", "-c", script], tmp_path, timeout_s=0.5)
    assert result.timed_out is True
    assert result.returncode is None
    assert result.ok is False
    assert "started" in result.output
    assert result.duration_s < 5
    assert wait_until(lambda: not processes_with(marker))


def start_executor(cwd: Path, argv: list[str]) -> subprocess.Popen[bytes]:
    """A Python process that runs ``argv`` through run_process, as the engine's worker would."""
    code = (
        "from pathlib import Path\n"
        "from actions.process import run_process\n"
        f"run_process({argv!r}, Path('.'), 60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=env)


def test_sigterm_to_the_executor_kills_the_command_tree(tmp_path: Path) -> None:
    marker = "32.7182"
    executor = start_executor(tmp_path, ["sh", "-c", f"sleep {marker} & sleep {marker}"])
    try:
        assert wait_until(lambda: len(processes_with(marker)) >= 2)
        time.sleep(0.2)  # the group is registered just after Popen returns: let that happen
        executor.terminate()
        executor.wait(timeout=10)
        assert executor.returncode == -signal.SIGTERM
        assert wait_until(lambda: not processes_with(marker))
    finally:
        executor.kill()
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)


def test_command_dies_with_a_killed_executor(tmp_path: Path) -> None:
    marker = "33.1415"
    executor = start_executor(tmp_path, ["sleep", marker])
    try:
        assert wait_until(lambda: len(processes_with(marker)) == 2)  # executor and sleep
        executor.kill()
        executor.wait(timeout=10)
        assert wait_until(lambda: not processes_with(marker))
    finally:
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)


def test_output_is_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    printed = f"token={FAKE_HF_TOKEN} other={FAKE_GITHUB_TOKEN}"
    result = run_process(["echo", printed], tmp_path, timeout_s=10)
    assert result.ok
    assert FAKE_HF_TOKEN not in result.output
    assert FAKE_GITHUB_TOKEN not in result.output
    assert "other=" in result.output


def test_missing_command_is_a_clear_failure(tmp_path: Path) -> None:
    with pytest.raises(ActionFailed, match="command not found: no-such-tool-xyz"):
        run_process(["no-such-tool-xyz"], tmp_path, timeout_s=5)


def test_command_argv_uses_this_python() -> None:
    assert command_argv("python -m pytest -q")[:3] == [sys.executable, "-m", "pytest"]
    with pytest.raises(ValueError, match="empty command"):
        command_argv("  ")


# -------------------------------------------------------------------------------- credentials


def test_find_secrets_reports_lines_and_kinds_only() -> None:
    text = f"a = 1\nkey = '{FAKE_GITHUB_TOKEN}'\n\nurl = 'https://bob:hunter22@example.com/x'\n"
    findings = find_secrets(text)
    assert [(f.line, f.kind) for f in findings] == [(2, "GitHub token"), (4, "password in URL")]


def test_redact_masks_patterns_given_values_and_secret_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_SERVICE_PASSWORD", "pa55word-value")
    text = f"gh={FAKE_GITHUB_TOKEN} pw=pa55word-value plain=visible given=abc123xyz"
    masked = redact(text, ["abc123xyz"])
    assert FAKE_GITHUB_TOKEN not in masked
    assert "pa55word-value" not in masked
    assert "abc123xyz" not in masked
    assert "plain=visible" in masked


def test_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ActionFailed, match="environment variable HF_TOKEN is not set") as error:
        token_from_env("HF_TOKEN", "the Hub")
    assert error.value.facts == {"token_env": "HF_TOKEN", "token_present": False}
    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    assert token_from_env("HF_TOKEN", "the Hub") == FAKE_HF_TOKEN
