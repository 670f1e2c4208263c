"""The heuristics and searches goap offers, by name, each with what it guarantees.

A registry maps a name to the callable itself and its admissibility (pyperplan maps names
to callables; the admissible flag beside it is ours): ``PlanOptions`` checks its names here
on construction, so the planner, the CLI and the benchmarks accept and refuse the same ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MethodType

from goap.planning.relaxed import Relaxation
from goap.planning.search import Priority
from goap.planning.task import State


def blind(relaxation: Relaxation, state: State) -> float:
    """0 everywhere: A* becomes uniform-cost search (admissible, and the weakest)."""
    return 0.0


@dataclass(frozen=True)
class Heuristic:
    name: str
    evaluate: Callable[[Relaxation, State], float]
    admissible: bool  # never above the true cost: A* with it returns optimal plans
    description: str
    costly: bool = False  # worth evaluating only when popped (search.best_first, deferred)

    def bind(self, relaxation: Relaxation) -> Callable[[State], float]:
        """``evaluate`` bound to one relaxation: as fast to call as a method."""
        return MethodType(self.evaluate, relaxation)


def a_star(weight: float) -> Priority:
    return lambda g, h: g + h


def weighted_a_star(weight: float) -> Priority:
    return lambda g, h: g + weight * h


def greedy(weight: float) -> Priority:
    return lambda g, h: h


@dataclass(frozen=True)
class Search:
    """Best-first search ordered by the priority ``order(weight)`` returns.

    ``satisficing`` searches return the first plan they find (greedy); the others keep
    searching until nothing left can beat it.
    """

    name: str
    order: Callable[[float], Priority]  # weight -> priority (only weighted A* reads it)
    satisficing: bool
    optimal: bool  # returns optimal plans with an admissible heuristic
    description: str


AUTO = "auto"  # not one heuristic: the planner picks lmcut or hmax per part (pick_heuristic)

HEURISTICS: dict[str, Heuristic] = {
    h.name: h
    for h in (
        Heuristic("hmax", Relaxation.h_max, True, "costliest goal atom of the relaxation"),
        Heuristic("lmcut", Relaxation.h_lmcut, True, "LM-cut: stronger, slower per node", True),
        Heuristic("blind", blind, True, "0: uniform-cost search"),
        Heuristic("hadd", Relaxation.h_add, False, "sum of the goal atoms' relaxed costs"),
        Heuristic("hff", Relaxation.h_ff, False, "cost of a relaxed plan"),
        Heuristic("goal-count", Relaxation.goal_count, False, "goal conditions not yet true"),
    )
}

SEARCHES: dict[str, Search] = {
    s.name: s
    for s in (
        Search("astar", a_star, False, True, "A*: optimal with an admissible heuristic"),
        Search("wastar", weighted_a_star, False, False, "weighted A*: <= weight x optimal"),
        Search("greedy", greedy, True, False, "greedy best-first: no cost guarantee"),
    )
}


class OptionError(ValueError):
    """A heuristic or search name that is not in the registry."""

    def __init__(self, option: str, value: object, allowed: tuple[str, ...]):
        self.option, self.value, self.allowed = option, value, allowed
        super().__init__(f"unknown {option} {value!r}; use one of {', '.join(allowed)}")


def admissible(heuristic: str) -> bool:
    """Whether A* with ``heuristic`` returns optimal plans (``auto`` picks admissible ones)."""
    return heuristic == AUTO or HEURISTICS[heuristic].admissible


def check_names(heuristic: str, search: str) -> None:
    """Raise OptionError for a name no registry knows."""
    if heuristic not in HEURISTICS and heuristic != AUTO:
        raise OptionError("heuristic", heuristic, (AUTO, *HEURISTICS))
    if search not in SEARCHES:
        raise OptionError("search", search, tuple(SEARCHES))
