"""The runner's policies in milliseconds: a scripted execution instead of child processes.

Retries, penalties, the failure budget, circle detection, interruption and what the record
writes at each transition. The real-process tests (tests/test_runner.py) prove crash safety
with real kills; these pin the decisions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from goap.loading.catalog import Catalog, Executor, load_catalog
from goap.running.errors import RunError
from goap.running.execution import ExecutionContext, Outcome
from goap.running.protocol import Call
from goap.running.record import RunRecord
from goap.running.runner import CIRCLE_LIMIT, Runner

Script = Callable[[], Outcome]
OK = Outcome("succeeded")


def fail(error: str = "boom", retryable: bool = True, **facts: Any) -> Outcome:
    return Outcome("failed", facts=facts, error=error, retryable=retryable)


class Scripted:
    """An Execution that answers from a script: per action, the outcomes of its attempts."""

    def __init__(self, script: dict[str, list[Outcome]], sensed: dict[str, Any] | None = None):
        self.script = {name: list(outcomes) for name, outcomes in script.items()}
        self.sensed = sensed or {}
        self.calls: list[str] = []
        self.on_action: Callable[[str], None] = lambda name: None

    def check(self, calls: list[Call], ctx: ExecutionContext) -> dict[str, Any]:
        return {}

    def action(self, executor: Executor, where: str, log: Path, ctx: ExecutionContext) -> Outcome:
        name = where.removeprefix("action ")
        self.calls.append(name)
        self.on_action(name)
        outcomes = self.script.get(name) or [OK]
        return outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]

    def sense(
        self, sensors: list[tuple[str, Executor]], log: Path, ctx: ExecutionContext
    ) -> list[Outcome]:
        return [Outcome("succeeded", facts=dict(self.sensed)) for _ in sensors]


def make(tmp_path: Path, text: str) -> Catalog:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_catalog(path)


ROUTES = """
version: 1
name: routes
failure_budget: {budget}
state: {{done: false}}
goal: {{done: true}}
actions:
  cheap: {{cost: 1, effects: {{done: true}}, cmd: ["true"], retry: {{attempts: {attempts}}}}}
  dear: {{cost: 5, effects: {{done: true}}, cmd: ["true"]}}
"""


def routes(tmp_path: Path, budget: int = 3, attempts: int = 1) -> Catalog:
    return make(tmp_path, ROUTES.format(budget=budget, attempts=attempts))


def runner(catalog: Catalog, tmp_path: Path, execute: Scripted, **kw: Any) -> Runner:
    return Runner(catalog, tmp_path / "state.json", tmp_path, execute=execute, **kw)


def state(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "state.json").read_text())


def test_retries_wait_delay_times_backoff_then_succeed(tmp_path):
    catalog = make(
        tmp_path,
        """
version: 1
name: retry
state: {done: false}
goal: {done: true}
actions:
  flaky: {effects: {done: true}, cmd: ["true"], retry: {attempts: 4, delay: 0.5, backoff: 3}}
""",
    )
    slept: list[float] = []
    run = runner(catalog, tmp_path, Scripted({"flaky": [fail(), fail(), OK]}), sleep=slept.append)
    result = run.run()
    assert result.status == "completed" and result.exit_code == 0
    assert sum(slept) == pytest.approx(0.5 + 1.5)  # before attempt 2 and attempt 3
    history = state(tmp_path)["history"]
    assert [(e["attempt"], e["outcome"]) for e in history] == [
        (1, "failed"),
        (2, "failed"),
        (3, "succeeded"),
    ]
    assert state(tmp_path)["failures"] == []  # a step that finally succeeded is no failure


def test_a_non_retryable_failure_spends_no_more_attempts(tmp_path):
    execute = Scripted({"cheap": [fail("bad arguments", retryable=False)]})
    result = runner(routes(tmp_path, attempts=5), tmp_path, execute).run()
    assert execute.calls == ["cheap", "dear"]  # one attempt, then the other route
    assert result.status == "completed"
    assert state(tmp_path)["failures"][0]["attempts"] == 1


def test_a_failed_action_is_penalized_and_the_other_route_taken(tmp_path):
    execute = Scripted({"cheap": [fail("cheap broke")]})
    result = runner(routes(tmp_path), tmp_path, execute).run()
    assert execute.calls == ["cheap", "dear"] and result.plans == 2
    data = state(tmp_path)
    assert data["status"] == "completed" and data["world_state"] == {"done": True}
    assert data["penalties"] == {"cheap": 6.0}  # the sum of all costs: any detour is cheaper
    assert [f["action"] for f in data["failures"]] == ["cheap"]


def test_the_failure_budget_escalates_with_a_report(tmp_path):
    execute = Scripted({"cheap": [fail("cheap broke")], "dear": [fail("dear broke")]})
    result = runner(routes(tmp_path, budget=2), tmp_path, execute).run()
    assert result.status == "escalated" and result.exit_code == 1
    assert "2 failures reached the budget of 2" in result.message
    assert "cheap (after 1 attempts): cheap broke" in result.message
    assert "dear (after 1 attempts): dear broke" in result.message
    data = state(tmp_path)
    assert data["status"] == "escalated" and data["report"] == result.message


def test_penalized_routes_stay_possible_until_the_budget_is_spent(tmp_path):
    """Penalties make failed routes dearer, not impossible: with budget left, goap retries
    the cheapest penalized route until the budget is spent."""
    execute = Scripted({"cheap": [fail()], "dear": [fail()]})
    result = runner(routes(tmp_path, budget=3), tmp_path, execute).run()
    assert execute.calls == ["cheap", "dear", "cheap"]
    assert result.status == "escalated"


def test_a_run_going_in_circles_escalates(tmp_path):
    """The action succeeds but its observation says nothing changed: goap stops."""
    catalog = make(
        tmp_path,
        """
