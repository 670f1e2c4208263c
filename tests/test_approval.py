"""Approval gates: real `goap` processes, real state files, real kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, goap_cmd, read_json

from goap.loading.catalog import CatalogError, load_catalog
from goap.running.approval import answer, answers_path, pending
from goap.running.errors import RunError
from goap.running.record import RunRecord
from state.model import StateError
from state.store import StateLock, load_state, read_document

SH = "/bin/sh"


def counted(name: str) -> list[str]:
    return [SH, "-c", f"mkdir -p counts && echo ran >> counts/{name}"]


def gated_catalog(tmp_path: Path, second_route: bool = False) -> Path:
    """build, then upload (gated); with ``second_route``, a dearer mirror does it too."""
    actions = {
        "build": {"cost": 1, "effects": {"built": True}, "cmd": counted("build")},
        "upload": {
            "id": "A12",
            "cost": 1,
            "pre": {"built": True},
            "effects": {"published": True},
            "cmd": counted("upload"),
            "approval": {"required": True, "reason": "publishes to the hub"},
        },
    }
    if second_route:
        actions["mirror"] = {
            "cost": 5,
            "pre": {"built": True},
            "effects": {"published": True},
            "cmd": counted("mirror"),
        }
    doc = {
        "version": 1,
        "name": "gated",
        "state": {"built": False, "published": False},
        "goal": {"published": True},
        "actions": actions,
    }
    path = tmp_path / "gated.yaml"
    path.write_text(json.dumps(doc))
    return path


def runs(tmp_path: Path, name: str) -> int:
    path = tmp_path / "counts" / name
    return len(path.read_text().splitlines()) if path.exists() else 0


def spawn(cat: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "goap", "run", str(cat), "--workdir", str(cat.parent), *extra],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def waiting(state: Path, timeout: float = 30) -> dict:
    """The state file once it says the run waits for an approval."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            data = read_json(state)
            if data["status"] == "waiting_approval" and data["awaiting"]:
                return data
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"the run never waited: {state.read_text()[:2000]}")


def test_run_waits_survives_kill_9_and_continues_once_approved(tmp_path):
    cat = gated_catalog(tmp_path)
    state = tmp_path / "gated_state.json"
    first = spawn(cat)
    data = waiting(state)
    assert data["awaiting"][0]["action"] == "upload"
    assert data["awaiting"][0]["reason"] == "publishes to the hub"
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert read_json(state)["status"] == "waiting_approval"  # what kill -9 left
    resumed = spawn(cat, "--resume")
    try:
        time.sleep(1.5)  # the resumed run gets as far as the gate again, and keeps waiting
        assert resumed.poll() is None
        data = waiting(state)
        assert [p["action"] for p in pending(state)] == ["upload"]
        approved = goap_cmd(
            "approve", str(cat), "upload", "--as", "alice", "--why", "release 1.2", "--json"
        )
        assert approved.returncode == 0, approved.stderr
        decision = json.loads(approved.stdout)
        assert decision["decision"] == "approved" and decision["who"] == "alice"
        assert decision["queued"] is True  # the runner holds the state: it takes it in
        assert pending(state) == []  # a queued answer counts as given
        assert resumed.wait(30) == 0
    finally:
        if resumed.poll() is None:
            resumed.kill()
    assert "waiting for approval of A12 upload" in resumed.stderr.read()
    assert runs(tmp_path, "build") == 1 and runs(tmp_path, "upload") == 1
    data = read_json(state)
    assert data["status"] == "completed" and data["awaiting"] == []
    entry = next(e for e in data["history"] if e["action"] == "upload")
    assert entry["outcome"] == "succeeded"
    assert entry["approval"]["who"] == "alice" and entry["approval"]["why"] == "release 1.2"
    assert entry["approval"]["at"] == decision["at"]
    assert data["approvals"][0]["used"] is True
    assert answers_path(state).read_text() == ""  # taken in


