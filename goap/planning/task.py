"""The planning task in the form the search loop wants: tuples of values and integer indices.

``compile_task`` turns a catalog (plus the current world, goal and penalties) into a Task:
states are tuples in variable order, conditions are ``(var_index, op_function, value)``,
effects are split into sets and adds. No pydantic and no dicts of names in here: this is what
A* touches millions of times.

Numeric variables whose effects only ever add positive amounts (or only negative ones) have
all values beyond the constants the catalog mentions behave alike, so we clamp them there;
this keeps the state space finite for counters like ``commits_made += 1``.

``Task.project`` keeps only the variables a part of the problem touches, so searching one
independent part copies and hashes a few values per state instead of the whole world.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from goap.loading.catalog import Action, Catalog
from goap.loading.logic import OPS, Condition

State = tuple[Any, ...]
Test = tuple[int, Any, Any]  # (var index, operator function, value)
Bound = tuple[Any, Any]  # (low or None, high or None)


class TaskAction(NamedTuple):
    """An action with integer variable indices (a tuple: cheap to build and to read)."""

    index: int  # position in Catalog.actions
    name: str
    cost: float
    pre: tuple[Test, ...]
    sets: tuple[tuple[int, Any], ...]
    adds: tuple[tuple[int, Any, Any, Any], ...]  # (var index, delta, low, high): clamped add


@dataclass(frozen=True)
class Task:
    names: tuple[str, ...]
    init: State
    goal: tuple[Test, ...]
    actions: tuple[TaskAction, ...]
    bounds: tuple[Bound | None, ...]  # per variable: the clamp range of a monotone counter
    goal_conditions: tuple[Condition, ...]

    @staticmethod
    def applicable(action: TaskAction, state: State | list[Any]) -> bool:
        for i, op, value in action.pre:
            if not op(state[i], value):
                return False
        return True

    @staticmethod
    def apply(action: TaskAction, state: State) -> State:
        values = list(state)
        Task.apply_in_place(action, values)
        return tuple(values)

    @staticmethod
    def apply_in_place(action: TaskAction, values: list[Any]) -> bool:
        """Apply ``action`` to a mutable state; return whether anything changed."""
        changed = False
        for i, value in action.sets:
            if values[i] != value:
                values[i] = value
                changed = True
        for i, delta, low, high in action.adds:
            value = values[i] + delta
            if high is not None and value > high:
                value = high
            elif low is not None and value < low:
                value = low
            if values[i] != value:
                values[i] = value
                changed = True
        return changed

    def is_goal(self, state: State | list[Any]) -> bool:
        for i, op, value in self.goal:
            if not op(state[i], value):
                return False
        return True

    def project(
        self, goal: tuple[Test, ...], actions: Iterable[TaskAction]
    ) -> tuple[Task, tuple[int, ...]]:
        """The task restricted to the variables that ``goal`` and ``actions`` mention.

        Other variables never change and are never tested, so dropping them loses nothing.
        Returns the smaller task and, for each of its variables, its index in this task;
        this very task where nothing is dropped (so what was built for it can be reused).
        """
        actions = tuple(actions)
        used = {t[0] for t in goal}
        for a in actions:
            used.update(t[0] for t in a.pre)
            used.update(i for i, _ in a.sets)
            used.update(e[0] for e in a.adds)
        keep = tuple(sorted(used))
        if len(keep) == len(self.names):  # every variable stays: nothing to renumber
            if goal == self.goal and actions == self.actions:
                return self, keep
            task = Task(self.names, self.init, goal, actions, self.bounds, self.goal_conditions)
            return task, keep
        new = {old: k for k, old in enumerate(keep)}
        moved = tuple(
            TaskAction(
                a.index,
                a.name,
                a.cost,
                tuple((new[i], op, v) for i, op, v in a.pre),
                tuple((new[i], v) for i, v in a.sets),
                tuple((new[i], d, lo, hi) for i, d, lo, hi in a.adds),
            )
            for a in actions
        )
        task = Task(
            tuple(self.names[i] for i in keep),
            tuple(self.init[i] for i in keep),
            tuple((new[i], op, v) for i, op, v in goal),
            moved,
            tuple(self.bounds[i] for i in keep),
            self.goal_conditions,
        )
        return task, keep


class Successors:
    """The applicable actions of a state, without testing every action against it.

    Each action is filed under one of its equality tests (``var == value``; a boolean ``!=``
    is an equality on the other value), so a state only looks at the actions filed under the
    values it has, and tests their remaining preconditions. Actions with no equality test are
    tested every time. This is Fast Downward's successor generator, one level deep.
    """

    def __init__(self, actions: Iterable[TaskAction]):
        self.free: list[tuple[TaskAction, tuple[Test, ...]]] = []
        tables: dict[int, dict[Any, list[tuple[TaskAction, tuple[Test, ...]]]]] = {}
        for action in actions:
            key = next((t for t in action.pre if _equality(t) is not None), None)
            if key is None:
                self.free.append((action, action.pre))
                continue
            i, value = _equality(key)
            rest = tuple(t for t in action.pre if t is not key)
            tables.setdefault(i, {}).setdefault(value, []).append((action, rest))
        self.tables = sorted(tables.items())

    def __call__(self, state: State) -> list[TaskAction]:
        """Applicable actions (in a fixed order, so searches are deterministic)."""
        out = []
        for bucket in [self.free] + [t.get(state[i], ()) for i, t in self.tables]:
            for action, rest in bucket:
                for i, op, value in rest:
                    if not op(state[i], value):
                        break
                else:
                    out.append(action)
        return out


def _equality(test: Test) -> tuple[int, Any] | None:
    i, op, value = test
    if op is operator.eq:
        return i, value
    if op is operator.ne and isinstance(value, bool):
        return i, not value
    return None


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
    bounds = counter_bounds(catalog, goal)
    actions = tuple(
        _task_action(i, a, index, penalties.get(a.name, 0.0), bounds)
        for i, a in enumerate(catalog.actions)
    )
    init = []
    for name, bound in zip(names, bounds, strict=True):
        value = world[name]
        if bound is not None:
            low, high = bound
            value = high if high is not None and value > high else value
            value = low if low is not None and value < low else value
        init.append(value)
    return Task(names, tuple(init), _tests(goal, index), actions, bounds, goal)


def _tests(conditions: tuple[Condition, ...], index: Mapping[str, int]) -> tuple[Test, ...]:
    return tuple([(index[c.var], OPS[c.op], c.value) for c in conditions])


def _task_action(
    i: int,
    action: Action,
    index: Mapping[str, int],
    penalty: float,
    bounds: tuple[Bound | None, ...],
) -> TaskAction:
    sets = tuple([(index[e.var], e.value) for e in action.effects if e.kind == "set"])
    adds = tuple(
        [
            (index[e.var], e.value, *(bounds[index[e.var]] or (None, None)))
            for e in action.effects
            if e.kind == "add"
        ]
    )
    return TaskAction(i, action.name, action.cost + penalty, _tests(action.pre, index), sets, adds)


def counter_bounds(catalog: Catalog, goal: tuple[Condition, ...]) -> tuple[Bound | None, ...]:
    """Per variable, the range a monotone counter is clamped to (None: not clamped).

    A counter that only grows behaves the same at every value above the largest constant the
    catalog compares it with or sets it to, so everything past ``max + 1`` is ``max + 1``
    (and symmetrically for one that only shrinks). Counters that move both ways, and
    non-numeric variables, are not clamped.
    """
    deltas: dict[str, list[Any]] = {}
    for a in catalog.actions:
        for e in a.effects:
            if e.kind == "add":
                deltas.setdefault(e.var, []).append(e.value)
    if not deltas:  # no counter (every imported PDDL task): nothing else to look at
        return (None,) * len(catalog.schema.variables)
    constants: dict[str, list[Any]] = {}
    for a in catalog.actions:
        for c in a.pre:
            constants.setdefault(c.var, []).append(c.value)
        for e in a.effects:
            if e.kind != "add":
                constants.setdefault(e.var, []).append(e.value)
    for c in goal:
        constants.setdefault(c.var, []).append(c.value)
    out: list[Bound | None] = []
    for var in catalog.schema.variables:
        moves = deltas.get(var.name)
        if not var.numeric or not moves:
            out.append(None)
            continue
        mentioned = constants.get(var.name) or [var.default]
        if all(d > 0 for d in moves):
            out.append((None, max(mentioned) + 1))
        elif all(d < 0 for d in moves):
            out.append((min(mentioned) - 1, None))
        else:
            out.append(None)
    return tuple(out)
