"""The compiled core (``goap.planning._core``, C): the same search as ``search.best_first``.

The C module runs A* (or weighted A*, greedy), the successor generator, h_max, LM-cut
and the relaxed-plan lookahead on integer-encoded states, step for step as the Python code
does, so it returns the same plans with the same expanded and generated counts, 20 to 50
times faster per node; and the relaxation's questions at a part's start (reachability,
relevance, the goal's independent parts, the landmark bound), so a task the core takes is
never relaxed in Python at all: on tasks that take milliseconds, building relaxed.py's
lists cost more than the search. This module encodes a task for it (the core reads the
``TaskAction`` tuples itself) and turns its answers back into actions.

The encoding numbers each variable's values: its initial value, the values actions set,
and what adds reach from them (a clamped counter's range); a variable with more than 255
values, an unbounded counter, or a heuristic the core lacks (h_add, h_FF, goal count)
leaves the search to Python. So does ``GOAP_PURE_PYTHON=1``, and an install without a C
compiler, where the extension was not built.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from goap.planning.relaxed import LOWERS, OP_NAMES, RAISES
from goap.planning.search import INF, SearchResult
from goap.planning.task import Task, TaskAction, Test

try:
    from goap.planning import _core
except ImportError:  # installed where no compiler was: the pure-Python search
    _core = None

HEURISTICS = {"blind": 0, "hmax": 1, "lmcut": 2}  # the core's numbers for them
# per operator, what the core needs to know of it: whether an increase (1) or a decrease (2)
# can make a comparison true (relaxed.RAISES, LOWERS), and whether it is == (4) or != (8)
KINDS = {
    fn: (name in RAISES) | (name in LOWERS) << 1 | (fn is operator.eq) << 2
    | (fn is operator.ne) << 3
    for fn, name in OP_NAMES.items()
}  # fmt: skip
ORDERS = {"astar": 0, "wastar": 1, "greedy": 2}
MAX_VALUES = 255  # one byte per variable in a state


def available() -> bool:
    """Whether searches run in C: the module was built and ``GOAP_PURE_PYTHON`` is unset."""
    return _core is not None and os.environ.get("GOAP_PURE_PYTHON", "") in ("", "0")


@dataclass(frozen=True)
class Encoded:
    """A task in the core's form. It answers what the planner asks a ``Relaxation`` at a
    part's start (reachability, relevance, the lookahead, h_max, the landmark bound,
    LM-cut) with the same values, in C; states are tuples of values, as there."""

    core: Any  # a _core.Task
    init: bytes
    task: Task
    actions: tuple[TaskAction, ...]
    index: tuple[dict[Any, int], ...]  # per variable: value -> its number
    goal_atoms: tuple[int, ...]  # the atom of each goal condition (aligned with task.goal)

    def state(self, state: Sequence[Any]) -> bytes:
        """``state`` as the core's bytes (ValueError: a value the task never reaches)."""
        if state is self.task.init:
            return self.init
        out = []
        for values, v in zip(self.index, state, strict=True):
            d = values.get(v)
            if d is None:
                raise ValueError(f"{v!r} is not a value the encoded task reaches")
            out.append(d)
        return bytes(out)

    def unreachable_goals(self, state: Sequence[Any]) -> list[int]:
        bad = set(self.core.unreachable(self.state(state)))
        return [i for i, atom in enumerate(self.goal_atoms) if atom in bad]

    def relevant(self) -> list[TaskAction]:
        return [self.actions[k] for k in self.core.relevant()]

    def parts(
        self, actions: Sequence[TaskAction]
    ) -> list[tuple[tuple[Test, ...], list[TaskAction]]]:
        """``planner.independent_parts(self.task, actions)``; ``actions`` are some of this
        task's, in its order (the relevant ones)."""
        positions, j, mine = [], 0, self.actions
        for action in actions:
            while mine[j] is not action:  # IndexError: not one of this task's, or not in order
                j += 1
            positions.append(j)
            j += 1
        goal_part, action_part = self.core.parts([t[0] for t in self.task.goal], positions)
        parts: list[tuple[list[Test], list[TaskAction]]] = [
            ([], []) for _ in range(max(goal_part, default=-1) + 1)
        ]
        for test, part in zip(self.task.goal, goal_part, strict=True):
            parts[part][0].append(test)
        for action, part in zip(actions, action_part, strict=True):
            if part >= 0:
                parts[part][1].append(action)
        return [(tuple(goal), part_actions) for goal, part_actions in parts]

    def lookahead(
        self, state: Sequence[Any], budget: float = INF
    ) -> tuple[list[TaskAction], float]:
        steps, cost = self.core.lookahead(self.state(state), float(budget))
        return [self.actions[a] for a in steps], cost

    def h_max(self, state: Sequence[Any]) -> float:
        return self.core.evaluate(self.state(state), HEURISTICS["hmax"])

    def h_lmcut(self, state: Sequence[Any]) -> float:
        return self.core.evaluate(self.state(state), HEURISTICS["lmcut"])

    def landmark_bound(self, state: Sequence[Any]) -> float:
        return self.core.landmark_bound(self.state(state))

    def successors(self, state: Sequence[Any]) -> list[TaskAction]:
        """The applicable actions, in ``task.Successors``' order."""
        return [self.actions[a] for a in self.core.successors(self.state(state))]


