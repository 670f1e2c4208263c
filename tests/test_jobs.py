"""Remote jobs outlive the runner: kill -9 it mid-job, resume, and count submissions.

The ``detached`` backend runs each job as a local process in its own session: the tests kill
runners over it for real. The Ray backend is tested against a real local cluster in
test_jobs_ray.py (slow, needs the ray extra)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from conftest import goap_cmd, read_json
from test_runner import catalog, spawn_run, wait_for

from goap.running.jobs import DetachedProcesses, answer_in, job_id

JOB = """\
import os, time
from pathlib import Path


def train(seconds: float = 1.5, workdir: str = "."):
    Path("submissions").open("a").write(f"{os.getpid()}\\n")  # one line per process started
    time.sleep(seconds)
    Path("trained").write_text("yes")
    return {"trained": True, "pid": os.getpid()}
"""


@pytest.fixture
def here(monkeypatch):
    """Change into a folder: its executor module is found from there, as a user's would be."""
    return monkeypatch.chdir


def job_catalog(tmp_path: Path, seconds: float = 1.5, backend: str = "detached") -> Path:
    (tmp_path / "remote_job.py").write_text(JOB)
    (tmp_path / "goap.toml").write_text(f'[jobs]\ntrain = "{backend}"\n')
    actions = {
        "train": {
            "effects": {"trained": True},
            "run": "remote_job:train",
            "with": {"seconds": seconds},
            "observe": {"trained": "trained"},
        },
        "after": {"pre": {"trained": True}, "effects": {"done": True}, "cmd": ["true"]},
    }
    return catalog(tmp_path / "j.yaml", actions, {"done": True}, {"trained": False, "done": False})


def submissions(tmp_path: Path) -> int:
    path = tmp_path / "submissions"
    return len(path.read_text().splitlines()) if path.exists() else 0


def job_entries(state_path: Path) -> list[dict]:
    return [e for e in read_json(state_path)["history"] if e["action"] == "train"]


def kill_9_mid_job(cat: Path, folder: Path) -> Path:
    """Start `goap run`, kill -9 it once the job was submitted; the state file's path."""
    proc = spawn_run(cat, folder)
    wait_for(lambda: submissions(folder) == 1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return folder / "j_state.json"


def test_a_detached_job_runs_and_its_facts_reach_the_state(tmp_path, here):
    here(tmp_path)
    cat = job_catalog(tmp_path, seconds=0.2)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    state = read_json(tmp_path / "j_state.json")
    assert state["world_state"] == {"trained": True, "done": True}
    (entry,) = job_entries(tmp_path / "j_state.json")
    assert entry["job"]["backend"] == "detached" and entry["facts"]["trained"] is True
    assert submissions(tmp_path) == 1
    folder = tmp_path / ".goap" / "jobs" / entry["job"]["id"]
    assert json.loads((folder / "answer.json").read_text())["facts"]["trained"] is True


def test_kill_9_mid_job_then_resume_reattaches_and_never_submits_twice(tmp_path, here):
    here(tmp_path)
    cat = job_catalog(tmp_path, seconds=2.0)
    state_path = kill_9_mid_job(cat, tmp_path)
    (entry,) = job_entries(state_path)
    assert entry["outcome"] == "started" and entry["job"]["id"]  # the handle is in the journal
    resumed = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert "reattached to job" in " ".join(resumed.stderr.split())
    assert submissions(tmp_path) == 1  # exactly one job ever ran
    first, second = job_entries(state_path)
    assert first["outcome"] == "interrupted" and second["outcome"] == "succeeded"
    assert first["job"]["id"] == second["job"]["id"]
    assert read_json(state_path)["world_state"] == {"trained": True, "done": True}


def test_a_job_that_finished_while_the_runner_was_dead_is_collected(tmp_path, here):
    here(tmp_path)
    cat = job_catalog(tmp_path, seconds=0.5)
    state_path = kill_9_mid_job(cat, tmp_path)
    wait_for(lambda: (tmp_path / "trained").exists())  # it finished with nobody watching
    time.sleep(0.3)
    resumed = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert submissions(tmp_path) == 1
    assert job_entries(state_path)[-1]["facts"]["trained"] is True


def test_a_job_that_no_longer_exists_runs_again_with_a_note(tmp_path, here):
    here(tmp_path)
    cat = job_catalog(tmp_path, seconds=3.0)
    state_path = kill_9_mid_job(cat, tmp_path)
    pid = int((tmp_path / "submissions").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)  # the job died too (a lost machine)
    time.sleep(0.3)
    resumed = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert "no longer exists; submitting again" in " ".join(resumed.stderr.split())
    assert submissions(tmp_path) == 2
    first, second = job_entries(state_path)
    assert first["job"]["id"] != second["job"]["id"] and second["outcome"] == "succeeded"
    assert second["job"]["replaces"] == first["job"]["id"]  # the journal says why


def test_sigterm_cancels_the_job_unless_told_to_leave_it(tmp_path, here):
    for leave in (False, True):
        folder = tmp_path / str(leave)
        folder.mkdir()
        here(folder)
        cat = job_catalog(folder, seconds=2.0)
        proc = spawn_run(cat, folder, *(["--leave-jobs"] if leave else []))
        wait_for(lambda folder=folder: submissions(folder) == 1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 130
        time.sleep(2.5)
        assert (folder / "trained").exists() is leave  # cancelled, or left to finish
        assert read_json(folder / "j_state.json")["status"] == "interrupted"


def test_an_unknown_backend_or_action_in_jobs_is_refused(tmp_path, here):
    here(tmp_path)
    cat = job_catalog(tmp_path, backend="slurm")
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path))
    assert proc.returncode == 2 and "use one of local, detached, ray" in proc.stderr
    (tmp_path / "goap.toml").write_text('[jobs]\ntrian = "detached"\n')
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path))
    assert proc.returncode == 2 and "[jobs] names trian" in proc.stderr
    assert submissions(tmp_path) == 0


def test_job_ids_are_deterministic_and_submitting_an_id_again_attaches(tmp_path):
    assert job_id("2026-12-02T06:00:00Z", "train", 3) == job_id("2026-12-02T06:00:00Z", "train", 3)
    assert job_id("r", "a", 1) != job_id("r", "a", 2)
    (tmp_path / "remote_job.py").write_text(JOB)
    backend = DetachedProcesses(tmp_path / "jobs", tmp_path)
    request = {
        "op": "call",
        "target": "remote_job:train",
        "args": {"seconds": 0.1},
        "where": "action train",
        "workdir": str(tmp_path),
    }
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    first = backend.submit("job-1", request, env)
    assert backend.submit("job-1", request, env) == first  # the same job, not a second one
    wait_for(lambda: backend.poll(first) == "done")
    answer, _ = backend.result(first)
    assert answer is not None and answer["facts"]["trained"] is True
    assert submissions(tmp_path) == 1
    assert backend.poll({"backend": "detached", "id": "never"}) == "gone"


def test_the_answer_line_survives_other_output():
    import base64

    line = "GOAP-ANSWER:" + base64.b64encode(json.dumps({"ok": True}).encode()).decode()
    assert answer_in(f"noise\n{line}\nmore noise\n") == {"ok": True}
    assert answer_in("GOAP-ANSWER:not base64!\n") is None and answer_in("") is None
