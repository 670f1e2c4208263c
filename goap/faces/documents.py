"""The JSON documents every face returns, and the goals they read, in one place.

``goap plan --json``, ``goap next --json``, ``goap run --json``, ``goap skill ... --json``,
``goap validate --json`` and the MCP server's tools all answer with the documents built
here, so they cannot drift apart (their shapes are listed in the README). Building one is a
function of engine results; nothing here prints, reads the command line or imports rich.
Goal text (``--goal NAME=VALUE``, the MCP ``plan`` tool's ``goal``) is parsed here too, and
a bad goal raises the engine's LogicError, which every face reports as bad input; so are the
journal's durations a plan's time estimate is built from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goap.loading.catalog import Action, Catalog
from goap.loading.logic import Condition, LogicError, condition_from_text, parse_goal_text
from goap.planning.schedule import estimate, known, levels, mean_durations

if TYPE_CHECKING:  # types only: `goap plan --json` must not import the runner or pydantic
    from goap.planning.lint import Finding
    from goap.planning.planner import PlanResult
    from goap.running.runner import RunResult, StepResult
    from state.store import StateFile


def parse_goals(catalog: Catalog, texts: list[str] | None) -> tuple[Condition, ...] | None:
    """Goal conditions from ``NAME=VALUE`` / ``NAME>=N`` texts (None: the catalog's goal)."""
    if not texts:
        return None
    out = []
    for text in texts:
        name, op, value = parse_goal_text(text)
        if name not in catalog.schema:
            raise LogicError(
                f"goal {text!r}: unknown state variable {name!r}; see "
                f"`goap state schema {catalog.path}`"
            )
        out.append(condition_from_text(catalog.schema[name], op, value))
    return tuple(out)


def journal_durations(state_path: Path) -> dict[str, float]:
    """Each action's mean duration in the state file's journal (its succeeded attempts), for
    the plan's time estimate. Best effort and plain JSON: `goap plan` stays light, and a
    state file other commands would refuse just gives no estimate."""
    try:
        history = json.loads(state_path.read_text(encoding="utf-8")).get("history", [])
        return mean_durations(
            (str(entry["action"]), float(entry["duration_s"]))
            for entry in history
            if entry.get("outcome") == "succeeded"
            and isinstance(entry.get("duration_s"), int | float)
        )
    except (OSError, ValueError, AttributeError, TypeError, KeyError, RecursionError):
        return {}


def action_document(action: Action) -> dict[str, Any]:
    """An action (a step of a plan, an entry of the skill list)."""
    executor: dict[str, Any] | None = None
    if action.executor and action.executor.cmd:
        executor = {"kind": "cmd", "cmd": list(action.executor.cmd)}
    elif action.executor and action.executor.run:
        executor = {"kind": "run", "target": action.executor.run, "with": action.executor.args}
    return {
        "name": action.name,
        "id": action.id,
        "skill": action.skill,
        "description": action.description,
        "cost": action.cost,
        "pre": [str(c) for c in action.pre],
        "effects": [str(e) for e in action.effects],
        "executor": executor,
        # a human approves each start (`goap approve`); null: it runs without asking
        "approval": {"required": True, "reason": action.approval.reason}
        if action.approval
        else None,
    }


def plan_document(result: PlanResult, seconds: dict[str, float] | None = None) -> dict[str, Any]:
    """``goap plan --json`` (and ``goap run --dry-run --json``, the MCP ``plan`` tool);
    ``seconds``: the actions' durations in the journal, for the time estimate (with the
    catalog's ``duration:`` where the journal has none)."""
    one_by_one, at_once = estimate(result.actions, seconds or {})
    found = [a.name for a in result.actions if known(a, seconds or {}) is not None]
    return {
        "status": result.status,
        "plan": [a.name for a in result.actions],
        "ids": [a.label for a in result.actions],
        "cost": result.cost if result.found else None,
        "optimal": result.optimal,
        "expanded": result.expanded,
        "generated": result.generated,
        "relevant_actions": result.relevant,
        "seconds": round(result.seconds, 6),
        "unreachable": [str(c) for c in result.unreachable],
        "message": result.message,
        "steps": [action_document(a) for a in result.actions],
        "waves": [[result.actions[i].name for i in w] for w in levels(result.actions)],
        "estimate": {  # from the journal's durations, else duration:; null without any
            "one_by_one_s": round(one_by_one, 3),
            "at_once_s": round(at_once, 3),
            "known_steps": len(found),
        }
        if found
        else None,
    }


def next_document(result: PlanResult) -> dict[str, Any]:
    """``goap next --json``: the first step of the plan, and the whole plan."""
    status = "goal_reached" if result.found and not result.actions else result.status
    return {
        "status": status,
        "next": action_document(result.actions[0]) if result.actions else None,
        "plan": [a.name for a in result.actions],
        "ids": [a.label for a in result.actions],
        "cost": result.cost if result.found else None,
        "message": result.message,
    }


def run_document(catalog: Catalog, run: RunResult) -> dict[str, Any]:
    """``goap run --json``."""
    return {
        "status": run.status,
        "exit_code": run.exit_code,
        "message": run.message,
        "state": str(run.state_path),
        "executed": run.executed,
        "failures": run.failures,
        "plans": run.plans,
        "awaiting": run.awaiting,  # approvals a waiting_approval run waits for
        "world_state": catalog.schema.nest(run.world),
    }


def event_document(event: str, action: Action | None = None, **fields: Any) -> dict[str, Any]:
    """One line of ``goap run --json --stream``: ``{"event": ..., "action": ..., ...}``.

    Events: planned (plan, cost), started (attempt), progress (the executor's own fields,
    under ``progress``), finished (status, seconds, error, log), note (text), and last
    ``result``, which holds the ``goap run --json`` document."""
    head: dict[str, Any] = {"event": event}
    if action is not None:
        head |= {"action": action.name, "id": action.id}
    return head | fields


def step_document(catalog: Catalog, step: StepResult, state_path: Path) -> dict[str, Any]:
    """``goap skill run --json`` (and the MCP ``run_action`` tool)."""
    from goap.running.record import TAIL_KEPT  # the caller ran the step: already imported

    outcome = step.outcome
    return {
        "action": step.action,
        "ok": outcome.ok,
        "outcome": outcome.status,
        "exit_code": step.exit_code,
        "error": outcome.error or None,
        "tail": None if outcome.ok else outcome.tail[-TAIL_KEPT:],
        "facts": outcome.facts,
        "seconds": round(outcome.seconds, 3),
        "log": outcome.log or None,  # the file its output went to (`goap logs` prints it)
        "forced": bool(step.forced_over),
        "forced_over": step.forced_over,
        "state": str(state_path),
        "world_state": catalog.schema.nest(step.world),
    }


def skill_list_document(
    catalog: Catalog,
    world: dict[str, Any],
    state_path: Path,
    schemas: dict[str, Any],
    facts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``goap skill list --json``: every action, whether it applies, its arguments' schema and
    the facts its executor declares (names, on_failure, note; None when it declares none)."""
    actions = []
    for action in catalog.actions:
        item = action_document(action)
        unmet = [str(c) for c in action.pre if not c.holds(world)]
        item["applies"], item["unmet"] = not unmet, unmet
        if action.executor and action.executor.run:
            item["executor"]["args_schema"] = schemas.get(action.executor.run)
            item["executor"]["facts"] = (facts or {}).get(action.executor.run)
        actions.append(item)
    return {"catalog": catalog.name, "state": str(state_path), "actions": actions}


def validate_document(findings: list[Finding]) -> dict[str, Any]:
    """``goap validate --json``."""
    return {
        "ok": not any(f.severity == "error" for f in findings),
        "findings": [f.as_dict() for f in findings],
    }


def state_document(catalog: Catalog, state: StateFile | None, state_path: Path) -> dict[str, Any]:
    """The state file as JSON (``goap state show --json``, the MCP ``get_state`` tool)."""
    if state is None:  # no run yet: the catalog's initial world
        return {
            "status": "pending",
            "world_state": catalog.schema.nest(catalog.initial),
            "history": [],
            "awaiting": [],
            "approvals": [],
            "state": str(state_path),
        }
    return state.document()  # its `status` and `awaiting`: what a waiting run waits for
