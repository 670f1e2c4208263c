"""Shared helpers: write catalogs into tmp dirs and run the real `goap` CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from facts_guard import VIOLATIONS, install
from typer.testing import CliRunner

from goap.faces.cli import app

ROOT = Path(__file__).resolve().parent.parent
GUARDED = install()  # before any test module imports an executor


@pytest.fixture(autouse=True)
def facts_are_declared():
    """Fail the test during which an executor returned a fact it does not declare."""
    seen = len(VIOLATIONS)
    yield
    found = VIOLATIONS[seen:]
    del VIOLATIONS[seen:]
    if found:
        pytest.fail("\n".join(dict.fromkeys(found)), pytrace=False)


def goap_cmd(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `goap` as a real process (python -m goap)."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "goap", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.stdout, result.stderr

    return invoke


@pytest.fixture
def write(tmp_path: Path):
    """Write a dedented text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return _write


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
