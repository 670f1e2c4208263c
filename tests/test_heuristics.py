"""The relaxation heuristics on small hand-built tasks, as pyperplan tests its own.

Exact values where they are known by hand (a chain, independent goals, a shared
precondition, an unreachable goal, a goal that holds), and a property over random tasks:
0 <= h_max <= LM-cut <= the true optimal cost, computed here by an independent search over
dict worlds; h_add and h_FF never below h_max; every heuristic the registry calls
admissible is below the true cost.
"""

from __future__ import annotations

import heapq
import json
from itertools import count
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goap.loading.catalog import Catalog, load_catalog
from goap.planning.planner import PlanOptions, plan
from goap.planning.registry import HEURISTICS, SEARCHES, OptionError
from goap.planning.relaxed import INF, Relaxation
from goap.planning.task import compile_task

NAMES = ("hmax", "lmcut", "hadd", "hff", "goal-count", "blind")


def catalog(state: dict[str, Any], goal: dict[str, Any], actions: dict[str, Any]) -> Catalog:
    for spec in actions.values():
        spec.setdefault("cmd", ["true"])
    doc = {"version": 1, "name": "h", "state": state, "goal": goal, "actions": actions}
    return load_catalog("h.yaml", json.dumps(doc))


def values(cat: Catalog) -> dict[str, float]:
    """Every registered heuristic at the catalog's initial state (no pruning: raw values)."""
    relaxation = Relaxation(compile_task(cat, cat.initial))
    return {name: HEURISTICS[name].bind(relaxation)(relaxation.task.init) for name in NAMES}


def test_a_chain_costs_its_sum_under_every_relaxed_heuristic():
    cat = catalog(
        {"a": False, "b": False, "c": False},
        {"c": True},
        {
            "one": {"cost": 1, "effects": {"a": True}},
            "two": {"cost": 2, "pre": {"a": True}, "effects": {"b": True}},
            "three": {"cost": 3, "pre": {"b": True}, "effects": {"c": True}},
        },
    )
    assert values(cat) == {
        "hmax": 6, "lmcut": 6, "hadd": 6, "hff": 6, "goal-count": 1, "blind": 0,
    }  # fmt: skip


def test_independent_goals_h_max_takes_the_costliest_lm_cut_adds_them():
    cat = catalog(
        {"x": False, "y": False},
        {"x": True, "y": True},
        {"gx": {"cost": 2, "effects": {"x": True}}, "gy": {"cost": 3, "effects": {"y": True}}},
    )
    assert values(cat) == {
        "hmax": 3, "lmcut": 5, "hadd": 5, "hff": 5, "goal-count": 2, "blind": 0,
    }  # fmt: skip


def test_a_shared_precondition_h_add_counts_twice_h_ff_once():
    cat = catalog(
        {"p": False, "x": False, "y": False},
        {"x": True, "y": True},
        {
            "prepare": {"cost": 4, "effects": {"p": True}},
            "gx": {"cost": 1, "pre": {"p": True}, "effects": {"x": True}},
            "gy": {"cost": 1, "pre": {"p": True}, "effects": {"y": True}},
        },
    )
    assert values(cat) == {
        "hmax": 5, "lmcut": 6, "hadd": 10, "hff": 6, "goal-count": 2, "blind": 0,
    }  # fmt: skip


def test_an_unreachable_goal_is_infinite_for_every_relaxed_heuristic():
    cat = catalog(
        {"x": False, "never": False},
        {"x": True},
        {"gx": {"cost": 1, "pre": {"never": True}, "effects": {"x": True}}},
    )
    got = values(cat)
    assert all(got[name] == INF for name in ("hmax", "lmcut", "hadd", "hff"))
    assert (got["goal-count"], got["blind"]) == (1, 0)


def test_a_goal_that_holds_costs_nothing():
    cat = catalog({"x": True}, {"x": True}, {"gx": {"effects": {"x": True}}})
    assert set(values(cat).values()) == {0}


def test_counters_need_as_many_increments_as_lm_cut_can_prove():
    """h_max counts one increment for any threshold (a known weakness, said in the README)."""
    cat = catalog({"n": 0}, {"n": ">= 3"}, {"inc": {"cost": 2, "effects": {"n": "+=1"}}})
    got = values(cat)
    assert got["hmax"] == 2 and got["lmcut"] == 2
    assert plan(cat, cat.initial).cost == 6


