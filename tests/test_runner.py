"""`goap run`: real commands, real processes, real kills."""

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

SH = "/bin/sh"


def counter(name: str, then: str = "") -> list[str]:
    """An argv that appends a line to counts/<name> (after ``then``, a shell snippet)."""
    return [SH, "-c", f"{then}mkdir -p counts && echo ran >> counts/{name}"]


def catalog(path: Path, actions: dict, goal: dict, state: dict, budget: int = 3) -> Path:
    doc = {
        "version": 1,
        "name": "test",
        "failure_budget": budget,
        "state": state,
        "goal": goal,
        "actions": actions,
    }
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def chain(tmp_path: Path, slow: str = "", slow_seconds: float = 0) -> Path:
    names = ["one", "two", "three", "four"]
    actions = {}
    for i, name in enumerate(names):
        actions[name] = {
            "cost": 1,
            "pre": {f"s.{names[i - 1]}": True} if i else {},
            "effects": {f"s.{name}": True},
            "cmd": counter(name, f"sleep {slow_seconds}; " if name == slow else ""),
        }
    return catalog(
        tmp_path / "chain.yaml", actions, {"s.four": True}, {f"s.{n}": False for n in names}
    )


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_run_reaches_goal_and_persists_seed_format(tmp_path):
    cat = chain(tmp_path)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "completed"
    assert [e["action"] for e in summary["executed"]] == ["one", "two", "three", "four"]
    state = read_json(tmp_path / "chain_state.json")
    for key in (
        "deployment_id",
        "started_at",
        "completed_at",
        "current_phase",
        "last_action",
        "actions_completed",
        "actions_pending",
        "world_state",
        "history",
        "schema_version",
    ):
        assert key in state
    assert state["world_state"] == {"s": {"one": True, "two": True, "three": True, "four": True}}
    assert state["actions_completed"] == ["one", "two", "three", "four"]
    assert state["actions_pending"] == [] and state["status"] == "completed"
    entry = state["history"][0]
    assert entry["outcome"] == "succeeded" and entry["duration_s"] >= 0 and entry["ended_at"]
    # running again is a no-op: the goal already holds
    again = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["executed"] == []
    assert all(lines(tmp_path / "counts" / n) == 1 for n in ("one", "two", "three", "four"))


