"""Failures a user can read without opening the state file (issue "goap on a real repository").

The terminal says why a step failed where it failed (the error, its output's last lines, the
log file); every action's output, `run:` executors included, is in its log; `goap logs`
prints it; `goap state show` shows failures and the report; `goap validate` runs the same
preflight as `goap run`; the live view's timer moves. Real processes throughout.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from goap.faces.view import RunView
from goap.loading.catalog import load_catalog
from tests.conftest import ROOT, goap_cmd

FAILING_TEST = (
    "echo collecting 3 items; echo 'FAILED tests/test_x.py::test_y - assert 1 == 2'; exit 1"
)

EXECUTORS = """
from goap.executor import ActionFailed

def lint(workdir="."):
    raise ActionFailed("ruff: 2 findings", tail="app.py:3:1: F401 'os' imported but unused")

def quiet(workdir="."):
    return {"checked": 3}
"""


def catalog(tmp_path: Path, actions: dict, **top) -> Path:
    (tmp_path / "readable_exec.py").write_text(EXECUTORS)
    path = tmp_path / "c.yaml"
    doc = {
        "version": 1,
        "name": "readable",
        "failure_budget": 1,
        "state": {"done": False, "n": 0},
        "goal": {"done": True},
        "actions": actions,
        **top,
    }
    path.write_text(json.dumps(doc))
    return path


def test_a_failing_step_says_why_where_it_fails_and_names_its_log(tmp_path):
    cat = catalog(
        tmp_path, {"test": {"effects": {"done": True}, "cmd": ["/bin/sh", "-c", FAILING_TEST]}}
    )
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1
    failed_at = proc.stderr.index("test failed")
    shown = proc.stderr[failed_at:]
    assert "FAILED tests/test_x.py::test_y" in shown and "exited with code 1" in shown
    log = next(line.split("log: ", 1)[1] for line in shown.splitlines() if "log: " in line)
    assert "FAILED tests/test_x.py::test_y" in (tmp_path / log).read_text()
    assert "escalated: escalated" not in proc.stderr


def test_run_executors_leave_their_answer_in_their_log_and_goap_logs_prints_it(tmp_path):
    cat = catalog(
        tmp_path,
        {
            "check": {"effects": {"n": 1}, "run": "readable_exec:quiet"},
            "lint": {"pre": {"n": 1}, "effects": {"done": True}, "run": "readable_exec:lint"},
        },
    )
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1
    assert "F401 'os' imported but unused" in proc.stderr  # the executor's tail, shown at once
    listed = goap_cmd("logs", str(cat), "--json", cwd=tmp_path)
    logs = json.loads(listed.stdout)["logs"]
    assert len(logs) == 2 and all(entry["bytes"] > 0 for entry in logs)  # none is empty
    quiet = goap_cmd("logs", str(cat), "check", cwd=tmp_path)
    assert quiet.returncode == 0 and '"checked": 3' in quiet.stdout
    lint = goap_cmd("logs", str(cat), "lint", cwd=tmp_path)
    assert "ruff: 2 findings" in lint.stdout and "F401" in lint.stdout
    unknown = goap_cmd("logs", str(cat), "nope", cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown action" in unknown.stderr


def test_state_show_shows_failures_and_the_report(tmp_path):
    cat = catalog(
        tmp_path, {"test": {"effects": {"done": True}, "cmd": ["/bin/sh", "-c", FAILING_TEST]}}
    )
    goap_cmd("run", str(cat), "--workdir", str(tmp_path), cwd=tmp_path)
    shown = goap_cmd("state", "show", str(cat), cwd=tmp_path)
    text = " ".join(shown.stdout.split())
    assert "failed test (after 1 attempts" in text and "exited with code 1" in text
    assert "report: escalated: 1 failures reached the budget of 1" in text


def test_validate_runs_the_preflight_of_goap_run(tmp_path):
    cat = catalog(
        tmp_path,
        {
            "typo": {"effects": {"done": True}, "run": "readable_exec:lnt"},
            "missing": {"effects": {"n": 1}, "run": "actions.git:commit", "with": {"paths": ["a"]}},
        },
    )
    proc = goap_cmd("validate", str(cat), "--json", cwd=tmp_path)
    assert proc.returncode == 1
    findings = json.loads(proc.stdout)["findings"]
    errors = " ".join(f["message"] for f in findings if f["severity"] == "error")
    assert "has no function 'lnt'" in errors and "message: Field required" in errors
    run = goap_cmd("run", str(cat), "--workdir", str(tmp_path), cwd=tmp_path)
    assert run.returncode == 2 and "lnt" in run.stderr  # the same problems, the same words


def test_validate_reports_every_problem_of_a_file_at_once(tmp_path):
    """An unknown key, a misspelt function, a missing argument and an unknown variable: one
    validate lists all four (an unknown key used to hide the rest until it was fixed). The
    folder's long name puts the summary past 80 columns: piped, it stays on one line."""
    tmp_path = tmp_path / ("a-folder-with-a-long-name-" * 4)
    tmp_path.mkdir()
    cat = catalog(
        tmp_path,
        {
            "typo": {"effects": {"done": True}, "run": "readable_exec:lnt", "colour": 1},
            "missing": {"effects": {"n": 1}, "run": "actions.git:commit", "with": {"paths": []}},
            "lost": {"pre": {"dnoe": True}, "effects": {"n": 2}, "cmd": ["true"]},
        },
    )
    proc = goap_cmd("validate", str(cat), "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    found = {f["where"]: f["message"] for f in json.loads(proc.stdout)["findings"]}
    assert "unknown key" in found["actions.typo.colour"]
    assert "unknown state variable 'dnoe'" in found["actions.lost.pre.dnoe"]
    assert "has no function 'lnt'" in " ".join(found.values())
    assert "message: Field required" in found["action missing"]
    text = goap_cmd("validate", str(cat), cwd=tmp_path)
    assert f"{cat}: 4 errors, 0 warnings\n" in text.stdout
    assert "Traceback" not in text.stdout + text.stderr


def test_validate_warns_of_an_observed_fact_the_executor_does_not_declare(tmp_path):
    cat = catalog(
        tmp_path,
        {"see": {"effects": {"done": True}, "run": "actions.git:git_state"}},
        sensors=[{"run": "actions.git:git_state", "observe": {"done": "clean", "n": "cleen"}}],
    )
    proc = goap_cmd("validate", str(cat), "--json", cwd=tmp_path)
    found = {f["where"]: f for f in json.loads(proc.stdout)["findings"]}
    typo = found["sensors.0.observe.n"]
    assert typo["severity"] == "warning" and "declares no fact 'cleen'" in typo["message"]
    assert "clean" in typo["message"]  # what it does declare
    assert "sensors.0.observe.done" not in found


def test_the_running_steps_timer_moves(tmp_path):
    cat = catalog(tmp_path, {"slow": {"effects": {"done": True}, "cmd": ["true"]}})
    action = load_catalog(cat).actions[0]
    console = Console(file=io.StringIO(), width=100, force_terminal=False)
    view = RunView(console)
    view.started(action, 1)

    def elapsed() -> str:
        out = Console(file=io.StringIO(), width=100)
        out.print(view)
        return out.file.getvalue()

    first = elapsed()
    time.sleep(0.25)
    assert elapsed() != first  # rendered afresh at each refresh, not frozen at 0.0s


def test_a_no_op_rerun_keeps_the_summary_of_the_run_that_did_the_work(tmp_path):
    cat = catalog(tmp_path, {"work": {"effects": {"done": True}, "cmd": ["true"]}})
    assert goap_cmd("run", str(cat), "--workdir", str(tmp_path), cwd=tmp_path).returncode == 0
    before = (tmp_path / "c_state.json").read_bytes()
    again = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    assert again.returncode == 0 and "nothing to do" in json.loads(again.stdout)["message"]
    assert (tmp_path / "c_state.json").read_bytes() == before  # not even rewritten
    assert json.loads(before)["actions_completed"] == ["work"]


def test_goap_logs_into_a_pipe_that_closes_early_says_nothing(tmp_path):
    cat = catalog(tmp_path, {"loud": {"effects": {"done": True}, "cmd": ["seq", "200000"]}})
    assert goap_cmd("run", str(cat), "--workdir", str(tmp_path), cwd=tmp_path).returncode == 0
    proc = subprocess.run(
        f"{sys.executable} -m goap logs {cat} loud | head -1",
        shell=True,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout == "1\n" and proc.stderr == ""  # no "Broken pipe" error, no traceback
