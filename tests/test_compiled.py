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
from goap.planning.planner import PlanOptions, independent_parts, plan
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


def agree(encoded: compiled.Encoded, relaxation: Relaxation, state: tuple) -> None:
    """Every question the planner asks at a state gets relaxed.py's answer from the core."""
    assert encoded.unreachable_goals(state) == relaxation.unreachable_goals(state)
    assert encoded.h_max(state) == relaxation.h_max(state)
    assert encoded.h_lmcut(state) == relaxation.h_lmcut(state)
    assert encoded.landmark_bound(state) == relaxation.landmark_bound(state)
    steps, cost = relaxation.lookahead(state)
    assert encoded.lookahead(state) == (steps, cost)
    budget = cost / 2 if cost < float("inf") else 3.0
    assert encoded.lookahead(state, budget) == relaxation.lookahead(state, budget)
    assert encoded.successors(state) == Successors(relaxation.actions)(state)


def walk(encoded: compiled.Encoded, relaxation: Relaxation, steps: int, seed: int) -> None:
    """``agree`` along a random walk (back to the start at a dead end)."""
    task, rng = relaxation.task, random.Random(seed)
    successors = Successors(relaxation.actions)
    state = task.init
    for _ in range(steps):
        agree(encoded, relaxation, state)
        applicable = successors(state)
        state = task.apply(rng.choice(applicable), state) if applicable else task.init


@pytest.mark.parametrize("task", ["scanalyzer/task01", "freecell/task01", "elevators/task02"])
def test_the_relaxation_agrees_at_every_state_of_a_random_walk(task: str):
    """At 200 states a random walk meets: reachability, h_max, LM-cut, the landmark bound,
    the lookahead's plan (with and without a budget) and the applicable actions; and the
    relevant actions of the task."""
    catalog = ipc_catalog(task)
    relaxation = Relaxation(compile_task(catalog, catalog.initial))
    encoded = compiled.encode(relaxation.task)
    assert encoded is not None
    same_split(encoded, relaxation)
    walk(encoded, relaxation, 200, 17)


def same_split(encoded: compiled.Encoded, relaxation: Relaxation) -> None:
    """The relevant actions, and the goal's independent parts over them and over all."""
    relevant = relaxation.relevant()
    assert encoded.relevant() == relevant
    task = relaxation.task
    assert encoded.parts(relevant) == independent_parts(task, relevant)
    assert encoded.parts(list(task.actions)) == independent_parts(task, list(task.actions))


@pytest.mark.parametrize("task", ["movie/task01", "pegsol/task01", "woodworking/task02"])
def test_goals_split_into_the_same_parts(task: str):
    """Tasks whose goal splits (6, 14 and 6 parts)."""
    catalog = ipc_catalog(task)
    relaxation = Relaxation(compile_task(catalog, catalog.initial))
    encoded = compiled.encode(relaxation.task)
    assert encoded is not None
    same_split(encoded, relaxation)
    assert len(encoded.parts(relaxation.relevant())) > 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs(), st.integers(0, 2**32 - 1))
def test_the_relaxation_agrees_along_random_walks_of_random_catalogs(spec, seed):
    """Counters, numeric conditions, sets and adds, unreachable goals: the core's
    relaxation answers as Python's at each of 20 states a random walk visits."""
    catalog = load_catalog("random.yaml", yaml.safe_dump(spec, sort_keys=False))
    relaxation = Relaxation(compile_task(catalog, catalog.initial))
    encoded = compiled.encode(relaxation.task)
    if encoded is None:
        return  # an unbounded counter: Python's alone
    same_split(encoded, relaxation)
    walk(encoded, relaxation, 20, seed)


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
    assert compiled.encode(relaxation.task) is None
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
    encoded = compiled.encode(relaxation.task)
    assert encoded is not None and sorted(encoded.index[0]) == [0, 1, 2, 3, 4]
    c, python = both(catalog, PlanOptions(lookahead=False))
    assert c == python and c[1] == ["commit"] * 3
