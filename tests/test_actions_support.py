"""Helpers for the actions tests: real git repositories in tmp dirs, a canned-JSON HTTP server.

Not a test module (it holds no tests); its name follows the tests/test_actions_* convention.
Fake credentials are built at run time so no token-shaped literal sits in the repository.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

FAKE_GITHUB_TOKEN = "ghp_" + "FAKEgithub" * 4
FAKE_HF_TOKEN = "hf_" + "FAKEhugging" * 3
SECRET_ENV = (
    "GOAP_CI_BACKEND",
    "GOAP_HUB_BACKEND",
    "GOAP_TRAIN_BACKEND",
    "GITHUB_TOKEN",
    "HF_TOKEN",
)


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No backend override or real token from the caller's environment leaks into a test."""
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)


def git(cwd: Path, *args: str) -> str:
    """Run the git CLI (independently of GitPython) and return its stripped stdout."""
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


def init_repo(path: Path, *, commit: bool = True) -> Path:
    """A git repository on branch main with a local identity and (optionally) one commit."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test User")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "commit.gpgsign", "false")
    if commit:
        write(path / "README.md", "# workspace\n")
        git(path, "add", "README.md")
        git(path, "commit", "-q", "-m", "initial")
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_config(workdir: Path, text: str) -> Path:
    return write(workdir / "goap.toml", text)


# ------------------------------------------------------------------------ canned HTTP server


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


Handler = Callable[[Request, re.Match[str]], tuple[int, Any]]


@dataclass
class JsonServer:
    """Answers routes (method, path regex) with canned JSON; records every request; 404 else."""

    routes: list[tuple[str, str, Handler]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, pattern, handler))

    def answer(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        self.requests.append(request)
        for method, pattern, handler in self.routes:
            match = re.fullmatch(pattern, request.path)
            if method == request.method and match:
                status, body = handler(request, match)
                return status, body, {}
        return 404, {"message": "Not Found"}, {"X-Error-Code": "RepoNotFound"}


@contextmanager
def json_server() -> Iterator[JsonServer]:
    """A JsonServer listening on 127.0.0.1 (a free port) in a thread, for one test."""
    server = JsonServer()

    class _Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = Request(self.command, self.path, headers, body)
            status, payload, headers = server.answer(request)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.url = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
