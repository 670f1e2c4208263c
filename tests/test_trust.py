"""Attacks on goap's promises, class by class (issue "Trust under attack").

1. files goap creates or replaces never follow a link; 2. numbers that JSON cannot hold
never enter; 3. nothing an action started outlives it or races a resumed run; 5. secrets
are masked at every boundary; 6. any bytes in a state file end in a clear message and
`state reset` always recovers; 7. an executed action whose observation fails is not run
again. (Agents' arguments, class 4, are attacked in test_skills.py and test_mcp_attack.py;
YAML bounds, class 6, in test_yaml_bounds.py.) Real processes and files throughout.
"""

from __future__ import annotations

import ast
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goap.running import orphans
from state.files import backup, safe_name, write_atomic
from state.model import StateError
from tests.conftest import ROOT, goap_cmd

SH = "/bin/sh"


def catalog(path: Path, actions: dict, state: dict, goal: dict, **top) -> Path:
    doc = {"version": 1, "name": "trust", "state": state, "goal": goal, "actions": actions, **top}
    path.write_text(json.dumps(doc))
    return path


def simple(tmp_path: Path, cmd: list[str] | None = None) -> Path:
    return catalog(
        tmp_path / "c.yaml",
        {"work": {"effects": {"done": True}, "cmd": cmd or [SH, "-c", "echo ran >> runs"]}},
        {"done": False, "n": 0, "x": 0.5},
        {"done": True},
    )


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity (what other JSON readers do)."""

    def refuse(name: str):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr


# ---------------------------------------------------------------- 1. files


def test_a_symlink_planted_at_the_lock_is_refused_and_its_target_untouched(tmp_path):
    cat = simple(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "c_state.json.lock").symlink_to(victim)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path))
    assert proc.returncode == 2 and "symbolic link" in proc.stderr
    no_traceback(proc)
    assert victim.read_text() == "precious" and not (tmp_path / "runs").exists()


def test_links_planted_at_temp_names_are_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "s.json"
    for pid in range(os.getpid() - 50, os.getpid() + 50):  # the old predictable names
        (tmp_path / f".s.json.{pid}.tmp").symlink_to(victim)
    write_atomic(target, '{"a": 1}\n')
    assert victim.read_text() == "precious" and json.loads(target.read_text()) == {"a": 1}
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]
    assert leftovers == []


def test_a_symlinked_state_file_is_refused_by_every_writer(tmp_path):
    cat = simple(tmp_path)
    assert goap_cmd("run", str(cat), "--workdir", str(tmp_path)).returncode == 0
    real = tmp_path / "c_state.json"
    elsewhere = tmp_path / "elsewhere.json"
    real.rename(elsewhere)
    real.symlink_to(elsewhere)
    before = elsewhere.read_bytes()
    for args in (
        ["run", str(cat), "--workdir", str(tmp_path)],
        ["state", "set", str(cat), "n", "3"],
        ["state", "reset", str(cat)],
        ["skill", "run", str(cat), "work", "--force"],
    ):
        proc = goap_cmd(*args, cwd=tmp_path)
        assert proc.returncode == 2 and "symbolic link" in proc.stderr, (args, proc.stderr)
        no_traceback(proc)
    assert elsewhere.read_bytes() == before
    assert not list(tmp_path.glob("*.bak"))


def test_a_state_file_reached_through_a_linked_folder_shares_one_lock(tmp_path):
    cat = simple(tmp_path, [SH, "-c", "sleep 3; echo ran >> runs"])
    linked = tmp_path / "linked"
    linked.symlink_to(tmp_path)
    first = subprocess.Popen(
        [sys.executable, "-m", "goap", "run", str(cat), "--workdir", str(tmp_path)],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = tmp_path / "c_state.json.lock"
    end = time.monotonic() + 20
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < end:
        time.sleep(0.05)
    second = goap_cmd(
        "run", str(cat), "--workdir", str(tmp_path), "--state", str(linked / "c_state.json")
    )
    first.wait(30)
    assert second.returncode == 2 and "in use by another goap process" in second.stderr
    assert (tmp_path / "runs").read_text().count("ran") == 1


def test_a_hard_link_to_the_state_file_is_refused(tmp_path):
    cat = simple(tmp_path)
    assert goap_cmd("run", str(cat), "--workdir", str(tmp_path)).returncode == 0
    os.link(tmp_path / "c_state.json", tmp_path / "other.json")
    proc = goap_cmd("state", "set", str(cat), "n", "2", "--state", str(tmp_path / "other.json"))
    assert proc.returncode == 2 and "hard links" in proc.stderr
    no_traceback(proc)


def test_reset_keeps_every_backup_with_the_original_mode(tmp_path):
    cat = simple(tmp_path)
    state = tmp_path / "c_state.json"
    assert goap_cmd("run", str(cat), "--workdir", str(tmp_path)).returncode == 0
    state.chmod(0o600)
    assert goap_cmd("state", "reset", str(cat)).returncode == 0
    first = tmp_path / "c_state.json.1.bak"
    assert strict_json(first.read_text())["world_state"]["done"] is True
    assert (first.stat().st_mode & 0o777) == 0o600
    assert goap_cmd("state", "reset", str(cat)).returncode == 0
    second = tmp_path / "c_state.json.2.bak"
    assert strict_json(first.read_text())["world_state"]["done"] is True  # never replaced
    assert strict_json(second.read_text())["world_state"]["done"] is False


def test_a_backup_is_never_written_through_a_planted_link(tmp_path):
    state = tmp_path / "s.json"
    state.write_text("{}")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "s.json.1.bak").symlink_to(victim)
    kept = backup(state)
    assert kept == tmp_path / "s.json.2.bak" and victim.read_text() == "precious"


def test_runs_after_a_reset_and_two_state_files_never_share_a_log(tmp_path):
    cat = simple(tmp_path, [SH, "-c", "echo run-$GOAP_STATE_FILE"])
    for state in ("a.json", "b.json", "a.json"):
        proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--state", state, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        goap_cmd("state", "reset", str(cat), "--state", state, cwd=tmp_path)
    logs = sorted((tmp_path / ".goap" / "logs").rglob("*.log"))
    assert len(logs) == 3
    for log in logs:
        assert log.read_text().count("run-") == 1, log


@given(st.text(max_size=200))
def test_a_name_from_catalog_text_is_one_harmless_file_name(text):
    name = safe_name(text)
    assert name and "/" not in name and "\0" not in name
    assert name not in (".", "..") and not name.startswith(".") and len(name) <= 80


def test_a_full_disk_leaves_the_state_file_whole_and_says_so(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root: " + mounted.stderr.decode()[:100])
    try:
        cat = simple(tmp_path, [SH, "-c", "echo ran"])
        state = disk / "s.json"
        assert goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--state", str(state))
        before = state.read_bytes()
        with open(disk / "filler", "wb", buffering=0) as filler:  # fill the disk to the brim
            try:
                while True:
                    filler.write(b"x" * 512)
            except OSError:
                pass
        proc = goap_cmd("state", "reset", str(cat), "--state", str(state))
        assert proc.returncode == 2 and "No space left" in proc.stderr, proc.stderr
        no_traceback(proc)
        assert state.read_bytes() == before
        assert not [p for p in disk.iterdir() if p.name.endswith(".tmp")]
        # an action whose log cannot be written still ends (the pipe is drained), and the
        # run stops with a message; the state file is the last whole one
        (disk / "filler").unlink()  # room for the state file, not for the action's log
        loud = simple(tmp_path, [SH, "-c", "yes 'a line of output' | head -c 300000"])
        proc = goap_cmd(
            "run",
            str(loud),
            "--workdir",
            str(tmp_path),
            "--state",
            str(disk / "t.json"),
            timeout=60,
        )
        assert proc.returncode == 2 and "No space left" in proc.stderr, proc.stderr
        no_traceback(proc)
        assert not [p for p in disk.iterdir() if p.name.endswith(".tmp")]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# ---------------------------------------------------------------- 2. numbers


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "9" * 5000])
def test_state_set_refuses_numbers_json_cannot_hold(tmp_path, value):
    cat = simple(tmp_path)
    assert goap_cmd("state", "reset", str(cat)).returncode == 0
    assert goap_cmd("state", "set", str(cat), "n", "1").returncode == 0
    before = (tmp_path / "c_state.json").read_bytes()
    for name in ("x", "n"):
        proc = goap_cmd("state", "set", str(cat), name, value)
        assert proc.returncode == 2, (name, value, proc.stdout)
        no_traceback(proc)
        assert len(proc.stderr) < 600
    assert (tmp_path / "c_state.json").read_bytes() == before


@pytest.mark.parametrize("edit", ["NaN", "Infinity", "1e400", "1" + "0" * 30, "1" * 5000])
def test_a_hand_edited_number_names_the_fix_and_the_fix_works(tmp_path, edit):
    cat = simple(tmp_path)
    assert goap_cmd("state", "reset", str(cat)).returncode == 0
    assert goap_cmd("state", "set", str(cat), "n", "1").returncode == 0
    path = tmp_path / "c_state.json"
    path.write_text(path.read_text().replace('"n": 1', f'"n": {edit}'))
    proc = goap_cmd("plan", str(cat), "--state", str(path), "--json")
    assert proc.returncode == 2
    no_traceback(proc)
    message = strict_json(proc.stdout)["error"]
    assert "goap state" in message and len(message) < 600
    if "goap state set" in message:  # the variable is named: its own advice must work
        fixed = goap_cmd("state", "set", str(cat), "n", "2")
        assert fixed.returncode == 0, fixed.stderr
    else:
        assert goap_cmd("state", "reset", str(cat)).returncode == 0
    assert goap_cmd("plan", str(cat), "--state", str(path), "--json").returncode == 0


@pytest.mark.parametrize(
    "where, text",
    [
        ("state.x.default", "{type: float, default: .nan}"),
        ("state.x.default", "{type: float, default: .inf}"),
        ("state.x.default", "{type: int, default: " + "9" * 30 + "}"),
        ("actions.work.cost", ".inf"),
        ("actions.work.cost", "1" + "0" * 400),
        ("actions.work.cost", "1.7e308"),
        ("actions.work.timeout", "1e300"),
        ("actions.work.retry", "{attempts: 3, backoff: 1e200}"),
        ("failure_budget", "1" + "0" * 400),
    ],
)
def test_catalog_numbers_out_of_range_are_located_errors(tmp_path, where, text):
    lines = {
        "state.x.default": "  x: {}",
        "actions.work.cost": "    cost: {}",
        "actions.work.timeout": "    timeout: {}",
        "actions.work.retry": "    retry: {}",
        "failure_budget": "failure_budget: {}",
    }
    yaml_text = "\n".join(
        [
            "version: 1",
            "name: numbers",
            *([lines[where].format(text)] if where == "failure_budget" else []),
            "state:",
            "  done: false",
            *([lines[where].format(text)] if where.startswith("state") else []),
            "goal: {done: true}",
            "actions:",
            "  work:",
            "    effects: {done: true}",
            "    cmd: [echo]",
            *([lines[where].format(text)] if where.startswith("actions") else []),
        ]
    )
    path = tmp_path / "n.yaml"
    path.write_text(yaml_text + "\n")
    for command in (["plan", str(path)], ["run", str(path), "--workdir", str(tmp_path)]):
        proc = goap_cmd(*command)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        no_traceback(proc)
        assert "n.yaml:" in proc.stderr and "unreachable" not in proc.stderr


def test_two_largest_costs_still_plan(tmp_path):
    cat = catalog(
        tmp_path / "c.yaml",
        {
            "a": {"cost": 1e15, "effects": {"a": True}, "cmd": ["true"]},
            "b": {"cost": 1e15, "pre": {"a": True}, "effects": {"b": True}, "cmd": ["true"]},
        },
        {"a": False, "b": False},
        {"b": True},
    )
    proc = goap_cmd("plan", str(cat), "--json")
    assert proc.returncode == 0 and strict_json(proc.stdout)["cost"] == 2e15


NAN_EXECUTOR = """
def loss(workdir="."):
    with open("ran", "a") as out:
        out.write("ran\\n")
    return {"loss": float("nan"), "note": float("inf")}
