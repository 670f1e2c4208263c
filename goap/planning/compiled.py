"""The compiled core (``goap.planning._core``, C): the same search as ``search.best_first``.

The C module runs A* (or weighted A*, greedy), the successor generator, h_max, LM-cut
and the relaxed-plan lookahead on integer-encoded states, step for step as the Python code
does, so it returns the same plans with the same expanded and generated counts, 20 to 50
times faster per node. This module encodes a task for it and turns its answer back into
a ``SearchResult``.

The encoding numbers each variable's values: its initial value, the values actions set,
and what adds reach from them (a clamped counter's range); a variable with more than 255
values, an unbounded counter, or a heuristic the core lacks (h_add, h_FF, goal count)
leaves the search to Python. So does ``GOAP_PURE_PYTHON=1``, and an install without a C
compiler, where the extension was not built.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from goap.planning.relaxed import Relaxation
from goap.planning.search import INF, Lookahead, SearchResult
from goap.planning.task import Task, TaskAction, _equality

try:
    from goap.planning import _core
except ImportError:  # installed where no compiler was: the pure-Python search
    _core = None

HEURISTICS = {"blind": 0, "hmax": 1, "lmcut": 2}  # the core's numbers for them
ORDERS = {"astar": 0, "wastar": 1, "greedy": 2}
MAX_VALUES = 255  # one byte per variable in a state


def available() -> bool:
    """Whether searches run in C: the module was built and ``GOAP_PURE_PYTHON`` is unset."""
    return _core is not None and os.environ.get("GOAP_PURE_PYTHON", "") in ("", "0")


@dataclass(frozen=True)
class Encoded:
    core: Any  # a _core.Task
    init: bytes
    actions: tuple[TaskAction, ...]
    index: tuple[dict[Any, int], ...]  # per variable: value -> its number


def encode(task: Task, relaxation: Relaxation) -> Encoded | None:
    """The core's form of ``task`` (searched with ``relaxation.actions``), or None: no
    compiled core, ``GOAP_PURE_PYTHON`` set, or a task it cannot take."""
    if not available():
        return None
    actions = relaxation.actions
    domains = _domains(task, actions)
    if domains is None:
        return None
    index = [{v: d for d, v in enumerate(values)} for values in domains]
    atoms = relaxation.atoms
    holds = [[1 if op(v, value) else 0 for v in domains[i]] for i, op, value in relaxation.tests]
    tables: list[int] = []
    table_at: dict[tuple, int] = {}
    sets_var, sets_val, adds_var, adds_table = [], [], [], []
    for action in actions:
        sets_var.append([i for i, _ in action.sets])
        sets_val.append([index[i][v] for i, v in action.sets])
        offsets = []
        for i, delta, low, high in action.adds:
            key = (i, delta, low, high)
            if key not in table_at:
                table_at[key] = len(tables)
                tables += [index[i][_clamp(v + delta, low, high)] for v in domains[i]]
            offsets.append(table_at[key])
        adds_var.append([e[0] for e in action.adds])
        adds_table.append(offsets)
    entries_action, entries_rest, nfree, table_var, buckets = _successors(relaxation, index)
    pre, eff, users, achievers = relaxation._cut_graph()
    spec = {
        "values": tuple(tuple(values) for values in domains),
        "atom_var": [a.var for a in atoms],
        "holds": holds,
        "goal": list(relaxation.goal),
        "cost": [float(c) for c in relaxation.costs],
        "pre": relaxation.pre,
        "achieves": relaxation.achieves,
        "users": relaxation.users,
        "no_pre": [relaxation.no_pre],
        "cpre": pre,
        "ceff": eff,
        "cusers": users,
        "cachievers": achievers,
        "sets_var": sets_var,
        "sets_val": sets_val,
        "adds_var": adds_var,
        "adds_table": adds_table,
        "tables": tables,
        "entries_action": entries_action,
        "entries_rest": entries_rest,
        "nfree": nfree,
        "table_var": table_var,
        "buckets": buckets,
    }
    init = bytes(index[i][v] for i, v in enumerate(task.init))
    return Encoded(_core.Task(spec), init, actions, tuple(index))


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


def _successors(
    relaxation: Relaxation, index: list[dict[Any, int]]
) -> tuple[list[int], list[list[int]], int, list[int], list[list[int]]]:
    """``task.Successors`` as tables: entries (action, other preconditions as atoms), the
    free ones first; per variable with a table (in variable order), per value of it, the
    entries filed there (one row per value, the tables' rows one after the other)."""
    free: list[tuple[int, list[int]]] = []
    filed: dict[int, dict[int, list[tuple[int, list[int]]]]] = {}
    equality = [_equality(test) for test in relaxation.tests]  # per atom
    for k, listed in enumerate(relaxation.listed):
        key = next((j for j, atom in enumerate(listed) if equality[atom] is not None), None)
        if key is None:
            free.append((k, listed))
            continue
        i, value = equality[listed[key]]
        rest = listed[:key] + listed[key + 1 :]
        d = index[i].get(value)
        if d is not None:  # else no state has that value: the action never applies
            filed.setdefault(i, {}).setdefault(d, []).append((k, rest))
    entries_action = [k for k, _ in free]
    entries_rest = [rest for _, rest in free]
    table_var, buckets = [], []
    for i, by_value in sorted(filed.items()):
        table_var.append(i)
        for d in range(len(index[i])):  # row (the table's first row) + value
            row = []
            for k, rest in by_value.get(d, ()):
                row.append(len(entries_action))
                entries_action.append(k)
                entries_rest.append(rest)
            buckets.append(row)
    return entries_action, entries_rest, len(free), table_var, buckets


def best_first(
    encoded: Encoded,
    heuristic: str,
    search: str,
    weight: float,
    satisficing: bool,
    max_expansions: int,
    deadline: float,
    lookahead: Lookahead | None,
    incumbent: tuple[Sequence[TaskAction], float] | None,
    deferred: bool,
) -> SearchResult | None:
    """``search.best_first(task, relaxation.actions, ...)`` in C, or None where the core
    lacks the heuristic or the search. A ``lookahead`` given is the encoding relaxation's
    (``Relaxation.lookahead``, the only one the planner passes): the core runs its own copy
    of it on the encoded task instead of calling back into Python."""
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
        lookahead=lookahead is not None,
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


def encode_state(encoded: Encoded, state: Sequence[Any]) -> bytes | None:
    """``state`` as the core's bytes, or None if it holds a value the task never reaches."""
    out = []
    for values, v in zip(encoded.index, state, strict=True):
        d = values.get(v)
        if d is None:
            return None
        out.append(d)
    return bytes(out)


def evaluate(encoded: Encoded, state: Sequence[Any], heuristic: str) -> float:
    """The core's ``heuristic`` at ``state`` (tests compare it with relaxed.py's)."""
    return encoded.core.evaluate(encode_state(encoded, state), HEURISTICS[heuristic])


def lookahead(
    encoded: Encoded, state: Sequence[Any], budget: float = INF
) -> tuple[list[TaskAction], float]:
    """The core's ``Relaxation.lookahead`` at ``state`` (tests compare the two)."""
    steps, cost = encoded.core.lookahead(encode_state(encoded, state), float(budget))
    return [encoded.actions[a] for a in steps], cost


def applicable(encoded: Encoded, state: Sequence[Any]) -> list[TaskAction]:
    """The core's successor generator at ``state`` (tests compare it with task.Successors)."""
    return [encoded.actions[a] for a in encoded.core.successors(encode_state(encoded, state))]
