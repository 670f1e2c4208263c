"""Plan: from a catalog and a world state to the cheapest sequence of actions.

The steps: compile the search task, name goal conditions the relaxation cannot reach,
prune actions that cannot contribute, split the goal into independent parts, project each
part onto its own variables, then solve it: first the relaxed-plan lookahead, which ends
there when its plan costs no more than a lower bound; else A* with an admissible heuristic
(by default ``auto``: LM-cut where it knows more than h_max at the start, else h_max), so
the plan is cost-optimal.
"""

from __future__ import annotations

import gc
import heapq
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from goap.loading.catalog import Action, Catalog
from goap.loading.logic import Condition
from goap.planning import compiled
from goap.planning.registry import (
    AUTO,
    HEURISTICS,
    SEARCHES,
    Heuristic,
    admissible,
    check_names,
)
from goap.planning.relaxed import Relaxation
from goap.planning.search import INF, best_first
from goap.planning.task import State, Task, TaskAction, Test, compile_task

PlanStatus = Literal["found", "unreachable", "no_plan", "limit"]


@dataclass(frozen=True)
class PlanOptions:
    heuristic: str = AUTO  # LM-cut or h_max, per part (pick_heuristic); both admissible
    search: str = "astar"
    weight: float = 2.0  # for wastar
    max_expansions: int = 1_000_000
    timeout: float = 60.0  # seconds
    prune: bool = True
    decompose: bool = True  # plan independent parts of the goal separately
    lookahead: bool = True  # try relaxed plans in the real task (see goap.planning.search)

    def __post_init__(self) -> None:
        check_names(self.heuristic, self.search)  # OptionError for an unknown name

    @property
    def optimal(self) -> bool:
        return SEARCHES[self.search].optimal and admissible(self.heuristic)


@dataclass(frozen=True)
class PlanResult:
    status: PlanStatus
    actions: tuple[Action, ...]
    cost: float
    expanded: int
    generated: int
    seconds: float
    relevant: int  # actions left after pruning
    unreachable: tuple[Condition, ...] = ()
    optimal: bool = True
    # Of ``seconds``, the searches proper: the bounds at each part's start and best-first,
    # not compiling, relaxing or encoding the task (Fast Downward's "Search time" counts so)
    search_seconds: float = 0.0

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
    # The search builds no reference cycles, only many small tuples that the cyclic
    # collector would rescan again and again (up to half the time on large catalogs).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _plan(catalog, world, goal, penalties, options)
    finally:
        if collecting:
            gc.enable()


