"""`goap mcp` under hostile input, over a real process speaking raw JSON-RPC lines.

A malformed line must get a JSON-RPC error (not silence: a client waiting on it would hang)
and leave the server serving; a well-formed notification gets no reply. Client text that an
error repeats is capped, so 1 MB sent is not 1 MB echoed. Every read has a timeout, so a hang
fails the test instead of blocking it.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from goap.faces.mcp_server import ECHO_LIMIT, ERROR_LIMIT

CATALOG = {
    "version": 1,
    "name": "attack",
    "state": {"w.built": False},
    "goal": {"w.built": True},
    "actions": {"build": {"effects": {"w.built": True}, "cmd": ["/bin/sh", "-c", "true"]}},
}
MB = 1_000_000
SHORT = ERROR_LIMIT + 500  # an error line carrying at most one capped text, and its envelope


class Wire:
    """A raw client: one JSON-RPC message a line on the server's stdin, replies read back."""

    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [*map(self.lines.put, proc.stdout)], daemon=True).start()

    def send(self, message: dict[str, Any] | list[Any] | str) -> None:
        line = message if isinstance(message, str) else json.dumps(message)
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def line(self, timeout: float = 20) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no reply within {timeout}s: the server hangs")

    def reply(self) -> dict[str, Any]:
        return json.loads(self.line())

    def call(self, rid: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        params = {"name": tool, "arguments": arguments}
        self.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params})
        return self.reply()


def open_wire(tmp_path: Path, catalog_doc: dict[str, Any], env: dict[str, str] | None = None):
    """A started, initialized `goap mcp` over ``catalog_doc``; a generator: close on exit."""
    catalog = tmp_path / "attack.yaml"
    catalog.write_text(json.dumps(catalog_doc))
    with (tmp_path / "stderr.log").open("w") as log:  # not a pipe: it must never fill up
        proc = subprocess.Popen(
            [sys.executable, "-m", "goap", "mcp", str(catalog)],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            encoding="utf-8",
        )
        client = Wire(proc)
        client_info = {"name": "attack", "version": "1"}
        hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client_info}
        client.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": hello})
        assert client.reply()["result"]["serverInfo"]["name"] == "goap"
        client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        yield client
        proc.stdin.close()
        try:
            proc.wait(timeout=20)
        finally:
            proc.kill()


@pytest.fixture
def wire(tmp_path: Path):
    yield from open_wire(tmp_path, CATALOG)


def still_serves(wire: Wire) -> None:
    reply = wire.call(99, "next_action", {})
    assert reply["id"] == 99 and not reply["result"].get("isError"), reply
    assert json.loads(reply["result"]["content"][0]["text"])["next"]["name"] == "build"


