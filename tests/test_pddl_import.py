"""PDDL import: IPC tasks ground to catalogs whose optimal plans replay on the ground task.

The tasks are the public IPC files under bench/ipc (see SOURCES.md there). Optimal costs
are checked against pyperplan (an independent grounder and A* with h_max) and the ground
task's own replay (``Imported.check``); the round trip through ``goap export --pddl`` must
give back the same catalog.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bench.classical import pyperplan
from goap.faces.cli import app
from goap.loading.catalog import load_catalog
from goap.planning.pddl import export
from goap.planning.pddl_import import PddlError, import_pddl
from goap.planning.planner import plan

IPC = Path(__file__).resolve().parent.parent / "bench" / "ipc"
SMALL = [
    "blocks/task01",
    "gripper/task01",
    "logistics/task01",
    "miconic/task02",
    "rovers/task01",
    "psr-small/task01",
    "airport/task01",
    "satellite/task01",
]


def files(task: str) -> tuple[Path, Path]:
    domain, name = task.split("/")
    number = name.removeprefix("task")
    own = IPC / domain / f"domain{number}.pddl"
    return (own if own.exists() else IPC / domain / "domain.pddl"), IPC / domain / f"{name}.pddl"


def solve(doc: dict):
    catalog = load_catalog("imported.json", json.dumps(doc))
    return plan(catalog, catalog.initial)


@pytest.mark.parametrize("task", SMALL)
def test_ipc_tasks_plan_optimally_and_replay_on_the_ground_task(task):
    imported = import_pddl(*files(task))
    result = solve(imported.catalog)
    assert result.found
    cost, why = imported.check([a.name for a in result.actions])
    assert why == "" and cost == result.cost
    ours = pyperplan(*files(task), timeout=60, heuristic="hmax")
    assert ours.status == "found" and ours.cost == result.cost


def test_a_wrong_plan_fails_the_replay():
    imported = import_pddl(*files("blocks/task01"))
    steps = [a.name for a in solve(imported.catalog).actions]
    assert imported.check(steps[:-1])[1] == "the plan does not reach the goal"
    assert "not applicable" in imported.check(list(reversed(steps)))[1]
    assert "not an action" in imported.check(["fly_to_the_moon"])[1]


@pytest.mark.parametrize("task", ["gripper/task01", "logistics/task02", "depot/task01"])
def test_round_trip_through_export_gives_the_same_task(task, tmp_path):
    first = import_pddl(*files(task))
    exported = export(load_catalog("first.json", json.dumps(first.catalog)))
    second = import_pddl(*exported.write(tmp_path))
    for key in ("state", "goal", "actions"):
        assert second.catalog[key] == first.catalog[key]
    assert solve(second.catalog).cost == solve(first.catalog).cost


FEATURES_DOMAIN = """; typing, constants, equality, negative conditions, action costs
(define (domain courier)
  (:requirements :strips :typing :equality :negative-preconditions :action-costs)
  (:types van bike - vehicle  vehicle place - object)
  (:constants depot - place)
  (:predicates (at ?v - vehicle ?p - place) (blocked ?p - place) (visited ?p - place))
  (:functions (total-cost) - number (distance ?a ?b - place) - number)
  (:action drive
    :parameters (?v - vehicle ?from ?to - place)
    :precondition (and (at ?v ?from) (not (= ?from ?to)) (not (blocked ?to)))
    :effect (and (not (at ?v ?from)) (at ?v ?to) (visited ?to)
                 (increase (total-cost) (distance ?from ?to))))
  (:action close
    :parameters (?v - van ?p - place)
    :precondition (and (at ?v ?p) (not (= ?p depot)))
    :effect (and (blocked ?p) (increase (total-cost) 1))))
"""
FEATURES_PROBLEM = """(define (problem courier-1) (:domain courier)
  (:objects a b c - place v1 - van b1 - bike)
  (:init (at v1 depot) (at b1 depot) (blocked c)
         (= (distance depot a) 2) (= (distance a depot) 2) (= (distance depot b) 9)
         (= (distance b depot) 9) (= (distance a b) 3) (= (distance b a) 3)
         (= (distance depot c) 1) (= (distance c depot) 1) (= (distance a c) 1)
         (= (distance c a) 1) (= (distance b c) 1) (= (distance c b) 1)
         (= (total-cost) 0))
  (:goal (and (visited b) (at b1 depot) (not (at v1 depot)) (blocked a)))
  (:metric minimize (total-cost)))
