"""The warm sensor host: sensors forked from modules imported once per run, never stale,
dying with the runner, and a child of their own whenever the host cannot serve. Real runs
of `goap` with real sensor modules in the workdir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, goap_cmd
from test_trust import catalog, marked_processes, strict_json

SENSOR = """
import os
from pathlib import Path

with open("imports", "a") as f:  # once per interpreter that imports this module
    f.write("i\\n")


def look(workdir="."):
    parent = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().replace(b"\\0", b" ")
    with open("parents", "a") as f:
        f.write(parent.decode() + "\\n")
    print("looked", os.environ.get("SECRET_TOKEN", ""))
    return {"v": VALUE}


VALUE = 1
"""

STEPS = {
    "one": {"effects": {"one": True}, "cmd": ["true"]},
    "two": {"pre": {"one": True}, "effects": {"two": True}, "cmd": ["true"]},
    "three": {"pre": {"two": True}, "effects": {"done": True}, "cmd": ["true"]},
}
STATE = {"one": False, "two": False, "done": False, "v": 0}


def sensed(tmp_path: Path, source: str = SENSOR, steps: dict | None = None) -> Path:
    (tmp_path / "probe.py").write_text(source)
    return catalog(tmp_path / "c.yaml", steps or STEPS, STATE, {"done": True},
                   sensors=[{"run": "probe:look", "observe": {"v": "v"}}])  # fmt: skip


def count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_sensors_are_forked_from_a_host_that_imported_them_once(tmp_path):
    cat = sensed(tmp_path)
    env = {"SECRET_TOKEN": "hunter2-very-secret"}
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert strict_json(proc.stdout)["world_state"]["v"] == 1
    parents = (tmp_path / "parents").read_text().splitlines()
    assert len(parents) == 4  # before planning and after each of the three steps
    assert all("goap.running.sensor_host" in p for p in parents), parents
    # the preflight's check imports it once, the host once for all four rounds
    assert count(tmp_path / "imports") == 2
    logs = "".join(p.read_text() for p in (tmp_path / ".goap").rglob("sensors-*.log"))
    assert logs.count("looked") == 4 and "hunter2-very-secret" not in logs  # scrubbed
    assert marked_processes(tmp_path / "c_state.json") == []  # the host went with the run


def test_without_the_host_each_sensor_is_a_child_of_its_own(tmp_path):
    cat = sensed(tmp_path)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path,
                    env={"GOAP_SENSOR_HOST": "0"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert strict_json(proc.stdout)["world_state"]["v"] == 1
    assert count(tmp_path / "imports") == 1 + 4  # the check, then one interpreter a round
    assert not any("sensor_host" in p for p in (tmp_path / "parents").read_text().splitlines())


def test_a_sensor_module_changed_during_the_run_is_never_run_stale(tmp_path):
    """A step rewrites the sensor's module: the next round runs the new code, from a new
    host (the old one answered stale)."""
    script = ("import pathlib, time; p = pathlib.Path('probe.py'); time.sleep(0.05); "
              "p.write_text(p.read_text().replace('VALUE = 1', 'VALUE = 22'))")  # fmt: skip
    edit = [sys.executable, "-c", script]
    steps = dict(STEPS, two={"pre": {"one": True}, "effects": {"two": True}, "cmd": edit})
    cat = sensed(tmp_path, steps=steps)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert strict_json(proc.stdout)["world_state"]["v"] == 22
    # the check, the first host; after the edit that host answers stale (the sensor runs in
    # a child), and the last round has a new host with the new code
    assert count(tmp_path / "imports") == 4


def test_a_host_that_dies_mid_round_costs_only_speed(tmp_path):
    """The sensor kills its host the first time (as an OOM kill would): it is run again in a
    child of its own, and the run ends as it would have."""
    source = SENSOR.replace(
        '    return {"v": VALUE}',
        "    if b'sensor_host' in parent and not os.path.exists('killed'):\n"
        "        open('killed', 'w').close()\n"
        "        os.kill(os.getppid(), 9)\n"
        "        time.sleep(30)\n"
        '    return {"v": VALUE}',
    ).replace("import os\n", "import os\nimport time\n", 1)
    cat = sensed(tmp_path, source)
    started = time.monotonic()
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 20  # the grandchild died with its host
    assert (tmp_path / "killed").exists()
    assert strict_json(proc.stdout)["world_state"] == {
        "one": True, "two": True, "done": True, "v": 1}  # fmt: skip
    assert "failed" not in proc.stderr  # no sensor failed: the lost one ran again


def test_a_host_whose_modules_start_threads_is_not_used(tmp_path):
    """A fork copies only the forking thread: with threads running, a lock another thread
    holds would stay held in the grandchild. Such a host declines; sensors run as children."""
    source = "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), " \
             "daemon=True).start()\n" + SENSOR  # fmt: skip
    cat = sensed(tmp_path, source)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert strict_json(proc.stdout)["world_state"]["v"] == 1
    parents = (tmp_path / "parents").read_text().splitlines()
    assert len(parents) == 4 and not any("sensor_host" in p for p in parents)


def test_kill_9_of_the_runner_mid_round_leaves_no_host_and_no_sensor(tmp_path):
    source = SENSOR.replace(
        '    return {"v": VALUE}',
        "    if os.path.exists('hang'):\n"
        "        open('hanging', 'w').close()\n"
        "        time.sleep(60)\n"
        '    return {"v": VALUE}',
    ).replace("import os\n", "import os\nimport time\n", 1)
    cat = sensed(tmp_path, source)
    (tmp_path / "hang").touch()
    proc = subprocess.Popen(
        [sys.executable, "-m", "goap", "run", str(cat), "--workdir", str(tmp_path)],
        cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (tmp_path / "hanging").exists():
        assert time.monotonic() < deadline, "the sensor never ran"
        time.sleep(0.05)
    state = tmp_path / "c_state.json"
    assert len(marked_processes(state)) >= 2  # the host and the hanging sensor
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while marked_processes(state):
        assert time.monotonic() < deadline, marked_processes(state)
        time.sleep(0.05)
    json.dumps(strict_json(state.read_text()))  # the state file is whole