"""


def test_an_executor_observing_nan_is_executed_once_recorded_and_escalated(tmp_path):
    (tmp_path / "nan_exec.py").write_text(NAN_EXECUTOR)
    cat = catalog(
        tmp_path / "c.yaml",
        {
            "train": {
                "effects": {"trained": True},
                "run": "nan_exec:loss",
                "observe": {"metrics.loss": "loss"},
                "retry": {"attempts": 3, "delay": 0},
            },
        },
        {"trained": False, "metrics.loss": 1.0},
        {"trained": True},
    )
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    no_traceback(proc)
    summary = strict_json(proc.stdout)  # valid JSON: no NaN printed
    assert summary["status"] == "escalated" and proc.returncode == 1
    assert "recorded as executed" in summary["message"]
    assert "loss" in summary["message"] and "metrics.loss" in summary["message"]
    assert (tmp_path / "ran").read_text().count("ran") == 1
    state = strict_json((tmp_path / "c_state.json").read_text())
    assert state["history"][-1]["outcome"] == "succeeded"
    assert state["history"][-1]["facts"] == {"loss": "NaN", "note": "Infinity"}
    assert state["world_state"]["trained"] is True
    assert state["world_state"]["metrics"]["loss"] == 1.0
    again = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    assert again.returncode == 0 and (tmp_path / "ran").read_text().count("ran") == 1


# ---------------------------------------------------------------- 3. processes


FORKING = (
    "echo start >> starts; "
    "(while true; do echo tick >> ticks; sleep 0.05; done) & "
    "(setsid sh -c 'while true; do echo tock >> tocks; sleep 0.05; done') & "
    "sleep {seconds}; echo end >> ends"
)


def marked_processes(state_path: Path) -> list[int]:
    return orphans.marked(orphans.OWNER, orphans.owner_mark(state_path))


def grows(path: Path, wait: float = 0.4) -> bool:
    before = path.read_text().count("\n") if path.exists() else 0
    time.sleep(wait)
    return (path.read_text().count("\n") if path.exists() else 0) > before


@pytest.mark.parametrize("trial", range(3))
def test_randomized_kill_9_of_a_forking_action_then_resume(tmp_path, trial):
    """The runner dies at a random moment while its action has forked a background loop
    and a setsid'ed daemon; the resumed run ends them before repeating the action."""
    rng = random.Random(trial)
    cat = catalog(
        tmp_path / "c.yaml",
        {
            "prep": {"effects": {"prepped": True}, "cmd": [SH, "-c", "echo p >> preps"]},
            "work": {
                "pre": {"prepped": True},
                "effects": {"done": True},
                "cmd": [SH, "-c", FORKING.format(seconds=1.0)],
            },
        },
        {"prepped": False, "done": False},
        {"done": True},
    )
    state_path = tmp_path / "c_state.json"
    runner = subprocess.Popen(
        [sys.executable, "-m", "goap", "run", str(cat), "--workdir", str(tmp_path)],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    end = time.monotonic() + 30
    while not (tmp_path / "starts").exists() and time.monotonic() < end:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.05, 0.8))
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    strict_json(state_path.read_text())  # whole at the moment of the kill
    assert grows(tmp_path / "tocks")  # the daemon outlived the runner...
    resumed = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert "left by an earlier run" in resumed.stderr
    assert marked_processes(state_path) == []  # ...and nothing of it is left now
    assert not grows(tmp_path / "tocks") and not grows(tmp_path / "ticks")
    assert (tmp_path / "preps").read_text().count("p") == 1
    assert (tmp_path / "ends").read_text().count("end") == 1  # the resumed attempt only


