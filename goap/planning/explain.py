"""Why this plan, why not that action, and what blocks an unreachable goal.

A plan is a list of names; people and agents ask why. Three answers, one document:

- each step of the plan, its cost, and the conditions it serves: the goal conditions and
  the later steps' preconditions it makes true (a causal link: walking back from the step
  that needs a condition, the steps that move its variable towards it while it does not
  hold yet);
- for an action that is not in the plan: its unmet preconditions now, those no sequence of
  actions can make true (the delete relaxation, ``goap.planning.relaxed``), and the cheapest
  plan that uses it, found by planning a compiled variant whose goal also requires it to have
  run (a fresh flag its effects set), with the cost difference;
- for an unreachable goal: the goal conditions the relaxation cannot reach, the actions
  that could make each true with the fewest unmet preconditions, and the root conditions
  (reached only through conditions that no action achieves at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from goap.loading.catalog import Action, Catalog
from goap.loading.logic import Condition, Effect, with_effects
from goap.planning.planner import PlanOptions, PlanResult, plan
from goap.planning.relaxed import INF, LOWERS, RAISES, Relaxation
from goap.planning.task import compile_task
from state.model import Variable, WorldSchema, quoted

CLOSEST = 5  # actions shown per blocked goal condition


class ExplainError(ValueError):
    """A question explain cannot answer as asked (an unknown action)."""


def explain(
    catalog: Catalog,
    world: Mapping[str, Any],
    action: str | None = None,
    options: PlanOptions | None = None,
) -> dict[str, Any]:
    """The explanation document (``goap explain --json``) from ``world``."""
    asked = _action(catalog, action) if action is not None else None
    result = plan(catalog, world, options=options)
    document: dict[str, Any] = {
        "catalog": catalog.name,
        "status": result.status,
        "message": result.message,
        "plan": [a.name for a in result.actions],
        "cost": result.cost if result.found else None,
        "steps": served(catalog, world, result.actions) if result.found else [],
        "blocked": [] if result.found else blocked(catalog, world),
    }
    if asked is not None:
        document["action"] = why_not(catalog, world, asked, result, options)
    return document


def served(
    catalog: Catalog, world: Mapping[str, Any], steps: tuple[Action, ...]
) -> list[dict[str, Any]]:
    """Each step with its cost and the conditions it serves: ``{"condition", "for"}``, where
    ``for`` is the step that needs it (``{"step", "action"}``) or ``"goal"``."""
    states = [dict(world)]
    for step in steps:
        states.append(with_effects(step.effects, states[-1]))
    serves: list[list[dict[str, Any]]] = [[] for _ in steps]
    needs = [(j, c) for j, step in enumerate(steps) for c in step.pre]
    needs += [(len(steps), c) for c in catalog.goal]
    for j, condition in needs:
        user: Any = "goal" if j == len(steps) else {"step": j + 1, "action": steps[j].name}
        for k in _achievers(steps, states, j, condition):
            serves[k].append({"condition": str(condition), "for": user})
    return [
        {
            "step": k + 1,
            "name": step.name,
            "id": step.id,
            "cost": step.cost,
            "approval": step.approval.reason if step.approval else None,
            "serves": serves[k],
        }
        for k, step in enumerate(steps)
    ]


def _achievers(
    steps: tuple[Action, ...], states: list[dict[str, Any]], j: int, condition: Condition
) -> list[int]:
    """The steps before ``j`` that made ``condition`` true for it: the last one that turned
    it true, and before it, while it did not hold yet, those whose effect on its variable
    moved it towards the condition (the earlier increments of a counter)."""
    flip = next((k for k in range(j - 1, -1, -1) if not condition.holds(states[k])), None)
    if flip is None:
        return []  # it held from the start: no step made it true
    out = [flip]
    for k in range(flip - 1, -1, -1):
        if condition.holds(states[k + 1]):
            break
        if any(_towards(e, condition) for e in steps[k].effects):
            out.append(k)
    return out[::-1]


def _towards(effect: Effect, condition: Condition) -> bool:
    if effect.var != condition.var:
        return False
    if effect.kind == "set":
        return condition.holds({condition.var: effect.value})
    wanted = RAISES if effect.value > 0 else LOWERS if effect.value < 0 else ()
    return condition.op in wanted


def blocked(catalog: Catalog, world: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Goal conditions no sequence of actions can make true from ``world``, each with the
    actions that come closest and the root conditions nothing achieves."""
    task = compile_task(catalog, world)
    relax = Relaxation(task)
    cost, _ = relax.propagate(task.init, "max")
    out = []
    for i, atom in enumerate(relax.goal_atoms):
        if cost[atom] < INF:
            continue
        condition = task.goal_conditions[i]
        closest = []
        for a in relax.achievers[atom]:
            action = catalog.actions[relax.actions[a].index]
            unreachable = [relax.atom_text(p) for p in relax.pre[a] if cost[p] == INF]
            unmet = [str(c) for c in action.pre if not c.holds(world)]
            closest.append(
                {"name": action.name, "cost": action.cost, "unmet": unmet, "never": unreachable}
            )
        closest.sort(key=lambda c: (len(c["unmet"]), len(c["never"]), c["cost"]))
        writers = [
            a.name for a in catalog.actions if any(e.var == condition.var for e in a.effects)
        ]
        out.append(
            {
                "condition": str(condition),
                "closest": closest[:CLOSEST],
                "writers": writers,  # actions that change its variable at all
                "roots": _roots(relax, cost, atom),
            }
        )
    return out


