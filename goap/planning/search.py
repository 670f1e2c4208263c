"""Best-first search over world states: A*, weighted A* and greedy best-first in one loop.

Nodes are ordered by the search's ``priority(g, h)`` (``goap.planning.registry``: A* is
``g + h``, weighted A* ``g + w * h``, greedy ``h``), ties broken by smaller h and then by
insertion order, so the same catalog always yields the same plan. With an admissible h, A*'s
first goal popped is cost-optimal.

An optional ``lookahead`` proposes whole plans from a node (see Relaxation.lookahead). The
best one found so far is the incumbent, of cost U: nodes with ``g + h >= U`` cannot lead to
anything cheaper and are dropped, and once the smallest key left is ``>= U`` the incumbent
is returned. That keeps A* optimal (every node on an optimal path has ``f <= C*``), and when
the heuristic (or ``root_bound``) is exact at the start, it ends after a single expansion:
h_max on a chain, the landmark bound on the seed catalog.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Literal

from goap.planning.task import State, Successors, Task, TaskAction

INF = float("inf")
SearchStatus = Literal["found", "exhausted", "limit"]  # exhausted: no plan exists
Priority = Callable[[float, float], float]  # (g, h) -> the key nodes are ordered by
Lookahead = Callable[[State, float], tuple[list[TaskAction], float]]


@dataclass(frozen=True)
class SearchResult:
    status: SearchStatus
    plan: tuple[TaskAction, ...]
    cost: float
    expanded: int
    generated: int


def best_first(
    task: Task,
    actions: Sequence[TaskAction],
    h: Callable[[State], float],
    priority: Priority = lambda g, h: g + h,
    satisficing: bool = False,
    max_expansions: int = 1_000_000,
    deadline: float = INF,
    lookahead: Lookahead | None = None,
    root_bound: Callable[[State], float] | None = None,
    deferred: bool = False,
    incumbent: tuple[Sequence[TaskAction], float] | None = None,
) -> SearchResult:
    """Search from ``task.init`` to a goal state using ``actions`` (already pruned).

    ``root_bound`` is an admissible estimate too costly to compute at every node: at the
    start, a lookahead plan that costs no more than it is optimal. A ``satisficing`` search
    returns the first plan it meets (a lookahead plan included).

    ``deferred`` evaluates a costly admissible h (LM-cut) only when a node is popped: a
    child is queued with ``max(h(parent) - cost, 0)``, which is admissible too (h(parent)
    <= cost + h*(child)), then evaluated when it comes out and queued again if its key
    grew. Most generated nodes of an A* search never come out, so most evaluations are
    saved, and the first goal popped is still optimal.

    ``incumbent``: the plan (and cost; INF for none) the lookahead already gave from the
    start (``planner.root_plan``), so the search does not try the start again.
    """
    start = task.init
    h0 = h(start)
    if h0 == INF:
        return SearchResult("exhausted", (), INF, 0, 1)
    successors = None  # built at the first expansion the lookahead does not end
    apply = task.apply
    is_goal = task.is_goal
    push, pop = heapq.heappush, heapq.heappop
    tie = count()
    g_of: dict[State, float] = {start: 0.0}
    parent: dict[State, tuple[State, TaskAction] | None] = {start: None}
    heap = [(priority(0.0, h0), h0, next(tie), start)]
    evaluated: dict[State, float] = {start: h0}  # deferred: h of the states computed so far
    closed: set[State] = set()
    expanded = 0
    generated = 1
    best_h = INF
    plan: tuple[TaskAction, ...] = ()
    bound = INF  # cost of the incumbent plan
    if incumbent is not None:
        plan, bound = tuple(incumbent[0]), incumbent[1]
        best_h = h0  # the lookahead was tried from the start
    while heap:
        key, h1, _, state = pop(heap)
        if key >= bound:
            break  # nothing left can beat the incumbent (a satisficing search never has one)
        if state in closed:
            continue
        g = g_of[state]
        if deferred and state not in evaluated:
            # pathmax: the queued estimate is admissible too, so the larger of the two is
            h1 = evaluated[state] = max(h(state), h1)
            generated += 1
            if generated & 63 == 0 and time.monotonic() > deadline:
                return SearchResult("limit", (), INF, expanded, generated)
            if h1 == INF or g + h1 >= bound:
                continue
            if priority(g, h1) > key:
                push(heap, (priority(g, h1), h1, next(tie), state))
                continue
        if is_goal(state):
            return SearchResult("found", _path(parent, state), g, expanded, generated)
        closed.add(state)
        expanded += 1
        if expanded >= max_expansions or (expanded & 255 == 0 and time.monotonic() > deadline):
            return SearchResult("limit", (), INF, expanded, generated)
        if lookahead is not None and bound == INF and h1 < best_h:
            best_h = h1
            steps, cost = lookahead(state, bound - g)
            if g + cost < bound:
                bound, plan = g + cost, _path(parent, state) + tuple(steps)
                if satisficing or key >= bound:
                    break
                if expanded == 1 and root_bound is not None and root_bound(state) >= bound:
                    break  # a second lower bound at the start meets the incumbent
        if successors is None:
            successors = Successors(actions)
        for action in successors(state):
            child = apply(action, state)
            g2 = g + action.cost
            if g2 >= g_of.get(child, INF):
                continue
            if deferred:
                h2 = evaluated.get(child)
                if h2 is None:
                    h2 = max(h1 - action.cost, 0.0)  # admissible until h(child) is computed
                    if g2 + h2 >= bound:
                        continue
                    g_of[child] = g2
                    parent[child] = (state, action)
                    push(heap, (priority(g2, h2), h2, next(tie), child))
                    continue
            else:
                h2 = h(child)
                generated += 1
            if h2 == INF or g2 + h2 >= bound:
                continue
            g_of[child] = g2
            parent[child] = (state, action)
            closed.discard(child)  # reopen: only happens with inconsistent heuristics
            push(heap, (priority(g2, h2), h2, next(tie), child))
    if bound < INF:
        return SearchResult("found", plan, bound, expanded, generated)
    return SearchResult("exhausted", (), INF, expanded, generated)


def _path(
    parent: dict[State, tuple[State, TaskAction] | None], state: State
) -> tuple[TaskAction, ...]:
    steps = []
    while (link := parent[state]) is not None:
        state, action = link
        steps.append(action)
    return tuple(reversed(steps))