def call(rid: int, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


MALFORMED = [
    ("not json {", -32700, None),
    ('"a string"', -32600, None),
    ("42", -32600, None),
    ({"jsonrpc": "2.0", "id": 3}, -32600, 3),  # no method
    ({"jsonrpc": "2.0", "id": 4, "method": 5}, -32600, 4),
    ({"id": 5, "method": "ping"}, -32600, 5),  # no jsonrpc
    ({"jsonrpc": "1.0", "id": "six", "method": "ping"}, -32600, "six"),
    ({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}, -32600, None),  # unusable id
    ({"jsonrpc": "2.0", "method": "ping", "params": "x"}, -32602, None),  # broken notification
    ([{"jsonrpc": "2.0", "id": 7, "method": "ping"}], -32600, None),  # batch
    ([], -32600, None),
    (call(8, [1]), -32602, 8),
    (call(9, {"name": "run_action", "arguments": "x"}), -32602, 9),
    (call(10, {"arguments": {}}), -32602, 10),
]


def test_every_malformed_line_gets_an_error_and_the_server_serves_on(wire):
    for message, code, rid in MALFORMED:
        wire.send(message)
        reply = wire.reply()
        assert reply["jsonrpc"] == "2.0" and "result" not in reply, (message, reply)
        assert (reply["error"]["code"], reply["id"]) == (code, rid), (message, reply)
    wire.send({"jsonrpc": "2.0", "method": "notifications/whatever"})  # well-formed: no reply
    wire.send({"jsonrpc": "2.0", "id": 11, "method": "ping"})
    assert wire.reply() == {"jsonrpc": "2.0", "id": 11, "result": {}}
    still_serves(wire)


def test_wrong_argument_types_are_a_tool_error(wire):
    reply = wire.call(1, "run_action", {"action": ["build"], "force": "maybe"})
    result = reply["result"]
    assert result["isError"] and "2 validation errors" in result["content"][0]["text"]
    still_serves(wire)


def test_a_megabyte_sent_is_not_echoed(wire):
    for rid, tool, arguments in [
        (1, "run_action", {"action": "a" * MB}),
        (2, "run_action", {"action": "build", "args": {"k" * MB: "v" * MB}}),
        (3, "plan", {"goal": ["g" * MB]}),
        (4, "t" * MB, {}),
    ]:
        wire.send(call(rid, {"name": tool, "arguments": arguments}))
        line = wire.line()
        assert len(line) < SHORT, (rid, line[:300])
        reply = json.loads(line)
        assert reply["id"] == rid and reply["result"]["isError"], line[:300]
    text = wire.call(5, "plan", {"goal": ["g" * MB]})["result"]["content"][0]["text"]
    assert f"{'g' * ECHO_LIMIT}… ({MB} characters)" in text and len(text) < 400
    wire.send({"jsonrpc": "2.0", "id": 6, "method": "m" * MB})
    error = json.loads(wire.line())["error"]
    assert error["code"] == -32601 and error["data"] == f"{'m' * ECHO_LIMIT}… ({MB} characters)"
    still_serves(wire)


def test_a_long_error_text_is_capped_as_a_whole(wire):
    """A thousand validation errors, each short, still make one capped text."""
    text = wire.call(1, "plan", {"goal": list(range(1000))})["result"]["content"][0]["text"]
    assert text.startswith("Error executing tool plan: 1000 validation errors")
    assert len(text) < ERROR_LIMIT + 40 and text.endswith(" characters)")
    still_serves(wire)


AGENT_EXEC = """
import os
from goap.executor import ActionFailed

def deploy(target: str = "app", note: str = "", workdir: str = "."):
    open(os.path.join(workdir, "deployed"), "a").write(target + "\\n")
    if note == "fail":
        raise ActionFailed("refused by " + os.environ["DEPLOY_CREDENTIAL"])
    return {"note": note}
"""

AGENT_CATALOG = {
    "version": 1,
    "name": "agent",
    "state": {"w.ready": False, "w.done": False, "w.note": ""},
    "goal": {"w.done": True},
    "actions": {
        "prepare": {"effects": {"w.ready": True}, "cmd": ["/bin/sh", "-c", "true"]},
        "deploy": {
            "pre": {"w.ready": True},
            "effects": {"w.done": True},
            "run": "agent_exec:deploy",
            "observe": {"w.note": "note"},
            "agent": {"args": ["note"]},
        },
    },
}


def test_what_an_agent_sends_is_confined_and_secrets_never_come_back(tmp_path):
    secret = "agent-visible-credential-77"
    (tmp_path / "agent_exec.py").write_text(AGENT_EXEC)
    env = {"DEPLOY_CREDENTIAL": secret, "OTHER_TOKEN": "another-secret-token-88"}
    wire = open_wire(tmp_path, AGENT_CATALOG, env)
    client = next(wire)
    try:
        refusals = [
            {"action": "deploy", "args": {"target": "../../etc"}, "force": True},
            {"action": "deploy", "args": {"workdir": "/"}, "force": True},
            {"action": "deploy", "args": {"note": "${OTHER_TOKEN}"}, "force": True},
        ]
        for rid, arguments in enumerate(refusals, 1):
            reply = client.call(rid, "run_action", arguments)
            text = reply["result"]["content"][0]["text"]
            assert reply["result"]["isError"], reply
            assert "another-secret" not in text
        assert not (tmp_path / "deployed").exists()  # nothing ran
        # forced over an unmet precondition: recorded with its effects, a failure masked
        reply = client.call(
            5, "run_action", {"action": "deploy", "args": {"note": "fail"}, "force": True}
        )
        text = json.dumps(reply)
        assert secret not in text and "refused by ***" in text
        reply = client.call(
            6, "run_action", {"action": "deploy", "args": {"note": "ok"}, "force": True}
        )
        document = json.loads(reply["result"]["content"][0]["text"])
        assert (
            document["ok"] and document["forced"] and document["forced_over"] == ["w.ready == true"]
        )
        state = json.loads((tmp_path / "attack_state.json").read_text())
        assert state["world_state"]["w"] == {"ready": False, "done": True, "note": "ok"}
        assert [(e["forced"], e["via"]) for e in state["history"]][-1] == (True, "skill")
        assert secret not in (tmp_path / "attack_state.json").read_text()
    finally:
        next(wire, None)
    # a later run does not do the forced action again: its effects are recorded
    run = subprocess.run(
        [sys.executable, "-m", "goap", "run", str(tmp_path / "attack.yaml"), "--json"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and json.loads(run.stdout)["executed"] == []
    assert (tmp_path / "deployed").read_text().count("app") == 2
