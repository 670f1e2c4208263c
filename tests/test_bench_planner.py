"""The planner benchmark runs end to end on small sizes, and says when a planner is missing."""

from __future__ import annotations

import json

import pytest

from bench import classical, planner
from bench.catalogs import SHAPES
from bench.parts import split
from goap.loading.catalog import load_catalog
from goap.planning.planner import plan


def test_small_suite_runs_and_optimal_costs_agree(tmp_path, capsys):
    pytest.importorskip("pyperplan")
    out = tmp_path / "planner.json"
    argv = ["--sizes", "10", "--repeat", "1", "--other-repeat", "1", "--fresh-repeat", "1"]
    assert planner.main([*argv, "--no-fd", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["problem"] for r in data["rows"]][:3] == ["seed A01-A15", "chain-10", "wide-10"]
    unit_rows = [r for r in data["rows"] if r["unit_costs"]]
    assert unit_rows and all(r["pyperplan"]["status"] == "found" for r in unit_rows)
    assert all(r["pyperplan"]["cost"] == r["goap"]["cost"] for r in unit_rows)
    assert all(r["fast_downward"]["status"] == "skipped" for r in data["rows"])
    assert data["fresh_process"]["heavy_modules"] == []
    printed = capsys.readouterr().out
    assert "goap/FD" in printed and "seed catalog, in-process plan()" in printed


def test_missing_planners_are_reported_not_fatal(monkeypatch, tmp_path):
    monkeypatch.setattr(classical, "find_spec", lambda name: None)
    domain, problem = tmp_path / "domain.pddl", tmp_path / "problem.pddl"
    assert classical.fast_downward(domain, problem).status == "not installed"
    assert classical.pyperplan(domain, problem).status == "not installed"


@pytest.mark.parametrize("shape", ["wide", "counters", "padded", "chain"])
def test_parts_add_up_to_the_optimum_of_the_whole(shape):
    """bench.parts splits along independent variables: optimal costs of the parts add up."""
    doc = SHAPES[shape](40)
    parts = split(doc, max_actions=10)
    whole = load_catalog("whole.yaml", json.dumps(doc))
    names = [name for part in parts for name in part["actions"]]
    assert len(names) == len(set(names))  # each action in one part at most
    assert sorted(g for part in parts for g in part["goal"]) == sorted(doc["goal"])
    costs = [
        plan(c, c.initial).cost for c in (load_catalog("p.yaml", json.dumps(p)) for p in parts)
    ]
    assert sum(costs) == plan(whole, whole.initial).cost
    if shape in ("wide", "counters"):
        assert len(parts) > 1 and all(len(p["actions"]) <= 10 for p in parts)
    else:  # one chain: a single part (padded: its noise, which cannot help, left out)
        assert len(parts) == 1 and len(parts[0]["actions"]) == (10 if shape == "padded" else 40)


def test_a_goal_nothing_achieves_stays_in_a_part():
    doc = SHAPES["wide"](4)
    doc["state"]["lonely"] = False
    doc["goal"]["lonely"] = True
    parts = split(doc)
    assert any(part["goal"].get("lonely") is True for part in parts)


def test_fast_downward_by_parts_matches_goap(tmp_path):
    if classical.fast_downward_driver() is None:
        pytest.skip("up-fast-downward is not installed (the bench extra)")
    doc = SHAPES["wide"](60)
    catalog = load_catalog("w.yaml", json.dumps(doc))
    result = planner.fast_downward_by_parts(json.dumps(doc), tmp_path, 60, max_actions=20)
    assert result["status"] == "found" and result["parts"] == 3
    assert result["cost"] == plan(catalog, catalog.initial).cost


def test_fast_downward_costs_are_unscaled_for_fractional_costs(tmp_path):
    if classical.fast_downward_driver() is None:
        pytest.skip("up-fast-downward is not installed (the bench extra)")
    doc = SHAPES["wide"](8)
    for action in doc["actions"].values():
        action["cost"] += 0.5
    catalog = load_catalog("w.yaml", json.dumps(doc))
    expected = plan(catalog, catalog.initial).cost
    result = planner.fast_downward_by_parts(json.dumps(doc), tmp_path, 60, max_actions=4)
    assert result["status"] == "found" and result["cost"] == expected
