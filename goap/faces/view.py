"""How plans and runs look in a terminal (rich), kept apart from what they do."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from goap.loading.catalog import Action
from goap.planning.planner import PlanResult
from goap.running.execution import Outcome


def plan_table(result: PlanResult, title: str = "") -> Table:
    table = Table(title=title or None, show_lines=False, header_style="bold")
    for column in ("step", "id", "action", "skill", "cost", "needs", "changes"):
        table.add_column(column, justify="right" if column in ("step", "cost") else "left")
    for step, action in enumerate(result.actions, 1):
        table.add_row(
            str(step),
            action.id or "",
            action.name,
            action.skill or "",
            f"{action.cost:g}",
            "\n".join(str(c) for c in action.pre) or "-",
            "\n".join(str(e) for e in action.effects),
        )
    return table


def plan_summary(result: PlanResult) -> str:
    optimal = "optimal" if result.optimal else "not guaranteed optimal"
    return (
        f"total cost {result.cost:g} ({optimal}) | {len(result.actions)} steps | "
        f"{result.expanded} nodes expanded | {result.relevant} relevant actions | "
        f"{result.seconds * 1000:.2f} ms"
    )


ICONS = {"done": "[green]✓[/]", "failed": "[red]✗[/]", "pending": "[dim]·[/]"}


WHY_LINES = 8  # last lines of a failed step's output shown where it failed


def why(action: Action, outcome: Outcome) -> list[str]:
    """Why a step failed, where it failed: the error, its output's last lines, the log file."""
    lines = [f"{action.name}: {outcome.error}"]
    tail = [t for t in outcome.tail.splitlines() if t.strip()][-WHY_LINES:]
    if tail and not outcome.ok:
        lines += [f"| {t[:200]}" for t in tail]
    if outcome.log:
        lines.append(f"log: {outcome.log}")
    return lines


class RunView:
    """A live table of the current plan: what finished, what runs now, what is next."""

    def __init__(self, console: Console):
        self.console = console
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = []
        # Live renders `self` (``__rich__``) at every refresh, so the running step's timer moves
        self.live = Live(self, console=console, refresh_per_second=8, transient=False)

    def __enter__(self) -> RunView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self._render())
        self.live.__exit__(*exc)

    def __rich__(self) -> Group:
        return self._render()

    def _render(self) -> Group:
        table = Table(header_style="bold", expand=False)
        for column in ("", "id", "action", "skill", "attempt", "time", "result"):
            table.add_column(column)
        for row in self.rows:
            if row["state"] == "running":
                icon: Any = Spinner("dots")
                elapsed = f"{time.monotonic() - row['t0']:.1f}s"
            else:
                icon = Text.from_markup(ICONS.get(row["state"], ""))
                elapsed = row.get("time", "")
            table.add_row(
                icon,
                row["id"],
                row["name"],
                row["skill"],
                row.get("attempt", ""),
                elapsed,
                row.get("result", ""),
            )
        notes = [Text.from_markup(f"[yellow]•[/] {escape(n)}") for n in self.notes[-12:]]
        return Group(table, *notes)

    def _refresh(self) -> None:
        self.live.refresh()

    def planned(self, result: PlanResult, done: list[str]) -> None:
        self.rows = [r for r in self.rows if r["state"] in ("done", "failed")]
        for action in result.actions:
            self.rows.append(
                {
                    "key": action.name,
                    "id": action.id or "",
                    "name": action.name,
                    "skill": action.skill or "",
                    "state": "pending",
                }
            )
        self.notes.append(f"plan: {len(result.actions)} steps, cost {result.cost:g}")
        self._refresh()

    def _row(self, action: Action) -> dict[str, Any]:
        for row in self.rows:
            if row["key"] == action.name and row["state"] in ("pending", "running"):
                return row
        row = {
            "key": action.name,
            "id": action.id or "",
            "name": action.name,
            "skill": action.skill or "",
            "state": "pending",
        }
        self.rows.append(row)
        return row

    def started(self, action: Action, attempt: int) -> None:
        row = self._row(action)
        row.update(state="running", t0=time.monotonic(), attempt=str(attempt))
        self._refresh()

    def finished(self, action: Action, outcome: Outcome, attempt: int) -> None:
        row = self._row(action)
        row["time"] = f"{outcome.seconds:.1f}s"
        if outcome.ok and not outcome.error:
            row.update(state="done", result="ok")
        elif outcome.ok:  # it ran, but what it observed cannot be stored
            row.update(state="failed", result=f"ran; unobserved: {outcome.error}"[:80])
        elif attempt < action.retry.attempts and outcome.retryable and not outcome.interrupted:
            row.update(state="pending", result=f"[retrying] {outcome.error}"[:80])
        else:
            row.update(state="failed", result=outcome.error[:80])
        if not (outcome.ok and not outcome.error) and not outcome.interrupted:
            self.notes.extend(why(action, outcome))
        self._refresh()

    def note(self, text: str) -> None:
        self.notes.append(text)
        self._refresh()


class LineView:
    """Plain lines on stderr, for logs and pipes (and under --json)."""

    def __init__(self, console: Console):
        self.console = console

    def planned(self, result: PlanResult, done: list[str]) -> None:
        names = " -> ".join(a.label for a in result.actions)
        self.console.print(f"plan (cost {result.cost:g}): {names}", highlight=False)

    def started(self, action: Action, attempt: int) -> None:
        suffix = f" (attempt {attempt})" if attempt > 1 else ""
        self.console.print(f"▶ {action.label} {action.name}{suffix}", highlight=False)

    def finished(self, action: Action, outcome: Outcome, attempt: int) -> None:
        if outcome.ok and not outcome.error:
            self.console.print(f"  {action.label} ok ({outcome.seconds:.1f}s)", highlight=False)
            return
        state = "ran, but" if outcome.ok else "failed"
        self.console.print(f"  {action.label} {state} ({outcome.seconds:.1f}s)", highlight=False)
        if not outcome.interrupted:
            for line in why(action, outcome):
                self.console.print(f"    {line}", highlight=False, markup=False, soft_wrap=True)

    def note(self, text: str) -> None:
        self.console.print(f"• {text}", highlight=False)
