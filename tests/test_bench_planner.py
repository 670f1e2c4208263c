"""The planner benchmark runs end to end on small sizes, and says when a planner is missing."""

from __future__ import annotations

import json

import pytest

from bench import classical, planner


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
