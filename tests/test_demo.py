"""`goap demo` end to end on CPU, as real processes.

One demo runs from scratch (``finished``, tests/conftest_demo.py: from the installed wheel,
about 3 minutes on 2 cores); the other scenarios start from a copy of its finished workspace
and change the world the way the scenario says: a lint error planted in committed code, the
artifacts lost and the run killed mid-way, an undertrained classifier, the Hugging Face backend
without a (real) token. Each then runs the checkout's `goap demo` (python -m goap demo) and
checks the route the planner took and where it ended.
"""

# ruff: noqa: F811  (the fixtures imported from conftest_demo are test arguments)
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, free_port
from conftest_demo import CLEAN_ENV, Demo, Installed, finished, installed, wheel  # noqa: F401
from conftest_serving import stop_server
from test_actions_support import git

from goap.loading.catalog import load_catalog
from goap.planning.schedule import conflict

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CATALOG = ROOT / "plans" / "deployment.yaml"
FAKE_HF_TOKEN = "hf_" + "FAKEdemoTOKEN" * 3  # built at run time: no token-shaped literal


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def goap(*args: str, timeout: float = 900, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "goap", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment(**env),
        cwd=ROOT,
    )


def demo(workspace: Path, *extra: str, **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    proc = goap("demo", "--dir", str(workspace), "--json", *extra, **env)
    try:
        summary = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"goap demo printed no JSON (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc, summary


def state(workspace: Path) -> dict[str, Any]:
    return json.loads((workspace / "deployment_state.json").read_text())


def run_history(workspace: Path) -> list[tuple[str, str]]:
    """(id, outcome) of every journal entry of the last run."""
    data = state(workspace)
    return [(e["id"], e["outcome"]) for e in data["history"] if e["run_id"] == data["run_id"]]


def executed(summary: dict[str, Any]) -> list[str]:
    return [e["id"] for e in summary["executed"]]


@pytest.fixture
def copy(finished: Demo, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the finished workspace (its remote is inside it, by relative path)."""
    ignore = shutil.ignore_patterns("node_modules")  # 180 MB that no later step reads
    # the copy's ready file names the original's server, which serves another registry: the
    # copy's sensor sees no server of its own, so a run of the copy starts one (S01)
    ws = Path(shutil.copytree(finished.workspace, tmp_path / "ws", symlinks=True, ignore=ignore))
    yield ws
    stop_server(ws / ".goap" / "serve")


# ------------------------------------------------------------------------------- the demo


def assert_serve_command_serves_the_site_isolated(argv: list[str], ws: Path, cwd: Path) -> None:
    """The printed command, as a user pastes it (on a free port, from where the demo ran):
    web.serve is in the wheel, and the site comes with the cross-origin-isolation headers."""
    port = free_port()
    without_pythonpath = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    child = subprocess.Popen([*argv[:-1], str(port)], cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=without_pythonpath)  # fmt: skip
    try:
        assert f"http://127.0.0.1:{port}/" in child.stdout.readline(), child.stderr.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config.json", timeout=10) as reply:
            assert json.loads(reply.read())["latest"] == "v1"
            assert reply.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
            assert reply.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    finally:
        child.terminate()
        child.wait(timeout=10)


def test_demo_reaches_the_goal_and_publishes_a_version(finished: Demo) -> None:
    ws, summary = finished.workspace, finished.summary
    print(f"goap demo from scratch: {finished.seconds:.0f} s")
    assert finished.proc.returncode == 0, finished.proc.stderr[-3000:]
    assert summary["status"] == "completed" and summary["created"] is True
    assert finished.seconds < 600  # the bound on 2 CPU cores
    assert sorted(executed(summary)) == sorted(
        [
            "A01",
            "A02",
            "A03",
            "A04",
            "A05",
            "A06",
            "A07",
            "A08",
            "A09",
            "T01",
            "T02",
            "T03",
            "T04",
            "T05",
            "T06",
            "A11",
            "A12",
            "A16",
            "S01",  # the first version has nothing to be compared with: served directly
            "A13",
            "A14",
            "A15",
        ]
    )  # fmt: skip  (each once; T00 is not needed: the demo generated the dataset)
    # steps at once: no two steps whose order matters overlapped, and independent ones did
    catalog = load_catalog(ROOT / "plans" / "deployment.yaml")
    spans = {
        e["action"]: (e["started_at"], e["ended_at"])
        for e in state(ws)["history"]
        if e["outcome"] == "succeeded"
    }
    steps = [catalog.action(e["action"]) for e in summary["executed"]]
    for j, later in enumerate(steps):
        for earlier in steps[:j]:
            if conflict(earlier, later):
                assert spans[earlier.name][1] <= spans[later.name][0], (earlier.name, later.name)
    overlaps = [
        (a, b)
        for a in spans
        for b in spans
        if a < b and spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]
    ]
    assert overlaps, "the demo ran every step alone"
    assert summary["failures"] == []
    # A published version in the local registry, with what was validated.
    assert summary["published_version"] == "v1"
    version = Path(summary["registry_path"])
    assert version == ws / ".goap" / "registry" / "tiny-cats" / "v1"
    assert {p.name for p in version.iterdir()} == {
        "README.md", "manifest.json", "classifier.int8.onnx", "dit.int8.onnx",
        "validation_report.json",
    }  # fmt: skip
    report = json.loads((version / "validation_report.json").read_text())
    assert report["passed"] and report["version_id"] == summary["version_id"]
    assert summary["metrics"]["classifier.accuracy"] >= 0.8
    assert summary["metrics"]["dit.conditional_accuracy"] >= 0.15
    expected = {"classifier.latency_p99_ms", "dit.size_fp32_mb", "dit.size_mb"}
    assert expected <= summary["metrics"].keys()
    # The world state says what the seed's goal says, and the workspace agrees.
    world = state(ws)["world_state"]
    assert state(ws)["status"] == "completed"
    assert world["git_state"]["branch_name"] == "feature/production-deployment-2026"
    assert world["git_state"]["commits_made"] == 3 and world["git_state"]["pushed"]
    assert world["ci_state"]["pipeline_passed"] and world["deployment_state"] == {
        "validation_gates_passed": True,
        "model_uploaded_hub": True,
        "mlflow_integrated": True,
        "site_deployed": True,
        "site_applicable": True,
    }
    assert world["code_validation"]["typescript_applicable"] is True  # web/ is built by A03
    site = json.loads((ws / "site" / "config.json").read_text())
    assert site["latest"] == "v1" and (ws / "site/models/v1/web-manifest.json").is_file()
    serve = summary["serve"].split()
    assert serve[1:] == ["-m", "web.serve", str(ws / "site"), "--port", "8000"]
    assert_serve_command_serves_the_site_isolated(serve, ws, finished.cwd)
    head = git(ws, "rev-parse", "HEAD")
    assert (
        git(ws, "ls-remote", "origin", "refs/heads/feature/production-deployment-2026")[:40] == head
    )
    ci = json.loads((ws / ".goap" / "ci" / f"{head}.json").read_text())
    assert ci["conclusion"] == "success" and len(ci["jobs"]) == 3
    assert git(ws, "status", "--porcelain") == ""
    progress = (ws / "reports" / "PROGRESS.md").read_text()
    assert "- [x] A13: integrate_mlflow" in progress and "- [~] A14: update_goap_md" in progress
    assert "| ADR-029 |" in (ws / "reports" / "ADR-INDEX.md").read_text()


def test_one_by_one_it_reaches_the_same_world_as_at_once(finished: Demo, tmp_path: Path) -> None:
    """The schedule is the parallel part, never the plan: `--jobs 1` from nothing ends in
    the world the shared demo (the default, --jobs 4) ended in, value for value."""
    ws = tmp_path / "one"
    try:
        proc, summary = demo(ws, "--jobs", "1")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert sorted(executed(summary)) == sorted(executed(finished.summary))
        assert state(ws)["world_state"] == state(finished.workspace)["world_state"]
        spans = [(e["started_at"], e["ended_at"]) for e in state(ws)["history"]]
        pairs = zip(spans, spans[1:], strict=False)
        assert all(end <= start for (_, end), (start, _) in pairs)  # one by one
    finally:
        stop_server(ws / ".goap" / "serve")


def test_goap_demo_from_the_wheel_in_an_empty_directory(installed: Installed, finished: Demo):
    """The shared demo (tests/conftest_demo.py) ran from this install: goap, demo and plans
    came from the wheel, and the workspace was made where it was started."""
    code = "import goap, demo, plans; print(goap.__file__, demo.__file__, plans.__file__)"
    where = subprocess.run(
        [str(installed.python), "-c", code],
        capture_output=True,
        text=True,
        env=installed.env,
        cwd=finished.cwd,
        check=True,
    ).stdout
    located = [Path(p) for p in where.split()]
    assert len(located) == 3 and all(p.is_relative_to(installed.venv) for p in located), where
    assert finished.proc.returncode == 0, finished.proc.stderr[-3000:]
    summary = finished.summary
    assert summary["status"] == "completed" and summary["published_version"] == "v1"
    assert Path(summary["workspace"]) == finished.cwd / "goap-demo"
    assert (finished.cwd / "goap-demo" / ".gitignore").is_file()  # the dotfile template, renamed


def test_running_it_again_is_a_no_op(finished: Demo) -> None:
    copy = finished.workspace  # its own server is running (a copy would start its own)
    proc, summary = demo(copy)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert summary["created"] is False and summary["executed"] == []
    assert summary["message"] == "the goal already holds: nothing to do"
    assert summary["published_version"] == "v1"
    assert summary["steps"], "the last run's steps stay in the summary"
    assert not (copy / ".goap" / "registry" / "tiny-cats" / "v2").exists()


def test_the_summary_renders_without_json(finished: Demo) -> None:
    """The human form of `goap demo` (the README's main job), not only its JSON."""
    proc = goap("demo", "--dir", str(finished.workspace))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "nothing to do" in proc.stdout and "published v1" in proc.stdout
    assert "actions of the last run" in proc.stdout


# ----------------------------------------------------------------------------- contingencies


def test_a_ci_failure_is_routed_through_a10(copy: Path) -> None:
    code = copy / "cats" / "inference.py"
    code.write_text("import os\n" + code.read_text())  # unused import: F401, fixable
    proc, summary = demo(copy)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Commit the change, CI fails, A10 commits ruff's fix, push and monitor again.
    ran = executed(summary)
    assert "S01" in ran  # the copy starts its own model server, beside the rest
    assert [a for a in ran if a != "S01"] == ["A05", "A08", "A09", "A10", "A08", "A09"]
    # A09 observed the failure and the run replanned (the note printed is the first surprise
    # of its round: with S01 beside the CI steps that may be start_server's)
    assert "the world differs from the plan after" in proc.stderr
    monitors = [e for e in state(copy)["history"] if e["id"] == "A09"]
    assert [e["facts"].get("passed") for e in monitors[-2:]] == [False, True]
    failing, fixed = git(copy, "rev-parse", "HEAD~1", "HEAD").split()
    assert git(copy, "log", "-1", "--format=%s") == "style: apply automatic ruff fixes"
    assert "import os" not in git(copy, "show", "HEAD:cats/inference.py")
    first = json.loads((copy / ".goap" / "ci" / f"{failing}.json").read_text())
    assert first["conclusion"] == "failure" and "ruff check ." in first["failed_jobs"]
    second = json.loads((copy / ".goap" / "ci" / f"{fixed}.json").read_text())
    assert second["conclusion"] == "success"
    world = state(copy)["world_state"]
    assert world["ci_state"]["pipeline_passed"] and world["ci_state"]["failures_resolved"] == 1
    assert world["git_state"]["commits_made"] == 5


def _started(workspace: Path, action: str) -> bool:
    """Whether ``action`` is in flight in the newest run (other steps may start after it)."""
    try:
        data = state(workspace)
        history, run = data["history"], data["run_id"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return False
    return any(
        e["action"] == action and e["outcome"] == "started" and e["run_id"] == run for e in history
    )


def test_a_crash_then_resume_reruns_nothing_that_finished(copy: Path) -> None:
    shutil.rmtree(copy / "artifacts")  # lost: export, quantize, validate, publish again
    runner = subprocess.Popen(
        [sys.executable, "-m", "goap", "demo", "--dir", str(copy), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment(),
        cwd=ROOT,
    )
    deadline = time.monotonic() + 600
    while not _started(copy, "quantize_dit") and time.monotonic() < deadline:
        assert runner.poll() is None, "the demo ended before quantize_dit started"
        time.sleep(0.1)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    assert state(copy)["status"] == "running"
    before = run_history(copy)
    done_before = {a for a, o in before if o == "succeeded"}
    cut = {a for a, o in before if o == "started"}  # in flight at the kill (steps at once)
    assert "T06" in cut and {"T03", "T05"} <= done_before
    assert {o for _, o in before} <= {"succeeded", "started"}
    refused = goap("demo", "--dir", str(copy))
    assert refused.returncode == 2 and f"goap demo --dir {copy} --resume" in refused.stderr
    proc, summary = demo(copy, "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran = executed(summary)
    # v2 makes the site stale, and is rolled out on the copy's own server (S01) in stages
    rollout = ["S01", "S02", "S03", "S04", "S05", "S06", "S07", "S08"]
    # the classifier's quantization (T04) is off the critical path: it may not have begun
    late = [a for a in ("T04",) if a not in {x for x, _ in before}]
    assert sorted(ran) == sorted([*cut, *late, "A11", "A12", "A16", *rollout])
    after = run_history(copy)
    assert after[: len(before)] == [(a, "interrupted" if o == "started" else o) for a, o in before]
    assert {a for a, o in after[len(before) :]} == set(ran)
    assert all(o == "succeeded" for _, o in after[len(before) :])
    assert summary["published_version"] == "v2"


def test_a_failed_gate_routes_to_retraining(copy: Path) -> None:
    weak = goap(
        "skill", "run", str(CATALOG), "train_classifier", "--state",
        str(copy / "deployment_state.json"), "--workdir", str(copy),
        "--arg", "steps=3", "--arg", "fresh=true", "--json",
    )  # fmt: skip
    assert weak.returncode == 0, weak.stderr[-2000:]
    proc, summary = demo(copy)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran = executed(summary)
    assert ran[:7] == ["T03", "T04", "A11", "T07", "T03", "T04", "A11"]
    assert sorted(ran[7:]) == sorted(["A12", "A16", "S01", "S02", "S03", "S04", "S05", "S06",
                                      "S07", "S08"])  # fmt: skip
    (failure,) = summary["failures"]
    assert failure["action"] == "run_validation_gates"
    assert "classifier.accuracy" in failure["error"] and "(limit >= 0.8)" in failure["error"]
    world = state(copy)["world_state"]
    assert world["training_state"]["retrains"] == 1
    assert not world["training_state"]["classifier_rejected"]
    record = json.loads((copy / "runs" / "classifier" / "checkpoint.pt.json").read_text())
    assert record["config"]["seed"] == 1 and record["config"]["steps"] == 250
    assert summary["published_version"] == "v2" and summary["metrics"]["classifier.accuracy"] >= 0.8


@pytest.mark.long  # a retrain, export, gates, publish and a staged rollout: minutes
def test_drift_in_the_served_inputs_routes_to_a_retrain_and_a_rollout(copy: Path) -> None:
    from models.loadgen import drive

    proc, summary = demo(copy)  # the copy's own server (S01), serving v1
    assert proc.returncode == 0 and executed(summary) == ["S01"], proc.stderr[-2000:]
    url = json.loads((copy / ".goap" / "serve" / "ready.json").read_text())["url"]
    brighter = drive(url, copy / "data" / "pets", requests=150, concurrency=4, shift=0.35)
    assert brighter["errors"] == 0
    proc, summary = demo(copy)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran = executed(summary)
    assert ran[0] == "T10" and "T07" not in ran  # the drift, not a gate, asked for it
    assert ran[-1] == "S08" and {"A11", "A12", "S04", "S07"} <= set(ran)
    report = json.loads((copy / ".goap" / "serve" / "drift_report.json").read_text())
    assert summary["published_version"] == "v2"
    world = state(copy)["world_state"]["serving"]
    assert world["stable_version"] == "v2" and not world["drift_detected"]
    first = next(e for e in state(copy)["history"] if e["action"] == "retrain_classifier_on_drift")
    assert first["facts"]["seed"] != 0  # a retrain changes the seed (the ledger has seed 0)
    # ... and the data: half of each batch under the exposure map the drift report fitted
    # (brightening by 0.35: scale 0.65, offset 0.35), and v2 was judged on the test split so
    # mapped as well as on the plain one
    ledger = (copy / "runs" / "classifier" / "trainings.jsonl").read_text().splitlines()
    fitted = json.loads(ledger[-1])["config"]["exposure"]
    assert fitted["scale"] == pytest.approx([0.65] * 3, abs=0.05) and fitted["share"] == 0.5
    assert fitted["offset"] == pytest.approx([0.35] * 3, abs=0.05)
    gates = json.loads((copy / "artifacts" / "validation_report.json").read_text())
    (gate,) = [g for g in gates["models"]["classifier"]["gates"] if g["gate"] == "drift_accuracy"]
    assert gate["passed"] and gate["value"] >= 0.8
    assert report["samples"] < 100 or not report["drift"]  # v2's own window: nothing to judge


def test_hugging_face_without_a_token_names_the_variable_and_leaks_no_token(copy: Path) -> None:
    config = copy / "goap.toml"  # the repo id is set; the backend is chosen by environment
    text = config.read_text()
    assert '# repo_id = "owner/tiny-cats"' in text
    config.write_text(text.replace('# repo_id = "owner/', 'repo_id = "demo-user/'))
    reset = goap("state", "set", str(CATALOG), "deployment_state.model_uploaded_hub", "false",
                 "--state", str(copy / "deployment_state.json"))  # fmt: skip
    assert reset.returncode == 0, reset.stderr
    hub = {"GOAP_HUB_BACKEND": "huggingface", "HF_HUB_OFFLINE": "1"}

    proc, summary = demo(copy, **hub)
    assert proc.returncode == 1 and summary["status"] == "escalated"
    assert {f["action"] for f in summary["failures"]} == {"upload_to_huggingface"}
    assert "environment variable HF_TOKEN is not set" in summary["failures"][0]["error"]
    assert "HF_TOKEN" in proc.stderr

    proc, summary = demo(copy, HF_TOKEN=FAKE_HF_TOKEN, **hub)
    assert proc.returncode == 1
    assert "Hugging Face upload to demo-user/tiny-cats failed" in summary["failures"][0]["error"]
    everything = proc.stdout + proc.stderr + (copy / "deployment_state.json").read_text()
    for log in (copy / ".goap" / "logs").rglob("*.log"):
        everything += log.read_text(errors="replace")
    for report in (copy / "reports").iterdir():
        everything += report.read_text()
    assert FAKE_HF_TOKEN not in everything