def _plan(
    catalog: Catalog,
    world: Mapping[str, Any],
    goal: tuple[Condition, ...] | None,
    penalties: Mapping[str, float] | None,
    options: PlanOptions,
) -> PlanResult:
    started = time.perf_counter()
    task = compile_task(catalog, world, goal, penalties)
    whole = compiled.encode(task)  # the core's relaxation, in C (None: relaxed.py's)
    full = whole if whole is not None else Relaxation(task)
    bad = full.unreachable_goals(task.init)
    if bad:
        return PlanResult(
            status="unreachable",
            actions=(),
            cost=float("inf"),
            expanded=0,
            generated=0,
            seconds=time.perf_counter() - started,
            relevant=0,
            unreachable=tuple(task.goal_conditions[i] for i in bad),
            optimal=options.optimal,
        )
    actions = full.relevant() if options.prune else list(task.actions)
    deadline = time.monotonic() + options.timeout
    part_plans: list[tuple[TaskAction, ...]] = []
    expanded = generated = 0
    searching = 0.0
    status: PlanStatus = "found"
    search = SEARCHES[options.search]
    priority = search.order(options.weight)
    if not options.decompose:
        parts = [(task.goal, actions)]
    elif whole is not None:
        parts = whole.parts(actions)  # the same, in C
    else:
        parts = independent_parts(task, actions)
    for part_goal, part_actions in parts:
        if len(part_goal) == len(task.goal) and len(part_actions) == len(task.actions):
            part = task  # the whole task (variables no action touches cost a byte a state)
        else:
            part, _ = task.project(part_goal, part_actions)
        root = Root(part, full if part is task else Relaxation(part))
        began = time.perf_counter()
        steps, cost, proven = (), INF, False
        if options.lookahead:
            steps, cost, proven = root_plan(root, search.satisficing)
        if proven:
            expanded, generated = expanded + 1, generated + 1
            searching += time.perf_counter() - began - root.encoding
            part_plans.append(canonical_order(part, steps))
            continue
        encoded = root.encoded  # None: the search stays in Python
        heuristic = pick_heuristic(options.heuristic, root)
        settings = dict(
            satisficing=search.satisficing,
            max_expansions=options.max_expansions - expanded,
            deadline=deadline,
            incumbent=(steps, cost) if options.lookahead else None,
            deferred=heuristic.costly and not search.satisficing,
        )
        result = None
        if encoded is not None:
            result = compiled.best_first(
                encoded,
                heuristic.name,
                search.name,
                options.weight,
                lookahead=options.lookahead,
                **settings,
            )
        if result is None:  # no compiled core, or a task or heuristic it does not take
            relaxation = root.python
            result = best_first(
                part,
                part.actions,
                heuristic.bind(relaxation),
                priority=priority,
                lookahead=relaxation.lookahead if options.lookahead else None,
                **settings,
            )
        expanded, generated = expanded + result.expanded, generated + result.generated
        searching += time.perf_counter() - began - root.encoding
        if result.status != "found":
            status = "no_plan" if result.status == "exhausted" else "limit"
            break
        part_plans.append(canonical_order(part, result.plan))
    found = status == "found"
    plan_steps = tuple(catalog.actions[a.index] for a in merge_by_index(part_plans))
    return PlanResult(
        status=status,
        actions=plan_steps if found else (),
        cost=sum(a.cost for a in plan_steps) if found else float("inf"),
        expanded=expanded,
        generated=generated,
        seconds=time.perf_counter() - started,
        relevant=len(actions),
        optimal=options.optimal,
        search_seconds=searching,
    )


class Root:
    """The start of one part: its relaxation (the core's where the whole task is one part,
    else relaxed.py's), its encoding for the core's search and its lower bounds, each
    computed once, when first needed (a part the lookahead proves with h_max is never
    encoded). The core's values are the same as relaxed.py's."""

    def __init__(self, task: Task, relaxation: Relaxation | compiled.Encoded):
        self.task, self.relaxation, self.state = task, relaxation, task.init
        self.encoding = 0.0  # seconds spent encoding (set-up, not search)

    @cached_property
    def encoded(self) -> compiled.Encoded | None:
        if isinstance(self.relaxation, compiled.Encoded):
            return self.relaxation
        began = time.perf_counter()
        encoded = compiled.encode(self.task)
        self.encoding = time.perf_counter() - began
        return encoded

    @cached_property
    def python(self) -> Relaxation:
        """relaxed.py's relaxation, for a search the core does not take (h_add, h_FF)."""
        if isinstance(self.relaxation, Relaxation):
            return self.relaxation
        return Relaxation(self.task)

    @cached_property
    def hmax(self) -> float:
        return self.relaxation.h_max(self.state)

    @cached_property
    def lmcut(self) -> float:
        if self.hmax == INF:
            return INF
        return (self.encoded or self.relaxation).h_lmcut(self.state)


def root_plan(root: Root, satisficing: bool) -> tuple[tuple[TaskAction, ...], float, bool]:
    """The lookahead's plan from the start, its cost, and whether it is provably optimal
    without a search: it costs no more than a lower bound (h_max, the actions every
    relaxed plan uses, or LM-cut, cheapest first). On chains and on catalogs like the seed this
    is the whole search, and h_max spares computing LM-cut (quadratic on a long chain) at
    all; otherwise the plan bounds the search (``best_first``'s incumbent)."""
    steps, cost = root.relaxation.lookahead(root.state)
    if cost == INF:
        return (), INF, False
    proven = (
        satisficing
        or root.hmax >= cost
        or root.relaxation.landmark_bound(root.state) >= cost
        or root.lmcut >= cost  # the costliest: it encodes the task for the compiled core
    )
    return tuple(steps), cost, proven


LMCUT_GAIN = 1.5  # auto picks LM-cut when lmcut(start) >= this * hmax(start)


