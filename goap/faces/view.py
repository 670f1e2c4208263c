"""How plans and runs look in a terminal (rich), kept apart from what they do."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from goap.faces.documents import event_document
from goap.loading.catalog import Action
from goap.planning.planner import PlanResult
from goap.planning.schedule import estimate, known, levels
from goap.running.execution import Outcome
from goap.running.progress import shown

NARROW = 110  # below this many columns, tables drop the skill column and never wrap names


def plan_table(
    result: PlanResult, title: str = "", width: int = 200, seconds: dict[str, float] | None = None
) -> RenderableType:
    """The plan's steps, in order (``goap plan``, ``goap run --dry-run``), each with its wave:
    the steps of one wave can run at once (``goap.planning.schedule``)."""
    wave = {i: k for k, w in enumerate(levels(result.actions), 1) for i in w}
    steps = [
        {
            "step": str(n),
            "wave": str(wave[n - 1]),
            "took": f"{seconds[a.name]:.1f}s" if seconds and a.name in seconds else "",
            "id": a.id or "",
            "name": a.name,
            "skill": a.skill or "",
            "cost": a.cost,
            "pre": [str(c) for c in a.pre],
            "effects": [str(e) for e in a.effects],
        }
        for n, a in enumerate(result.actions, 1)
    ]
    return actions_table(steps, title, width)


def actions_table(rows: list[dict[str, Any]], title: str = "", width: int = 200) -> RenderableType:
    """Actions with their conditions: a table, or under NARROW columns one block per action
    (a table of conditions at 80 columns cuts every variable name). A row may carry ``step``
    (its place in a plan) and ``applies`` (whether it applies now)."""
    if width < NARROW:
        return _blocks(rows, title)
    numbered, applies = any("step" in r for r in rows), any("applies" in r for r in rows)
    table = Table(title=title or None, show_lines=False, header_style="bold")
    took = any(r.get("took") for r in rows)
    columns = ["step", "wave"] * numbered + ["id", "action", "skill", "cost"] + ["took"] * took
    for column in [*columns, *["applies"] * applies, "needs", "changes"]:
        right = column in ("step", "wave", "cost", "took")
        table.add_column(column, justify="right" if right else "left")
    for row in rows:
        cells = [row["step"], row["wave"]] if numbered else []
        cells += [row["id"], row["name"], row["skill"]]
        cells.append(f"{row['cost']:g}")
        cells += [row.get("took", "")] if took else []
        table.add_row(
            *cells,
            *([_applies(row)] if applies else []),
            "\n".join(row["pre"]) or "-",
            "\n".join(row["effects"]),
        )
    return table


def _applies(row: dict[str, Any]) -> str:
    return "[green]yes[/]" if row.get("applies") else "[dim]no[/]"


def _blocks(rows: list[dict[str, Any]], title: str) -> Group:
    lines = [Text(title, style="bold")] if title else []
    indent = 5 if any("step" in r for r in rows) else 2
    for row in rows:
        head = Text(f"{row['step']:>3}  " if "step" in row else "")
        if "wave" in row:
            head.append(f"wave {row['wave']}  ", style="dim")
        head.append(f"{row['id'] + ' ' if row['id'] else ''}{row['name']}", style="bold")
        head.append(f"  cost {row['cost']:g}" + (f"  [{row['skill']}]" if row["skill"] else ""))
        if row.get("took"):
            head.append(f"  took {row['took']}", style="dim")
        if "applies" in row:
            head.append_text(
                Text.from_markup("  [green]applies[/]" if row["applies"] else "  [dim]not now[/]")
            )
        lines.append(head)
        for label, items in (("needs", row["pre"]), ("changes", row["effects"])):
            for i, item in enumerate(items):
                lines.append(Text(f"{'':{indent}}{label if i == 0 else '':<9}{item}"))
    return Group(*lines)


def plan_summary(result: PlanResult, seconds: dict[str, float] | None = None) -> str:
    optimal = "optimal" if result.optimal else "not guaranteed optimal"
    waves = len(levels(result.actions))
    text = (
        f"total cost {result.cost:g} ({optimal}) | {len(result.actions)} steps in {waves} "
        f"waves | {result.expanded} nodes expanded | {result.relevant} relevant actions | "
        f"{result.seconds * 1000:.2f} ms"
    )
    seconds = seconds or {}
    if any(known(a, seconds) is not None for a in result.actions):
        one_by_one, at_once = estimate(result.actions, seconds)
        measured = any(a.name in seconds for a in result.actions)
        took = "last time the steps took" if measured else "by their duration:, the steps take"
        text += (
            f"\n{took} {one_by_one:.1f} s one by one; at once, about "
            f"{at_once:.1f} s (the longest chain of waits; --jobs and resources can stretch it)"
        )
    return text


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
        narrow = self.console.width < NARROW
        table = Table(header_style="bold", expand=False, pad_edge=False)
        for column in ("", "id", "action", "skill", "try", "time", "result"):
            if narrow and column == "skill":
                continue
            wraps = column == "result"
            table.add_column(column, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")
        for row in self.rows:
            if row["state"] == "running":
                icon: Any = Spinner("dots")
                elapsed = f"{time.monotonic() - row['t0']:.1f}s"
                result = row.get("progress", "")
            else:
                icon = Text.from_markup(ICONS.get(row["state"], ""))
                elapsed, result = row.get("time", ""), row.get("result", "")
            cells = [icon, row["id"], row["name"], row["skill"], row.get("attempt", "")]
            if narrow:
                del cells[3]
            table.add_row(*cells, elapsed, result)
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
        row.update(state="running", t0=time.monotonic(), attempt=str(attempt), progress="")
        self._refresh()

    def progress(self, action: Action, fields: dict[str, Any]) -> None:
        self._row(action)["progress"] = shown(fields)
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

    PROGRESS_EVERY = 5.0  # seconds between progress lines of one step: a log, not a film

    def __init__(self, console: Console):
        self.console = console
        self.said: dict[str, float] = {}  # action -> when its progress was last printed

    def planned(self, result: PlanResult, done: list[str]) -> None:
        names = " -> ".join(a.label for a in result.actions)
        self.console.print(f"plan (cost {result.cost:g}): {names}", highlight=False)

    def started(self, action: Action, attempt: int) -> None:
        suffix = f" (attempt {attempt})" if attempt > 1 else ""
        self.console.print(f"▶ {action.label} {action.name}{suffix}", highlight=False)
        self.said.pop(action.name, None)

    def progress(self, action: Action, fields: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self.said.get(action.name, -self.PROGRESS_EVERY) >= self.PROGRESS_EVERY:
            self.said[action.name] = now
            text = f"  {action.label} {shown(fields)}"
            self.console.print(text, highlight=False, markup=False, soft_wrap=True)

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


class StreamView:
    """``goap run --json --stream``: every event as one JSON line, as it happens."""

    def __init__(self, write: Callable[[dict[str, Any]], None]):
        self.write = write

    def planned(self, result: PlanResult, done: list[str]) -> None:
        plan = [a.name for a in result.actions]
        self.write(event_document("planned", plan=plan, cost=result.cost, done=done))

    def started(self, action: Action, attempt: int) -> None:
        self.write(event_document("started", action, attempt=attempt))

    def progress(self, action: Action, fields: dict[str, Any]) -> None:
        self.write(event_document("progress", action, progress=fields, text=shown(fields)))

    def finished(self, action: Action, outcome: Outcome, attempt: int) -> None:
        self.write(
            event_document(
                "finished",
                action,
                attempt=attempt,
                status=outcome.status,
                seconds=round(outcome.seconds, 3),
                error=outcome.error or None,
                log=outcome.log or None,
            )
        )

    def note(self, text: str) -> None:
        self.write(event_document("note", text=text))


def explanation_lines(document: dict[str, Any]) -> list[str]:
    """``goap explain`` as plain lines (the document is ``goap.planning.explain``'s)."""
    lines: list[str] = []
    if document["status"] == "found":
        if document["plan"]:
            lines.append(f"plan (cost {document['cost']:g}): {' -> '.join(document['plan'])}")
        else:
            lines.append("the goal already holds: nothing to do")
        for step in document["steps"]:
            label = f"{step['id']} {step['name']}" if step["id"] else step["name"]
            lines.append(f"{step['step']}. {label} (cost {step['cost']:g}){_gate(step)}")
            lines += [f"   provides {s['condition']} for {_user(s['for'])}" for s in step["serves"]]
            if not step["serves"]:
                lines.append("   serves no later step and no goal condition")
    else:
        lines.append(document["message"])
        for block in document["blocked"]:
            lines.append(f"blocked: {block['condition']}")
            if not block["closest"]:
                changed = ", ".join(block["writers"])
                lines.append(
                    "   no action makes it true"
                    + (f" (these change its variable, not to it: {changed})" if changed else "")
                )
            for near in block["closest"]:
                never = f"; never reachable: {', '.join(near['never'])}" if near["never"] else ""
                unmet = ", ".join(near["unmet"]) or "none"
                lines.append(f"   closest: {near['name']}, unmet now: {unmet}{never}")
            if block["roots"]:
                lines.append(f"   no action achieves: {', '.join(block['roots'])}")
    asked = document.get("action")
    if asked:
        lines.append("")
        name = asked["name"]
        if asked["in_plan"]:
            lines.append(f"{name} is step {asked['step']} of the plan{_gate(asked)}")
            lines += [
                f"   provides {s['condition']} for {_user(s['for'])}" for s in asked["serves"]
            ]
            return lines
        lines.append(f"{name} (cost {asked['cost']:g}) is not in the plan{_gate(asked)}")
        unmet = ", ".join(asked["unmet"])
        lines.append(f"   unmet preconditions now: {unmet}" if unmet else "   it applies now")
        if asked["never"]:
            lines.append(f"   no sequence of actions makes these true: {', '.join(asked['never'])}")
        with_it = asked["cheapest_with"]
        if with_it["status"] == "found":
            more = asked["extra_cost"]
            than = f", {more:g} more than the plan" if more is not None else ""
            lines.append(
                f"   cheapest plan with it (cost {with_it['cost']:g}{than}): "
                f"{' -> '.join(with_it['plan'])}"
            )
        else:
            lines.append(f"   {with_it['message']}")
    return lines


def _gate(item: dict[str, Any]) -> str:
    reason = item.get("approval")
    if reason is None:
        return ""
    return f"; needs approval ({reason})" if reason else "; needs approval"


def _user(user: Any) -> str:
    return "the goal" if user == "goal" else f"step {user['step']} ({user['action']})"
