"""`goap mcp` as the protocol describes tools: annotations, structured output, progress and
cancellation, each over real stdio with the official `mcp` client and a real `goap mcp`.

Structured output is checked twice: against the tool's own ``outputSchema`` with jsonschema
(not the library's validator, the one a client uses), and against the CLI's ``--json``
document for the same input, so the two faces cannot drift apart.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import ROOT, goap_cmd
from jsonschema import Draft202012Validator

EXECUTORS = """
import os, time
from pathlib import Path
from pydantic import BaseModel, Field
from goap.executor import progress


class TrainArgs(BaseModel):
    steps: int = Field(5, description="training steps")
    pause: float = Field(0.2, description="seconds per step")


def train(args: TrainArgs) -> dict:
    Path("train.pid").write_text(str(os.getpid()))
    for step in range(1, args.steps + 1):
        time.sleep(args.pause)
        progress(step=step, total=args.steps, loss=round(1.0 / step, 3))
    return {"loss": round(1.0 / args.steps, 3)}
"""

CATALOG = {
    "version": 1,
    "name": "proto",
    "skills": {"training": "Train the model."},
    "state": {"m.trained": False, "m.shipped": False, "m.loss": 1.0},
    "goal": {"m.shipped": True},
    "actions": {
        "train": {
            "id": "T1",
            "skill": "training",
            "cost": 3,
            "effects": {"m.trained": True},
            "run": "proto_exec:train",
            "observe": {"m.loss": "loss"},
            "agent": {"args": ["steps", "pause"]},  # what an agent may set
        },
        "ship": {
            "skill": "release",
            "pre": {"m.trained": True},
            "effects": {"m.shipped": True},
            "cmd": ["/bin/sh", "-c", "echo shipped"],
        },
    },
}
TOOLS = {
    *("plan", "next_action", "explain", "run_action", "get_state", "list_actions"),
    *("approve", "deny"),
}
GATE = "a person signs off each release"


def make_dir(root: Path, gated: bool = False) -> Path:
    """The catalog and its executor in ``root``; ``gated``: ship needs a person's approval."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "proto_exec.py").write_text(EXECUTORS)
    doc = json.loads(json.dumps(CATALOG))
    if gated:
        doc["actions"]["ship"]["approval"] = {"required": True, "reason": GATE}
    (root / "proto.yaml").write_text(json.dumps(doc))
    return root / "proto.yaml"


def server(catalog: Path):
    from mcp import StdioServerParameters

    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "goap", "mcp", str(catalog), "--state", str(state_of(catalog)), "--approvals"],
        cwd=str(catalog.parent),
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{catalog.parent}"},
    )


def state_of(catalog: Path) -> Path:
    return catalog.parent / "state.json"


