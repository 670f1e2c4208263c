"""The ray job backend against a real local Ray cluster that this module starts and stops.

Slow (a Ray head takes seconds to start), and skipped where the `ray` extra is missing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT, free_port, goap_cmd, read_json
from test_jobs import job_catalog, job_entries, submissions
from test_runner import spawn_run, wait_for

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Ray head on 127.0.0.1 with its dashboard (the Jobs API), stopped at the end."""
    ray_cli = Path(sys.executable).with_name("ray")
    # a short folder: Ray's unix sockets live under it, and a socket path over 107 bytes (as
    # under an xdist worker's basetemp) fails `ray start`
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    port, dashboard = free_port(), free_port()
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(ROOT))
    start = [str(ray_cli), "start", "--head", f"--port={port}", "--num-cpus=2",
             "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
             "--include-dashboard=true", "--disable-usage-stats", f"--temp-dir={temp}"]  # fmt: skip
    started = subprocess.run(start, env=env, capture_output=True, text=True, timeout=180)
    if started.returncode != 0:
        pytest.skip(f"a local Ray cluster would not start: {started.stderr[-500:]}")
    address = f"http://127.0.0.1:{dashboard}"
    try:
        wait_for_jobs_api(address, timeout=120)
        yield address
    finally:
        subprocess.run([str(ray_cli), "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def wait_for_jobs_api(address: str, timeout: float) -> None:
    """`ray start` returns before the dashboard serves (later still on a loaded machine, where a
    first submission was refused): wait until the Jobs API answers."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(address + "/api/jobs/", timeout=5) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the Ray dashboard at {address} did not answer within {timeout:.0f} s")
        time.sleep(0.5)


def ray_catalog(folder: Path, address: str, seconds: float) -> Path:
    cat = job_catalog(folder, seconds=seconds, backend="ray")
    with (folder / "goap.toml").open("a") as toml:
        toml.write(f'\n[jobs.ray]\naddress = "{address}"\n')
    return cat


def test_a_ray_job_runs_on_the_cluster_and_its_facts_reach_the_state(
    cluster, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    cat = ray_catalog(tmp_path, cluster, seconds=0.2)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", timeout=240)
    assert proc.returncode == 0, proc.stderr
    (entry,) = job_entries(tmp_path / "j_state.json")
    assert entry["job"]["backend"] == "ray" and entry["facts"]["trained"] is True
    assert submissions(tmp_path) == 1


def test_kill_9_mid_ray_job_then_resume_submits_once(cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cat = ray_catalog(tmp_path, cluster, seconds=4.0)
    state_path = tmp_path / "j_state.json"
    proc = spawn_run(cat, tmp_path)
    wait_for(lambda: submissions(tmp_path) == 1, timeout=120)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = goap_cmd(
        "run", str(cat), "--workdir", str(tmp_path), "--resume", "--json", timeout=240
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "reattached to job" in " ".join(resumed.stderr.split())
    assert submissions(tmp_path) == 1  # Ray ran the job once
    first, second = job_entries(state_path)
    assert first["job"]["id"] == second["job"]["id"] and second["facts"]["trained"] is True
    assert read_json(state_path)["world_state"] == {"trained": True, "done": True}


def test_sigterm_stops_the_ray_job(cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cat = ray_catalog(tmp_path, cluster, seconds=6.0)
    proc = spawn_run(cat, tmp_path)
    wait_for(lambda: submissions(tmp_path) == 1, timeout=120)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 130
    from ray.job_submission import JobSubmissionClient

    (entry,) = job_entries(tmp_path / "j_state.json")
    client = JobSubmissionClient(cluster)
    wait_for(lambda: str(client.get_job_status(entry["job"]["id"])).endswith("STOPPED"), 60)
    assert not (tmp_path / "trained").exists()
