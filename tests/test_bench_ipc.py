"""bench.ipc runs end to end in quick mode: every planner's optimal cost agrees, and goap's
plans replay on the ground task (a wrong one would make the run fail)."""

from __future__ import annotations

import json

import pytest

from bench import ipc


def test_quick_run_solves_and_checks_the_tiny_tasks(tmp_path, capsys):
    pytest.importorskip("pyperplan")
    assert ipc.main(["--quick", "--out-dir", str(tmp_path), "--tag", "t"]) == 0
    data = json.loads((tmp_path / f"ipc-{data_date(tmp_path)}-t.json").read_text())
    assert [r["task"] for r in data["rows"]] == sorted(ipc.QUICK)
    for row in data["rows"]:
        assert row["goap"]["status"] == "found" and row["goap"]["valid"] is True
        assert row["goap_process"]["valid"] is True
        assert row["goap_process"]["cost"] == row["goap"]["cost"] == row["pyperplan"]["cost"]
        if row["fast_downward"]["status"] == "found":
            assert row["fast_downward"]["cost"] == row["goap"]["cost"]
            assert row["fast_downward"]["search_seconds"] is not None
        else:
            assert row["fast_downward"]["status"] == "not installed"
    assert {r["task"]: r["goap"]["cost"] for r in data["rows"]} == {
        "gripper/task01": 11,
        "blocks/task01": 6,
    }
    printed = capsys.readouterr().out
    assert "coverage within 20 s" in printed and "gripper/task01" in printed
    # a second run can take the classical planners' rows from the first
    first = tmp_path / f"ipc-{data['date']}-t.json"
    argv = ["--quick", "--no-fd", "--no-pyperplan", "--no-process", "--reuse", str(first)]
    assert ipc.main([*argv, "--out-dir", str(tmp_path), "--tag", "u"]) == 0
    again = json.loads((tmp_path / f"ipc-{data['date']}-u.json").read_text())
    assert again["rows"][0]["pyperplan"]["reused"] is True


def data_date(directory) -> str:
    (only,) = directory.glob("ipc-*-t.json")
    return only.name.removeprefix("ipc-").removesuffix("-t.json")


def test_disagreeing_costs_and_invalid_plans_are_problems():
    row = {
        "task": "x/task01",
        "goap": {"status": "found", "cost": 5.0, "valid": True},
        "goap_process": {"status": "found", "cost": 5.0, "valid": False},
        "fast_downward": {"status": "found", "cost": 4.0},
        "pyperplan": {"status": "timeout"},
    }
    found = ipc.problems_of(row)
    assert any("goap_process plan is not valid" in p for p in found)
    assert any("optimal costs disagree" in p for p in found)