def test_an_answer_the_runner_takes_while_pending_reads_still_counts(tmp_path, monkeypatch):
    """The runner may take a queued answer between pending's two reads (CI met it)."""
    import goap.running.approval as approval

    cat = gated_catalog(tmp_path)
    state = tmp_path / "gated_state.json"
    assert goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--no-wait").returncode == 4
    runner = StateLock(state)
    runner.acquire()  # as a live runner does: the answer is queued for it
    try:
        assert answer(cat, state, "upload", approve=True, who="ida")["queued"] is True
        catalog = load_catalog(cat)
        taken = []

        def runner_takes_after(read):
            def first_read_then_take(*args):
                out = read(*args)
                if not taken:
                    record = RunRecord(catalog, state, load_state(state, catalog.schema, "gated"))
                    taken.extend(approval.take(record))
                return out

            return first_read_then_take

        monkeypatch.setattr(approval, "_queued", runner_takes_after(approval._queued))
        monkeypatch.setattr(approval, "read_document", runner_takes_after(read_document))
        assert pending(state) == []
        assert [d.action for d in taken] == ["upload"]
    finally:
        runner.release()


def test_no_wait_ends_the_run_and_approve_applies_to_the_state_file(tmp_path):
    cat = gated_catalog(tmp_path)
    state = tmp_path / "gated_state.json"
    first = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--no-wait", "--json")
    assert first.returncode == 4, first.stderr
    document = json.loads(first.stdout)
    assert document["status"] == "waiting_approval"
    assert [a["action"] for a in document["awaiting"]] == ["upload"]
    shown = goap_cmd("state", "show", str(cat), "--json")
    assert json.loads(shown.stdout)["status"] == "waiting_approval"
    assert json.loads(shown.stdout)["awaiting"][0]["action"] == "upload"
    again = goap_cmd("run", str(cat), "--workdir", str(tmp_path))
    assert again.returncode == 2 and "goap approve" in again.stderr
    # still waiting: resume --no-wait ends again, nothing ran twice
    waits = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume", "--no-wait")
    assert waits.returncode == 4 and runs(tmp_path, "upload") == 0
    decision = answer(cat, state, "upload", approve=True, who="bob", why="ok")
    assert decision["queued"] is False and decision["decision"] == "approved"
    assert set(decision) >= {"action", "decision", "who", "why", "at"}
    assert pending(state) == []
    done = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume", "--no-wait")
    assert done.returncode == 0, done.stderr
    assert runs(tmp_path, "build") == 1 and runs(tmp_path, "upload") == 1
    # a new run asks again: an approval is used by one start
    state_reset = goap_cmd("state", "reset", str(cat))
    assert state_reset.returncode == 0
    asks = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--no-wait")
    assert asks.returncode == 4 and runs(tmp_path, "upload") == 1


def test_deny_routes_around_the_action(tmp_path):
    cat = gated_catalog(tmp_path, second_route=True)
    state = tmp_path / "gated_state.json"
    proc = spawn(cat, "--json")
    try:
        waiting(state)
        denied = goap_cmd("deny", str(cat), "upload", "--as", "carol", "--why", "not today")
        assert denied.returncode == 0, denied.stderr
        assert proc.wait(30) == 0, proc.stderr
    finally:
        if proc.poll() is None:
            proc.kill()
    result = json.loads(proc.stdout.read())
    assert [e["action"] for e in result["executed"]] == ["build", "mirror"]
    assert runs(tmp_path, "upload") == 0 and runs(tmp_path, "mirror") == 1
    data = read_json(state)
    assert data["approvals"][0]["decision"] == "denied"
    assert data["approvals"][0]["who"] == "carol" and data["approvals"][0]["why"] == "not today"