def wait_for(predicate, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def started(state_path: Path, action: str) -> bool:
    try:
        history = read_json(state_path)["history"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return False
    return bool(history) and history[-1]["action"] == action and history[-1]["outcome"] == "started"


def spawn_run(cat: Path, workdir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "goap", "run", str(cat), "--workdir", str(workdir), *extra],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_mid_action_then_resume_runs_finished_actions_once(tmp_path):
    cat = chain(tmp_path, slow="three", slow_seconds=3)
    state_path = tmp_path / "chain_state.json"
    proc = spawn_run(cat, tmp_path)
    seen_valid = 0
    end = time.monotonic() + 30
    while not started(state_path, "three") and time.monotonic() < end:
        if state_path.exists():
            json.loads(state_path.read_text())  # valid JSON at every instant we look
            seen_valid += 1
        time.sleep(0.01)
    assert started(state_path, "three")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.3)  # the child died with its parent (PR_SET_PDEATHSIG): nothing appends now
    assert lines(tmp_path / "counts" / "three") == 0
    state = read_json(state_path)
    assert state["status"] == "running" and state["actions_completed"] == ["one", "two"]
    # a plain run refuses to start over an unfinished one
    refused = goap_cmd("run", str(cat), "--workdir", str(tmp_path))
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert [e["action"] for e in json.loads(resumed.stdout)["executed"]] == ["three", "four"]
    for name in ("one", "two", "three", "four"):
        assert lines(tmp_path / "counts" / name) == 1, name
    outcomes = [(e["action"], e["outcome"]) for e in read_json(state_path)["history"]]
    assert outcomes == [
        ("one", "succeeded"),
        ("two", "succeeded"),
        ("three", "interrupted"),
        ("three", "succeeded"),
        ("four", "succeeded"),
    ]
    assert seen_valid > 0


def test_second_run_on_same_state_is_refused_while_first_holds_lock(tmp_path):
    cat = chain(tmp_path, slow="two", slow_seconds=3)
    state_path = tmp_path / "chain_state.json"
    first = spawn_run(cat, tmp_path)
    wait_for(lambda: started(state_path, "two"))
    before = state_path.read_bytes()
    second = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume")
    assert second.returncode == 2
    assert "in use by another goap process" in second.stderr and str(first.pid) in second.stderr
    assert state_path.read_bytes() == before
    first.send_signal(signal.SIGKILL)  # a killed holder leaves no lock behind
    first.wait()
    third = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume")
    assert third.returncode == 0, third.stderr


def test_sigterm_marks_run_interrupted_exit_130(tmp_path):
    cat = chain(tmp_path, slow="two", slow_seconds=20)
    state_path = tmp_path / "chain_state.json"
    proc = spawn_run(cat, tmp_path)
    wait_for(lambda: started(state_path, "two"))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 130
    state = read_json(state_path)
    assert state["status"] == "interrupted"
    assert state["history"][-1]["outcome"] == "interrupted"
    resumed = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume")
    assert resumed.returncode == 0 and lines(tmp_path / "counts" / "two") == 1


FLAKY = [
    SH,
    "-c",
    "n=$(cat tries 2>/dev/null || echo 0); n=$((n+1)); echo $n > tries; "
    "echo attempt $n; [ $n -ge 3 ]",
]


def test_retry_until_success(tmp_path):
    cat = catalog(
        tmp_path / "c.yaml",
        {
            "flaky": {
                "effects": {"s.done": True},
                "cmd": FLAKY,
                "retry": {"attempts": 3, "delay": 0.05, "backoff": 2},
            },
        },
        {"s.done": True},
        {"s.done": False},
    )
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    history = read_json(tmp_path / "c_state.json")["history"]
    assert [(e["attempt"], e["outcome"]) for e in history] == [
        (1, "failed"),
        (2, "failed"),
        (3, "succeeded"),
    ]
    assert "attempt 1" in history[0]["tail"] and "exited with code 1" in history[0]["error"]
    assert read_json(tmp_path / "c_state.json")["failures"] == []


def test_failure_routes_through_the_alternative(tmp_path):
    cat = catalog(
        tmp_path / "c.yaml",
        {
            "deploy_fast": {
                "cost": 1,
                "effects": {"s.done": True},
                "cmd": [SH, "-c", "echo boom >&2; exit 3"],
            },
            "deploy_slow": {"cost": 5, "effects": {"s.done": True}, "cmd": counter("slow")},
        },
        {"s.done": True},
        {"s.done": False},
    )
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert [(e["action"], e["ok"]) for e in summary["executed"]] == [
        ("deploy_fast", False),
        ("deploy_slow", True),
    ]
    state = read_json(tmp_path / "c_state.json")
    assert state["failures"][0]["action"] == "deploy_fast"
    assert "exited with code 3" in state["failures"][0]["error"]
    assert state["penalties"]["deploy_fast"] > 0
    assert "boom" in state["history"][0]["tail"]


def test_failure_budget_escalates(tmp_path):
    """A failure that changes each time (a new exit code) is given the whole budget."""
    counting = "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; exit $n"
    cat = catalog(
        tmp_path / "c.yaml",
        {"push": {"effects": {"s.done": True}, "cmd": [SH, "-c", counting]}},
        {"s.done": True},
        {"s.done": False},
        budget=3,
    )
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json")
    assert proc.returncode == 1
    summary = json.loads(proc.stdout)
    assert summary["status"] == "escalated"
    assert "3 failures" in summary["message"] and "push" in summary["message"]
    state = read_json(tmp_path / "c_state.json")
    assert state["status"] == "escalated" and len(state["failures"]) == 3
    assert "exited with code 1" in state["report"] and "exited with code 3" in state["report"]


def test_a_failure_that_repeats_itself_with_no_other_route_escalates_at_once(tmp_path):
    """The same error from the same world, and no route around it: one report, no budget."""
    cat = catalog(
        tmp_path / "c.yaml",
        {
            "push": {
                "effects": {"s.done": True},
                "cmd": [SH, "-c", "echo run >> runs; echo denied; exit 1"],
                "retry": {"attempts": 2, "delay": 0},
            },
        },
        {"s.done": True},
        {"s.done": False},
        budget=5,
    )
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json")
    assert proc.returncode == 1
    summary = json.loads(proc.stdout)
    assert summary["status"] == "escalated"
    assert "fails the same way every time and there is no other route" in summary["message"]
    assert summary["message"].count("exited with code 1") == 1
    assert (tmp_path / "runs").read_text().count("run") == 2  # its two attempts, no replan


EXECUTORS = '''
import json, pathlib
from goap.executor import ActionFailed

def monitor(workdir: str = "."):
    """Reports the CI result recorded in ci.txt (the world, not the plan's hope)."""
    return {"passed": pathlib.Path(workdir, "ci.txt").read_text().strip() == "pass"}

def fix(workdir: str = "."):
    pathlib.Path(workdir, "ci.txt").write_text("pass")
    return {}

def needs_token(token: str):
    raise ActionFailed("upload refused", tail=f"used {token}")

def echo_env(value: str):
    return {"value": value}
'''


def observed_catalog(tmp_path: Path) -> Path:
    (tmp_path / "fake_exec.py").write_text(EXECUTORS)
    (tmp_path / "ci.txt").write_text("fail")
    return catalog(
        tmp_path / "ci.yaml",
        {
            "monitor": {
                "cost": 1,
                "pre": {"ci.known": False},
                "effects": {"ci.known": True, "ci.passed": True},
                "run": "fake_exec:monitor",
                "observe": {"ci.passed": "passed"},
            },
            "resolve": {
                "cost": 10,
                "pre": {"ci.known": True, "ci.passed": False},
                "effects": {"ci.known": False, "ci.fixes": "+=1"},
                "run": "fake_exec:fix",
            },
        },
        {"ci.passed": True},
        {"ci.known": False, "ci.passed": False, "ci.fixes": 0},
    )


def test_observed_facts_override_effects_and_trigger_replanning(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    cat = observed_catalog(tmp_path)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert [e["action"] for e in summary["executed"]] == ["monitor", "resolve", "monitor"]
    assert summary["plans"] == 2  # [monitor], then [resolve, monitor] from the truth
    assert summary["world_state"]["ci"] == {"known": True, "passed": True, "fixes": 1}
    assert "replanning" in proc.stderr


def test_missing_function_is_an_error_before_any_action(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    cat = observed_catalog(tmp_path)
    cat.write_text(cat.read_text().replace("fake_exec:fix", "fake_exec:fixx"))
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2
    assert "fake_exec has no function 'fixx'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "ci_state.json").exists()  # nothing written


def test_secrets_never_reach_state_or_logs(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "fake_exec.py").write_text(EXECUTORS)
    fake = "hf_FAKEtokenVALUE1234567890"
    cat = catalog(
        tmp_path / "s.yaml",
        {
            "say": {
                "cost": 1,
                "effects": {"s.said": True},
                "cmd": [SH, "-c", "echo token is $0", "${HF_TOKEN}"],
            },
            "upload": {
                "cost": 1,
                "pre": {"s.said": True},
                "effects": {"s.done": True},
                "run": "fake_exec:needs_token",
                "with": {"token": "${HF_TOKEN}"},
            },
        },
        {"s.done": True},
        {"s.said": False, "s.done": False},
        budget=1,
    )
    proc = goap_cmd(
        "run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path, env={"HF_TOKEN": fake}
    )
    assert proc.returncode == 1  # upload always fails: escalated
    everything = proc.stdout + proc.stderr + (tmp_path / "s_state.json").read_text()
    for log in (tmp_path / ".goap" / "logs").rglob("*.log"):
        everything += log.read_text()
    assert "token is ***" in everything and "used ***" in everything
    assert fake not in everything
    assert "${HF_TOKEN}" in cat.read_text()


def test_missing_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "fake_exec.py").write_text(EXECUTORS)
    cat = catalog(
        tmp_path / "e.yaml",
        {
            "use": {
                "effects": {"s.done": True},
                "run": "fake_exec:echo_env",
                "with": {"value": "${GOAP_TEST_UNSET_VAR}"},
                "retry": {"attempts": 3},
            },
        },
        {"s.done": True},
        {"s.done": False},
        budget=1,
    )
    env = {k: v for k, v in os.environ.items() if k != "GOAP_TEST_UNSET_VAR"}
    monkeypatch.delenv("GOAP_TEST_UNSET_VAR", raising=False)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    state = read_json(tmp_path / "e_state.json")
    assert "GOAP_TEST_UNSET_VAR is not set" in state["failures"][0]["error"]
    assert len(state["history"]) == 1  # not retried: retrying cannot help


def test_timeout_kills_the_action(tmp_path):
    cat = catalog(
        tmp_path / "t.yaml",
        {
            "hang": {"effects": {"s.done": True}, "cmd": [SH, "-c", "sleep 30"], "timeout": 0.5},
        },
        {"s.done": True},
        {"s.done": False},
        budget=1,
    )
    start = time.monotonic()
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json")
    assert proc.returncode == 1 and time.monotonic() - start < 15
    assert "timed out after 0.5 s" in read_json(tmp_path / "t_state.json")["failures"][0]["error"]


def test_dry_run_writes_nothing(tmp_path):
    cat = chain(tmp_path)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--dry-run", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["plan"] == ["one", "two", "three", "four"]
    assert not (tmp_path / "chain_state.json").exists() and not (tmp_path / "counts").exists()


@pytest.mark.parametrize(
    "content, words",
    [
        ("{not json", ["not valid JSON", "goap state reset"]),
        (
            json.dumps(
                {
                    "schema_version": 1,
                    "catalog": "other",
                    "catalog_fingerprint": "x",
                    "deployment_id": "d",
                    "world_state": {},
                }
            ),
            ["different set of variables"],
        ),
        (json.dumps({"schema_version": 99}), ["version 99 is not supported"]),
    ],
)
def test_bad_state_file_is_refused_untouched(tmp_path, content, words):
    cat = chain(tmp_path)
    state_path = tmp_path / "chain_state.json"
    state_path.write_text(content)
    for args in (["run", str(cat), "--workdir", str(tmp_path)], ["state", "show", str(cat)]):
        proc = goap_cmd(*args)
        assert proc.returncode == 2, proc.stderr
        for word in words:
            assert word in " ".join(proc.stderr.split())
        assert "Traceback" not in proc.stderr
    assert state_path.read_text() == content


def test_a_run_going_in_circles_escalates(tmp_path, monkeypatch):
    """Every action succeeds but the world never changes: goap stops instead of looping."""
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "fake_exec.py").write_text(EXECUTORS)
    (tmp_path / "ci.txt").write_text("fail")
    cat = catalog(
        tmp_path / "loop.yaml",
        {
            "monitor": {
                "pre": {"ci.known": False},
                "effects": {"ci.known": True, "ci.passed": True},
                "run": "fake_exec:monitor",
                "observe": {"ci.passed": "passed"},
            },
            "retry": {
                "pre": {"ci.known": True, "ci.passed": False},
                "effects": {"ci.known": False},
                "cmd": ["true"],
            },
        },
        {"ci.passed": True},
        {"ci.known": False, "ci.passed": False},
    )
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    assert proc.returncode == 1
    summary = json.loads(proc.stdout)
    assert summary["status"] == "escalated" and "going in circles" in summary["message"]
    assert len(summary["executed"]) == 6  # monitor and retry, three times each


def test_live_progress_view_in_a_terminal(tmp_path):
    """The rich live table (what a terminal shows) renders every step with its outcome."""
    import io

    from rich.console import Console

    from goap.faces.view import RunView
    from goap.loading.catalog import load_catalog
    from goap.running.runner import Runner

    cat = load_catalog(chain(tmp_path))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with RunView(console) as view:
        result = Runner(cat, tmp_path / "s.json", tmp_path, events=view).run()
    assert result.status == "completed"
    text = screen.getvalue()
    for name in ("one", "two", "three", "four", "goal reached", "✓"):
        assert name in text


SENSOR = '''
import pathlib

def look(workdir: str = "."):
    """What is really on disk."""
    return {"built": pathlib.Path(workdir, "app.built").exists()}
'''


def test_sensors_make_the_plan_start_from_the_truth(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "sense_exec.py").write_text(SENSOR)
    (tmp_path / "app.built").write_text("already here")
    doc = {
        "version": 1,
        "name": "sensed",
        "state": {"w.built": False, "w.shipped": False},
        "goal": {"w.shipped": True},
        "sensors": [{"run": "sense_exec:look", "observe": {"w.built": "built"}}],
        "actions": {
            "build": {"effects": {"w.built": True}, "cmd": counter("build")},
            "ship": {
                "pre": {"w.built": True},
                "effects": {"w.shipped": True},
                "cmd": [SH, "-c", "rm app.built && mkdir -p counts && echo ran >> counts/ship"],
            },
        },
    }
    cat = tmp_path / "sensed.yaml"
    cat.write_text(json.dumps(doc))
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert [e["action"] for e in summary["executed"]] == ["ship"]  # build was sensed as done
    # ship deleted the artifact: the sensor after it reports the truth, not the hope
    assert summary["world_state"]["w"] == {"built": False, "shipped": True}
    assert lines(tmp_path / "counts" / "build") == 0
