"""Modal validation (A01): the workspace's Modal app is declared right and can train one step.

The app is imported from the workspace (``module:attribute``, the workdir first on the import
path). Every function must ask for a GPU, a timeout within bounds and the volume that holds
data and checkpoints, as Modal itself recorded them from the decorators (so what is checked is
what would be deployed). Then one optimizer step of a training function runs on a tiny
synthetic dataset: in this process through ``.local()`` with ``[backends] train = "local"``
(no token, no network), or on Modal through ``.remote()`` with ``"modal"`` (needs a token).

Modal keeps a function's GPU and volumes on ``Function._spec_`` and its timeout only in the
closure that creates the function at deploy time; both are read here because Modal has no
public accessor for them. A Modal version that moves them is reported as a problem, not
ignored.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from actions.config import load_config
from actions.contract import ExecutorArgs, WorkdirArgs
from actions.pipeline import apply_threads, ml_settings
from goap.executor import ActionFailed, facts


class Requirements(ExecutorArgs):
    gpu: str | None = Field(None, description="GPU type every function must ask for; None: any.")
    min_timeout_s: float = Field(60, gt=0, description="Shortest acceptable timeout.")
    max_timeout_s: float = Field(24 * 3600, gt=0, description="Longest acceptable timeout.")
    volume: str | None = Field(
        "/vol", description="Mount path of the volume every function needs; None: no check."
    )


class ModalAppArgs(WorkdirArgs):
    app: str = Field(
        "cats.modal_app:app",
        pattern=r"^[\w.]+:\w+$",
        description="The workspace's modal.App as module:attribute.",
    )
    require: Requirements = Field(
        default_factory=Requirements, description="What every function of the app must declare."
    )


class ModalCheckArgs(ModalAppArgs):
    train_function: str = Field(
        "train_classifier", description="The app's function that runs the one-step training."
    )
    train_config: dict[str, Any] = Field(
        default_factory=lambda: {"image_size": 16},
        description="Extra training config fields (models.train) for the one step.",
    )

    @field_validator("train_config")
    @classmethod
    def _no_paths(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The one step reads and writes a temporary folder of its own, nothing else."""
        clash = sorted(set(config) & {"data_root", "out_dir"})
        if clash:
            raise ValueError(
                f"train_config: {', '.join(clash)} cannot be set; the one-step check uses a "
                "temporary dataset and output folder of its own"
            )
        return config


# ---------------------------------------------------------------------------------- executors


@facts(
    "app",
    "functions",
    "specs_ok",
    "problems",
    "backend",
    "train_function",
    "train_step",
    "train_loss",
    "train_seconds",
    note="functions: name, gpu, timeout_s and volumes of each Modal function.",
)
def validate_modal_app(args: ModalCheckArgs) -> dict[str, Any]:
    """A01: check the app's function specs, then train one step through the chosen backend."""
    facts = modal_app_status(args)
    if not facts["specs_ok"]:
        raise ActionFailed(
            f"Modal app {args.app}: {'; '.join(facts['problems'])}; fix the decorators",
            facts=facts,
        )
    app = _import_app(args)
    functions = _functions(app)
    if args.train_function not in functions:
        raise ActionFailed(
            f"Modal app {args.app} has no function {args.train_function!r} (it has "
            f"{', '.join(functions)}); fix train_function",
            facts=facts,
        )
    backend = load_config(args.workdir).backends.train
    apply_threads(ml_settings(args.workdir))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="goap-a01-") as tmp:
        result = _one_step(app, functions[args.train_function], Path(tmp), args, backend)
    if not result.get("completed"):
        raise ActionFailed(f"one-step training did not complete: {result}", facts=facts)
    return {
        **facts,
        "backend": backend,
        "train_function": args.train_function,
        "train_step": result["step"],
        "train_loss": result["final_loss"],
        "train_seconds": round(time.monotonic() - started, 3),
    }


@facts("app", "functions", "specs_ok", "problems")
def modal_app_status(args: ModalAppArgs) -> dict[str, Any]:
    """Sensor: the app's functions with their GPU, timeout and volumes, and what is wrong."""
    app = _import_app(args)
    rows, problems = [], []
    for name, fn in _functions(app).items():
        row = _spec(fn)
        rows.append({"name": name, **row})
        problems += [f"{name}: {p}" for p in _violations(row, args.require)]
    if not rows:
        problems.append("it declares no function")
    return {
        "app": args.app,
        "functions": rows,
        "specs_ok": not problems,
        "problems": problems,
    }


