"""The compiled core searches exactly as the pure-Python code does.

``goap.planning._core`` (C) and ``search.best_first`` must return the same plans, costs and
node counts, and agree on every heuristic value and successor list along the way: on the
random catalogs the optimality tests draw, and on IPC tasks. ``GOAP_PURE_PYTHON=1`` selects
the Python path; tasks the core cannot encode fall back to it.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_planner import catalogs

from goap.loading.catalog import Catalog, load_catalog
from goap.planning import compiled
from goap.planning.pddl_import import import_pddl
from goap.planning.planner import PlanOptions, plan
from goap.planning.relaxed import Relaxation
from goap.planning.task import Successors, compile_task

pytestmark = pytest.mark.skipif(
    compiled._core is None, reason="goap.planning._core was not built (no C compiler?)"
)
IPC = Path(__file__).resolve().parent.parent / "bench" / "ipc"


@contextmanager
def pure_python(on: bool) -> Iterator[None]:
    old = os.environ.get("GOAP_PURE_PYTHON")
    os.environ["GOAP_PURE_PYTHON"] = "1" if on else ""
    try:
        yield
    finally:
        if old is None:
            del os.environ["GOAP_PURE_PYTHON"]
        else:
            os.environ["GOAP_PURE_PYTHON"] = old


def both(catalog: Catalog, options: PlanOptions) -> list[tuple]:
    out = []
    for on in (False, True):
        with pure_python(on):
            assert compiled.available() is not on
            r = plan(catalog, catalog.initial, options=options)
        out.append((r.status, [a.name for a in r.actions], r.cost, r.expanded, r.generated))
    return out


def ipc_catalog(task: str) -> Catalog:
    folder = IPC / task.split("/")[0]
    number = task.split("task")[1]
    domain = folder / f"domain{number}.pddl"
    domain = domain if domain.exists() else folder / "domain.pddl"
    imported = import_pddl(domain, folder / f"task{number}.pddl")
    return load_catalog(f"{task}.json", json.dumps(imported.catalog))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    catalogs(),
    st.sampled_from(["auto", "lmcut", "hmax", "blind"]),
    st.sampled_from(["astar", "wastar", "greedy"]),
    st.booleans(),
)
def test_random_catalogs_get_the_same_plan_from_both_paths(spec, heuristic, search, lookahead):
    catalog = load_catalog("random.yaml", yaml.safe_dump(spec, sort_keys=False))
    options = PlanOptions(
        heuristic=heuristic, search=search, lookahead=lookahead, max_expansions=20_000
    )
    c, python = both(catalog, options)
    assert c == python


IPC_TASKS = [
    "gripper/task02",
    "logistics/task01",
    "openstacks/task01",
    "scanalyzer/task01",
    "freecell/task01",
    "elevators/task02",
    "sokoban/task03",
    "depot/task01",
    "parcprinter/task03",
    "pegsol/task02",
]


@pytest.mark.parametrize("task", IPC_TASKS)
@pytest.mark.parametrize("heuristic", ["auto", "hmax"])
def test_ipc_tasks_get_the_same_plan_from_both_paths(task: str, heuristic: str):
    c, python = both(ipc_catalog(task), PlanOptions(heuristic=heuristic, timeout=120))
    assert c == python and c[0] == "found"


@pytest.mark.parametrize("task", ["scanalyzer/task01", "freecell/task01", "elevators/task02"])
def test_heuristics_and_successors_agree_at_every_state_of_a_random_walk(task: str):
    """At 200 states random walks meet: h_max, LM-cut, the lookahead's plan (with and
    without a budget) and the applicable actions."""
    catalog = ipc_catalog(task)
    relaxation = Relaxation(compile_task(catalog, catalog.initial))
    encoded = compiled.encode(relaxation.task, relaxation)
    assert encoded is not None
    successors = Successors(relaxation.actions)
    state, rng = relaxation.task.init, random.Random(17)
    for _ in range(200):
        assert compiled.evaluate(encoded, state, "hmax") == relaxation.h_max(state)
        assert compiled.evaluate(encoded, state, "lmcut") == relaxation.h_lmcut(state)
        steps, cost = relaxation.lookahead(state)
        assert compiled.lookahead(encoded, state) == (steps, cost)
        budget = cost / 2 if cost < float("inf") else 3.0
        assert compiled.lookahead(encoded, state, budget) == relaxation.lookahead(state, budget)
        applicable = successors(state)
        assert compiled.applicable(encoded, state) == applicable
        if applicable:
            state = relaxation.task.apply(rng.choice(applicable), state)
        else:  # a dead end: start again
            state = relaxation.task.init


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs(), st.integers(0, 2**32 - 1))
def test_the_lookahead_agrees_along_random_walks_of_random_catalogs(spec, seed):
    """Counters, numeric conditions, sets and adds: the core's lookahead gives Python's
    plan and cost at each of 20 states a random walk visits."""
    catalog = load_catalog("random.yaml", yaml.safe_dump(spec, sort_keys=False))
    relaxation = Relaxation(compile_task(catalog, catalog.initial))
    encoded = compiled.encode(relaxation.task, relaxation)
    if encoded is None:
        return  # an unbounded counter: Python's alone
    state, rng = relaxation.task.init, random.Random(seed)
    successors = Successors(relaxation.actions)
    for _ in range(20):
        assert compiled.lookahead(encoded, state) == relaxation.lookahead(state)
        applicable = successors(state)
        state = relaxation.task.apply(rng.choice(applicable), state) if applicable else state


def test_an_unbounded_counter_is_left_to_python():
    """n moves both ways without a bound: no finite list of values, so no encoding, and the
    planner searches in Python (and says it hit the limit, as before)."""
    text = (
        "version: 1\nname: t\nstate: {s.n: 0, s.done: false}\ngoal: {s.done: true}\n"
        "actions:\n"
        "  inc:\n    effects: {s.n: '+=2'}\n    cmd: ['true']\n"
        "  dec:\n    effects: {s.n: '-=2'}\n    cmd: ['true']\n"
        "  finish:\n    pre: {s.n: 7}\n    effects: {s.done: true}\n    cmd: ['true']\n"
    )
    catalog = load_catalog("t.yaml", text)
    relaxation = Relaxation(compile_task(catalog, catalog.initial))
    assert compiled.encode(relaxation.task, relaxation) is None
    result = plan(catalog, catalog.initial, options=PlanOptions(max_expansions=500))
    assert result.status == "limit"


def test_a_clamped_counter_is_encoded_with_the_values_it_can_reach():
    """commits += 1 up to the goal's 3 (clamped at 4): values 0..4, the same plan."""
    text = (
        "version: 1\nname: t\nstate: {s.commits: 0}\ngoal: {s.commits: '>= 3'}\n"
        "actions:\n  commit:\n    effects: {s.commits: '+=1'}\n    cmd: ['true']\n"
    )
    catalog = load_catalog("t.yaml", text)
    relaxation = Relaxation(compile_task(catalog, catalog.initial))
    encoded = compiled.encode(relaxation.task, relaxation)
    assert encoded is not None and sorted(encoded.index[0]) == [0, 1, 2, 3, 4]
    c, python = both(catalog, PlanOptions(lookahead=False))
    assert c == python and c[1] == ["commit"] * 3