def test_what_a_finished_action_left_in_the_background_is_ended_with_it(tmp_path):
    cat = simple(
        tmp_path,
        [SH, "-c", "(setsid sh -c 'while true; do echo x >> bg; sleep 0.05; done') & echo ok"],
    )
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert not grows(tmp_path / "bg")
    assert marked_processes(tmp_path / "c_state.json") == []


SENSORS = """
import time

def hung(workdir="."):
    time.sleep(60)
    return {"a": True}

def healthy(workdir="."):
    return {"b": True}
"""


def test_each_sensor_has_its_own_deadline(tmp_path):
    (tmp_path / "sense_exec.py").write_text(SENSORS)
    cat = catalog(
        tmp_path / "c.yaml",
        {"work": {"effects": {"done": True}, "cmd": ["true"]}},
        {"done": False, "a": False, "b": False},
        {"done": True},
        sensors=[
            {"run": "sense_exec:hung", "observe": {"a": "a"}, "timeout": 1},
            {"run": "sense_exec:healthy", "observe": {"b": "b"}, "timeout": 30},
        ],
    )
    started = time.monotonic()
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert "sensor" in proc.stderr and "timed out after 1 s" in proc.stderr
    # sensed twice (before planning, after the action): two deadlines of 1 s plus the
    # kill's grace, never the 60 s the hung one asks for
    assert took < 20
    assert strict_json(proc.stdout)["world_state"] == {"done": True, "a": False, "b": True}