# ----------------------------------------------------------------------------------- helpers


def _import_app(args: ModalAppArgs) -> Any:
    import modal

    module_name, attr = args.app.split(":")
    if str(args.workdir) not in sys.path:
        sys.path.insert(0, str(args.workdir))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ActionFailed(
            f"cannot import {module_name} from {args.workdir} ({exc}); fix `app`"
        ) from exc
    app = getattr(module, attr, None)
    if not isinstance(app, modal.App):
        raise ActionFailed(f"{args.app} is {type(app).__name__}, not a modal.App; fix `app`")
    return app


def _functions(app: Any) -> dict[str, Any]:
    with warnings.catch_warnings():  # deprecated for 1.7, with no replacement yet
        warnings.simplefilter("ignore")
        return dict(app.registered_functions)


def _spec(fn: Any) -> dict[str, Any]:
    """GPU, timeout and volume mounts as Modal recorded them (None where unreadable)."""
    spec = getattr(fn, "_spec_", None)
    gpu = getattr(spec, "gpus", None)
    return {
        "gpu": gpu if isinstance(gpu, str | None) else ",".join(gpu),
        "timeout_s": _recorded_timeout(fn),
        "volumes": sorted(str(path) for path in getattr(spec, "volumes", {}) or {}),
    }


def _recorded_timeout(fn: Any) -> float | None:
    """The ``timeout=`` Modal captured from the decorator (in the function's loader closure)."""
    try:
        from modal._utils.async_utils import synchronizer

        load = synchronizer._translate_in(fn)._load
        cells = dict(zip(load.__code__.co_freevars, load.__closure__ or (), strict=True))
        return float(cells["timeout"].cell_contents)
    except (ImportError, AttributeError, KeyError, TypeError, ValueError):
        return None


def _violations(row: dict[str, Any], require: Requirements) -> list[str]:
    found = []
    if not row["gpu"]:
        found.append("no GPU requested")
    elif require.gpu and row["gpu"] != require.gpu:
        found.append(f"GPU {row['gpu']}, expected {require.gpu}")
    timeout = row["timeout_s"]
    if timeout is None:
        found.append("its timeout cannot be read from this modal version")
    elif not require.min_timeout_s <= timeout <= require.max_timeout_s:
        found.append(
            f"timeout {timeout:g}s outside [{require.min_timeout_s:g}, {require.max_timeout_s:g}]"
        )
    if require.volume and require.volume not in row["volumes"]:
        found.append(f"no volume mounted at {require.volume}")
    return found


def _one_step(app: Any, fn: Any, tmp: Path, args: ModalCheckArgs, backend: str) -> dict[str, Any]:
    """One optimizer step on a 26-image synthetic dataset, locally or on Modal."""
    from models.pets import make_synthetic_pets

    data = make_synthetic_pets(tmp / "pets", per_class=2, size=32, seed=0)
    config = {
        "out_dir": str(tmp / "out"),
        "steps": 1,
        "batch_size": 4,
        "warmup_steps": 0,
        "progress": False,
        "resume": False,
        **args.train_config,
    }
    if backend == "local":
        with warnings.catch_warnings():  # "executing locally, no access to the Volume"
            warnings.simplefilter("ignore")
            return fn.local({**config, "data_root": str(data)})
    from actions.train import MODAL_TOKEN_HINT
    from models.modal_app import has_token

    if not has_token():
        raise ActionFailed(MODAL_TOKEN_HINT)
    volumes = {str(path): volume for path, volume in fn._spec_.volumes.items()}
    mount = args.require.volume or next(iter(volumes), None)
    if mount not in volumes:
        raise ActionFailed(f"{args.train_function} mounts no volume to upload the data to")
    folder = f"goap-a01/{tmp.name}"
    with volumes[mount].batch_upload(force=True) as batch:
        batch.put_directory(str(data), f"/{folder}/pets")
    paths = {"data_root": f"{mount}/{folder}/pets", "out_dir": f"{mount}/{folder}/out"}
    with app.run():
        return fn.remote({**config, **paths})
