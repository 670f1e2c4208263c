"""PDDL export: classical planners solve the exported problem, and goap replays their plans.

pyperplan (a dev dependency) solves every exported problem here in-process; Fast Downward runs
where ``up-fast-downward`` is installed. A planner's plan is read back into catalog actions and
replayed with ``goap.loading.logic.simulate``: it must reach the goal, and on unit-cost problems its
length must equal goap's optimal cost.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bench.catalogs import SHAPES
from bench.classical import fast_downward, fast_downward_driver, pyperplan
from goap.faces.cli import app
from goap.loading.catalog import Catalog, load_catalog
from goap.loading.logic import simulate
from goap.planning.pddl import ExportError, export
from goap.planning.planner import plan
from tests.test_planner import SEED, catalog_text

pytest.importorskip("pyperplan")


def reaches_goal(catalog: Catalog, actions: list) -> bool:
    final = simulate(actions, catalog.initial)
    return all(c.holds(final) for c in catalog.goal)


def unit(catalog_doc: dict) -> dict:
    for action in catalog_doc["actions"].values():
        action["cost"] = 1
    return catalog_doc


def solve_with_pyperplan(catalog: Catalog, tmp_path, heuristic: str = "hmax"):
    exported = export(catalog, action_costs=False)
    run = pyperplan(*exported.write(tmp_path), timeout=30, heuristic=heuristic)
    return exported, run


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_generated_catalogs_round_trip_through_pyperplan(shape, tmp_path):
    catalog = load_catalog(f"{shape}.yaml", json.dumps(SHAPES[shape](12, unit=True)))
    exported, run = solve_with_pyperplan(catalog, tmp_path)
    assert run.status == "found", run.message
    assert reaches_goal(catalog, exported.read_plan(catalog, run.plan))
    assert run.cost == plan(catalog, catalog.initial).cost


def test_seed_catalog_round_trips_with_unit_costs(tmp_path):
    doc = unit(yaml.safe_load(SEED.read_text()))
    catalog = load_catalog("seed.yaml", yaml.safe_dump(doc))
    exported, run = solve_with_pyperplan(catalog, tmp_path)
    assert run.status == "found", run.message
    assert reaches_goal(catalog, exported.read_plan(catalog, run.plan))
    assert run.cost == plan(catalog, catalog.initial).cost == 14


@pytest.mark.skipif(fast_downward_driver() is None, reason="up-fast-downward not installed")
def test_fast_downward_solves_the_seed_with_action_costs(tmp_path):
    catalog = load_catalog(SEED)
    exported = export(catalog)
    assert exported.action_costs and ":action-costs" in exported.domain
    run = fast_downward(*exported.write(tmp_path))
    assert run.status == "found", run.message
    assert reaches_goal(catalog, exported.read_plan(catalog, run.plan))
    assert run.cost == plan(catalog, catalog.initial).cost == 47


def test_negative_conditions_become_twin_facts():
    text = catalog_text("  a:\n    pre: {s.key: false}\n    effects: {s.done: true, s.key: true}\n")
    exported = export(load_catalog("t.yaml", text))
    assert "(not-s-key)" in exported.domain
    assert ":negative-preconditions" not in exported.domain
    precondition = next(line for line in exported.domain.splitlines() if ":precondition" in line)
    assert "(not (" not in precondition
    assert "(:precondition (and))" not in exported.domain  # an empty one is written "(and)"


def test_counters_are_bounded_and_split_by_value(tmp_path):
    text = catalog_text(
        "  inc:\n    effects: {s.n: '+=1'}\n"
        "  finish:\n    pre: {s.n: '>= 2'}\n    effects: {s.done: true}\n"
    )
    catalog = load_catalog("t.yaml", text)
    exported, run = solve_with_pyperplan(catalog, tmp_path)
    assert any("s.n: bounded to 0..3" in note for note in exported.notes)
    assert "(s-n-ge-2)" in exported.domain and "inc--from-0" in exported.domain
    assert run.status == "found" and run.cost == 3
    assert reaches_goal(catalog, exported.read_plan(catalog, run.plan))


def test_counters_moving_both_ways_are_refused_by_name():
    text = catalog_text(
        "  inc:\n    effects: {s.n: '+=2'}\n"
        "  dec:\n    effects: {s.n: '-=2'}\n"
        "  finish:\n    pre: {s.n: 4}\n    effects: {s.done: true}\n"
    )
    with pytest.raises(ExportError, match=r"cannot export s\.n: .*no finite range"):
        export(load_catalog("t.yaml", text))


def test_fractional_costs_are_scaled_to_integers():
    text = catalog_text("  a:\n    cost: 0.5\n    effects: {s.done: true}\n")
    exported = export(load_catalog("t.yaml", text))
    assert exported.cost_scale == 10 and "(increase (total-cost) 5)" in exported.domain


def test_cli_export_writes_the_files_and_says_what_it_bounded(tmp_path):
    result = CliRunner().invoke(app, ["export", str(SEED), "--pddl", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "git_state.commits_made: bounded to 0..4" in " ".join(result.output.split())
    assert (tmp_path / "out" / "domain.pddl").exists()
    assert (tmp_path / "out" / "problem.pddl").exists()


def test_cli_export_refusal_is_a_usage_error(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        catalog_text(
            "  inc:\n    effects: {s.n: '+=1'}\n  dec:\n    effects: {s.n: '-=1'}\n"
            "  finish:\n    pre: {s.n: 2}\n    effects: {s.done: true}\n"
        )
    )
    result = CliRunner().invoke(app, ["export", str(path), "--pddl", str(tmp_path / "out")])
    assert result.exit_code == 2 and "s.n" in result.output


VARS = {"b0": "bool", "b1": "bool", "b2": "bool", "n0": "int", "s0": "str"}


@st.composite
def exportable_catalogs(draw) -> dict:
    """Random unit-cost catalogs whose counters only grow (so they have a finite form)."""

    def condition(var: str):
        if VARS[var] == "bool":
            return draw(st.booleans())
        if VARS[var] == "str":
            return draw(st.sampled_from(["", "a", "b", "!= a"]))
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return f"{op} {draw(st.integers(-1, 3))}"

    def effect(var: str):
        if VARS[var] == "bool":
            return draw(st.booleans())
        if VARS[var] == "str":
            return draw(st.sampled_from(["", "a", "b"]))
        return draw(st.sampled_from([0, 2, "+=1", "+=2"]))

    names = list(VARS)
    actions = {}
    for k in range(draw(st.integers(1, 6))):
        pre_vars = draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
        eff_vars = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
        actions[f"a{k}"] = {
            "pre": {v: condition(v) for v in pre_vars},
            "effects": {v: effect(v) for v in eff_vars},
        }
    goal_vars = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    defaults = {"bool": False, "int": 0, "str": ""}
    return {
        "version": 1,
        "name": "random",
        "state": {n: defaults[t] for n, t in VARS.items()},
        "goal": {v: condition(v) for v in goal_vars},
        "actions": actions,
    }


@settings(max_examples=40, deadline=None)
@given(spec=exportable_catalogs())
def test_random_catalogs_agree_with_pyperplan(spec):
    catalog = load_catalog("random.yaml", yaml.safe_dump(spec, sort_keys=False))
    ours = plan(catalog, catalog.initial)
    with tempfile.TemporaryDirectory() as tmp:
        exported, run = solve_with_pyperplan(catalog, Path(tmp), heuristic="blind")
    if not ours.found:
        assert run.status == "no_plan", run.plan
        return
    assert run.status == "found", run.message
    assert run.cost == ours.cost
    assert reaches_goal(catalog, exported.read_plan(catalog, run.plan))
