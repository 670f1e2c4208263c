"""The planner: optimal against brute force on random catalogs, and its three ways to stop."""

from __future__ import annotations

import heapq
import json
from itertools import count
from pathlib import Path

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bench import catalogs as bench_catalogs
from goap.loading.catalog import Catalog, load_catalog
from goap.loading.logic import simulate
from goap.planning.planner import PlanOptions, plan

SEED = Path(__file__).parent / "catalogs" / "seed.yaml"


def brute_force(catalog: Catalog, limit: int = 20_000) -> float | None:
    """Uniform-cost search over real (unclamped) worlds, written independently of goap.

    Returns the optimal cost, None when every reachable world was explored without reaching
    the goal, and raises OverflowError when the space is too big to settle the question.
    """
    start = catalog.initial
    key = tuple(sorted(start.items()))
    heap = [(0.0, next(tie := count()), start)]
    best = {key: 0.0}
    settled = set()
    while heap:
        g, _, world = heapq.heappop(heap)
        key = tuple(sorted(world.items()))
        if key in settled:
            continue
        settled.add(key)
        if all(c.holds(world) for c in catalog.goal):
            return g
        if len(settled) > limit:
            raise OverflowError
        for action in catalog.actions:
            if all(c.holds(world) for c in action.pre):
                child = dict(world)
                for effect in action.effects:
                    effect.apply(child)
                child_key = tuple(sorted(child.items()))
                if g + action.cost < best.get(child_key, float("inf")):
                    best[child_key] = g + action.cost
                    heapq.heappush(heap, (g + action.cost, next(tie), child))
    return None


VARS = {"b0": "bool", "b1": "bool", "b2": "bool", "n0": "int", "n1": "int"}


@st.composite
def catalogs(draw) -> dict:
    def condition(var: str):
        if VARS[var] == "bool":
            return draw(st.booleans())
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return f"{op} {draw(st.integers(-1, 3))}"

    def effect(var: str):
        if VARS[var] == "bool":
            return draw(st.booleans())
        if draw(st.booleans()):
            return draw(st.integers(-1, 3))
        return draw(st.sampled_from(["+=1", "-=1", "+=2"]))

    names = list(VARS)
    actions = {}
    for k in range(draw(st.integers(1, 6))):
        pre_vars = draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
        eff_vars = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
        actions[f"a{k}"] = {
            "cost": draw(st.sampled_from([1, 2, 3, 5, 0.5])),
            "pre": {v: condition(v) for v in pre_vars},
            "effects": {v: effect(v) for v in eff_vars},
        }
    goal_vars = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    return {
        "version": 1,
        "name": "random",
        "state": {n: (False if t == "bool" else 0) for n, t in VARS.items()},
        "goal": {v: condition(v) for v in goal_vars},
        "actions": actions,
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs(), st.sampled_from(["lmcut", "hmax", "blind"]), st.booleans())
def test_astar_is_optimal_against_brute_force(spec, heuristic, lookahead):
    catalog = load_catalog("random.yaml", yaml.safe_dump(spec, sort_keys=False))
    try:
        optimum = brute_force(catalog)
    except OverflowError:
        assume(False)
    options = PlanOptions(heuristic=heuristic, max_expansions=200_000, lookahead=lookahead)
    result = plan(catalog, catalog.initial, options=options)
    if optimum is None:
        assert result.status in ("unreachable", "no_plan"), result.message
        return
    assert result.found, result.message
    assert abs(result.cost - optimum) < 1e-9
    final = simulate(result.actions, catalog.initial)
    assert all(c.holds(final) for c in catalog.goal)


@settings(max_examples=100, deadline=None)
@given(catalogs(), st.sampled_from(["hadd", "hff", "goal-count"]))
def test_inadmissible_heuristics_return_valid_plans(spec, heuristic):
    catalog = load_catalog("random.yaml", yaml.safe_dump(spec, sort_keys=False))
    result = plan(
        catalog, catalog.initial, options=PlanOptions(heuristic=heuristic, max_expansions=50_000)
    )
    assert not result.optimal
    if result.found:
        final = simulate(result.actions, catalog.initial)
        assert all(c.holds(final) for c in catalog.goal)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs(), st.sampled_from(["wastar", "greedy"]), st.sampled_from(["hmax", "hff"]))
def test_weighted_and_greedy_searches_return_valid_plans(spec, search, heuristic):
    """Weighted A* with an admissible heuristic stays within its weight of the optimum."""
    catalog = load_catalog("random.yaml", yaml.safe_dump(spec, sort_keys=False))
    try:
        optimum = brute_force(catalog)
    except OverflowError:
        assume(False)
    options = PlanOptions(heuristic=heuristic, search=search, max_expansions=50_000)
    result = plan(catalog, catalog.initial, options=options)
    assert not result.optimal
    if optimum is None:
        assert not result.found
        return
    assert result.found, result.message
    assert reaches_goal(catalog, result.actions)
    if search == "wastar" and heuristic == "hmax":
        assert result.cost <= options.weight * optimum + 1e-9


def test_lookahead_ends_a_chain_after_one_expansion():
    """h_max is exact on a chain, so the relaxed plan proves itself optimal at the start."""
    catalog = load_catalog("chain.yaml", json.dumps(bench_catalogs.chain(200)))
    result = plan(catalog, catalog.initial)
    assert result.expanded == 1 and len(result.actions) == 200
    blind = plan(catalog, catalog.initial, options=PlanOptions(lookahead=False))
    assert blind.cost == result.cost and blind.expanded == 200


