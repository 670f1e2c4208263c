"""The progress channel: executors say how far they are; the views and --stream show it."""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from goap.faces.view import LineView, RunView, plan_table
from goap.loading.catalog import load_catalog
from goap.planning.planner import plan
from goap.running import progress
from goap.running.progress import Channel, cleaned, shown
from tests.conftest import ROOT, goap_cmd

REPORTER = """\
import time
from dataclasses import replace
from goap.executor import progress


def train(steps: int = 4):
    for step in range(1, steps + 1):
        progress(step=step, total=steps, loss=1.0 / step, message="training")
        time.sleep(0.3)
    return {"trained": True}
"""


CMD_CATALOG = """\
version: 1
name: c
state: {trained: false}
goal: {trained: true}
actions:
  train: {effects: {trained: true}, cmd: ["true"]}
"""


def catalog(tmp_path: Path) -> Path:
    (tmp_path / "reporter.py").write_text(REPORTER)
    path = tmp_path / "p.yaml"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "name": "p",
                "state": {"trained": False},
                "goal": {"trained": True},
                "actions": {
                    "train": {
                        "effects": {"trained": True},
                        "run": "reporter:train",
                        "observe": {"trained": "trained"},
                    }
                },
            }
        )
    )
    return path


def test_a_python_executors_progress_is_streamed_by_json_stream(tmp_path):
    proc = goap_cmd("run", str(catalog(tmp_path)), "--json", "--stream", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]  # every line is JSON
    kinds = [e["event"] for e in events]
    assert kinds[0] == "planned" and kinds[1] == "started" and kinds[-1] == "result"
    steps = [e["progress"]["step"] for e in events if e["event"] == "progress"]
    assert steps and steps == sorted(steps) and steps[-1] == 4  # the last word always arrives
    seen = next(e for e in events if e["event"] == "progress")
    assert seen["action"] == "train" and seen["progress"]["total"] == 4
    assert seen["text"].startswith(f"step {seen['progress']['step']}/4 · loss")
    assert events[-1]["status"] == "completed" and events[-1]["world_state"] == {"trained": True}
    assert not list((tmp_path / ".goap").rglob("*.progress"))  # the channel is removed


def test_stream_without_json_is_a_usage_error(tmp_path):
    proc = goap_cmd("run", str(catalog(tmp_path)), "--stream", cwd=tmp_path)
    assert proc.returncode == 2 and "--stream goes with --json" in proc.stderr


def test_a_shell_command_reports_through_the_same_file(tmp_path):
    path = tmp_path / "c.yaml"
    line = '{\\"step\\": $i, \\"total\\": 3}'
    script = f'for i in 1 2 3; do echo "{line}" >> "$GOAP_PROGRESS"; sleep 0.2; done'
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "name": "c",
                "state": {"done": False},
                "goal": {"done": True},
                "actions": {"work": {"effects": {"done": True}, "cmd": ["/bin/sh", "-c", script]}},
            }
        )
    )
    proc = goap_cmd("run", str(path), "--json", "--stream", cwd=tmp_path)
    texts = [json.loads(x).get("text") for x in proc.stdout.splitlines()]
    assert "step 3/3" in texts, proc.stdout


def test_the_live_view_shows_progress_in_the_running_row(tmp_path):
    action = load_catalog("c.yaml", CMD_CATALOG).actions[0]
    view = RunView(Console(file=io.StringIO(), width=100))
    view.started(action, 1)
    view.progress(action, {"step": 120, "total": 400, "loss": 0.12345})
    out = Console(file=io.StringIO(), width=100)
    out.print(view)
    assert "step 120/400 · loss 0.1235" in out.file.getvalue()


def test_the_line_view_prints_progress_at_most_every_few_seconds(tmp_path):
    action = load_catalog("c.yaml", CMD_CATALOG).actions[0]
    console = Console(file=io.StringIO(), width=100)
    view = LineView(console)
    view.started(action, 1)
    for step in range(1, 50):
        view.progress(action, {"step": step, "total": 49})
    lines = [x for x in console.file.getvalue().splitlines() if "step" in x]
    assert lines == ["  train step 1/49"]


