"""Shared helpers of the dashboard tests: a tiny catalog of sleeping ``cmd:`` steps, and
``goap ui`` started as a real process on 127.0.0.1 (port 0) and stopped by the test.

Imported by the test modules (``from conftest_dashboard import ...``). ``goap ui`` comes
from the ``goap.commands`` entry point that pyproject.toml declares; an editable install made
before the dashboard existed lacks it, so then (and only then) the server process gets a
one-file distribution on its path declaring that same entry point, and still finds the
command the way an installed goap does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# Each step sleeps a little; build says its progress through the channel, three times.
CATALOG = """\
version: 1
name: tiny
state: {fetched: false, built: false, checked: false, shipped: false}
goal: {shipped: true}
actions:
  fetch:
    effects: {fetched: true}
    cmd: ["sh", "-c", "echo fetching; sleep SLEEP; echo fetched"]
  build:
    pre: {fetched: true}
    effects: {built: true}
    cost: 2
    cmd: ["sh", "BUILD"]
  check:
    pre: {fetched: true}
    effects: {checked: true}
    cmd: ["sh", "-c", "sleep SLEEP; echo checked"]
  ship:
    pre: {built: true, checked: true}
    effects: {shipped: true}
    cmd: ["sh", "-c", "sleep SLEEP; echo shipped"]
  detour:
    effects: {built: true}
    cost: 9
    cmd: ["true"]
"""
BUILD = """\
for i in 1 2 3; do
  echo "{\\"step\\": $i, \\"total\\": 3, \\"message\\": \\"building\\"}" >> "$GOAP_PROGRESS"
  echo "building $i"
  sleep SLEEP
done
"""


def write_catalog(folder: Path, sleep: float = 0.4, extra: str = "") -> Path:
    """The tiny catalog (and build's script) in ``folder``; ``extra``: more YAML lines."""
    (folder / "build.sh").write_text(BUILD.replace("SLEEP", f"{sleep:g}"))
    text = CATALOG.replace("SLEEP", f"{sleep:g}").replace("BUILD", str(folder / "build.sh"))
    path = folder / "tiny.yaml"
    path.write_text(text + textwrap.dedent(extra))
    return path


def _entry_point_path(tmp: Path) -> list[str]:
    """Where the server finds `goap ui`: nothing extra when the installed goap declares it."""
    if any(p.name == "ui" for p in entry_points(group="goap.commands")):
        return []
    info = tmp / "entry" / "goap_ui_checkout-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: goap-ui-checkout\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[goap.commands]\nui = dashboard.command:ui_cmd\n")
    return [str(tmp / "entry")]


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str  # ends with /
    token: str
    page: str  # the URL with the token in its fragment, as printed
    state: Path
    workdir: Path

    def request(
        self,
        path: str,
        method: str = "GET",
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, JSON document or text) of one request; errors are answers too."""
        data = json.dumps(body).encode() if body is not None else (b"" if method != "GET" else None)
        request = urllib.request.Request(self.url + path.lstrip("/"), data=data, method=method)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text, kind = response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as exc:
            status, text, kind = exc.code, exc.read().decode(), exc.headers
        if "json" in kind.get("Content-Type", ""):
            return status, json.loads(text)
        return status, text

    def get(self, path: str) -> Any:
        status, document = self.request(path)
        assert status == 200, (status, document)
        return document

    def wait_for(self, test: Any, timeout: float = 60, what: str = "") -> dict[str, Any]:
        """Poll the snapshot until ``test(snapshot)`` holds; the last one when it does."""
        deadline = time.monotonic() + timeout
        while True:
            document = self.get("/api/snapshot")
            if test(document):
                return document
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {document}")
            time.sleep(0.1)


def goap_env(tmp: Path) -> dict[str, str]:
    """The environment of a `goap` process that has `goap ui` (this checkout first)."""
    paths = [str(ROOT), *_entry_point_path(tmp), os.environ.get("PYTHONPATH", "")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, paths)))


def start_server(tmp: Path, catalog: Path, workdir: Path, *extra: str) -> Server:
    state = workdir / "tiny_state.json"
    env = goap_env(tmp)
    argv = [sys.executable, "-m", "goap", "ui", str(catalog), "--state", str(state)]
    argv += ["--workdir", str(workdir), "--port", "0", "--json", *extra]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp
    )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(60)
    if not line or not line[0].strip():
        process.kill()
        raise AssertionError(f"goap ui did not start: {process.communicate(timeout=10)}")
    found = json.loads(line[0])
    assert found["url"].startswith("http://127.0.0.1:"), found
    return Server(process, found["url"], found["token"], found["page"], state, workdir)


def stop_server(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)


def wait_for_run_end(server: Server, timeout: float = 60) -> dict[str, Any]:
    """The snapshot once the run ended and let go of the state file."""
    return server.wait_for(
        lambda d: d["status"] not in ("pending", "running") and not d["lock"]["held"],
        timeout,
        "the run to end",
    )


def events(server: Server, seconds: float) -> Iterator[dict[str, Any]]:
    """The snapshots the event stream sends during ``seconds``."""
    request = urllib.request.Request(server.url + "api/events")
    deadline = time.monotonic() + seconds
    with urllib.request.urlopen(request, timeout=seconds + 5) as stream:
        for raw in stream:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                yield json.loads(line[len("data: ") :])
            if time.monotonic() > deadline:
                return
