"""Staged rollout with automatic rollback, planned: plans/serving.yaml run by the real `goap`
against the real model server (started by the catalog's S01) on real registry versions."""

# ruff: noqa: F811  (the fixtures imported from conftest_serving are test arguments)
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, goap_cmd
from conftest_serving import add_version, serving_base, serving_ws  # noqa: F401

# real trainings, a real server, real load windows: minutes each (-m 'not long' skips them)
pytestmark = [pytest.mark.slow, pytest.mark.long]

CATALOG = ROOT / "plans" / "serving.yaml"


def run(ws: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return goap_cmd("run", str(CATALOG), "--workdir", str(ws), "--state",
                    str(ws / "serving_state.json"), "--json", *extra, timeout=600)  # fmt: skip


def health(ws: Path) -> dict:
    ready = json.loads((ws / ".goap" / "serve" / "ready.json").read_text())
    return httpx.get(ready["url"] + "/health", timeout=10).json()


def verdicts(ws: Path) -> dict:
    return json.loads((ws / ".goap" / "serve" / "verdicts.json").read_text())


def executed(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [e["action"] for e in json.loads(result.stdout)["executed"]]


def first_deploy(ws: Path) -> None:
    """The first version has nothing to be compared with: S01 starts the server serving it."""
    result = run(ws)
    assert result.returncode == 0, result.stderr
    assert executed(result) == ["start_server"]
    assert health(ws)["stable"] == "v1"


def test_a_good_candidate_reaches_100_percent_and_is_promoted(serving_ws: Path) -> None:
    first_deploy(serving_ws)
    candidate = add_version(serving_ws, "same")
    result = run(serving_ws)
    assert result.returncode == 0, result.stderr
    assert executed(result) == ["load_candidate", "smoke_test_candidate", "rollout_5", "rollout_25",
                                "rollout_50", "rollout_100", "promote_candidate"]  # fmt: skip
    now = health(serving_ws)
    assert (now["stable"], now["candidate"]) == (candidate, None)
    verdict = verdicts(serving_ws)[candidate]
    assert [verdict["stages"][p]["passed"] for p in ("5", "25", "50", "100")] == [True] * 4
    for percent, minimum in (("5", 30), ("25", 40), ("50", 60), ("100", 60)):
        assert verdict["stages"][percent]["candidate"]["requests"] >= minimum
    ab = json.loads((serving_ws / verdict["ab"]).read_text())
    assert ab["stable"] == "v1" and ab["candidate"] == candidate  # kept in the registry
    assert ab["accuracy"][candidate] == ab["accuracy"]["v1"]  # the same graph answers alike
    assert ab["accuracy_test"]["p_value"] == 1.0 and "McNemar" in ab["accuracy_test"]["test"]
    assert (serving_ws / ".goap" / "registry" / "tiny-cats" / candidate / "ab").is_dir()
    assert run(serving_ws).returncode == 0  # nothing left to do: a no-op
    assert health(serving_ws)["stable"] == candidate


@pytest.mark.parametrize("kind", ["shuffled", "slow"])
def test_a_bad_candidate_is_rolled_back_automatically(serving_ws: Path, kind: str) -> None:
    first_deploy(serving_ws)
    bad = add_version(serving_ws, kind)
    result = run(serving_ws)
    document = json.loads(result.stdout)
    assert result.returncode != 0  # the goal (serving the latest version) is out of reach
    steps = executed(result)
    assert steps[:3] == ["load_candidate", "smoke_test_candidate", "rollout_5"]
    assert steps[-1] == "rollback_candidate" and "promote_candidate" not in steps
    now = health(serving_ws)
    assert (now["stable"], now["candidate"], now["percent"]) == ("v1", None, 0)  # 100% stable
    verdict = verdicts(serving_ws)[bad]
    assert verdict["rejected"] and verdict["regressed"]
    why = "probe accuracy" if kind == "shuffled" else "p95 latency"
    assert why in verdict["reason"], verdict
    assert document["status"] == "no_plan" and "serving.latest_rejected" in document["message"] or \
        document["status"] == "no_plan", document["message"]  # fmt: skip
    again = run(serving_ws)  # the world says rejected: nothing is rolled out again
    assert "load_candidate" not in executed(again)


def test_kill_9_mid_rollout_then_resume_continues_from_the_stage_the_server_is_in(
    serving_ws: Path,
) -> None:
    first_deploy(serving_ws)
    candidate = add_version(serving_ws, "same")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "goap", "run", str(CATALOG), "--workdir", str(serving_ws),
         "--state", str(serving_ws / "serving_state.json"), "--json"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while True:  # the 25% stage is under way: routed, its window not yet decided
        assert time.monotonic() < deadline and proc.poll() is None
        try:
            if health(serving_ws)["percent"] == 25:
                break
        except (OSError, ValueError, httpx.HTTPError):
            pass
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert "25" not in verdicts(serving_ws)[candidate]["stages"]
    resumed = run(serving_ws, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    steps = executed(resumed)
    assert steps == ["rollout_25", "rollout_50", "rollout_100", "promote_candidate"], steps
    state = json.loads((serving_ws / "serving_state.json").read_text())
    done = [e["action"] for e in state["history"] if e["outcome"] == "succeeded"]
    for action in ("load_candidate", "smoke_test_candidate", "rollout_5"):
        assert done.count(action) == 1  # what finished before the kill ran once
    assert health(serving_ws)["stable"] == candidate
