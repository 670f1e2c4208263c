"""The planning task in the form the search loop wants: tuples of values and integer indices.

``compile_task`` turns a catalog (plus the current world, goal and penalties) into a Task:
states are tuples in variable order, conditions are ``(var_index, op_function, value)``,
effects are split into sets and adds. No pydantic and no dicts in here: this is what A*
touches millions of times.

Numeric variables whose effects only ever add positive amounts (or only negative ones) have
all values beyond the constants the catalog mentions behave alike, so we clamp them there;
this keeps the state space finite for counters like ``commits_made += 1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from goap.catalog import Action, Catalog
from goap.logic import OPS, Condition

State = tuple[Any, ...]
Test = tuple[int, Any, Any]  # (var index, operator function, value)


@dataclass(frozen=True)
class TaskAction:
    index: int  # position in Catalog.actions
    name: str
    cost: float
    pre: tuple[Test, ...]
    sets: tuple[tuple[int, Any], ...]
    adds: tuple[tuple[int, Any], ...]


@dataclass(frozen=True)
class Task:
    names: tuple[str, ...]
    init: State
    goal: tuple[Test, ...]
    actions: tuple[TaskAction, ...]
    clamps: tuple[tuple[int, Any, Any], ...]  # (var index, low or None, high or None)
    goal_conditions: tuple[Condition, ...]

    def applicable(self, action: TaskAction, state: State) -> bool:
        for i, op, value in action.pre:
            if not op(state[i], value):
                return False
        return True

    def apply(self, action: TaskAction, state: State) -> State:
        values = list(state)
        for i, value in action.sets:
            values[i] = value
        for i, delta in action.adds:
            values[i] = values[i] + delta
        return self.clamp(values)

    def clamp(self, values: list[Any]) -> State:
        for i, low, high in self.clamps:
            if high is not None and values[i] > high:
                values[i] = high
            elif low is not None and values[i] < low:
                values[i] = low
        return tuple(values)

    def is_goal(self, state: State) -> bool:
        for i, op, value in self.goal:
            if not op(state[i], value):
                return False
        return True


def compile_task(
    catalog: Catalog,
    world: Mapping[str, Any],
    goal: tuple[Condition, ...] | None = None,
    penalties: Mapping[str, float] | None = None,
) -> Task:
    """The search form of ``catalog`` from ``world`` towards ``goal`` (default: the catalog's)."""
    index = catalog.schema.index
    names = tuple(v.name for v in catalog.schema.variables)
    goal = catalog.goal if goal is None else goal
    penalties = penalties or {}
    actions = tuple(
        _task_action(i, a, index, penalties.get(a.name, 0.0)) for i, a in enumerate(catalog.actions)
    )
    clamps = _clamps(catalog, goal)
    task = Task(names, tuple(world[n] for n in names), _tests(goal, index), actions, clamps, goal)
    return Task(names, task.clamp(list(task.init)), task.goal, actions, clamps, goal)


def _tests(conditions: tuple[Condition, ...], index: Mapping[str, int]) -> tuple[Test, ...]:
    return tuple((index[c.var], OPS[c.op], c.value) for c in conditions)


def _task_action(i: int, action: Action, index: Mapping[str, int], penalty: float) -> TaskAction:
    sets = tuple((index[e.var], e.value) for e in action.effects if e.kind == "set")
    adds = tuple((index[e.var], e.value) for e in action.effects if e.kind == "add")
    return TaskAction(i, action.name, action.cost + penalty, _tests(action.pre, index), sets, adds)


def _clamps(catalog: Catalog, goal: tuple[Condition, ...]) -> tuple[tuple[int, Any, Any], ...]:
    out = []
    for i, var in enumerate(catalog.schema.variables):
        if not var.numeric:
            continue
        deltas = [
            e.value
            for a in catalog.actions
            for e in a.effects
            if e.var == var.name and e.kind == "add"
        ]
        if not deltas:
            continue
        constants = [c.value for a in catalog.actions for c in a.pre if c.var == var.name]
        constants += [c.value for c in goal if c.var == var.name]
        constants += [
            e.value
            for a in catalog.actions
            for e in a.effects
            if e.var == var.name and e.kind == "set"
        ]
        if not constants:
            constants = [var.default]
        if all(d > 0 for d in deltas):
            out.append((i, None, max(constants) + 1))
        elif all(d < 0 for d in deltas):
            out.append((i, min(constants) - 1, None))
    return tuple(out)