def test_search_seconds_count_the_search_not_the_set_up():
    """A chain of 2000 steps: compiling and relaxing it cost far more than the lookahead's
    one expansion, and both are in ``seconds``; ``search_seconds`` is the part after."""
    catalog = load_catalog("chain.yaml", json.dumps(bench_catalogs.chain(2000)))
    result = plan(catalog, catalog.initial)
    assert 0 < result.search_seconds < result.seconds


def test_independent_parts_are_planned_apart_and_interleaved_in_catalog_order():
    doc = bench_catalogs.wide(40)
    catalog = load_catalog("wide.yaml", json.dumps(doc))
    result = plan(catalog, catalog.initial)
    cheaper = [
        min((doc["actions"][f"{k}{i}"]["cost"], k) for k in ("do", "alt")) for i in range(20)
    ]
    assert [a.name for a in result.actions] == [f"{k}{i}" for i, (_, k) in enumerate(cheaper)]
    assert result.cost == sum(c for c, _ in cheaper) and result.expanded == 20
    assert reaches_goal(catalog, result.actions)


def reaches_goal(catalog: Catalog, actions) -> bool:
    final = simulate(actions, catalog.initial)
    return all(c.holds(final) for c in catalog.goal)


def test_seed_catalog_plans_the_critical_path():
    catalog = load_catalog(SEED)
    result = plan(catalog, catalog.initial)
    assert [a.label for a in result.actions] == [
        "A01",
        "A02",
        "A03",
        "A04",
        "A05",
        "A06",
        "A07",
        "A08",
        "A09",
        "A11",
        "A12",
        "A13",
        "A14",
        "A15",
    ]
    assert result.cost == 42 + 2 + 3  # the seed's critical path, plus the two docs actions
    assert plan(catalog, catalog.initial).actions == result.actions  # deterministic


def test_goal_already_holds_gives_empty_plan():
    catalog = load_catalog(SEED)
    world = simulate(plan(catalog, catalog.initial).actions, catalog.initial)
    result = plan(catalog, world)
    assert result.found and result.actions == () and result.cost == 0


def catalog_text(actions: str, goal: str = "  s.done: true\n") -> str:
    return (
        "version: 1\nname: t\nstate:\n  s.done: false\n  s.key: false\n  s.n: 0\n"
        f"goal:\n{goal}actions:\n{actions}"
    )


def test_unreachable_goal_is_named_before_search():
    text = catalog_text(
        "  a:\n    pre: {s.key: true}\n    effects: {s.done: true}\n",
        goal="  s.done: true\n  s.n: '>= 1'\n",
    )
    result = plan(load_catalog("t.yaml", text), {"s.done": False, "s.key": False, "s.n": 0})
    assert result.status == "unreachable"
    assert [str(c) for c in result.unreachable] == ["s.done == true", "s.n >= 1"]
    assert "s.n >= 1" in result.message and result.expanded == 0


def test_counters_terminate_with_no_plan():
    """Relaxed-reachable but impossible: n must reach 3 while staying below 2."""
    text = catalog_text(
        "  inc:\n    pre: {s.n: '< 2'}\n    effects: {s.n: '+=1'}\n"
        "  finish:\n    pre: {s.n: '>= 3'}\n    effects: {s.done: true}\n"
    )
    catalog = load_catalog("t.yaml", text)
    result = plan(catalog, catalog.initial)
    assert result.status == "no_plan", result.message


def test_unbounded_counters_hit_the_limit():
    """n can go up and down forever: clamping cannot apply, so the limit stops the search."""
    text = catalog_text(
        "  inc:\n    effects: {s.n: '+=2'}\n"
        "  dec:\n    effects: {s.n: '-=2'}\n"
        "  finish:\n    pre: {s.n: 7}\n    effects: {s.done: true}\n"
    )
    catalog = load_catalog("t.yaml", text)
    result = plan(catalog, catalog.initial, options=PlanOptions(max_expansions=2000))
    assert result.status == "limit"
    assert "2000 expansions" in result.message and "--max-expansions" in result.message


def test_set_then_increment_is_not_pruned():
    """Setting a counter is relevant when the goal is reached by adding to it."""
    text = catalog_text(
        "  jump:\n    cost: 1\n    effects: {s.n: 3}\n"
        "  inc:\n    cost: 1\n    effects: {s.n: '+=1'}\n"
        "  finish:\n    pre: {s.n: '>= 5'}\n    effects: {s.done: true}\n"
    )
    catalog = load_catalog("t.yaml", text)
    result = plan(catalog, catalog.initial)
    assert [a.name for a in result.actions] == ["jump", "inc", "inc", "finish"]


def test_penalties_route_around_an_action():
    text = catalog_text(
        "  fast:\n    cost: 1\n    effects: {s.done: true}\n"
        "  slow:\n    cost: 5\n    effects: {s.done: true}\n"
    )
    catalog = load_catalog("t.yaml", text)
    assert [a.name for a in plan(catalog, catalog.initial).actions] == ["fast"]
    rerouted = plan(catalog, catalog.initial, penalties={"fast": 100})
    assert [a.name for a in rerouted.actions] == ["slow"] and rerouted.cost == 5