version: 1
name: circle
state: {passed: false}
goal: {passed: true}
actions:
  check: {effects: {passed: true}, run: "goap.executor:ActionFailed", observe: {passed: seen}}
""",
    )
    execute = Scripted({"check": [Outcome("succeeded", facts={"seen": False})]})
    result = runner(catalog, tmp_path, execute).run()
    assert result.status == "escalated" and "going in circles" in result.message
    assert execute.calls == ["check"] * CIRCLE_LIMIT


def test_observed_facts_override_effects_and_replan(tmp_path):
    catalog = make(
        tmp_path,
        """
version: 1
name: observe
state: {ci.known: false, ci.passed: false, fixed: false}
goal: {ci.passed: true}
actions:
  monitor:
    pre: {ci.known: false}
    effects: {ci.known: true, ci.passed: true}
    run: "goap.executor:ActionFailed"
    observe: {ci.passed: passed}
  fix: {pre: {ci.known: true, ci.passed: false}, effects: {ci.known: false, fixed: true},
        cmd: ["true"], cost: 3}
""",
    )
    execute = Scripted(
        {"monitor": [Outcome("succeeded", facts={"passed": False}), Outcome("succeeded")]}
    )
    result = runner(catalog, tmp_path, execute).run()
    assert execute.calls == ["monitor", "fix", "monitor"] and result.plans == 2
    assert result.world == {"ci.known": True, "ci.passed": True, "fixed": True}


def test_an_interrupted_attempt_ends_the_run_interrupted_without_a_failure(tmp_path):
    execute = Scripted({"cheap": [Outcome("interrupted", error="interrupted")]})
    result = runner(routes(tmp_path), tmp_path, execute).run()
    assert result.status == "interrupted" and result.exit_code == 130
    data = state(tmp_path)
    assert data["status"] == "interrupted" and data["failures"] == []
    assert data["history"][-1]["outcome"] == "interrupted"


def test_no_plan_is_no_plan_for_the_run_and_failed_in_the_file(tmp_path):
    catalog = make(
        tmp_path,
        """
version: 1
name: stuck
state: {a: false, b: false}
goal: {b: true}
actions:
  only: {pre: {a: true}, effects: {b: true}, cmd: ["true"]}
""",
    )
    result = runner(catalog, tmp_path, Scripted({})).run()
    assert result.status == "no_plan" and result.exit_code == 3
    assert state(tmp_path)["status"] == "failed"
    assert "no plan" in state(tmp_path)["report"]


def test_the_started_entry_is_on_disk_before_the_action_runs(tmp_path):
    """What makes --resume safe: a crash mid-action leaves a `started` entry to find."""
    seen: list[tuple[str, str]] = []
    execute = Scripted({})
    execute.on_action = lambda name: seen.append(
        (state(tmp_path)["history"][-1]["action"], state(tmp_path)["history"][-1]["outcome"])
    )
    runner(routes(tmp_path), tmp_path, execute).run()
    assert seen == [("cheap", "started")]


def test_resume_marks_the_unfinished_attempt_interrupted_and_runs_it_again(tmp_path):
    catalog = routes(tmp_path)
    path = tmp_path / "state.json"
    record = RunRecord.open(catalog, path, resume=False)
    record.attempt_started(catalog.action("cheap"), 1)  # then the runner is killed
    with pytest.raises(RunError, match="did not finish"):
        RunRecord.open(catalog, path, resume=False)
    execute = Scripted({})
    result = runner(catalog, tmp_path, execute).run(resume=True)
    assert result.status == "completed" and execute.calls == ["cheap"]
    outcomes = [(e["action"], e["outcome"]) for e in state(tmp_path)["history"]]
    assert outcomes == [("cheap", "interrupted"), ("cheap", "succeeded")]


def test_run_one_records_a_forced_skill_attempt(tmp_path):
    catalog = make(
        tmp_path,
        """
version: 1
name: one
state: {a: false, b: false}
goal: {b: true}
actions:
  needs_a: {pre: {a: true}, effects: {b: true}, cmd: ["true"]}
""",
    )
    execute = Scripted({})
    with pytest.raises(RunError, match="unmet preconditions: a == true"):
        runner(catalog, tmp_path, execute).run_one("needs_a")
    assert not (tmp_path / "state.json").exists()  # refused: nothing written
    step = runner(catalog, tmp_path, execute).run_one("needs_a", force=True)
    assert step.outcome.ok and step.forced_over == ["a == true"] and step.exit_code == 0
    entry = state(tmp_path)["history"][-1]
    assert (entry["via"], entry["forced"], entry["outcome"]) == ("skill", True, "succeeded")
    assert state(tmp_path)["world_state"] == {"a": False, "b": True}
