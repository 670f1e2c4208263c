"""Plan: from a catalog and a world state to the cheapest sequence of actions.

The steps: compile the search task, name goal conditions the relaxation cannot reach,
prune actions that cannot contribute, then search (A* with LM-cut by default, which is
admissible, so the plan is cost-optimal).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from goap.catalog import Action, Catalog
from goap.logic import Condition
from goap.relaxed import HEURISTICS, Relaxation, heuristic
from goap.search import best_first
from goap.task import Task, TaskAction, Test, compile_task

SEARCHES = ("astar", "wastar", "greedy")


@dataclass(frozen=True)
class PlanOptions:
    heuristic: str = "hmax"
    search: str = "astar"
    weight: float = 2.0  # for wastar
    max_expansions: int = 1_000_000
    timeout: float = 60.0  # seconds
    prune: bool = True
    decompose: bool = True  # plan independent parts of the goal separately

    @property
    def optimal(self) -> bool:
        return self.search == "astar" and HEURISTICS[self.heuristic][1]


@dataclass(frozen=True)
class PlanResult:
    status: str  # "found", "unreachable", "no_plan", "limit"
    actions: tuple[Action, ...]
    cost: float
    expanded: int
    generated: int
    seconds: float
    relevant: int  # actions left after pruning
    unreachable: tuple[Condition, ...] = ()
    optimal: bool = True

    @property
    def found(self) -> bool:
        return self.status == "found"

    @property
    def message(self) -> str:
        if self.status == "found":
            return (
                "goal already holds"
                if not self.actions
                else f"plan of {len(self.actions)} actions, cost {self.cost:g}"
            )
        if self.status == "unreachable":
            names = "; ".join(str(c) for c in self.unreachable)
            return f"no plan: no sequence of actions can make these goal conditions true: {names}"
        if self.status == "no_plan":
            return "no plan: every reachable state was explored and none satisfies the goal"
        return (
            f"search limit reached after {self.expanded} expansions ({self.seconds:.1f} s) "
            f"without a plan; raise --max-expansions / --timeout, or check counters that "
            f"can grow without bound"
        )


def plan(
    catalog: Catalog,
    world: Mapping[str, Any],
    goal: tuple[Condition, ...] | None = None,
    penalties: Mapping[str, float] | None = None,
    options: PlanOptions | None = None,
) -> PlanResult:
    """The cheapest plan from ``world`` to ``goal`` (default: the catalog's goal)."""
    options = options or PlanOptions()
    if options.heuristic not in HEURISTICS:
        raise ValueError(
            f"unknown heuristic {options.heuristic!r}; use one of {', '.join(HEURISTICS)}"
        )
    if options.search not in SEARCHES:
        raise ValueError(f"unknown search {options.search!r}; use one of {', '.join(SEARCHES)}")
    started = time.perf_counter()
    task = compile_task(catalog, world, goal, penalties)
    full = Relaxation(task)
    bad = full.unreachable_goals(task.init)
    if bad:
        return PlanResult(
            "unreachable",
            (),
            float("inf"),
            0,
            0,
            time.perf_counter() - started,
            0,
            tuple(task.goal_conditions[i] for i in bad),
            options.optimal,
        )
    actions = full.relevant() if options.prune else list(task.actions)
    deadline = time.monotonic() + options.timeout
    steps: list[TaskAction] = []
    expanded = generated = 0
    status = "found"
    parts = independent_parts(task, actions) if options.decompose else [(task.goal, actions)]
    for part_goal, part_actions in parts:
        part = replace(task, goal=part_goal)
        result = best_first(
            part,
            part_actions,
            heuristic(Relaxation(part, part_actions), options.heuristic),
            weight=options.weight if options.search == "wastar" else 1.0,
            greedy=options.search == "greedy",
            max_expansions=options.max_expansions - expanded,
            deadline=deadline,
        )
        expanded, generated = expanded + result.expanded, generated + result.generated
        if result.status != "found":
            status = {"exhausted": "no_plan", "limit": "limit"}[result.status]
            break
        steps.extend(result.plan)
    found = status == "found"
    plan_steps = tuple(catalog.actions[a.index] for a in canonical_order(task, tuple(steps)))
    return PlanResult(
        status,
        plan_steps if found else (),
        sum(a.cost for a in plan_steps) if found else float("inf"),
        expanded,
        generated,
        time.perf_counter() - started,
        len(actions),
        (),
        options.optimal,
    )


def independent_parts(
    task: Task, actions: list[TaskAction]
) -> list[tuple[tuple[Test, ...], list[TaskAction]]]:
    """Split the goal into parts whose actions share no variable, to plan each on its own.

    Plans of such parts interleave freely and their costs add up, so concatenating optimal
    part plans is optimal; independent goals no longer multiply the state space.
    """
    root = list(range(len(task.names)))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    touched: list[list[int]] = []
    for action in actions:
        variables = [t[0] for t in action.pre] + [i for i, _ in action.sets + action.adds]
        touched.append(variables)
        for i in variables[1:]:
            root[find(i)] = find(variables[0])
    parts: dict[int, tuple[list[Test], list[TaskAction]]] = {}
    for test in task.goal:
        parts.setdefault(find(test[0]), ([], []))[0].append(test)
    for action, variables in zip(actions, touched, strict=True):
        if variables and find(variables[0]) in parts:
            parts[find(variables[0])][1].append(action)
    return [(tuple(goal), part_actions) for goal, part_actions in parts.values()]


def canonical_order(task: Task, steps: tuple[TaskAction, ...]) -> tuple[TaskAction, ...]:
    """Among equally good orders, prefer catalog order: deterministic and easy to read.

    Insertion sort by catalog position, where a step moves before its neighbour only if the
    two commute (both orders apply from the same state and end in the same state), so the
    plan stays valid and its cost unchanged.
    """
    steps = list(steps)
    states = [task.init]
    for action in steps:
        states.append(task.apply(action, states[-1]))
    for j in range(1, len(steps)):
        i = j
        while i > 0 and steps[i].index < steps[i - 1].index:
            a, b, before = steps[i - 1], steps[i], states[i - 1]
            if not task.applicable(b, before):
                break
            middle = task.apply(b, before)
            if not task.applicable(a, middle) or task.apply(a, middle) != states[i + 1]:
                break
            steps[i - 1], steps[i] = b, a
            states[i] = middle
            i -= 1
    return tuple(steps)


def simulate(
    actions: tuple[Action, ...] | list[Action], world: Mapping[str, Any]
) -> dict[str, Any]:
    """Replay a plan on a copy of ``world``; raise ValueError at the first inapplicable step."""
    state = dict(world)
    for step, action in enumerate(actions, 1):
        unmet = [str(c) for c in action.pre if not c.holds(state)]
        if unmet:
            raise ValueError(f"step {step} ({action.name}) does not apply: {', '.join(unmet)}")
        for effect in action.effects:
            effect.apply(state)
    return state