# ------------------------------------------------------------------ random tasks


def true_cost(cat: Catalog) -> float:
    """Uniform-cost search over dict worlds, written apart from goap's task and search."""
    start = dict(cat.initial)
    key = lambda world: tuple(sorted(world.items()))  # noqa: E731
    frontier = [(0.0, next(tie := count()), start)]
    best = {key(start): 0.0}
    while frontier:
        g, _, world = heapq.heappop(frontier)
        if g > best[key(world)]:
            continue
        if all(c.holds(world) for c in cat.goal):
            return g
        for action in cat.actions:
            if all(c.holds(world) for c in action.pre):
                child = dict(world)
                for effect in action.effects:
                    effect.apply(child)
                if g + action.cost < best.get(key(child), INF):
                    best[key(child)] = g + action.cost
                    heapq.heappush(frontier, (g + action.cost, next(tie), child))
    return INF


@st.composite
def tasks(draw: st.DrawFn) -> Catalog:
    names = [f"v{i}" for i in range(draw(st.integers(2, 5)))]
    literal = st.tuples(st.sampled_from(names), st.booleans())
    actions = {}
    for k in range(draw(st.integers(1, 6))):
        actions[f"a{k}"] = {
            "cost": draw(st.integers(1, 5)),
            "pre": dict(draw(st.lists(literal, max_size=2))),
            "effects": dict(draw(st.lists(literal, min_size=1, max_size=2))),
        }
    goal = dict(draw(st.lists(literal, min_size=1, max_size=3)))
    return catalog({n: False for n in names}, goal, actions)


@settings(max_examples=200, deadline=None)
@given(tasks())
def test_admissible_heuristics_never_exceed_the_true_cost(cat: Catalog):
    got, optimum = values(cat), true_cost(cat)
    assert 0 <= got["hmax"] <= got["lmcut"] <= optimum
    assert got["hadd"] >= got["hmax"] and got["hff"] >= got["hmax"]
    for name, heuristic in HEURISTICS.items():
        if heuristic.admissible:
            assert got[name] <= optimum, name
    assert plan(cat, cat.initial).cost == optimum  # A* with the default h_max is optimal


def test_the_registry_says_which_heuristics_are_admissible():
    assert {n for n, h in HEURISTICS.items() if h.admissible} == {"hmax", "lmcut", "blind"}
    assert set(HEURISTICS) == set(NAMES)


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_every_search_finds_a_valid_plan(search: str):
    cat = catalog(
        {"p": False, "x": False, "y": False},
        {"x": True, "y": True},
        {
            "prepare": {"cost": 4, "effects": {"p": True}},
            "gx": {"cost": 1, "pre": {"p": True}, "effects": {"x": True}},
            "gy": {"cost": 1, "pre": {"p": True}, "effects": {"y": True}},
            "direct": {"cost": 9, "effects": {"x": True, "y": True}},
        },
    )
    result = plan(cat, cat.initial, options=PlanOptions(search=search, heuristic="hadd"))
    world = dict(cat.initial)
    for action in result.actions:
        assert all(c.holds(world) for c in action.pre)
        for effect in action.effects:
            effect.apply(world)
    assert result.found and all(c.holds(world) for c in cat.goal)
    assert result.optimal is False  # hadd is not admissible
    if search == "astar":
        astar = plan(cat, cat.initial, options=PlanOptions(search="astar"))
        assert astar.cost == 6 and astar.optimal


@pytest.mark.parametrize(
    "fields, option",
    [({"heuristic": "magic"}, "heuristic"), ({"search": "dfs"}, "search")],
)
def test_unknown_names_are_refused_when_options_are_made(fields: dict, option: str):
    with pytest.raises(OptionError) as caught:
        PlanOptions(**fields)
    assert caught.value.option == option and caught.value.value == next(iter(fields.values()))
    registry = HEURISTICS if option == "heuristic" else SEARCHES
    assert caught.value.allowed == tuple(registry)
    assert f"unknown {option}" in str(caught.value)