def test_the_worker_never_imports_the_workdirs_shadowing_modules(tmp_path):
    workdir, lib = tmp_path / "work", tmp_path / "lib"
    workdir.mkdir()
    lib.mkdir()
    for name in ("json", "typing", "pydantic"):
        (workdir / f"{name}.py").write_text(
            f"open({str(tmp_path / ('imported-' + name))!r}, 'w').close()\nraise SystemExit(9)\n"
        )
    (lib / "own_exec.py").write_text("def go(workdir='.'):\n    return {'ok': True}\n")
    cat = catalog(
        tmp_path / "c.yaml",
        {"work": {"effects": {"done": True}, "run": "own_exec:go", "observe": {"ok": "ok"}}},
        {"done": False, "ok": False},
        {"done": True},
    )
    goap = Path(sys.executable).with_name("goap")  # the installed command, as users run it
    proc = subprocess.run(
        [str(goap), "run", str(cat), "--workdir", str(workdir), "--json"],
        cwd=workdir,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(lib)])),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert strict_json(proc.stdout)["world_state"]["ok"] is True
    assert not list(tmp_path.glob("imported-*"))


def test_a_module_that_crashes_the_interpreter_at_import_is_a_clear_error(tmp_path):
    (tmp_path / "segv_exec.py").write_text("import ctypes\nctypes.string_at(0)\ndef go(): pass\n")
    cat = catalog(
        tmp_path / "c.yaml",
        {"work": {"effects": {"done": True}, "run": "segv_exec:go"}},
        {"done": False},
        {"done": True},
    )
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "crashed on import" in proc.stderr
    no_traceback(proc)
    assert not (tmp_path / "c_state.json").exists()


