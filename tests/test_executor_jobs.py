"""Executors that submit their work to a service of their own (a Modal call) and report it:
goap journals the handle, and after a crash hands it back so the work is not paid twice."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from conftest import goap_cmd, read_json
from test_runner import catalog, spawn_run, wait_for

from goap.running import progress
from goap.running.progress import Channel, job_left_in

SERVICE = """\
import json, os, subprocess, sys, time
from pathlib import Path
from goap.executor import reattach, remote_job

CLEAN = {k: v for k, v in os.environ.items() if not k.startswith("GOAP_")}  # not ours


def train(seconds: float = 2.0, workdir: str = "."):
    handle = reattach()
    if handle is None:  # submit: a process of the "service", independent of goap
        done = Path("done-" + str(time.time_ns()))
        proc = subprocess.Popen(
            [sys.executable, "-c", f"import time; time.sleep({seconds}); open({str(done)!r}, 'w')"],
            start_new_session=True, env=CLEAN,
        )
        Path("submissions").open("a").write(f"{proc.pid}\\n")
        remote_job("svc", str(proc.pid), result=str(done))
        handle = {"result": str(done)}
    while not Path(handle["result"]).exists():
        time.sleep(0.05)
    return {"trained": True, "reattached": "id" in handle and reattach() is not None}
