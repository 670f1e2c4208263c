"""Experiment tracking (A13): record a run's parameters and metrics.

:func:`record_run` is what training and evaluation code calls; ``track_run`` is the executor a
catalog names. ``[tracking] backend`` picks where runs go: ``auto`` (default) uses MLflow when
it is importable (an optional extra: ``pip install goap-mlops[mlflow]``), else appends one JSON
object per run to ``[tracking] runs_file``. MLflow uses ``[tracking] mlflow_uri``, by default
an SQLite store in ``.goap/mlflow.db`` (MLflow 3 refuses plain file stores by default).
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from actions.config import STATE_DIR, ConfigError, GoapConfig, load_config, state_dir
from actions.contract import FiniteFloat, OptionalInWorkdir, WorkdirArgs, known
from goap.executor import ActionFailed, facts

ParamValue = str | int | float | bool


class TrackRunArgs(WorkdirArgs):
    experiment: str = Field("default", min_length=1, description="Experiment the run belongs to.")
    run_name: str | None = Field(None, description="Human-readable run name.")
    params: dict[str, ParamValue] = Field(
        default_factory=dict, description="Run parameters (hyperparameters, dataset, seed)."
    )
    metrics: dict[str, FiniteFloat] = Field(
        default_factory=dict, description="Run metrics, name -> finite number."
    )
    metrics_file: OptionalInWorkdir = Field(
        None,
        description="JSON file (from workdir), e.g. a validation report, whose numeric values "
        "are logged as metrics (nested keys joined with '.'); `metrics` wins on a clash.",
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Free-form run tags.")


class TrackingStatusArgs(WorkdirArgs):
    experiment: str = Field("default", min_length=1, description="Experiment to report on.")


@dataclass(frozen=True)
class TrackedRun:
    """Where a recorded run went."""

    backend: str
    run_id: str
    experiment: str
    location: str


def record_run(
    workdir: Path,
    *,
    params: Mapping[str, ParamValue],
    metrics: Mapping[str, float],
    experiment: str = "default",
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> TrackedRun:
    """Record one run's params and metrics with the configured tracking backend."""
    bad = [name for name, value in metrics.items() if not math.isfinite(float(value))]
    if bad:
        raise ValueError(f"metrics {bad} are not finite numbers; record finite values only")
    config = load_config(workdir)
    record = _record_mlflow if tracking_backend(config) == "mlflow" else _record_jsonl
    return record(config, dict(params), dict(metrics), experiment, run_name, dict(tags or {}))


def tracking_backend(config: GoapConfig) -> str:
    """'mlflow' or 'jsonl': the configured backend, ``auto`` resolved by whether MLflow imports."""
    available = importlib.util.find_spec("mlflow") is not None
    if config.tracking.backend == "mlflow" and not available:
        raise ConfigError(
            f"{config.source}: [tracking] backend = 'mlflow' but mlflow is not installed; "
            "pip install 'goap-mlops[mlflow]' or use backend = 'auto'"
        )
    if config.tracking.backend == "auto":
        return "mlflow" if available else "jsonl"
    return config.tracking.backend


# ---------------------------------------------------------------------------------- executors


@facts("tracked", "backend", "run_id", "experiment", "location", "params_logged", "metrics_logged")
def track_run(args: TrackRunArgs) -> dict[str, Any]:
    """A13: record params and metrics (from ``metrics`` and/or ``metrics_file``) as one run."""
    metrics = {**_metrics_from_file(args.workdir, args.metrics_file), **args.metrics}
    run = record_run(
        args.workdir,
        params=args.params,
        metrics=metrics,
        experiment=args.experiment,
        run_name=args.run_name,
        tags=args.tags,
    )
    return {
        "tracked": True,
        **asdict(run),
        "params_logged": len(args.params),
        "metrics_logged": len(metrics),
    }