# ---------------------------------------------------------------- 5. secrets


CREDENTIAL_EXEC = """
import os, sys
from goap.executor import ActionFailed

def leak(workdir="."):
    value = os.environ["DEPLOY_CREDENTIAL"]
    print("printing", value)
    print("to stderr", value, file=sys.stderr)
    raise ActionFailed(f"refused with {value}", tail=f"tail {value}", facts={"seen": value})
"""


def test_an_executor_reading_a_credential_itself_never_leaks_it(tmp_path):
    secret = "s3cr3t-credential-value-42"
    declared = "declared-secret-value-99"
    (tmp_path / "cred_exec.py").write_text(CREDENTIAL_EXEC)
    cat = catalog(
        tmp_path / "c.yaml",
        {
            "leak": {"effects": {"done": True}, "run": "cred_exec:leak", "observe": {"s": "seen"}},
            "say": {
                "cost": 9,
                "effects": {"done": True},
                "cmd": [SH, "-c", "echo $MY_THING; exit 3"],
            },
        },
        {"done": False, "s": ""},
        {"done": True},
        failure_budget=2,
        secrets=["MY_*"],
    )
    env = {"DEPLOY_CREDENTIAL": secret, "MY_THING": declared}
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    everything = proc.stdout + proc.stderr + (tmp_path / "c_state.json").read_text()
    for log in (tmp_path / ".goap" / "logs").rglob("*.log"):
        everything += log.read_text()
    assert "refused with ***" in everything and "printing ***" in everything
    assert secret not in everything and declared not in everything


def test_a_command_that_cannot_start_never_shows_its_expanded_argv(tmp_path):
    secret = "tok-0123456789abcdef"
    cat = simple(tmp_path, ["/nonexistent/${API_TOKEN}/tool", "--flag"])
    proc = goap_cmd(
        "run", str(cat), "--workdir", str(tmp_path), "--json", env={"API_TOKEN": secret}
    )
    everything = proc.stdout + proc.stderr + (tmp_path / "c_state.json").read_text()
    assert "cannot start" in everything and secret not in everything