def _roots(relax: Relaxation, cost: list[float], atom: int) -> list[str]:
    """Unreachable conditions under ``atom`` that no action achieves at all."""
    roots, seen, stack = [], {atom}, [atom]
    while stack:
        k = stack.pop()
        if not relax.achievers[k]:
            roots.append(relax.atom_text(k))
            continue
        for a in relax.achievers[k]:
            for p in relax.pre[a]:
                if cost[p] == INF and p not in seen:
                    seen.add(p)
                    stack.append(p)
    return sorted(roots)


def why_not(
    catalog: Catalog,
    world: Mapping[str, Any],
    action: Action,
    base: PlanResult,
    options: PlanOptions | None = None,
) -> dict[str, Any]:
    """Why ``action`` is (or is not) in the plan ``base``."""
    names = [a.name for a in base.actions]
    document: dict[str, Any] = {
        "name": action.name,
        "id": action.id,
        "cost": action.cost,
        "approval": action.approval.reason if action.approval else None,
        "in_plan": action.name in names,
        "unmet": [str(c) for c in action.pre if not c.holds(world)],
    }
    if document["in_plan"]:
        step = names.index(action.name)
        document["step"] = step + 1
        document["serves"] = served(catalog, world, base.actions)[step]["serves"]
        return document
    document["never"] = _never(catalog, world, action)  # preconditions nothing can reach
    forced_catalog, forced_world = forced(catalog, world, action)
    with_it = plan(forced_catalog, forced_world, options=options)
    document["cheapest_with"] = {
        "status": with_it.status,
        "plan": [a.name for a in with_it.actions],
        "cost": with_it.cost if with_it.found else None,
        "message": _forced_message(action, with_it, document["never"], forced_catalog),
    }
    both = with_it.found and base.found
    document["extra_cost"] = with_it.cost - base.cost if both else None
    return document


def _forced_message(action: Action, result: PlanResult, never: list[str], variant: Catalog) -> str:
    """The forced plan's message, in the catalog's words (the flag is not one of them)."""
    if result.status != "unreachable":
        return result.message
    flag = variant.goal[-1].var  # forced() puts the flag's condition last
    other = [str(c) for c in result.unreachable if c.var != flag]
    said = []
    if any(c.var == flag for c in result.unreachable):
        why = f": nothing can make {', '.join(never)} hold" if never else ""
        said.append(f"{action.name} can never run from here{why}")
    if other:
        said.append(f"the goal is unreachable anyway ({'; '.join(other)})")
    return "no plan runs it: " + "; ".join(said)


def _never(catalog: Catalog, world: Mapping[str, Any], action: Action) -> list[str]:
    if not action.pre:
        return []
    task = compile_task(catalog, world, goal=action.pre)
    return [str(task.goal_conditions[i]) for i in Relaxation(task).unreachable_goals(task.init)]


def forced(
    catalog: Catalog, world: Mapping[str, Any], action: Action
) -> tuple[Catalog, dict[str, Any]]:
    """The catalog whose goal also needs ``action`` to have run: a fresh flag, false at the
    start, that only its effects set (and the world with the flag)."""
    flag = "_explain_ran"
    while flag in catalog.schema:
        flag += "_"
    schema = WorldSchema([*catalog.schema.variables, Variable(flag, "bool", False)])
    actions = tuple(
        replace(a, effects=(*a.effects, Effect(flag, "set", True))) if a.name == action.name else a
        for a in catalog.actions
    )
    goal = (*catalog.goal, Condition(flag, "==", True))
    variant = replace(catalog, schema=schema, actions=actions, goal=goal)
    return variant, {**world, flag: False}


def _action(catalog: Catalog, name: str) -> Action:
    try:
        return catalog.action(name)
    except KeyError:
        names = ", ".join(a.name for a in catalog.actions[:40])
        raise ExplainError(
            f"unknown action {quoted(name)} in {catalog.path}; actions: {names}"
        ) from None


__all__ = ["ExplainError", "blocked", "explain", "forced", "served", "why_not"]
