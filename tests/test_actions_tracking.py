"""actions.tracking: JSON-lines runs file always; MLflow (sqlite store) when it is installed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from test_actions_support import isolated_env, write, write_config  # noqa: F401

from actions.config import ConfigError
from actions.tracking import (
    TrackingStatusArgs,
    TrackRunArgs,
    record_run,
    track_run,
    tracking_status,
)
from goap.executor import ActionFailed

pytestmark = pytest.mark.usefixtures("isolated_env")

MLFLOW_INSTALLED = importlib.util.find_spec("mlflow") is not None


@pytest.fixture
def jsonl_workdir(tmp_path: Path) -> Path:
    write_config(tmp_path, '[tracking]\nbackend = "jsonl"\n')
    return tmp_path


def test_runs_are_appended_as_json_lines(jsonl_workdir: Path) -> None:
    first = track_run(
        TrackRunArgs(
            workdir=jsonl_workdir,
            experiment="cats",
            run_name="baseline",
            params={"lr": 0.001, "epochs": 3, "augment": True, "model": "tinydit"},
            metrics={"accuracy": 0.91},
            tags={"git_sha": "abc123"},
        )
    )
    second = track_run(TrackRunArgs(workdir=jsonl_workdir, experiment="cats", metrics={"acc": 1}))
    runs_file = jsonl_workdir / ".goap" / "runs.jsonl"
    assert (first["tracked"], first["backend"], first["location"]) == (
        True,
        "jsonl",
        str(runs_file),
    )
    lines = [json.loads(line) for line in runs_file.read_text().splitlines()]
    assert [line["run_id"] for line in lines] == [first["run_id"], second["run_id"]]
    assert lines[0]["params"] == {"lr": 0.001, "epochs": 3, "augment": True, "model": "tinydit"}
    assert lines[0]["metrics"] == {"accuracy": 0.91}
    assert lines[0]["tags"] == {"git_sha": "abc123"}
    assert lines[0]["run_name"] == "baseline"
    status = tracking_status(TrackingStatusArgs(workdir=jsonl_workdir, experiment="cats"))
    assert status == {
        "backend": "jsonl",
        "experiment": "cats",
        "tracked": True,
        "runs": 2,
        "last_run_id": second["run_id"],
    }
    other = tracking_status(TrackingStatusArgs(workdir=jsonl_workdir, experiment="dogs"))
    assert (other["tracked"], other["runs"]) == (False, 0)


def test_metrics_file_values_are_logged_and_explicit_metrics_win(jsonl_workdir: Path) -> None:
    report = {"accuracy": 0.9, "passed": True, "latency": {"p50": 3.5, "p95": 9}, "name": "x"}
    write(jsonl_workdir / "reports" / "validation.json", json.dumps(report))
    facts = track_run(
        TrackRunArgs(
            workdir=jsonl_workdir,
            metrics_file="reports/validation.json",
            metrics={"accuracy": 0.95},
        )
    )
    assert facts["metrics_logged"] == 3
    line = json.loads((jsonl_workdir / ".goap" / "runs.jsonl").read_text())
    assert line["metrics"] == {"accuracy": 0.95, "latency.p50": 3.5, "latency.p95": 9.0}


def test_missing_or_malformed_metrics_file_is_clear(jsonl_workdir: Path) -> None:
    with pytest.raises(ActionFailed, match="metrics_file .*missing.json does not exist"):
        track_run(TrackRunArgs(workdir=jsonl_workdir, metrics_file="missing.json"))
    write(jsonl_workdir / "list.json", "[1, 2]")
    with pytest.raises(ActionFailed, match="must hold a JSON object"):
        track_run(TrackRunArgs(workdir=jsonl_workdir, metrics_file="list.json"))


def test_non_finite_metrics_are_refused(jsonl_workdir: Path) -> None:
    with pytest.raises(ValidationError):
        TrackRunArgs(workdir=jsonl_workdir, metrics={"loss": float("nan")})
    with pytest.raises(ValueError, match="not finite"):
        record_run(jsonl_workdir, params={}, metrics={"loss": float("inf")})
    assert not (jsonl_workdir / ".goap" / "runs.jsonl").exists()


def test_runs_file_location_is_configurable(tmp_path: Path) -> None:
    write_config(tmp_path, '[tracking]\nbackend = "jsonl"\nruns_file = "logs/runs.jsonl"\n')
    run = record_run(tmp_path, params={"seed": 1}, metrics={"loss": 0.5})
    assert run.location == str(tmp_path / "logs" / "runs.jsonl")
    assert (tmp_path / "logs" / "runs.jsonl").is_file()


@pytest.mark.skipif(MLFLOW_INSTALLED, reason="mlflow is installed")
def test_auto_backend_without_mlflow_uses_json_lines(tmp_path: Path) -> None:
    assert record_run(tmp_path, params={}, metrics={"m": 1.0}).backend == "jsonl"
    write_config(tmp_path, '[tracking]\nbackend = "mlflow"\n')
    with pytest.raises(ConfigError, match="mlflow is not installed"):
        record_run(tmp_path, params={}, metrics={"m": 1.0})


@pytest.mark.skipif(not MLFLOW_INSTALLED, reason="mlflow is not installed (optional extra)")
def test_mlflow_records_params_and_metrics_in_a_sqlite_store(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    facts = track_run(
        TrackRunArgs(
            workdir=tmp_path,
            experiment="cats",
            run_name="baseline",
            params={"lr": 0.001, "epochs": 3},
            metrics={"accuracy": 0.91},
        )
    )
    assert facts["backend"] == "mlflow"
    assert facts["location"] == f"sqlite:///{tmp_path / '.goap' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=facts["location"])
    run = client.get_run(facts["run_id"])
    assert run.data.params == {"lr": "0.001", "epochs": "3"}
    assert run.data.metrics == {"accuracy": 0.91}
    assert run.info.run_name == "baseline"
    assert run.info.status == "FINISHED"
    status = tracking_status(TrackingStatusArgs(workdir=tmp_path, experiment="cats"))
    assert (status["backend"], status["runs"], status["last_run_id"]) == (
        "mlflow",
        1,
        facts["run_id"],
    )