# ---------------------------------------------------------------- 6. state-file bytes


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.sampled_from(
            [
                b"[" * 100_000,
                b'{"schema_version": 1, "world_state": ' + b"[" * 50_000 + b"}",
                b'{"schema_version": 1e400}',
                b"\xff\xfe{}",
                b'{"schema_version": NaN}',
                b'{"schema_version": ' + b"9" * 5000 + b"}",
            ]
        ),
    )
)
def test_any_bytes_in_the_state_file_end_in_a_message_and_reset_recovers(tmp_path, data):
    from typer.testing import CliRunner

    from goap.faces.cli import app

    cat = simple(tmp_path)
    state = tmp_path / "c_state.json"
    state.write_bytes(data)
    runner = CliRunner()
    for args in (
        ["plan", str(cat)],
        ["state", "show", str(cat)],
        ["state", "set", str(cat), "n", "1"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code in (0, 2), (args, result.output, result.exception)
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        ), result.exception
    result = runner.invoke(app, ["state", "reset", str(cat)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["plan", str(cat)]).exit_code == 0


def test_reading_a_state_file_is_total():
    """Unit-level: read_document turns every failure into StateError."""
    from state.store import read_document

    for data in (b"\xff", b"[" * 100_000, b"1e400", b"NaN", b"9" * 5000):
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"goap-total-{os.getpid()}.json"
        path.write_bytes(data)
        try:
            with pytest.raises(StateError):
                value = read_document(path)
                if not isinstance(value, dict):
                    raise StateError("not an object")
        finally:
            path.unlink()


def test_advice_names_only_commands_and_options_that_exist():
    """Every `goap <command> ... --option` that goap's own messages recommend exists."""
    import typer.main

    from goap.faces.cli import add_plugin_commands, app

    add_plugin_commands()
    group = typer.main.get_command(app)
    commands: dict[str, set[str]] = {}

    def walk(command, prefix: str) -> None:
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        commands[prefix.strip()] = options
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{prefix} {name}")

    walk(group, "")
    every_option = set().union(*commands.values())
    found = []
    for path in [*(ROOT / "goap").rglob("*.py"), *(ROOT / "state").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((path.name, node.value))
    import re

    for name, text in found:
        if "goap" not in text:  # a git or pytest argv, not goap's advice
            continue
        for option in re.findall(r"(?<![\w-])--[a-z]+(?:-[a-z]+)*(?![\w-])", text):
            assert option in every_option, (name, option, text)
        for command in re.findall(r"`goap ([a-z]+(?: [a-z]+)?)", text):
            words = command.split()
            assert words[0] in commands or " ".join(words) in commands, (name, command, text)


# ---------------------------------------------------------------- 4. agents (the CLI face)

AGENT_EXEC = """
def go(note: str = "", workdir: str = "."):
    open("went", "a").write(note + "\\n")
    return {}
"""


def agent_catalog(tmp_path: Path, skill: str = "deploying") -> Path:
    (tmp_path / "agent_cli_exec.py").write_text(AGENT_EXEC)
    return catalog(
        tmp_path / "c.yaml",
        {
            "prep": {"effects": {"ready": True}, "cmd": ["true"]},
            "go": {
                "skill": skill,
                "pre": {"ready": True},
                "effects": {"done": True, "n": "+=1"},
                "run": "agent_cli_exec:go",
                "agent": {"args": ["note"]},
            },
        },
        {"ready": False, "done": False, "n": 0},
        {"done": True},
    )


def test_an_alias_bomb_in_an_agents_argument_is_refused_fast(tmp_path):
    cat = agent_catalog(tmp_path)
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    levels += [
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    bomb = "{" + ", ".join(levels) + "}"
    started = time.monotonic()
    proc = goap_cmd(
        "skill", "run", str(cat), "go", "--force", "--arg", f"note={bomb}", cwd=tmp_path
    )
    assert proc.returncode == 2 and time.monotonic() - started < 20
    assert "alias" in proc.stderr
    no_traceback(proc)
    assert not (tmp_path / "went").exists()


def test_force_records_the_action_and_its_effects_so_a_run_does_not_repeat_it(tmp_path):
    cat = agent_catalog(tmp_path)
    proc = goap_cmd("skill", "run", str(cat), "go", "--force", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    document = strict_json(proc.stdout)
    assert document["forced_over"] == ["ready == true"]
    assert document["world_state"] == {"ready": False, "done": True, "n": 1}
    entry = strict_json((tmp_path / "c_state.json").read_text())["history"][-1]
    assert (entry["action"], entry["forced"], entry["outcome"]) == ("go", True, "succeeded")
    run = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    assert run.returncode == 0 and strict_json(run.stdout)["executed"] == []
    assert (tmp_path / "went").read_text().count("\n") == 1


def test_exported_skill_folders_are_named_safely(tmp_path):
    cat = agent_catalog(tmp_path, skill="../../escaped")
    out = tmp_path / "skills"
    proc = goap_cmd("skill", "export", str(cat), "--dir", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = [Path(line) for line in proc.stdout.split()]
    assert written and all(p.resolve().is_relative_to(out.resolve()) for p in written)
    assert not (tmp_path.parent / "escaped").exists()