def pick_heuristic(name: str, root: Root) -> Heuristic:
    """``auto``: LM-cut where its estimate at the start is well above h_max's, else h_max.

    Measured on bench.ipc (bench/results/ipc-2026-12-02-*): LM-cut costs about 10 times
    more per node than h_max; where its first estimate is at least 1.5 times h_max's it
    mostly saves more nodes than that (logistics, satellite, depot, elevators: 5 to 40
    times faster), below that it mostly does not (sokoban, transport, scanalyzer 3), and
    where the two are equal (goap's generated catalogs, counters) it only costs more.
    """
    if name != AUTO:
        return HEURISTICS[name]
    if root.hmax < INF and root.lmcut >= LMCUT_GAIN * root.hmax:
        return HEURISTICS["lmcut"]
    return HEURISTICS["hmax"]


def independent_parts(
    task: Task, actions: list[TaskAction]
) -> list[tuple[tuple[Test, ...], list[TaskAction]]]:
    """Split the goal into parts whose actions share no variable, to plan each on its own.

    Plans of such parts interleave freely and their costs add up, so concatenating optimal
    part plans is optimal; independent goals no longer multiply the state space.
    """
    touched: list[list[int]] = []  # per action, the variables it reads or writes
    users: list[list[int]] = [[] for _ in task.names]  # per variable, those actions
    for k, action in enumerate(actions):
        variables = [t[0] for t in action.pre]
        variables += [i for i, _ in action.sets] + [e[0] for e in action.adds]
        touched.append(variables)
        for i in variables:
            users[i].append(k)
    part_of_var = [-1] * len(task.names)
    part_of_action = [-1] * len(actions)
    parts: list[tuple[list[Test], list[TaskAction]]] = []
    for test in task.goal:  # each part grows from the first goal variable it holds
        start = test[0]
        if part_of_var[start] < 0:
            part = part_of_var[start] = len(parts)
            parts.append(([], []))
            stack = [start]
            while stack:
                for k in users[stack.pop()]:
                    if part_of_action[k] < 0:
                        part_of_action[k] = part
                        for i in touched[k]:
                            if part_of_var[i] < 0:
                                part_of_var[i] = part
                                stack.append(i)
        parts[part_of_var[start]][0].append(test)
    for action, part in zip(actions, part_of_action, strict=True):
        if part >= 0:  # else it touches no goal variable's part
            parts[part][1].append(action)
    return [(tuple(goal), part_actions) for goal, part_actions in parts]


def canonical_order(task: Task, steps: tuple[TaskAction, ...]) -> tuple[TaskAction, ...]:
    """Among equally good orders, prefer catalog order: deterministic and easy to read.

    Insertion sort by catalog position, where a step moves before its neighbour only if the
    two commute (both orders apply from the same state and end in the same state), so the
    plan stays valid and its cost unchanged. States are computed only as far as a swap
    needs them: a plan already in catalog order (a chain) costs no state at all.
    """
    steps = list(steps)
    states = [task.init]  # states[k]: the state before steps[k], for the prefix computed

    def before(k: int) -> State:
        while len(states) <= k:
            states.append(task.apply(steps[len(states) - 1], states[-1]))
        return states[k]

    for j in range(1, len(steps)):
        i = j
        while i > 0 and steps[i].index < steps[i - 1].index:
            a, b, start, end = steps[i - 1], steps[i], before(i - 1), before(i + 1)
            if not task.applicable(b, start):
                break
            middle = task.apply(b, start)
            if not task.applicable(a, middle) or task.apply(a, middle) != end:
                break
            steps[i - 1], steps[i] = b, a
            states[i] = middle
            i -= 1
    return tuple(steps)


def merge_by_index(plans: list[tuple[TaskAction, ...]]) -> list[TaskAction]:
    """Interleave the plans of independent parts, earliest catalog position first.

    Parts share no variable, so any interleaving applies and costs the same.
    """
    heads = [(plan[0].index, k, 0) for k, plan in enumerate(plans) if plan]
    heapq.heapify(heads)
    out = []
    while heads:
        _, k, i = heapq.heappop(heads)
        out.append(plans[k][i])
        if i + 1 < len(plans[k]):
            heapq.heappush(heads, (plans[k][i + 1].index, k, i + 1))
    return out
