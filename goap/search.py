"""Best-first search over world states: A*, weighted A* and greedy best-first in one loop.

Nodes are ordered by ``f = g + weight * h`` (greedy drops g), ties broken by smaller h and
then by insertion order, so the same catalog always yields the same plan. With an admissible
h and weight 1 this is A*, and the first goal popped is cost-optimal.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count

from goap.task import State, Task, TaskAction

INF = float("inf")


@dataclass(frozen=True)
class SearchResult:
    status: str  # "found", "exhausted" (no plan exists) or "limit"
    plan: tuple[TaskAction, ...]
    cost: float
    expanded: int
    generated: int


def best_first(
    task: Task,
    actions: Sequence[TaskAction],
    h: Callable[[State], float],
    weight: float = 1.0,
    greedy: bool = False,
    max_expansions: int = 1_000_000,
    deadline: float = INF,
) -> SearchResult:
    """Search from ``task.init`` to a goal state using ``actions`` (already pruned)."""
    start = task.init
    h0 = h(start)
    if h0 == INF:
        return SearchResult("exhausted", (), INF, 0, 1)
    tie = count()
    g_of: dict[State, float] = {start: 0.0}
    parent: dict[State, tuple[State, TaskAction] | None] = {start: None}
    heap = [(0.0 if greedy else weight * h0, h0, next(tie), start)]
    closed: set[State] = set()
    expanded = 0
    generated = 1
    while heap:
        _, _, _, state = heapq.heappop(heap)
        if state in closed:
            continue
        g = g_of[state]
        if task.is_goal(state):
            return SearchResult("found", _path(parent, state), g, expanded, generated)
        closed.add(state)
        expanded += 1
        if expanded >= max_expansions or (expanded & 255 == 0 and time.monotonic() > deadline):
            return SearchResult("limit", (), INF, expanded, generated)
        for action in actions:
            if not task.applicable(action, state):
                continue
            child = task.apply(action, state)
            g2 = g + action.cost
            if g2 >= g_of.get(child, INF):
                continue
            h2 = h(child)
            generated += 1
            if h2 == INF:
                continue
            g_of[child] = g2
            parent[child] = (state, action)
            closed.discard(child)  # reopen: only happens with inconsistent heuristics
            f = h2 if greedy else g2 + weight * h2
            heapq.heappush(heap, (f, h2, next(tie), child))
    return SearchResult("exhausted", (), INF, expanded, generated)


def _path(
    parent: dict[State, tuple[State, TaskAction] | None], state: State
) -> tuple[TaskAction, ...]:
    steps = []
    while (link := parent[state]) is not None:
        state, action = link
        steps.append(action)
    return tuple(reversed(steps))