"""


def service_catalog(folder: Path, seconds: float) -> Path:
    (folder / "svc_exec.py").write_text(SERVICE)
    actions = {
        "train": {
            "effects": {"trained": True},
            "run": "svc_exec:train",
            "with": {"seconds": seconds},
            "observe": {"trained": "trained"},
        }
    }
    return catalog(folder / "s.yaml", actions, {"trained": True}, {"trained": False})


def submissions(folder: Path) -> int:
    path = folder / "submissions"
    return len(path.read_text().splitlines()) if path.exists() else 0


def entries(state_path: Path) -> list[dict]:
    try:
        history = read_json(state_path)["history"]
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [e for e in history if e["action"] == "train"]


def kill_mid_wait(folder: Path, seconds: float) -> Path:
    cat = service_catalog(folder, seconds)
    state_path = folder / "s_state.json"
    proc = spawn_run(cat, folder)
    wait_for(lambda: bool(entries(state_path)) and entries(state_path)[-1].get("job"))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return cat


def test_a_reported_job_is_handed_back_after_kill_9(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cat = kill_mid_wait(tmp_path, seconds=2.0)
    (first,) = entries(tmp_path / "s_state.json")
    assert first["job"]["backend"] == "svc" and first["outcome"] == "started"
    resumed = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert "handing job" in " ".join(resumed.stderr.split())
    assert submissions(tmp_path) == 1  # the service ran the work once
    first, second = entries(tmp_path / "s_state.json")
    assert first["outcome"] == "interrupted" and second["outcome"] == "succeeded"
    assert second["job"]["id"] == first["job"]["id"] and second["facts"]["reattached"] is True


def test_a_job_the_runner_never_heard_of_is_found_in_the_channel_it_left(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cat = kill_mid_wait(tmp_path, seconds=2.0)
    state_path = tmp_path / "s_state.json"
    data = read_json(state_path)
    for entry in data["history"]:
        entry["job"] = None  # as if the runner died between the report and its journal write
    state_path.write_text(json.dumps(data))
    resumed = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert submissions(tmp_path) == 1


def test_job_records_are_heard_apart_from_progress(tmp_path):
    channel = Channel(tmp_path / "a.progress", [])
    with open(channel.path, "a") as handle:
        handle.write('{"step": 1}\n{"job": {"backend": "modal", "id": "fc-1"}}\n{"step": 2}\n')
        handle.write('{"job": {"backend": "modal", "id": ["not", "scalar"]}}\n')
    assert channel.poll() == {"step": 2}
    assert channel.job == {"backend": "modal", "id": "fc-1"}
    assert job_left_in(channel.path) == {"backend": "modal", "id": "fc-1"}
    assert job_left_in(tmp_path / "missing") is None


def test_reattach_reads_only_a_well_formed_handle(monkeypatch):
    monkeypatch.setenv(progress.REATTACH_ENV, '{"backend": "modal", "id": "fc-2"}')
    assert progress.reattach() == {"backend": "modal", "id": "fc-2"}
    for bad in ("not json", "[1]", '{"backend": "modal"}'):
        monkeypatch.setenv(progress.REATTACH_ENV, bad)
        assert progress.reattach() is None
    monkeypatch.setenv(progress.LEAVE_ENV, "1")
    assert progress.leave_jobs()


# ----------------------------------------------------------- the Modal adapter, at the boundary


class FakeModal:
    """models.modal_app's spawn/poll/cancel as Modal would answer them (Modal cannot be
    reached here): spawn gives an id, poll says running a few times, then done."""

    def __init__(self, polls_before_done: int = 1, known: tuple[str, ...] = ()):
        self.spawned: list[str] = []
        self.cancelled: list[str] = []
        self.polls: dict[str, int] = {}
        self.left = polls_before_done
        self.known = set(known)

    def spawn(self, name: str, config: dict[str, Any]) -> str:
        call_id = f"fc-{len(self.spawned) + 1}"
        self.spawned.append(call_id)
        self.known.add(call_id)
        return call_id

    def poll(self, call_id: str, wait_s: float = 0.0) -> tuple[str, Any]:
        if call_id not in self.known:
            return "gone", None
        self.polls[call_id] = self.polls.get(call_id, 0) + 1
        if self.polls[call_id] > self.left:
            return "done", {"completed": True, "call": call_id}
        return "running", None

    def cancel(self, call_id: str) -> None:
        self.cancelled.append(call_id)


@pytest.fixture
def fake_modal(monkeypatch, tmp_path):
    from models import modal_app

    fake = FakeModal()
    for name in ("spawn", "poll", "cancel"):
        monkeypatch.setattr(modal_app, name, getattr(fake, name))
    channel = Channel(tmp_path / "t.progress", [])
    monkeypatch.setenv(progress.ENV, str(channel.path))
    monkeypatch.delenv(progress.REATTACH_ENV, raising=False)
    return fake, channel


def test_modal_training_is_spawned_once_and_its_call_reported(fake_modal):
    from actions.train import _on_modal

    fake, channel = fake_modal
    assert _on_modal("train_dit", {"steps": 2}, poll_s=0) == {"completed": True, "call": "fc-1"}
    assert fake.spawned == ["fc-1"]
    channel.poll()
    assert channel.job == {"backend": "modal", "id": "fc-1", "function": "train_dit"}


def test_a_handed_back_modal_call_is_waited_for_not_spawned_again(fake_modal, monkeypatch):
    from actions.train import _on_modal

    fake, _ = fake_modal
    fake.known.add("fc-9")
    monkeypatch.setenv(progress.REATTACH_ENV, '{"backend": "modal", "id": "fc-9"}')
    assert _on_modal("train_dit", {}, poll_s=0)["call"] == "fc-9"
    assert fake.spawned == []


def test_a_modal_call_that_is_gone_is_spawned_again(fake_modal, monkeypatch):
    from actions.train import _on_modal

    fake, _ = fake_modal
    monkeypatch.setenv(progress.REATTACH_ENV, '{"backend": "modal", "id": "fc-expired"}')
    assert _on_modal("train_dit", {}, poll_s=0)["call"] == "fc-1"
    assert fake.spawned == ["fc-1"]


def test_modal_poll_maps_modals_answers(monkeypatch):
    import modal

    from models import modal_app

    class Call:
        def __init__(self, outcome: Any):
            self.outcome = outcome

        def get(self, timeout: float | None = None) -> Any:
            if isinstance(self.outcome, BaseException):
                raise self.outcome
            return self.outcome

    answers = {
        "running": modal.exception.TimeoutError("not yet"),
        "expired": modal.exception.OutputExpiredError("expired"),
        "missing": modal.exception.NotFoundError("no such call"),
        "done": {"completed": True},
    }
    monkeypatch.setattr(modal.FunctionCall, "from_id", lambda call_id: Call(answers[call_id]))
    assert modal_app.poll("running") == ("running", None)
    assert modal_app.poll("expired") == ("gone", None)
    assert modal_app.poll("missing") == ("gone", None)
    assert modal_app.poll("done") == ("done", {"completed": True})


def test_spawning_without_a_token_says_so(monkeypatch):
    from models import modal_app
    from models.errors import ModelsError

    monkeypatch.setattr(modal_app, "has_token", lambda: False)
    with pytest.raises(ModelsError, match="modal token new"):
        modal_app.spawn("train_dit", {})
