"""Progress documentation (A14) and the ADR completeness check (A15), with their sensor.

A14 writes a markdown progress report from the goap state file (the seed's template: completed
actions with durations and time since the start, what runs now, what is pending, failures, the
slowest steps). The state file is written by the runner, so the report is a snapshot taken
while A14 itself runs. A15 checks that the required ADRs exist with a title, the required
sections and a status, and that their relative links resolve; it writes an index of them.
Both write under ``reports/`` rather than into the committed docs, so documenting the run
never makes the documentation commit group dirty again.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from actions.contract import InWorkdir, WorkdirArgs, leads_outside
from actions.paths import write_text
from actions.pipeline import relative
from goap.executor import ActionFailed, facts

SLOWEST = 5
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


class ProgressArgs(WorkdirArgs):
    state_file: str | None = Field(
        None,
        description="The goap state file to report on: a path inside the workdir, or the "
        "state file of the run calling this action (GOAP_STATE_FILE), which is the default.",
    )
    out: InWorkdir = Field("reports/PROGRESS.md", description="Where the markdown report goes.")
    title: str = Field("Deployment Progress Report", description="Heading of the report.")

    @model_validator(mode="after")
    def _state_file_is_inside_or_the_runs_own(self) -> ProgressArgs:
        """Any other file would make the report (and its errors) a way to read files."""
        if self.state_file is None or _is_run_state_file(self.workdir, self.state_file):
            return self
        if leads_outside(self.workdir, self.state_file):
            shown = self.state_file if len(self.state_file) <= 80 else self.state_file[:80] + "..."
            raise ValueError(
                f"state_file: {shown!r} is neither inside the working directory nor this run's "
                "state file (GOAP_STATE_FILE); give a path inside it, or leave state_file unset"
            )
        return self


def _is_run_state_file(workdir: Path, named: str) -> bool:
    """``named`` (relative to workdir, or absolute) is the file GOAP_STATE_FILE names."""
    own = os.environ.get("GOAP_STATE_FILE")
    return bool(own) and (workdir / named).resolve() == Path(own).resolve()


class AdrArgs(WorkdirArgs):
    adr_dir: InWorkdir = Field("docs/adr", description="Folder of the ADR files (ADR-026-*.md).")
    required: list[str] = Field(
        default_factory=lambda: ["ADR-026", "ADR-027", "ADR-028", "ADR-029"],
        description="ADR numbers that must exist.",
    )
    sections: list[str] = Field(
        default_factory=lambda: ["Status", "Context", "Decision", "Consequences"],
        description="'## ' sections every ADR must have.",
    )


class AdrCheckArgs(AdrArgs):
    index: InWorkdir = Field("reports/ADR-INDEX.md", description="Where the ADR index is written.")


class DocsStatusArgs(AdrCheckArgs):
    progress: InWorkdir = Field(
        "reports/PROGRESS.md", description="The progress report A14 writes."
    )


# ---------------------------------------------------------------------------------- executors


@facts("path", "run_id", "completed", "in_progress", "pending", "failures", "progress")
def write_progress_report(args: ProgressArgs) -> dict[str, Any]:
    """A14: the progress report of the current run, from the state file."""
    named = args.state_file or os.environ.get("GOAP_STATE_FILE")
    if not named:
        raise ActionFailed("no state file to report on: pass state_file, or run under goap")
    path = Path(named)
    path = path if path.is_absolute() else args.workdir / path
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ActionFailed(
            f"state file {path} not found; run goap with --state {path} or set state_file"
        ) from exc
    except json.JSONDecodeError as exc:
        raise ActionFailed(f"state file {path} is not valid JSON ({exc})") from exc
    progress = Progress(state)
    out = args.workdir / args.out
    write_text(out, progress.markdown(args.title))  # replaces a link planted at out
    return {
        "path": relative(args.workdir, out),
        "run_id": state.get("run_id"),
        "completed": len(progress.completed),
        "in_progress": [e["label"] for e in progress.running],
        "pending": progress.pending,
        "failures": len(progress.failed),
        "progress": progress.fraction,
    }


@facts("adrs_complete", "adrs", "problems", "index")
def check_adrs(args: AdrCheckArgs) -> dict[str, Any]:
    """A15: every required ADR exists and is complete; writes an index of them."""
    adrs, problems = _read_adrs(args)
    index = args.workdir / args.index
    rows = [
        f"| {a['id']} | {a['title']} | {a['status']} | "
        f"[{a['file']}]({os.path.relpath(args.workdir / a['path'], index.parent)}) |"
        for a in adrs
    ]
    table = ["| ADR | title | status | file |", "| --- | --- | --- | --- |", *rows]
    write_text(index, "# Architecture decision records\n\n" + "\n".join(table) + "\n")
    facts = {
        "adrs_complete": not problems,
        "adrs": len(adrs),
        "problems": problems,
        "index": relative(args.workdir, index),
    }
    if problems:
        raise ActionFailed(f"ADRs incomplete: {'; '.join(problems)}", facts=facts)
    return facts


@facts(
    "progress_report",
    "adrs_complete",
    "adr_problems",
    "unindexed",
    note="adrs_complete: every required ADR complete and listed in the index.",
)
def docs_status(args: DocsStatusArgs) -> dict[str, Any]:
    """Sensor: the progress report exists; the required ADRs are complete and indexed."""
    _, problems = _read_adrs(args)
    index = args.workdir / args.index
    listed = index.read_text(encoding="utf-8") if index.is_file() else ""
    unlisted = [adr for adr in args.required if f"| {adr} |" not in listed]
    return {
        "progress_report": (args.workdir / args.progress).is_file(),
        "adrs_complete": not problems and not unlisted,
        "adr_problems": problems,
        "unindexed": unlisted,
    }


# ----------------------------------------------------------------------------- progress


class Progress:
    """The current run's journal, sorted into completed / running / failed / pending."""

    def __init__(self, state: dict[str, Any]):
        self.state = state
        run = state.get("run_id")
        entries = [
            {**e, "label": e.get("id") or e["action"]}
            for e in state.get("history", [])
            if e.get("run_id") == run
        ]
        self.completed = [e for e in entries if e["outcome"] == "succeeded"]
        self.running = [e for e in entries if e["outcome"] == "started"]
        self.failed = [e for e in entries if e["outcome"] in ("failed", "interrupted")]
        running = {e["label"] for e in self.running}
        self.pending = [p for p in state.get("actions_pending", []) if p not in running]
        self.start = _time(state.get("started_at"))

    @property
    def fraction(self) -> str:
        done = len(self.completed)
        return f"{done}/{done + len(self.running) + len(self.pending)}"

    def _since_start(self, stamp: str | None) -> str:
        end = _time(stamp)
        if self.start is None or end is None:
            return "-"
        seconds = int((end - self.start).total_seconds())
        return f"T+{seconds // 60}:{seconds % 60:02d}"

    def markdown(self, title: str) -> str:
        s = self.state
        lines = [
            f"## {title}",
            "",
            f"**Deployment ID:** {s.get('deployment_id', '-')}",
            f"**Run:** {s.get('run_id', '-')}",
            f"**Started:** {s.get('started_at') or '-'}",
            f"**Status:** {s.get('status', '-')}",
            f"**Current Phase:** {s.get('current_phase') or '-'}",
            f"**Progress:** {self.fraction} actions complete",
            "",
            "### Completed Actions",
        ]
        lines += [
            f"- [x] {e['label']}: {e['action']} ({e.get('duration_s') or 0:.1f} s, "
            f"{self._since_start(e.get('ended_at'))})"
            for e in self.completed
        ] or ["- none yet"]
        lines += ["", "### In Progress"]
        lines += [f"- [~] {e['label']}: {e['action']}" for e in self.running] or ["- none"]
        lines += ["", "### Pending Actions"]
        lines += [f"- [ ] {label}" for label in self.pending] or ["- none"]
        lines += ["", "### Failures"]
        lines += [
            f"- {e['label']}: {e['action']} (attempt {e.get('attempt', 1)}, "
            f"{e.get('duration_s') or 0:.1f} s): {e.get('error') or e['outcome']}"
            for e in self.failed
        ] or ["None"]
        slowest = sorted(self.completed, key=lambda e: e.get("duration_s") or 0, reverse=True)
        total = sum(e.get("duration_s") or 0 for e in self.completed + self.failed)
        lines += ["", "### Timings", "", f"Time spent in actions: {total:.1f} s", ""]
        lines += ["| action | seconds |", "| --- | --- |"]
        lines += [
            f"| {e['label']} {e['action']} | {e.get('duration_s') or 0:.1f} |"
            for e in slowest[:SLOWEST]
        ]
        lines += ["", "### Next Action", self.pending[0] if self.pending else "none"]
        return "\n".join(lines) + "\n"


