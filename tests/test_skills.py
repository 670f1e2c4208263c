"""Agents: `goap skill list|run|export`, `goap next` and the MCP server over real stdio."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import ROOT, goap_cmd, read_json

EXECUTORS = """
from pathlib import Path
from pydantic import BaseModel, Field
from goap.executor import ActionFailed


class BuildArgs(BaseModel):
    workdir: Path = Field(Path("."), description="where to build")
    target: str = Field("app", description="what to build")
    jobs: int = Field(1, description="parallel jobs")


def build(args: BuildArgs) -> dict:
    (args.workdir / f"{args.target}.built").write_text(str(args.jobs))
    return {"artifact": f"{args.target}.built", "jobs": args.jobs}


def ship(args: BuildArgs) -> dict:
    if not (args.workdir / f"{args.target}.built").exists():
        raise ActionFailed("nothing to ship", tail="no artifact")
    return {"shipped": True}
"""

CATALOG = {
    "version": 1,
    "name": "agent",
    "skills": {"building": "Build the app before anything ships."},
    "state": {"w.built": False, "w.shipped": False, "w.jobs": 0},
    "goal": {"w.shipped": True},
    "actions": {
        "build": {
            "id": "B1",
            "skill": "building",
            "cost": 2,
            "effects": {"w.built": True},
            "run": "agent_exec:build",
            "with": {"target": "app"},
            "observe": {"w.jobs": "jobs"},
            "agent": {"args": ["jobs"]},  # what an agent may override; `target` stays
        },
        "ship": {
            "id": "B2",
            "skill": "release",
            "cost": 1,
            "pre": {"w.built": True},
            "effects": {"w.shipped": True},
            "run": "agent_exec:ship",
        },
        "note": {
            "skill": "release",
            "effects": {"w.shipped": True},
            "cost": 50,
            "cmd": ["/bin/sh", "-c", "echo noted"],
        },
    },
}


@pytest.fixture
def agent(tmp_path, monkeypatch):
    (tmp_path / "agent_exec.py").write_text(EXECUTORS)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "agent.yaml"
    path.write_text(json.dumps(CATALOG))
    return path


def run(agent: Path, *args: str):
    return goap_cmd(*args, cwd=agent.parent)


def test_skill_list_json(agent):
    proc = run(agent, "skill", "list", str(agent), "--json")
    assert proc.returncode == 0, proc.stderr
    actions = {a["name"]: a for a in json.loads(proc.stdout)["actions"]}
    assert actions["build"]["applies"] and not actions["ship"]["applies"]
    assert actions["ship"]["unmet"] == ["w.built == true"]
    schema = actions["build"]["executor"]["args_schema"]
    assert schema["properties"]["jobs"]["type"] == "integer"
    assert schema["properties"]["target"]["description"] == "what to build"
    assert actions["note"]["executor"] == {"kind": "cmd", "cmd": ["/bin/sh", "-c", "echo noted"]}
    assert actions["build"]["skill"] == "building" and actions["build"]["cost"] == 2


def test_next_and_run_one_action_at_a_time(agent):
    proc = run(agent, "next", str(agent), "--json")
    data = json.loads(proc.stdout)
    assert proc.returncode == 0 and data["next"]["name"] == "build"
    assert data["plan"] == ["build", "ship"] and data["cost"] == 3
    proc = run(agent, "skill", "run", str(agent), "build", "--arg", "jobs=4", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"] and result["facts"] == {"artifact": "app.built", "jobs": 4}
    assert result["world_state"]["w"] == {"built": True, "shipped": False, "jobs": 4}
    state = read_json(agent.parent / "agent_state.json")
    assert state["history"][0]["via"] == "skill" and not state["history"][0]["forced"]
    data = json.loads(run(agent, "next", str(agent), "--json").stdout)
    assert data["next"]["name"] == "ship"
    assert json.loads(run(agent, "skill", "run", str(agent), "ship", "--json").stdout)["ok"]
    data = json.loads(run(agent, "next", str(agent), "--json").stdout)
    assert data["status"] == "goal_reached" and data["next"] is None


def test_refusals_leave_state_untouched(agent):
    state_path = agent.parent / "agent_state.json"
    assert run(agent, "skill", "run", str(agent), "note").returncode == 0
    before = state_path.read_bytes()
    cases = [
        (["ship"], "ship does not apply: unmet preconditions: w.built == true"),
        (["deploy"], "unknown action 'deploy'"),
        (["build", "--arg", "jobs=many"], "invalid arguments for agent_exec:build"),
        (["build", "--arg", "colour=red"], "colour"),
        (["note", "--arg", "x=1"], "runs a command; it takes no --arg"),
        (["build", "--arg", "novalue"], "write KEY=VALUE"),
    ]
    for args, words in cases:
        proc = run(agent, "skill", "run", str(agent), *args, "--json")
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert words in json.loads(proc.stdout)["error"], (args, proc.stdout)
        assert "Traceback" not in proc.stderr
        assert state_path.read_bytes() == before
    other = agent.parent / "other.yaml"
    other.write_text(json.dumps({**CATALOG, "state": {**CATALOG["state"], "w.extra": 1}}))
    proc = run(agent, "skill", "run", str(other), "build", "--state", str(state_path))
    assert proc.returncode == 2 and "different set of variables" in proc.stderr
    assert state_path.read_bytes() == before


def test_force_is_recorded(agent):
    proc = run(agent, "skill", "run", str(agent), "ship", "--force", "--json")
    result = json.loads(proc.stdout)
    assert proc.returncode == 1 and result["outcome"] == "failed"  # nothing was built
    assert result["forced"] and result["forced_over"] == ["w.built == true"]
    assert result["error"] == "nothing to ship" and result["tail"] == "no artifact"
    entry = read_json(agent.parent / "agent_state.json")["history"][-1]
    assert entry["forced"] and entry["outcome"] == "failed"


def test_skill_run_refused_while_a_run_holds_the_lock(agent):
    import fcntl

    state_path = agent.parent / "agent_state.json"
    lock = open(state_path.with_name(state_path.name + ".lock"), "w")  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        proc = run(agent, "skill", "run", str(agent), "build")
        assert proc.returncode == 2 and "in use by another goap process" in proc.stderr
        assert not state_path.exists()
    finally:
        lock.close()


def test_skill_export(agent, tmp_path):
    proc = run(agent, "skill", "export", str(agent), "--dir", str(tmp_path / "skills"))
    assert proc.returncode == 0, proc.stderr
    building = (tmp_path / "skills" / "building" / "SKILL.md").read_text()
    assert building.startswith('---\nname: building\ndescription: "Build the app before')
    assert "\nBuild the app before anything ships.\n" in building  # the catalog's words
    assert "### B1 build" in building and "| jobs | integer | `1` | parallel jobs |" in building
    assert f"goap skill run {agent} build --json" in building
    release = (tmp_path / "skills" / "release" / "SKILL.md").read_text()
    assert "### B2 ship" in release and "executes: `/bin/sh -c echo noted`" in release
    assert 'description: "Actions of the release group.' in release  # none in the catalog


def test_mcp_server_over_stdio(agent):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "goap", "mcp", str(agent)],
        cwd=str(agent.parent),
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{agent.parent}"},
    )

    def payload(result) -> dict:
        return json.loads(result.content[0].text)

    async def scenario() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert {"plan", "next_action", "run_action", "get_state", "list_actions"} <= set(tools)
            assert not {"approve", "deny"} & set(tools)  # gates are people's: --approvals only
            assert "action" in tools["run_action"].input_schema["properties"]
            planned = payload(await session.call_tool("plan", {}))
            assert planned["plan"] == ["build", "ship"] and planned["cost"] == 3
            assert payload(await session.call_tool("next_action", {}))["next"]["name"] == "build"
            ran = await session.call_tool("run_action", {"action": "build", "args": {"jobs": 2}})
            assert not ran.is_error and payload(ran)["facts"]["jobs"] == 2
            state = payload(await session.call_tool("get_state", {}))
            assert state["world_state"]["w"]["built"] is True
            listed = payload(await session.call_tool("list_actions", {}))
            assert [a["applies"] for a in listed["actions"]] == [True, True, True]
            bad = await session.call_tool("run_action", {"action": "deploy"})
            assert bad.is_error and "unknown action 'deploy'" in bad.content[0].text
            goal = await session.call_tool("plan", {"goal": ["w.jobs=maybe"]})
            assert goal.is_error and "w.jobs is int" in goal.content[0].text

    asyncio.run(scenario())
