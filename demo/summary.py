"""What a demo run did and produced: a JSON document, and the same as terminal tables.

The steps come from the run's journal (the state file, read through ``state.store``), the
metrics from the validation report and the quantization records (at the paths
``actions.pipeline`` owns), the published version from the local registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from actions.pipeline import KINDS, REPORT, int8_path, read_json, read_record
from actions.publish import version_history
from actions.serving import Serving, ServingArgs, serving_status
from actions.site import SiteStatusArgs, site_status
from demo.workspace import STATE_FILE
from goap.running.runner import RunResult
from state.store import StateFile

MODEL_NAME = "tiny-cats"
# Facts worth a column in the summary, in order of preference (the first three found are shown).
HIGHLIGHTS = (
    "val_accuracy", "classifier_accuracy", "dit_conditional_accuracy", "conclusion", "accuracy",
    "conditional_accuracy", "accuracy_change", "max_abs_error", "size_after", "final_loss",
    "version_id", "version", "branch", "sha", "fixed_files", "trainval", "train_loss",
    "applicable", "reason", "lint_errors", "files", "run_id", "path", "index",
)  # fmt: skip


def summarize(
    workspace: Path, state: StateFile, run: RunResult, created: bool, wall_s: float
) -> dict[str, Any]:
    """Actions of the last run with durations and highlights, metrics, and where everything is."""
    steps = [
        {
            "id": e.id or e.action,
            "action": e.action,
            "outcome": e.outcome,
            "seconds": e.duration_s,
            "highlights": (e.error or "")[:80]
            if e.outcome != "succeeded"
            else highlights(e.facts or {}),
        }
        for e in state.history
        if e.run_id == state.run_id
    ]
    report = read_json(workspace / REPORT) or {}
    metrics: dict[str, Any] = {}
    for kind, values in report.get("metrics", {}).items():
        metrics |= {f"{kind}.{name}": value for name, value in values.items()}
    for kind in KINDS:
        record = read_record(workspace / int8_path(kind)) or {}
        if record:
            metrics[f"{kind}.size_fp32_mb"] = round(record["size_before"] / 1e6, 3)
            metrics[f"{kind}.int8_{record['metric']}_change"] = record["accuracy_change"]
    versions = version_history(workspace, MODEL_NAME)
    latest = versions[-1] if versions else None
    site = site_status(SiteStatusArgs(workdir=workspace, name=MODEL_NAME))
    serving = serving_status(ServingArgs(workdir=workspace, name=MODEL_NAME))
    server = (Serving(workspace, MODEL_NAME).ready() or {}) if serving["up"] else {}
    artifacts = {
        "published version": f"{latest['path']} ({latest['version']})" if latest else "-",
        "validation report": REPORT,
        "onnx models": "artifacts/{classifier,dit}{,.int8}.onnx",
        "checkpoints": "runs/{classifier,dit}/checkpoint.pt",
        "progress report": "reports/PROGRESS.md",
        "state file": STATE_FILE,
        "action logs": ".goap/logs/",
        "web site": f"site/ (serves {site['served_version']})"
        if site.get("deployed")
        else site.get("reason", "-"),
        "model server": f"{server['url']} (stable {serving['stable']}, pid {server['pid']})"
        if server
        else "not running",
    }
    return {
        "status": run.status,
        "exit_code": run.exit_code,
        "message": run.message,
        "workspace": str(workspace),
        "created": created,
        "wall_s": wall_s,
        "version_id": report.get("version_id"),
        "published_version": latest["version"] if latest else None,
        "registry_path": latest["path"] if latest else None,
        "steps": steps,
        "metrics": metrics,
        "artifacts": artifacts,
        "site_version": site.get("served_version"),
        "serve": site.get("serve"),
        "model_server": {
            "url": server.get("url"),
            "pid": server.get("pid"),
            "stable": serving.get("stable"),
        }
        if server
        else None,  # fmt: skip
        "executed": run.executed,
        "failures": run.failures,
    }


def highlights(facts: dict[str, Any]) -> str:
    shown = []
    for name in HIGHLIGHTS:
        if name in facts and len(shown) < 3:
            value = facts[name]
            if isinstance(value, float):
                value = f"{value:.4g}"
            elif isinstance(value, list):
                value = ", ".join(map(str, value)) or "-"
            elif isinstance(value, str) and len(value) > 40:
                value = value[:12] if name in ("sha", "run_id") else value[:40]
            shown.append(f"{name}={value}")
    return " ".join(shown)


def print_summary(summary: dict[str, Any], out: Console) -> None:
    """The summary as tables: actions of the last run (a no-op keeps it), metrics, artifacts."""
    steps = Table(title="goap demo: actions of the last run", header_style="bold")
    for column in ("id", "action", "result", "seconds", "highlights"):
        steps.add_column(column, justify="right" if column == "seconds" else "left")
    for step in summary["steps"]:
        if step["outcome"] == "started":
            continue
        color = {"succeeded": "green", "failed": "red"}.get(step["outcome"], "yellow")
        seconds = f"{step['seconds']:.1f}" if step["seconds"] is not None else "-"
        steps.add_row(
            escape(step["id"]),
            escape(step["action"]),
            f"[{color}]{step['outcome']}[/]",
            seconds,
            escape(step["highlights"]),
        )
    if summary["steps"]:
        out.print(steps)
    else:
        out.print("nothing to do: the goal already holds (the sensors checked the workspace)")
    if summary["metrics"]:
        metrics = Table(title="metrics", header_style="bold")
        metrics.add_column("metric")
        metrics.add_column("value", justify="right")
        for name, value in sorted(summary["metrics"].items()):
            metrics.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
        out.print(metrics)
    where = Table(title=f"artifacts (in {escape(summary['workspace'])})", header_style="bold")
    where.add_column("what")
    where.add_column("where")
    for what, path in summary["artifacts"].items():
        where.add_row(what, escape(path))
    out.print(where)
    color = "green" if summary["exit_code"] == 0 else "red"
    version = summary["version_id"] or "-"
    out.print(
        f"[{color}]{summary['status']}[/]: {escape(summary['message'])} | version {version} | "
        f"published {summary['published_version'] or '-'} | {summary['wall_s']:.1f} s"
    )
    if summary.get("serve"):
        out.print(f"serve the web app on 127.0.0.1: [bold]{escape(summary['serve'])}[/]")
    if summary.get("model_server"):
        server = summary["model_server"]
        out.print(
            f"the model server answers at {escape(server['url'])} (it keeps running; stop it "
            f"with: kill {server['pid']})"
        )