def session_run(catalog: Path, scenario) -> None:
    """Run ``scenario(session)`` against a started, initialized `goap mcp` over ``catalog``."""
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    async def main() -> None:
        with anyio.fail_after(120):  # a hang fails the test
            async with (
                stdio_client(server(catalog)) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                await scenario(session)

    anyio.run(main)


def cli_json(catalog: Path, *args: str) -> dict[str, Any]:
    proc = goap_cmd(*args, cwd=catalog.parent)
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def structured(result, schema: dict[str, Any]) -> dict[str, Any]:
    """The result's structuredContent, checked against ``schema`` and against its text."""
    assert not result.is_error, result.content[0].text
    Draft202012Validator.check_schema(schema)
    errors = [
        e.message for e in Draft202012Validator(schema).iter_errors(result.structured_content)
    ]
    assert not errors, errors
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def without(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in keys}


@pytest.mark.slow  # seven CLI processes to compare with
def test_tools_annotations_and_structured_output_match_the_cli(tmp_path):
    catalog = make_dir(tmp_path / "mcp")
    twin = make_dir(tmp_path / "cli")  # the same action run by `goap skill run`
    state = ["--state", str(state_of(catalog))]

    async def scenario(session) -> None:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == TOOLS
        for name in ("plan", "next_action", "explain", "get_state", "list_actions"):
            hints = tools[name].annotations
            assert hints.read_only_hint is True and hints.idempotent_hint is True, name
            assert hints.open_world_hint is False, name
        for name in ("approve", "deny"):  # they write a decision: only add, only here
            hints = tools[name].annotations
            assert hints.read_only_hint is False and hints.destructive_hint is False, name
            assert hints.open_world_hint is False and hints.idempotent_hint is False, name
            assert tools[name].input_schema["required"] == ["action", "who"], name
        runs = tools["run_action"].annotations
        assert runs.read_only_hint is False and runs.destructive_hint is True
        assert runs.open_world_hint is True and runs.idempotent_hint is False
        schemas = {name: tool.output_schema for name, tool in tools.items()}
        assert all(s and s["type"] == "object" for s in schemas.values()), schemas

        async def call(name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
            return structured(await session.call_tool(name, args or {}), schemas[name])

        before = await call("get_state")  # no state file yet: the initial world
        assert before["status"] == "pending" and before["world_state"]["m"]["trained"] is False
        listing = await call("list_actions")
        assert listing == cli_json(catalog, "skill", "list", str(catalog), *state, "--json")
        train = {a["name"]: a for a in listing["actions"]}["train"]["executor"]
        assert train["args_schema"]["properties"]["steps"]["type"] == "integer"

        ran = await call("run_action", {"action": "train", "args": {"steps": 2, "pause": 0}})
        twin_ran = cli_json(
            twin, "skill", "run", str(twin), "train", "--arg", "steps=2", "--arg", "pause=0",
            "--state", str(state_of(twin)), "--json",
        )  # fmt: skip
        volatile = ("seconds", "log", "state")  # time taken, and the twin's own paths
        assert without(ran, *volatile) == without(twin_ran, *volatile)
        assert ran["ok"] and ran["facts"] == {"loss": 0.5}

        # after the run: a journal (durations for the estimate) and a world to plan from
        planned = await call("plan")
        cli_plan = cli_json(catalog, "plan", str(catalog), *state, "--json")
        assert without(planned, "seconds") == without(cli_plan, "seconds")  # planning time
        assert planned["plan"] == ["ship"] and planned["estimate"] is None
        for goal in (["m.trained=true"], ["m.loss>=2"]):
            got = await call("plan", {"goal": goal})
            cli = cli_json(catalog, "plan", str(catalog), *state, "--goal", goal[0], "--json")
            assert without(got, "seconds") == without(cli, "seconds")
        assert await call("next_action") == cli_json(
            catalog, "next", str(catalog), *state, "--json"
        )
        after = await call("get_state")
        assert after == cli_json(catalog, "state", "show", str(catalog), *state, "--json")
        assert after["history"][-1]["outcome"] == "succeeded"

        # explain: the plan, an action in it, one not in it, and (the catalog edited: the
        # server reads it again) a goal nothing reaches
        for asked in ([], ["ship"], ["train"]):
            got = await call("explain", {"action": asked[0]} if asked else {})
            cli = cli_json(catalog, "explain", str(catalog), *asked, *state, "--json")
            assert got == cli, asked
        assert got["action"]["in_plan"] is False and got["action"]["cheapest_with"]["plan"]
        edited = json.loads(catalog.read_text())
        del edited["actions"]["ship"]  # nothing sets m.shipped now
        catalog.write_text(json.dumps(edited))
        stuck = await call("explain")
        assert stuck == cli_json(catalog, "explain", str(catalog), *state, "--json")
        assert stuck["status"] == "unreachable" and stuck["blocked"][0]["roots"], stuck
        unknown = await session.call_tool("explain", {"action": "deploy"})
        assert unknown.is_error and "unknown action 'deploy'" in unknown.content[0].text

        bad = await session.call_tool("run_action", {"action": "deploy"})
        assert bad.is_error and "unknown action 'deploy'" in bad.content[0].text

    session_run(catalog, scenario)


def test_run_action_sends_progress_notifications(tmp_path):
    catalog = make_dir(tmp_path)
    heard: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        heard.append((progress, total, message))

    async def scenario(session) -> None:
        args = {"action": "train", "args": {"steps": 6, "pause": 0.25}}
        result = await session.call_tool("run_action", args, progress_callback=on_progress)
        assert not result.is_error and result.structured_content["ok"]
        quiet = await session.call_tool("run_action", {"action": "ship"})  # no token: none sent
        assert not quiet.is_error

    session_run(catalog, scenario)
    assert len(heard) >= 3, heard  # the channel is polled, so a fast step may be skipped
    values = [p for p, _, _ in heard]
    assert values == sorted(set(values)) and values[-1] <= 6, heard  # strictly increasing
    assert all(total == 6 for _, total, _ in heard), heard
    assert all(m and m.startswith(f"step {p:g}/6 · loss") for p, _, m in heard), heard


def test_cancelled_run_action_stops_the_child_and_the_server_serves_on(tmp_path):
    catalog = make_dir(tmp_path)
    pid_file = tmp_path / "train.pid"

    async def scenario(session) -> None:
        started = anyio.Event()

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            started.set()

        async def long_run() -> None:
            args = {"action": "train", "args": {"steps": 600, "pause": 0.1}}  # a minute
            await session.call_tool("run_action", args, progress_callback=on_progress)
            pytest.fail("the cancelled call was answered")

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(long_run)
            with anyio.fail_after(30):
                await started.wait()
            tasks.cancel_scope.cancel()  # the client sends notifications/cancelled
        cancelled_at = time.monotonic()

        # the server stops the child, journals the attempt, writes the file whole
        with anyio.fail_after(20):
            while True:
                state = (await session.call_tool("get_state", {})).structured_content
                if state["history"] and state["history"][-1]["outcome"] != "started":
                    break
                await anyio.sleep(0.2)
        assert time.monotonic() - cancelled_at < 10  # SIGTERM's grace, not the minute
        assert state["history"][-1]["outcome"] == "interrupted", state["history"]
        assert state["world_state"]["m"]["trained"] is False and "train" not in state.get(
            "actions_completed", []
        )
        json.loads(state_of(catalog).read_text())  # valid JSON on disk
        pid = int(pid_file.read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

        # the lock is free and the server serves the next request
        ran = await session.call_tool("run_action", {"action": "train", "args": {"pause": 0}})
        assert not ran.is_error and ran.structured_content["ok"], ran.content[0].text
        state = (await session.call_tool("get_state", {})).structured_content
        assert state["world_state"]["m"]["trained"] is True

    session_run(catalog, scenario)


@pytest.fixture
def raw(tmp_path: Path):
    from test_mcp_attack import open_wire

    (tmp_path / "proto_exec.py").write_text(EXECUTORS)
    yield from open_wire(tmp_path, CATALOG)


def test_on_the_wire_progress_carries_the_token_and_a_cancelled_call_gets_no_reply(raw):
    arguments = {"action": "train", "args": {"steps": 600, "pause": 0.1}}
    params = {"name": "run_action", "arguments": arguments, "_meta": {"progressToken": "t-1"}}
    raw.send({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params})
    heard = raw.reply()
    assert heard["method"] == "notifications/progress", heard
    assert heard["params"]["progressToken"] == "t-1" and heard["params"]["total"] == 600
    cancel = {"requestId": 7, "reason": "the test changed its mind"}
    raw.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": cancel})

    lines: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    for rid in range(100, 200):  # until the attempt is journalled as interrupted
        raw.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                  "params": {"name": "get_state", "arguments": {}}})  # fmt: skip
        while (line := raw.reply()).get("id") != rid:
            lines.append(line)
        history = line["result"]["structuredContent"]["history"]
        if history and history[-1]["outcome"] == "interrupted" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert history[-1]["outcome"] == "interrupted", history
    time.sleep(1)  # a late answer to 7 would come now
    raw.send({"jsonrpc": "2.0", "id": 300, "method": "tools/call",
              "params": {"name": "next_action", "arguments": {}}})  # fmt: skip
    while (reply := raw.reply()).get("id") != 300:
        lines.append(reply)
    assert reply["result"]["structuredContent"]["next"]["name"] == "train"  # serves on
    assert not [line for line in lines if line.get("id") == 7], lines


@pytest.mark.slow  # the twin's four CLI processes
def test_approve_and_deny_answer_a_gated_action(tmp_path):
    catalog = make_dir(tmp_path / "mcp", gated=True)
    twin = make_dir(tmp_path / "cli", gated=True)
    twin_state = ["--state", str(state_of(twin))]

    async def scenario(session) -> None:
        tools = {t.name: t for t in (await session.list_tools()).tools}

        async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
            return structured(await session.call_tool(name, args), tools[name].output_schema)

        async def refused(name: str, args: dict[str, Any], says: str) -> None:
            result = await session.call_tool(name, args)
            assert result.is_error and says in result.content[0].text, result.content[0].text

        await call("run_action", {"action": "train", "args": {"pause": 0}})
        await refused("run_action", {"action": "ship"}, "ship needs approval")
        state = await call("get_state", {})
        assert [r["action"] for r in state["awaiting"]] == ["ship"], state
        assert state["awaiting"][0]["reason"] == GATE
        listed = {a["name"]: a for a in (await call("list_actions", {}))["actions"]}
        assert listed["ship"]["approval"] == {"required": True, "reason": GATE}

        denied = await call("deny", {"action": "ship", "who": "alice", "why": "not today"})
        assert without(denied, "at") == {
            "action": "ship", "decision": "denied", "who": "alice", "why": "not today",
            "queued": False,
        }  # fmt: skip
        await refused("deny", {"action": "ship", "who": "alice"}, "already denied")
        await refused("approve", {"action": "train", "who": "alice"}, "needs no approval")
        await refused("approve", {"action": "ship", "who": " "}, "say who answers")

        approved = await call("approve", {"action": "ship", "who": "bob", "why": "tested"})
        for args in (["train", "--arg", "pause=0"], ["ship"]):  # the twin, to be asked too
            goap_cmd("skill", "run", str(twin), *args, *twin_state, "--json", cwd=twin.parent)
        cli = cli_json(
            twin, "approve", str(twin), "ship", "--as", "bob", "--why", "tested", *twin_state,
            "--json",
        )  # fmt: skip
        assert without(approved, "at") == without(cli, "at")
        assert approved["decision"] == "approved" and approved["queued"] is False

        shipped = await call("run_action", {"action": "ship"})
        assert shipped["ok"] and shipped["world_state"]["m"]["shipped"] is True
        state = await call("get_state", {})
        assert state["awaiting"] == [] and [d["who"] for d in state["approvals"]] == [
            "alice", "bob"
        ]  # fmt: skip
        assert state["history"][-1]["approval"]["who"] == "bob"  # the start it let through

    session_run(catalog, scenario)


def test_a_client_that_goes_away_mid_run_stops_the_action(raw, tmp_path):
    arguments = {"action": "train", "args": {"steps": 600, "pause": 0.1}}
    params = {"name": "run_action", "arguments": arguments, "_meta": {"progressToken": 1}}
    raw.send({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params})
    assert raw.reply()["method"] == "notifications/progress"  # the child is running
    raw.proc.stdin.close()  # the client is gone
    assert raw.proc.wait(timeout=15) == 0  # not the minute the action would take
    with pytest.raises(ProcessLookupError):
        os.kill(int((tmp_path / "train.pid").read_text()), 0)
    states = [p for p in tmp_path.rglob("*.json") if p.is_file() and "history" in p.read_text()]
    history = json.loads(states[0].read_text())["history"]
    assert history[-1]["action"] == "train" and history[-1]["outcome"] == "interrupted"