def encode(task: Task) -> Encoded | None:
    """The core's form of ``task``, or None: no compiled core, ``GOAP_PURE_PYTHON`` set, or
    a task it cannot take. Atoms are numbered as ``Relaxation(task)`` numbers them (the
    goal's, then each action's preconditions in order), so LM-cut breaks ties alike; the
    core derives the rest (achievers, users, LM-cut's graph, the successor generator)."""
    if not available():
        return None
    actions = task.actions
    domains = _domains(task, actions)
    if domains is None:
        return None
    index = [{v: d for d, v in enumerate(values)} for values in domains]
    tables: list[int] = []
    table_at: dict[tuple, int] = {}
    adds = []  # (position, variables, tables, signs) of the actions with adds
    for k, action in enumerate(actions):
        if not action.adds:
            continue
        offsets = []
        for i, delta, low, high in action.adds:
            key = (i, delta, low, high)
            if key not in table_at:
                table_at[key] = len(tables)
                tables += [index[i][_clamp(v + delta, low, high)] for v in domains[i]]
            offsets.append(table_at[key])
        signs = [1 if delta > 0 else -1 if delta < 0 else 0 for _, delta, _, _ in action.adds]
        adds.append((k, [e[0] for e in action.adds], offsets, signs))
    ids: dict[tuple, int] = {}  # test -> atom number: the core numbers them
    spec = {
        "values": tuple(tuple(values) for values in domains),
        "goal": task.goal,
        "actions": actions,
        "index": index,
        "ids": ids,
        "kinds": KINDS,
        "adds": adds,
        "tables": tables,
    }
    core = _core.Task(spec)
    goal_atoms = tuple(ids[test] for test in task.goal)
    init = bytes(index[i][v] for i, v in enumerate(task.init))
    return Encoded(core, init, task, actions, tuple(index), goal_atoms)


def _clamp(value: Any, low: Any, high: Any) -> Any:
    """What ``Task.apply_in_place`` makes of an add, exactly."""
    if high is not None and value > high:
        return high
    if low is not None and value < low:
        return low
    return value


def _domains(task: Task, actions: Sequence[TaskAction]) -> list[list[Any]] | None:
    """Per variable, the values it can take: the initial one, the ones set, and what adds
    reach from them; None when a variable has more than MAX_VALUES (an unbounded counter).
    Values are told apart as Python's ``==`` and hash do, as the search's dicts do."""
    values = [[v] for v in task.init]
    seen = [{v} for v in task.init]
    adds: dict[int, list[tuple[Any, Any, Any]]] = {}
    for action in actions:
        for i, v in action.sets:
            if v not in seen[i]:
                seen[i].add(v)
                values[i].append(v)
        for i, delta, low, high in action.adds:
            if (delta, low, high) not in adds.setdefault(i, []):
                adds[i].append((delta, low, high))
    for i, moves in adds.items():
        k = 0
        while k < len(values[i]):  # the list grows as adds reach new values
            for delta, low, high in moves:
                v = _clamp(values[i][k] + delta, low, high)
                if v not in seen[i]:
                    seen[i].add(v)
                    values[i].append(v)
                    if len(values[i]) > MAX_VALUES:
                        return None
            k += 1
    if any(len(v) > MAX_VALUES for v in values):
        return None
    return values


def best_first(
    encoded: Encoded,
    heuristic: str,
    search: str,
    weight: float,
    satisficing: bool,
    max_expansions: int,
    deadline: float,
    lookahead: bool,
    incumbent: tuple[Sequence[TaskAction], float] | None,
    deferred: bool,
) -> SearchResult | None:
    """``search.best_first(task, task.actions, ...)`` in C, or None where the core lacks
    the heuristic or the search. ``lookahead``: whether to try ``Relaxation.lookahead``'s
    plans during the search (the core runs its own copy of it)."""
    if heuristic not in HEURISTICS or search not in ORDERS:
        return None
    status, path, cost, expanded, generated, steps = encoded.core.search(
        encoded.init,
        heuristic=HEURISTICS[heuristic],
        order=ORDERS[search],
        weight=float(weight),
        satisficing=satisficing,
        max_expansions=max_expansions,
        deadline=min(deadline, 1e300),
        lookahead=lookahead,
        deferred=deferred,
        has_incumbent=incumbent is not None,
        incumbent_cost=INF if incumbent is None else float(incumbent[1]),
    )
    actions = encoded.actions
    if status == 0:
        return SearchResult("found", tuple(actions[a] for a in path), cost, expanded, generated)
    if status == 1:
        if path is None:
            plan = tuple(incumbent[0]) if incumbent is not None else ()
        else:
            plan = tuple(actions[a] for a in path) + tuple(actions[a] for a in steps)
        return SearchResult("found", plan, cost, expanded, generated)
    return SearchResult("exhausted" if status == 2 else "limit", (), INF, expanded, generated)