def test_deny_with_no_other_route_ends_with_a_report_naming_it(tmp_path):
    cat = gated_catalog(tmp_path)
    state = tmp_path / "gated_state.json"
    assert goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--no-wait").returncode == 4
    denied = goap_cmd("deny", str(cat), "upload", "--as", "dan", "--why", "bad numbers")
    assert denied.returncode == 0, denied.stderr
    twice = goap_cmd("deny", str(cat), "upload")
    assert twice.returncode == 2 and "already denied" in twice.stderr
    ended = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume", "--json")
    assert ended.returncode == 3, ended.stderr
    message = json.loads(ended.stdout)["message"]
    assert "upload (denied by dan" in message and "bad numbers" in message
    data = read_json(state)
    assert data["status"] == "failed" and "denied by dan" in data["report"]
    assert runs(tmp_path, "upload") == 0


def test_answers_that_answer_nothing_are_clear_errors(tmp_path):
    cat = gated_catalog(tmp_path, second_route=True)
    state = tmp_path / "gated_state.json"
    none_yet = goap_cmd("approve", str(cat), "upload", "--json")
    assert (
        none_yet.returncode == 2
        and "nothing awaits approval" in json.loads(none_yet.stdout)["error"]
    )
    assert goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--no-wait").returncode == 4
    ungated = goap_cmd("approve", str(cat), "mirror")
    assert ungated.returncode == 2 and "needs no approval" in ungated.stderr
    unknown = goap_cmd("deny", str(cat), "nope")
    assert unknown.returncode == 2 and "unknown action 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    with pytest.raises(RunError, match="say who answers"):
        answer(cat, state, "upload", approve=True, who="  ")
    # once answered, nothing is awaited: approving again is an error, not a second approval
    answer(cat, state, "upload", approve=True, who="erin")
    with pytest.raises(RunError, match="not awaiting approval"):
        answer(cat, state, "upload", approve=True, who="erin")


def test_the_answers_file_is_never_a_link(tmp_path):
    cat = gated_catalog(tmp_path)
    state = tmp_path / "gated_state.json"
    assert goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--no-wait").returncode == 4
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me\n")
    answers_path(state).symlink_to(target)
    refused = goap_cmd("approve", str(cat), "upload", "--as", "mallory")
    assert refused.returncode == 2 and "symbolic link" in refused.stderr
    assert target.read_text() == "keep me\n"
    with pytest.raises(StateError, match="symbolic link"):
        pending(state)
    assert read_json(state)["awaiting"][0]["action"] == "upload"  # nothing was decided


def test_a_gated_action_run_alone_asks_too(tmp_path):
    cat = gated_catalog(tmp_path)
    state = tmp_path / "gated_state.json"
    built = goap_cmd("skill", "run", str(cat), "build", "--workdir", str(tmp_path))
    assert built.returncode == 0, built.stderr
    refused = goap_cmd("skill", "run", str(cat), "upload", "--workdir", str(tmp_path))
    assert refused.returncode == 2 and "needs approval" in refused.stderr
    assert runs(tmp_path, "upload") == 0
    assert [p["action"] for p in pending(state)] == ["upload"]
    assert goap_cmd("approve", str(cat), "upload", "--as", "frank").returncode == 0
    ran = goap_cmd("skill", "run", str(cat), "upload", "--workdir", str(tmp_path))
    assert ran.returncode == 0, ran.stderr
    assert runs(tmp_path, "upload") == 1
    again = goap_cmd("skill", "run", str(cat), "upload", "--workdir", str(tmp_path))
    assert again.returncode == 2  # the approval was used by that one start


def test_bad_approval_values_are_located_load_errors(tmp_path):
    text = """\
version: 1
name: t
state: {a: false}
goal: {a: true}
actions:
  x: {effects: {a: true}, approval: required}
  y: {effects: {a: true}, approval: {required: false}}
  z: {effects: {a: true}, approval: maybe}
  w: {effects: {a: true}, approval: {required: 3}}
"""
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path / "t.yaml", text)
    errors = {(e.line, e.key) for e in caught.value.errors}
    assert errors == {(8, "actions.z.approval"), (9, "actions.w.approval")}
    fine = load_catalog(tmp_path / "t.yaml", text.rsplit("  z:", 1)[0])
    assert fine.action("x").approval is not None and fine.action("y").approval is None