"""


def test_typing_constants_equality_negation_and_costs(tmp_path):
    (tmp_path / "d.pddl").write_text(FEATURES_DOMAIN)
    (tmp_path / "p.pddl").write_text(FEATURES_PROBLEM)
    imported = import_pddl(tmp_path / "d.pddl", tmp_path / "p.pddl")
    actions = imported.catalog["actions"]
    assert "drive_v1_depot_depot" not in actions  # (not (= ?from ?to))
    assert not any(name.startswith("close_b1") for name in actions)  # a bike is not a van
    assert "close_v1_depot" not in actions  # the constant
    assert not any(name.endswith("_c") and name.startswith("drive") for name in actions)
    assert imported.catalog["goal"]["at_v1_depot"] is False
    result = solve(imported.catalog)
    # v1: depot->a (2), close a (1), a->b (3): b visited, v1 away, a blocked; b1 stays home
    assert result.found and result.cost == 6
    assert imported.check([a.name for a in result.actions]) == (6.0, "")
    unit = import_pddl(tmp_path / "d.pddl", tmp_path / "p.pddl", unit_costs=True)
    assert solve(unit.catalog).cost == 3
    # the costs survive the round trip through the export
    exported = export(load_catalog("c.json", json.dumps(imported.catalog)))
    again = import_pddl(*exported.write(tmp_path / "export"))
    assert again.catalog["actions"] == imported.catalog["actions"]


def test_zero_cost_actions_are_refused_with_the_way_out(tmp_path):
    (tmp_path / "d.pddl").write_text(FEATURES_DOMAIN.replace("(increase (total-cost) 1)", ""))
    (tmp_path / "p.pddl").write_text(FEATURES_PROBLEM)
    with pytest.raises(PddlError, match="cost 0.*\n  fix: import with --unit-costs"):
        import_pddl(tmp_path / "d.pddl", tmp_path / "p.pddl")


BAD = [
    (
        "(define (domain d) (:predicates (p)) (:action a :parameters () :effect (when (p) (p))))",
        1,
        "conditional effects",
    ),
    (
        "(define (domain d)\n (:predicates (p))\n (:action a\n :precondition (or (p) (p))\n"
        " :effect (p)))",
        4,
        "disjunction",
    ),
    (
        "(define (domain d)\n (:predicates (p ?x))\n (:action a :parameters (?x)\n"
        " :effect (q ?x)))",
        4,
        "unknown predicate q",
    ),
    (
        "(define (domain d)\n (:predicates (p ?x))\n (:action a :parameters (?x)\n"
        " :effect (p ?x ?x)))",
        4,
        "p takes 1 arguments, not 2",
    ),
    (
        "(define (domain d)\n (:predicates (p ?x))\n (:action a :parameters (?x)\n"
        " :effect (p ?y)))",
        4,
        r"\?y is not a parameter",
    ),
    ("(define (domain d)\n (:predicates (p))\n (:action a :effect (p))", 1, "never closed"),
    (
        "(define (domain d) (:predicates (p)) (:action a :parameters (?x - thing) :effect (p)))",
        1,
        "unknown type thing",
    ),
    ("(define (domain d)\n (:predicates (p))\n (:derived (p) (p)))", 3, ":derived is not STRIPS"),
]


@pytest.mark.parametrize(("text", "line", "problem"), BAD)
def test_bad_domains_name_the_file_the_line_and_a_fix(tmp_path, text, line, problem):
    (tmp_path / "d.pddl").write_text(text)
    (tmp_path / "p.pddl").write_text("(define (problem x) (:domain d) (:goal (and)))")
    with pytest.raises(PddlError) as caught:
        import_pddl(tmp_path / "d.pddl", tmp_path / "p.pddl")
    assert caught.value.file == str(tmp_path / "d.pddl") and caught.value.line == line
    assert caught.value.fix
    assert __import__("re").search(problem, str(caught.value))


def test_bad_problems_are_located_too(tmp_path):
    domain, _ = files("blocks/task01")
    (tmp_path / "p.pddl").write_text(
        "(define (problem x) (:domain blocks)\n (:objects a - block)\n (:init (clear a))\n"
        " (:goal (and (on a zz))))"
    )
    with pytest.raises(PddlError, match=r"p\.pddl:4: unknown object zz"):
        import_pddl(domain, tmp_path / "p.pddl")


def test_cli_import_writes_a_catalog_that_goap_plan_solves(tmp_path):
    out = tmp_path / "gripper.yaml"
    result = CliRunner().invoke(
        app, ["import", "--pddl", *map(str, files("gripper/task01")), "-o", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["catalog"] == str(out) and summary["actions"] == 34
    assert yaml.safe_load(out.read_text())["goal"]["at_ball4_roomb"] is True
    proc = subprocess.run(
        [sys.executable, "-m", "goap", "plan", str(out), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout)["cost"] == 11


def test_cli_import_bad_pddl_is_one_message_and_exit_2(tmp_path):
    (tmp_path / "d.pddl").write_text("(define (domain d) (:predicates (p)) (:action a :effect (p))")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "goap",
            "import",
            "--pddl",
            str(tmp_path / "d.pddl"),
            str(tmp_path / "nope.pddl"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "d.pddl:1: '(' opened here is never closed" in proc.stderr
    assert "fix: add the missing ')'" in proc.stderr