def _time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


# ---------------------------------------------------------------------------------- ADRs


def _read_adrs(args: AdrArgs) -> tuple[list[dict[str, str]], list[str]]:
    """Each required ADR's id, title, status and file; and every problem found."""
    folder = args.workdir / args.adr_dir
    adrs, problems = [], []
    for adr_id in args.required:
        found = sorted(folder.glob(f"{adr_id}*.md"))
        if len(found) != 1:
            problems.append(
                f"{adr_id}: {'no file' if not found else f'{len(found)} files'} matching "
                f"{args.adr_dir}/{adr_id}*.md"
            )
            continue
        path = found[0]
        text = path.read_text(encoding="utf-8")
        title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "")
        headings = {m.group(1).strip() for m in re.finditer(r"^## (.+)$", text, re.MULTILINE)}
        missing = [s for s in args.sections if s not in headings]
        status = _section_first_line(text, "Status")
        if not title:
            problems.append(f"{adr_id}: no '# ' title")
        if missing:
            problems.append(f"{adr_id}: missing section(s) {', '.join(missing)}")
        elif "Status" in args.sections and not status:
            problems.append(f"{adr_id}: empty Status section")
        for target in _LINK.findall(text):
            if "://" in target or target.startswith(("#", "mailto:")):
                continue
            if not (path.parent / target.split("#")[0]).exists():
                problems.append(f"{adr_id}: broken link {target}")
        adrs.append(
            {
                "id": adr_id,
                "title": title,
                "status": status,
                "file": path.name,
                "path": relative(args.workdir, path),
            }
        )
    return adrs, problems


def _section_first_line(text: str, section: str) -> str:
    match = re.search(rf"^## {re.escape(section)}\s*$\n+(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""
