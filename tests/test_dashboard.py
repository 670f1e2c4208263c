"""`goap ui`: the server as a real process on 127.0.0.1, against real runs of a tiny catalog.

What a page reads (snapshot, event stream, graph, attempts with their logs, artifacts and
the registry), what it may write only with the token (401 without, 202 with), and that bad
requests are JSON 4xx answers, never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest_dashboard import (
    Server,
    events,
    goap_env,
    start_server,
    stop_server,
    wait_for_run_end,
    write_catalog,
)

from state.store import StateLock

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


@pytest.fixture
def server(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    started = start_server(tmp_path, write_catalog(tmp_path), work)
    yield started
    stop_server(started)


def test_before_any_run_it_shows_the_plan_and_the_initial_world(server: Server):
    snap = server.get("/api/snapshot")
    assert snap["status"] == "pending" and snap["attempts"] == []
    assert snap["next_plan"]["plan"] == ["fetch", "build", "check", "ship"]
    assert snap["next_plan"]["cost"] == 5 and snap["next_plan"]["optimal"]
    assert snap["world_state"] == {
        "fetched": False,
        "built": False,
        "checked": False,
        "shipped": False,
    }
    assert snap["lock"] == {"held": False, "pid": None}
    svg = server.get("/api/graph.svg")
    assert svg.startswith("<svg") and 'data-action="detour"' in svg
    # the plan's four steps are numbered and drawn as the plan; the detour is not
    assert svg.count('class="node plan"') == 4 and "1. fetch" in svg and "4. ship" in svg
    assert '<g class="node" data-action="detour"' in svg


def test_writes_need_the_token(server: Server):
    for token in (None, "", "not-the-token", server.token + "x"):
        status, answer = server.request("/api/run", "POST", token=token)
        assert status == 401 and "token" in answer["error"], (token, answer)
    status, answer = server.request(
        "/api/run", "POST", headers={"Authorization": f"Basic {server.token}"}
    )
    assert status == 401
    assert server.get("/api/snapshot")["status"] == "pending"  # nothing started
    assert server.request("/api/token", "POST", token=server.token) == (200, {"ok": True})
    status, answer = server.request("/api/approvals/ship", "POST", {"approve": True})
    assert status == 401
    assert server.page == f"{server.url}#token={server.token}"


def test_a_run_started_from_the_dashboard_is_seen_live_and_journaled(server: Server):
    seen: list[dict] = []

    def watch() -> None:  # the page's event stream, open before the run starts
        for snap in events(server, 40):
            seen.append(snap)
            if snap["status"] == "completed" and not snap["lock"]["held"]:
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    status, started = server.request("/api/run", "POST", token=server.token)
    assert status == 202, started
    assert started["command"][-1] != "--resume" and "run" in started["command"]
    watcher.join(45)
    statuses = [s["status"] for s in seen]
    assert statuses[-1] == "completed", statuses
    assert "running" in statuses
    # the steps were seen in flight, one after another, build with its progress records
    flying = [a["action"] for s in seen for a in s["in_flight"]]
    assert {"fetch", "build", "check", "ship"} <= set(flying)
    progress = [a["progress"] for s in seen for a in s["in_flight"] if a["action"] == "build"]
    assert {"step": 2, "total": 3, "message": "building"} in progress or {
        "step": 3,
        "total": 3,
        "message": "building",
    } in progress, progress
    assert any(s["lock"]["held"] and s["lock"]["pid"] == started["pid"] for s in seen)
    last = seen[-1]
    assert [a["action"] for a in last["attempts"]][0] == "fetch"
    assert {a["outcome"] for a in last["attempts"]} == {"succeeded"}
    assert all(a["duration_s"] > 0.3 for a in last["attempts"])
    assert last["world_state"]["shipped"] is True
    ended = server.wait_for(lambda d: not d["dashboard_run"]["running"], 30, "the process to end")
    assert ended["dashboard_run"]["exit_code"] == 0
    build = next(a for a in last["attempts"] if a["action"] == "build")
    detail = server.get(f"/api/attempts/{build['seq']}")
    assert "building 3" in detail["log"]["tail"] and detail["log"]["bytes"] > 0
    assert Path(started["log"]).is_file()  # the run's own output, beside the state's logs
    svg = server.get("/api/graph.svg")
    assert 'data-action="build" data-state="done"' in svg
    # the state file is the one `goap run` wrote: the dashboard reads it as other commands do
    state = json.loads(server.state.read_text())
    assert state["status"] == "completed" and len(state["history"]) == 4


def test_it_refuses_to_start_while_another_process_holds_the_state(server: Server):
    with StateLock(server.state):
        snap = server.get("/api/snapshot")
        assert snap["lock"] == {"held": True, "pid": os.getpid()}
        status, answer = server.request("/api/run", "POST", token=server.token)
        assert status == 409 and str(os.getpid()) in answer["error"], answer
    assert server.get("/api/snapshot")["lock"]["held"] is False


def test_a_failed_run_shows_the_failure_and_its_tail(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    catalog = write_catalog(tmp_path)
    text = catalog.read_text().replace(
        'cmd: ["sh", "-c", "sleep 0.4; echo checked"]',
        'cmd: ["sh", "-c", "echo the check broke >&2; exit 3"]\n    retry: {attempts: 1}',
    )
    catalog.write_text(text)
    server = start_server(tmp_path, catalog, work)
    try:
        assert server.request("/api/run", "POST", token=server.token)[0] == 202
        end = wait_for_run_end(server)
        assert end["status"] in ("failed", "escalated"), end
        assert end["failures"] and end["failures"][0]["action"] == "check"
        failed = [a for a in end["attempts"] if a["outcome"] == "failed"]
        assert failed and failed[0]["has_tail"]
        detail = server.get(f"/api/attempts/{failed[0]['seq']}")
        assert "the check broke" in detail["tail"]
        assert 'data-action="check" data-state="failed"' in server.get("/api/graph.svg")
        # a second start resumes or restarts by goap's own rules, never two at once
        status, again = server.request("/api/run", "POST", token=server.token)
        assert status in (202, 409), again
    finally:
        stop_server(server)


def test_artifacts_and_the_local_registry(tmp_path: Path):
    work = tmp_path / "work"
    (work / "artifacts" / "onnx").mkdir(parents=True)
    (work / "artifacts" / "onnx" / "model.onnx").write_bytes(b"x" * 123)
    (work / "artifacts" / "metrics.json").write_text('{"accuracy": 0.9}')
    os.symlink("/etc/passwd", work / "artifacts" / "link")  # links are not listed
    (work / "goap.toml").write_text('[registry]\npath = "reg"\n')
    version = work / "reg" / "tiny-cats" / "v2"
    version.mkdir(parents=True)
    (version / "manifest.json").write_text(
        json.dumps({"name": "tiny-cats", "content_hash": "abc", "files": [{"path": "m.onnx"}]})
    )
    (version / "validation_report.json").write_text('{"passed": true}')
    (work / "reg" / "tiny-cats" / "v1").mkdir()  # no manifest: not a version
    server = start_server(tmp_path, write_catalog(tmp_path), work)
    try:
        found = server.get("/api/artifacts")
    finally:
        stop_server(server)
    files = {f["path"]: f["bytes"] for f in found["artifacts"]["files"]}
    assert files == {"onnx/model.onnx": 123, "metrics.json": 17}
    assert found["registry"]["root"] == str(work / "reg")
    (model,) = found["registry"]["models"]
    assert model["name"] == "tiny-cats"
    assert [v["version"] for v in model["versions"]] == ["v2"]
    assert model["versions"][0]["manifest"]["content_hash"] == "abc"
    assert model["versions"][0]["validation_report"] == {"passed": True}


def test_bad_requests_are_json_errors_never_tracebacks(server: Server):
    for path, method, code in [
        ("/api/attempts/99", "GET", 404),
        ("/api/attempts/abc", "GET", 404),
        ("/api/nothing", "GET", 404),
        ("/api/snapshot", "POST", 405),
        ("/api/run", "GET", 405),
    ]:
        status, answer = server.request(path, method)
        assert status == code and isinstance(answer, dict) and answer["error"], (path, answer)
        assert "Traceback" not in json.dumps(answer)
    for body in ({"approve": "yes"}, {"why": "x"}, {"approve": True, "extra": 1}, [1]):
        status, answer = server.request("/api/approvals/ship", "POST", body, token=server.token)
        assert status == 400 and "approve" in answer["error"], (body, answer)
    # a page whose name was rebound to 127.0.0.1 sends its own Host: refused
    status, answer = server.request("/api/snapshot", headers={"Host": "evil.example"})
    assert status == 400 and "not served" in answer["error"]
    status, answer = server.request("/", headers={"Host": "localhost"})
    assert status == 200 and "<!doctype html>" in answer


def test_an_unreadable_state_file_is_said_and_the_server_keeps_serving(server: Server):
    server.state.write_text("{not json")
    snap = server.get("/api/snapshot")
    assert snap["status"] == "unreadable" and str(server.state) in snap["error"]
    status, answer = server.request("/api/run", "POST", token=server.token)
    assert status == 409 and "not valid JSON" in answer["error"]
    server.state.unlink()
    assert server.get("/api/snapshot")["status"] == "pending"


def test_bad_options_are_one_message(tmp_path: Path):
    catalog = write_catalog(tmp_path)
    for args, said in [
        (["--workdir", str(tmp_path / "nope")], "no such directory"),
        (["--port", "70000"], "--port 70000"),
        (["--host", "203.0.113.9"], "cannot listen there"),  # not an address of this machine
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "goap", "ui", str(catalog), *args, "--json"],
            env=goap_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2 and said in json.loads(result.stdout)["error"], result
        assert "Traceback" not in result.stderr