def test_cleaned_keeps_short_scalar_fields_and_masks_secrets():
    record = {
        "step": 3,
        "loss": float("nan"),
        "nested": {"a": 1},
        "x" * 41: 1,
        "message": "token hunter2 " + "y" * 500,
        "ok": True,
    }
    out = cleaned(record, ["hunter2"])
    assert set(out) == {"step", "message", "ok"}
    assert "hunter2" not in out["message"] and len(out["message"]) <= progress.MAX_TEXT + 10
    assert cleaned([1, 2], []) is None and cleaned({"a": [1]}, []) is None
    assert shown({"message": "go", "step": 2}) == "step 2 · go"


def test_channel_reads_only_complete_lines_and_the_newest_record(tmp_path):
    channel = Channel(tmp_path / "a.progress", [])
    assert channel.poll() is None
    with open(channel.path, "a") as handle:
        handle.write('{"step": 1}\n{"step": 2}\nnot json\n{"step": 3')  # 3 is not complete yet
    assert channel.poll() == {"step": 2}
    with open(channel.path, "a") as handle:
        handle.write("}\n")
    assert channel.poll() == {"step": 3}
    assert channel.poll() is None
    channel.close()
    assert not channel.path.exists()


def test_channel_skips_ahead_when_flooded(tmp_path):
    channel = Channel(tmp_path / "a.progress", [])
    with open(channel.path, "a") as handle:
        for step in range(200_000):  # ~2.4 MB: only the newest 64 KB are read
            handle.write(f'{{"step": {step}}}\n')
    started = time.perf_counter()
    assert channel.poll() == {"step": 199_999}
    assert time.perf_counter() - started < 1.0


def test_report_never_follows_a_link_and_is_silent_outside_goap(tmp_path, monkeypatch):
    target = tmp_path / "precious"
    target.write_text("keep\n")
    link = tmp_path / "a.progress"
    link.symlink_to(target)
    monkeypatch.setenv(progress.ENV, str(link))
    progress.report(step=1)
    assert target.read_text() == "keep\n"
    monkeypatch.delenv(progress.ENV)
    progress.report(step=1)  # no channel: nothing happens, nothing raises


def test_a_channel_that_cannot_be_made_does_not_stop_the_action(tmp_path):
    from goap.loading.catalog import Executor
    from goap.running.execution import ExecutionContext, run_executor

    log = tmp_path / "x.log"
    (tmp_path / "x.log.progress").mkdir()  # planted: unlink cannot remove it, O_EXCL refuses
    heard: list[dict] = []
    ctx = replace(ExecutionContext.create(tmp_path, tmp_path), progress=heard.append)
    outcome = run_executor(Executor(cmd=("true",)), where="action x", log=log, ctx=ctx)
    assert outcome.ok and heard == []


def test_training_progress_follows_the_metrics_file(tmp_path, monkeypatch):
    from actions.train import _reporting

    channel = Channel(tmp_path / "t.progress", [])
    monkeypatch.setenv(progress.ENV, str(channel.path))
    metrics = tmp_path / "metrics.jsonl"
    with _reporting(metrics, total=40, every=0.05):
        with metrics.open("w") as handle:
            handle.write(json.dumps({"step": 0, "event": "data"}) + "\n")
            for step in (10, 20):
                handle.write(json.dumps({"step": step, "loss": 0.5, "images_per_s": 99.4}) + "\n")
                handle.flush()
                time.sleep(0.2)
    assert channel.poll() == {"step": 20, "total": 40, "loss": 0.5, "images_per_s": 99}


def test_tables_fit_80_columns_and_keep_names_whole():
    seed = load_catalog(ROOT / "plans" / "deployment.yaml")
    result = plan(seed, seed.initial)
    console = Console(file=io.StringIO(), width=80)
    console.print(plan_table(result, "plan", console.width))
    text = console.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    for action in result.actions:
        assert action.name in text  # not cut to "validate_m…"
        for effect in action.effects:
            assert str(effect).split(" ")[0] in text  # variable names whole


def test_skill_list_at_80_columns_keeps_names_whole(tmp_path):
    proc = goap_cmd(
        "skill", "list", str(ROOT / "plans" / "deployment.yaml"), cwd=tmp_path,
        env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "validate_modal_cli" in proc.stdout and "code_validation.ruff_validated" in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