@facts("backend", "experiment", "tracked", "runs", "last_run_id")
def tracking_status(args: TrackingStatusArgs) -> dict[str, Any]:
    """Sensor: how many runs the experiment has and the latest run's id."""
    config = load_config(args.workdir)
    backend = tracking_backend(config)
    if backend == "mlflow":
        run_ids = _mlflow_run_ids(config, args.experiment)
    else:
        runs = read_jsonl_runs(config)
        run_ids = [run["run_id"] for run in runs if run.get("experiment") == args.experiment]
        run_ids.reverse()
    return known(
        {
            "backend": backend,
            "experiment": args.experiment,
            "tracked": bool(run_ids),
            "runs": len(run_ids),
            "last_run_id": run_ids[0] if run_ids else None,
        }
    )


def _metrics_from_file(workdir: Path, name: str | None) -> dict[str, float]:
    if name is None:
        return {}
    path = workdir / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ActionFailed(f"metrics_file {path} does not exist; produce it first") from exc
    except json.JSONDecodeError as exc:
        raise ActionFailed(f"metrics_file {path} is not valid JSON ({exc}); fix it") from exc
    if not isinstance(data, dict):
        raise ActionFailed(f"metrics_file {path} must hold a JSON object of metrics")
    return _numeric_leaves(data)


def _numeric_leaves(data: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Finite numbers in nested JSON objects, keys joined with '.'; booleans are not metrics."""
    leaves: dict[str, float] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            leaves.update(_numeric_leaves(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value):
                leaves[name] = float(value)
    return leaves


# ------------------------------------------------------------------------------ JSON lines


def _runs_file(config: GoapConfig) -> Path:
    path = config.path(config.tracking.runs_file)
    if path.is_relative_to(config.workdir / STATE_DIR):
        state_dir(config.workdir)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _record_jsonl(
    config: GoapConfig,
    params: dict[str, ParamValue],
    metrics: dict[str, float],
    experiment: str,
    run_name: str | None,
    tags: dict[str, str],
) -> TrackedRun:
    path = _runs_file(config)
    run_id = uuid.uuid4().hex
    line = {
        "run_id": run_id,
        "experiment": experiment,
        "run_name": run_name,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": params,
        "metrics": metrics,
        "tags": tags,
    }
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, allow_nan=False, sort_keys=True) + "\n")
    return TrackedRun(backend="jsonl", run_id=run_id, experiment=experiment, location=str(path))


def read_jsonl_runs(config: GoapConfig) -> list[dict[str, Any]]:
    """Every run in the JSON-lines runs file, oldest first."""
    path = config.path(config.tracking.runs_file)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# ----------------------------------------------------------------------------------- MLflow


def mlflow_uri(config: GoapConfig) -> str:
    """Tracking URI: [tracking] mlflow_uri (relative sqlite paths from the workdir) or default."""
    uri = config.tracking.mlflow_uri
    if uri is None:
        return f"sqlite:///{state_dir(config.workdir) / 'mlflow.db'}"
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.removeprefix(prefix).startswith("/"):
        return f"{prefix}{config.path(uri.removeprefix(prefix))}"
    return uri


def _mlflow_client(config: GoapConfig) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=mlflow_uri(config))


def _record_mlflow(
    config: GoapConfig,
    params: dict[str, ParamValue],
    metrics: dict[str, float],
    experiment: str,
    run_name: str | None,
    tags: dict[str, str],
) -> TrackedRun:
    from mlflow.entities import Metric, Param

    client = _mlflow_client(config)
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        artifacts = state_dir(config.workdir, "mlflow-artifacts").as_uri()
        experiment_id = client.create_experiment(experiment, artifact_location=artifacts)
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    run_id = run.info.run_id
    now_ms = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(key, float(value), now_ms, 0) for key, value in metrics.items()],
        params=[Param(key, str(value)) for key, value in params.items()],
    )
    client.set_terminated(run_id)
    return TrackedRun(
        backend="mlflow", run_id=run_id, experiment=experiment, location=mlflow_uri(config)
    )


def _mlflow_run_ids(config: GoapConfig, experiment: str) -> list[str]:
    client = _mlflow_client(config)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = client.search_runs(
        [found.experiment_id], order_by=["attributes.start_time DESC"], max_results=1000
    )
    return [run.info.run_id for run in runs]
