"""Every executor and sensor in actions/ honours the executor contract of goap.running.worker."""

from __future__ import annotations

import importlib
import inspect
import json
import typing
from pathlib import Path

import pytest
from test_actions_support import init_repo, isolated_env  # noqa: F401

from actions.contract import ExecutorArgs
from goap.running.protocol import ProtocolError
from goap.running.worker import args_model, handle

pytestmark = pytest.mark.usefixtures("isolated_env")

EXECUTORS = {
    "actions.checks": ["validate_ruff", "ruff_status", "validate_tests", "validate_typescript"],
    "actions.git": ["create_branch", "commit", "push", "git_state"],
    "actions.ci": ["monitor_ci", "ci_status", "resolve_ci_failure"],
    "actions.publish": ["publish_model", "publish_status"],
    "actions.tracking": ["track_run", "tracking_status"],
}
TARGETS = [f"{module}:{name}" for module, names in EXECUTORS.items() for name in names]


def executor_functions() -> list[str]:
    """Public functions of the action modules whose one parameter is an ExecutorArgs model."""
    found = []
    for module_name in EXECUTORS:
        module = importlib.import_module(module_name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module_name or name.startswith("_"):
                continue
            params = list(inspect.signature(fn).parameters)
            hint = typing.get_type_hints(fn).get(params[0]) if len(params) == 1 else None
            if isinstance(hint, type) and issubclass(hint, ExecutorArgs):
                found.append(f"{module_name}:{name}")
    return found


def test_the_list_above_is_every_executor() -> None:
    assert sorted(executor_functions()) == sorted(TARGETS)


@pytest.mark.parametrize("target", TARGETS)
def test_arguments_are_one_strict_described_model(target: str) -> None:
    module_name, _, name = target.partition(":")
    model, single = args_model(getattr(importlib.import_module(module_name), name))
    assert single, f"{target} must take one pydantic model"
    schema = model.model_json_schema()
    assert schema["additionalProperties"] is False
    undescribed = [key for key, spec in schema["properties"].items() if not spec.get("description")]
    assert undescribed == [], f"{target}: fields without description: {undescribed}"
    assert "workdir" in schema["properties"]


def test_the_engine_worker_publishes_every_schema() -> None:
    result = handle({"op": "check", "targets": TARGETS, "calls": [], "workdir": "."})
    assert result["ok"], result["problems"]
    assert set(result["schemas"]) == set(TARGETS)


def test_the_engine_worker_refuses_an_unknown_op() -> None:
    """An op it does not know is refused, not taken for a check (it once was)."""
    with pytest.raises(ProtocolError, match="unknown request op 'schema'"):
        handle({"op": "schema", "targets": TARGETS})
    with pytest.raises(ProtocolError, match="malformed call request"):
        handle({"op": "call", "target": "actions.git:git_state"})


def test_the_engine_worker_calls_a_sensor_and_fills_workdir(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "ws")
    request = {"op": "call", "target": "actions.git:git_state", "args": {}, "where": "test"}
    result = handle({**request, "workdir": str(repo)})
    assert result["ok"], result
    assert result["facts"]["current_branch"] == "main"
    json.dumps(result["facts"])


def test_the_engine_worker_reports_action_failed_as_retryable(tmp_path: Path) -> None:
    request = {
        "op": "call",
        "target": "actions.git:create_branch",
        "args": {"branch": "feature/x"},
        "workdir": str(tmp_path),
        "where": "test",
    }
    result = handle(request)
    assert (result["ok"], result["retryable"]) == (False, True)
    assert "not inside a git repository" in result["error"]


def test_unknown_argument_is_rejected_by_the_engine(tmp_path: Path) -> None:
    request = {
        "op": "call",
        "target": "actions.git:commit",
        "args": {"paths": ["a"], "message": "m", "pathz": ["typo"]},
        "workdir": str(tmp_path),
        "where": "test",
    }
    result = handle(request)
    assert result["ok"] is False
    assert "pathz" in result["error"]
