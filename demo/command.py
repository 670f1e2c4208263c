"""The ``goap demo`` command, added to ``goap`` through the ``goap.commands`` entry point."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from demo.summary import print_summary, summarize
from demo.workspace import STATE_FILE, create_workspace
from goap.faces.cli import JsonOpt, err, handles_errors, out
from goap.faces.view import LineView, RunView
from goap.loading.catalog import Catalog, load_catalog
from goap.running.errors import RunError
from goap.running.resources import DEFAULT_JOBS
from goap.running.runner import Runner, RunResult
from state.status import UNFINISHED
from state.store import load_state


@dataclass(frozen=True)
class DemoResult:
    run: RunResult
    summary: dict[str, Any]


def deployment_catalog() -> Catalog:
    """plans/deployment.yaml, from the installed ``plans`` package (a wheel or a checkout)."""
    with as_file(files("plans") / "deployment.yaml") as path:
        return load_catalog(path)


def run_demo(
    directory: Path, resume: bool, view_console: Console, json_mode: bool, jobs: int = DEFAULT_JOBS
) -> DemoResult:
    """Create or reuse the workspace, run the deployment catalog to its goal, summarise."""
    catalog = deployment_catalog()
    directory = directory.absolute()
    state_path = directory / STATE_FILE
    started = time.monotonic()
    _refuse_unfinished(catalog, state_path, directory, resume)
    view_console.print(f"workspace: {directory}")
    created = create_workspace(directory)
    view_console.print("created the workspace" if created else "reusing the workspace")
    if json_mode or not view_console.is_terminal:
        view = LineView(view_console)
        run = Runner(catalog, state_path, directory, events=view, jobs=jobs).run(resume)
    else:
        with RunView(view_console) as live:
            run = Runner(catalog, state_path, directory, events=live, jobs=jobs).run(resume)
    wall_s = round(time.monotonic() - started, 1)
    state = load_state(state_path, catalog.schema, catalog.name)
    return DemoResult(run, summarize(directory, state, run, created, wall_s))


def _refuse_unfinished(catalog: Catalog, state_path: Path, directory: Path, resume: bool) -> None:
    """Say how to continue an unfinished demo in the demo's own words (before any work)."""
    if resume or not state_path.is_file():
        return
    status = load_state(state_path, catalog.schema, catalog.name).status  # bad: store says why
    if status in UNFINISHED:
        raise RunError(
            f"the demo in {directory} did not finish ({status}); continue it with "
            f"`goap demo --dir {directory} --resume`, or delete {directory} to start over"
        )


@handles_errors
def demo_cmd(
    dir: Annotated[
        Path, typer.Option("--dir", help="Workspace to create (or reuse if it is one).")
    ] = Path("goap-demo"),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted demo run.")] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Steps run at once, at most (1: one by one).")
    ] = DEFAULT_JOBS,
    json_out: JsonOpt = False,
) -> None:
    """Create a small ML workspace and deploy it with plans/deployment.yaml, on this machine."""
    result = run_demo(dir, resume, err(), json_out, jobs)
    if json_out:
        print(json.dumps(result.summary, default=str))
    else:
        print_summary(result.summary, out())
    raise typer.Exit(result.run.exit_code)
