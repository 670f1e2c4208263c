"""Which steps of a plan may run at the same time: the plan's partial order.

The planner finds the cheapest sequence; this module finds how much of it is really a
sequence. Step j must wait for an earlier step i when they touch a variable in a way that
makes their order matter: i writes what j reads or writes, or i reads what j writes. Writes
include what an executor observes (``observe:`` overrides effects). Every other pair is
independent, so any interleaving of them reaches the same world, and running them at once
keeps the plan (and its cost) as it is. ``levels`` groups the steps into waves for display;
``tails`` says which steps lie on the longest chain, the ones to start (and favour) first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from goap.loading.catalog import Action


def reads(action: Action) -> frozenset[str]:
    """Variables the action's preconditions and relative effects (``+= 1``) depend on."""
    relative = {e.var for e in action.effects if e.kind == "add"}
    return frozenset({c.var for c in action.pre} | relative)


def writes(action: Action) -> frozenset[str]:
    """Variables it changes: its effects and what its executor observes."""
    observed = set(action.executor.observe) if action.executor else set()
    return frozenset({e.var for e in action.effects} | observed)


def conflict(a: Action, b: Action) -> bool:
    """Whether the order of ``a`` and ``b`` can change what they do or leave."""
    wa, wb = writes(a), writes(b)
    return bool(wa & (reads(b) | wb) or reads(a) & wb)


def waits_for(plan: Sequence[Action]) -> list[frozenset[int]]:
    """For each step, the earlier steps it must wait for: per variable it reads, the last
    step that wrote it; per variable it writes, that writer and the steps that read it
    since. Every other conflicting pair (``conflict``) follows by transitivity, since a step
    starts only after those it waits for have landed; so the waits are linear in the plan's
    size (all pairs took 30 s on a 5,000-step chain, before anything ran)."""
    last_writer: dict[str, int] = {}
    readers_since: dict[str, list[int]] = {}
    waits: list[frozenset[int]] = []
    for j, step in enumerate(plan):
        read, written = reads(step), writes(step)
        before = {last_writer[v] for v in read | written if v in last_writer}
        for v in written:
            before.update(readers_since.get(v, ()))
        waits.append(frozenset(before))
        for v in read - written:
            readers_since.setdefault(v, []).append(j)
        for v in written:
            last_writer[v], readers_since[v] = j, []
    return waits


def levels(plan: Sequence[Action]) -> list[list[int]]:
    """The steps by wave: wave k holds the steps whose longest chain of waits has k links."""
    depth: list[int] = []
    for before in waits_for(plan):
        depth.append(1 + max((depth[i] for i in before), default=-1))
    waves: list[list[int]] = [[] for _ in range(max(depth, default=-1) + 1)]
    for step, d in enumerate(depth):
        waves[d].append(step)
    return waves


def mean_durations(taken: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Each action's mean over its (action, seconds) pairs: the journal's succeeded attempts
    as ``seconds`` for ``known``, ``tails`` and ``estimate``."""
    found: dict[str, list[float]] = {}
    for name, seconds in taken:
        found.setdefault(name, []).append(seconds)
    return {name: sum(v) / len(v) for name, v in found.items()}


def known(step: Action, seconds: Mapping[str, float]) -> float | None:
    """A step's duration as measured (``seconds``, the journal's), else as its catalog
    declares (``duration:``), else None."""
    return seconds.get(step.name, step.duration)


def estimate(plan: Sequence[Action], seconds: Mapping[str, float]) -> tuple[float, float]:
    """(one by one, at once): the plan's wall time from each step's known duration (0 when
    unknown). At once is the longest chain of waits, as if nothing else limited it."""
    own = [known(step, seconds) or 0.0 for step in plan]
    finish: list[float] = []
    for k, before in enumerate(waits_for(plan)):
        finish.append(own[k] + max((finish[i] for i in before), default=0.0))
    return sum(own), max(finish, default=0.0)


def tails(plan: Sequence[Action], seconds: Mapping[str, float]) -> list[float]:
    """Each step's tail: its own duration plus the longest chain of steps that wait for it,
    to the plan's end. The step with the longest tail bounds the run's wall time (the
    critical path), so it starts first and others yield the CPU to it."""
    own = durations(plan, seconds)
    waits = waits_for(plan)
    after = [0.0] * len(plan)  # the longest tail among the steps that wait for each
    tail = [0.0] * len(plan)
    for j in reversed(range(len(plan))):
        tail[j] = own[j] + after[j]
        for i in waits[j]:
            after[i] = max(after[i], tail[j])
    return tail


def durations(plan: Sequence[Action], seconds: Mapping[str, float]) -> list[float]:
    """Each step's expected seconds: measured (``seconds``, from the journal), else the
    catalog's ``duration:``, else its cost at the known steps' seconds per unit of cost
    (1 s per unit when none is known)."""
    found = {a.name: known(a, seconds) for a in plan}
    found = {name: s for name, s in found.items() if s is not None}
    paid = sum(a.cost for a in plan if a.name in found)
    rate = sum(found.values()) / paid if found and paid > 0 else 1.0
    return [found.get(a.name, a.cost * rate) for a in plan]
