"""``goap demo``: deploy a fresh ML workspace end to end with plans/deployment.yaml, here.

:func:`create_workspace` makes (or reuses) the workspace: a git repository on ``main`` holding
a small ML project (a Modal app over goap's ``models`` package, an ONNX inference module, a
metrics utility, their tests, ADRs), its CI commands and backends in ``goap.toml``, a bare
remote in ``.goap/remote.git`` that ``main`` is pushed to, three groups of uncommitted work
for A05-A07, and a synthetic Oxford-IIIT Pet dataset (``python -m models make-data``).
:func:`run_demo` then runs the deployment catalog with goap's own Runner and progress view; the
state file is ``<workspace>/deployment_state.json``, so ``goap state show plans/deployment.yaml
--state <workspace>/deployment_state.json`` shows it afterwards. A second run is a no-op: the
sensors find the goal already holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from goap.loading.catalog import load_catalog
from goap.running.runner import RunError, Runner, RunResult

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "plans" / "deployment.yaml"
STATE_FILE = "deployment_state.json"
MODEL_NAME = "tiny-cats"
DATASET = {"root": "data/pets", "per_class": 40, "size": 32, "seed": 0}

# Facts worth a column in the summary, in order of preference (the first three found are shown).
HIGHLIGHTS = (
    "val_accuracy",
    "classifier_accuracy",
    "dit_conditional_accuracy",
    "conclusion",
    "accuracy",
    "conditional_accuracy",
    "accuracy_change",
    "max_abs_error",
    "size_after",
    "final_loss",
    "version_id",
    "version",
    "branch",
    "sha",
    "fixed_files",
    "trainval",
    "train_loss",
    "applicable",
    "reason",
    "lint_errors",
    "files",
    "run_id",
    "path",
    "index",
)


@dataclass
class DemoResult:
    """What a demo run did and produced."""

    workspace: Path
    created: bool
    run: RunResult
    wall_s: float
    summary: dict[str, Any] = field(default_factory=dict)


# -------------------------------------------------------------------------------- workspace


def create_workspace(directory: Path) -> bool:
    """Create the demo workspace in ``directory``; False when it already is one (reused)."""
    directory = directory.absolute()
    if (directory / ".git").is_dir() and (directory / "goap.toml").is_file():
        return False
    if directory.exists() and any(directory.iterdir()):
        raise RunError(
            f"{directory} exists and is not a goap demo workspace; choose another --dir or empty it"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in PROJECT.items():
        _write(directory / name, text)
    git = _git(directory)
    git("init", "-q", "-b", "main")
    for key, value in (("user.name", "goap demo"), ("user.email", "demo@goap.invalid")):
        git("config", key, value)
    git("config", "commit.gpgsign", "false")
    git("add", "-A")
    git("commit", "-q", "-m", "tiny-cats: project, Modal app, CI settings")
    remote = directory / ".goap" / "remote.git"
    (directory / ".goap").mkdir(exist_ok=True)
    (directory / ".goap" / ".gitignore").write_text("# local goap state: never committed\n*\n")
    git("init", "-q", "--bare", "-b", "main", str(remote))
    git("remote", "add", "origin", ".goap/remote.git")  # relative: the folder can be moved
    git("push", "-q", "-u", "origin", "main")
    for name, text in WORK.items():  # uncommitted: what A05-A07 commit
        _write(directory / name, text)
    _make_dataset(directory)
    return True


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _git(cwd: Path) -> Any:
    def run(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60
            )
        except FileNotFoundError:
            raise RunError("git is not installed; the demo workspace is a git repository") from None
        if done.returncode != 0:
            raise RunError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
        return done.stdout

    return run


def _make_dataset(directory: Path) -> None:
    """The synthetic dataset, written by models' own command line (torch stays out of here)."""
    argv = [
        sys.executable, "-m", "models", "make-data", DATASET["root"],
        "--per-class", str(DATASET["per_class"]), "--size", str(DATASET["size"]),
        "--seed", str(DATASET["seed"]), "--json",
    ]  # fmt: skip
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(argv, cwd=directory, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RunError(f"generating the dataset failed: {done.stderr.strip()[-500:]}")


# ------------------------------------------------------------------------------------- run


def run_demo(directory: Path, resume: bool, view_console: Console, json_mode: bool) -> DemoResult:
    """Create or reuse the workspace, run the deployment catalog to its goal, summarise."""
    from goap.faces.view import LineView, RunView

    if not CATALOG.is_file():
        raise RunError(
            f"{CATALOG} not found: goap demo runs from a source checkout (pip install -e .)"
        )
    catalog = load_catalog(CATALOG)
    directory = directory.absolute()
    state_path = directory / STATE_FILE
    started = time.monotonic()
    _refuse_unfinished(state_path, directory, resume)
    view_console.print(f"workspace: {directory}")
    created = create_workspace(directory)
    view_console.print("created the workspace" if created else "reusing the workspace")
    runner_args = (catalog, state_path, directory)
    if json_mode or not view_console.is_terminal:
        run = Runner(*runner_args, events=LineView(view_console)).run(resume)
    else:
        with RunView(view_console) as live:
            run = Runner(*runner_args, events=live).run(resume)
    result = DemoResult(directory, created, run, round(time.monotonic() - started, 1))
    result.summary = summarize(result)
    return result


def _refuse_unfinished(state_path: Path, directory: Path, resume: bool) -> None:
    """Say how to continue an unfinished demo in the demo's own words (before any work)."""
    if resume or not state_path.is_file():
        return
    try:
        status = json.loads(state_path.read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError):
        return  # the runner reports a bad state file
    if status in ("running", "interrupted"):
        raise RunError(
            f"the demo in {directory} did not finish ({status}); continue it with "
            f"`goap demo --dir {directory} --resume`, or delete {directory} to start over"
        )


# --------------------------------------------------------------------------------- summary


def summarize(result: DemoResult) -> dict[str, Any]:
    """Actions of this run with durations and highlights, metrics, and where everything is."""
    root = result.workspace
    state = _read_json(root / STATE_FILE) or {}
    run_id = state.get("run_id")
    steps = [
        {
            "id": e.get("id") or e["action"],
            "action": e["action"],
            "outcome": e["outcome"],
            "seconds": e.get("duration_s"),
            "highlights": (e.get("error") or "")[:80]
            if e["outcome"] != "succeeded"
            else _highlights(e.get("facts") or {}),
        }
        for e in state.get("history", [])
        if e.get("run_id") == run_id
    ]
    report = _read_json(root / "artifacts" / "validation_report.json") or {}
    metrics: dict[str, Any] = {}
    for kind, values in report.get("metrics", {}).items():
        metrics |= {f"{kind}.{name}": value for name, value in values.items()}
    for kind in ("classifier", "dit"):
        record = _read_json(root / "artifacts" / f"{kind}.int8.onnx.json") or {}
        if record:
            metrics[f"{kind}.size_fp32_mb"] = round(record["size_before"] / 1e6, 3)  # int8: size_mb
            metrics[f"{kind}.int8_{record['metric']}_change"] = record["accuracy_change"]
    from actions.publish import version_history

    versions = version_history(root, MODEL_NAME)
    latest = versions[-1] if versions else None
    artifacts = {
        "published version": f"{latest['path']} ({latest['version']})" if latest else "-",
        "validation report": "artifacts/validation_report.json",
        "onnx models": "artifacts/{classifier,dit}{,.int8}.onnx",
        "checkpoints": "runs/{classifier,dit}/checkpoint.pt",
        "progress report": "reports/PROGRESS.md",
        "state file": STATE_FILE,
        "action logs": ".goap/logs/",
    }
    return {
        "status": result.run.status,
        "exit_code": result.run.exit_code,
        "message": result.run.message,
        "workspace": str(root),
        "created": result.created,
        "wall_s": result.wall_s,
        "version_id": report.get("version_id"),
        "published_version": latest["version"] if latest else None,
        "registry_path": latest["path"] if latest else None,
        "steps": steps,
        "metrics": metrics,
        "artifacts": artifacts,
        "executed": result.run.executed,
        "failures": result.run.failures,
    }


def _highlights(facts: dict[str, Any]) -> str:
    shown = []
    for name in HIGHLIGHTS:
        if name in facts and len(shown) < 3:
            value = facts[name]
            if isinstance(value, float):
                value = f"{value:.4g}"
            elif isinstance(value, list):
                value = ", ".join(map(str, value)) or "-"
            elif isinstance(value, str) and len(value) > 40:
                value = value[:12] if name in ("sha", "run_id") else value[:40]
            shown.append(f"{name}={value}")
    return " ".join(shown)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def print_summary(summary: dict[str, Any], out: Console) -> None:
    """The summary as tables: actions of this run, metrics, artifacts."""
    steps = Table(title="goap demo: actions of this run", header_style="bold")
    for column in ("id", "action", "result", "seconds", "highlights"):
        steps.add_column(column, justify="right" if column == "seconds" else "left")
    for step in summary["steps"]:
        if step["outcome"] == "started":
            continue
        color = {"succeeded": "green", "failed": "red"}.get(step["outcome"], "yellow")
        seconds = f"{step['seconds']:.1f}" if step["seconds"] is not None else "-"
        steps.add_row(step["id"], step["action"], f"[{color}]{step['outcome']}[/]", seconds,
                      step["highlights"])  # fmt: skip
    if summary["steps"]:
        out.print(steps)
    else:
        out.print("nothing to do: the goal already holds (the sensors checked the workspace)")
    if summary["metrics"]:
        metrics = Table(title="metrics", header_style="bold")
        metrics.add_column("metric")
        metrics.add_column("value", justify="right")
        for name, value in sorted(summary["metrics"].items()):
            metrics.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
        out.print(metrics)
    where = Table(title=f"artifacts (in {summary['workspace']})", header_style="bold")
    where.add_column("what")
    where.add_column("where")
    for what, path in summary["artifacts"].items():
        where.add_row(what, path)
    out.print(where)
    color = "green" if summary["exit_code"] == 0 else "red"
    version = summary["version_id"] or "-"
    out.print(
        f"[{color}]{summary['status']}[/]: {escape(summary['message'])} | version {version} | "
        f"published {summary['published_version'] or '-'} | {summary['wall_s']:.1f} s"
    )


# ------------------------------------------------------------------------ the ML project

PROJECT: dict[str, str] = {
    "README.md": """\
# tiny-cats

A small ML project deployed by `goap demo` (goap's `plans/deployment.yaml`, seed 000's A01-A15
plus training steps): a cat-breed classifier and a class-conditional TinyDiT from goap's
`models` package, trained here on a synthetic Oxford-IIIT Pet, exported to ONNX, quantized to
int8, validated and published to the local model registry (`.goap/registry`).

| path | what |
| --- | --- |
| `cats/modal_app.py` | the Modal app (GPU training functions); A01 checks it |
| `cats/inference.py` | classify an image with the published int8 ONNX classifier |
| `cats/monitor.py` | summarise a training run's metrics.jsonl |
| `docs/` | ADRs 026-029 and the deployment plan |
| `goap.toml` | backends (CI, hub, training), CI commands, training threads |
| `data/`, `runs/`, `artifacts/`, `reports/` | dataset, checkpoints, ONNX + report, progress |

CI (`goap.toml [ci] commands`): `ruff check .`, `ruff format --check .`, `pytest`.
""",
    "pyproject.toml": """\
[project]
name = "tiny-cats"
version = "0.1.0"
requires-python = ">=3.11"
description = "Cat-breed classification and generation, deployed with goap."

[tool.ruff]
line-length = 100
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
""",
    ".gitignore": """\
# produced by the pipeline, not source
data/
runs/
artifacts/
reports/
deployment_state.json*
__pycache__/
.pytest_cache/
.ruff_cache/
""",
    "goap.toml": """\
# Backends of this workspace; GOAP_CI_BACKEND, GOAP_HUB_BACKEND, GOAP_TRAIN_BACKEND override.
[backends]
ci = "local"       # "github": GitHub Actions of [github] repo (token in GITHUB_TOKEN)
hub = "local"      # "huggingface": [huggingface] repo_id (token in HF_TOKEN)
train = "local"    # "modal": Modal GPUs (MODAL_TOKEN_ID / MODAL_TOKEN_SECRET)

[git]
remote = "origin"
remote_url = ".goap/remote.git"

[ci]
commands = ["ruff check .", "ruff format --check .", "python -m pytest -q -p no:cacheprovider"]
timeout_s = 600

[huggingface]
# repo_id = "owner/tiny-cats"   # required with hub = "huggingface"
token_env = "HF_TOKEN"

[tracking]
backend = "auto"   # MLflow when installed, else .goap/runs.jsonl

[train]
threads = 1        # torch / onnxruntime threads: predictable on a small or shared machine
""",
    "cats/__init__.py": '"""tiny-cats: cat-breed classification and generation."""\n',
    "cats/modal_app.py": '''\
"""The project's Modal app: the GPU training and sampling functions of goap's models package.

`modal deploy cats/modal_app.py` deploys them (A10G, a 6 h timeout, the data volume at /vol);
A01 of the deployment plan checks those settings and trains one step through them.
"""

from models.modal_app import FUNCTIONS, SPECS, app

__all__ = ["FUNCTIONS", "SPECS", "app"]
''',
    "tests/test_modal_app.py": '''\
"""The Modal app declares every function with a GPU, a timeout and the data volume."""

from cats.modal_app import FUNCTIONS, SPECS, app


def test_every_function_has_a_gpu_and_a_timeout() -> None:
    assert app.name == "goap-cats"
    assert set(FUNCTIONS) == set(SPECS) == {"train_classifier", "train_dit", "sample"}
    for name, spec in SPECS.items():
        assert spec["gpu"], name
        assert spec["timeout"] >= 600, name
''',
}

WORK: dict[str, str] = {
    # A05: code
    "cats/inference.py": '''\
"""Classify an image with the published int8 ONNX classifier (as a server or browser would)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

BREEDS = (
    "Abyssinian",
    "Bengal",
    "Birman",
    "Bombay",
    "British_Shorthair",
    "Egyptian_Mau",
    "Maine_Coon",
    "Persian",
    "Ragdoll",
    "Russian_Blue",
    "Siamese",
    "Sphynx",
    "other",
)
"""The classes in the model's output order."""


class BreedClassifier:
    """The classifier graph: image (N, 3, S, S) in [-1, 1] -> logits (N, 13)."""

    def __init__(self, model: str | Path):
        self.session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        self.size = int(self.session.get_inputs()[0].shape[-1])

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """RGB, shorter side resized to the model's size, centre crop, [-1, 1], (1, 3, S, S)."""
        image = image.convert("RGB")
        scale = self.size / min(image.size)
        width, height = (max(self.size, round(side * scale)) for side in image.size)
        image = image.resize((width, height), Image.Resampling.BICUBIC)
        left, top = (width - self.size) // 2, (height - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        pixels = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
        return pixels.transpose(2, 0, 1)[None]

    def predict(self, image: Image.Image) -> tuple[str, float]:
        """The most likely breed and its probability."""
        (logits,) = self.session.run(None, {"image": self.preprocess(image)})
        probs = np.exp(logits[0] - logits[0].max())
        probs /= probs.sum()
        best = int(probs.argmax())
        return BREEDS[best], float(probs[best])
''',
    "tests/test_inference.py": '''\
"""BreedClassifier on a tiny hand-made graph: mean colour -> class (red 0, green 1, blue 2)."""

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save
from PIL import Image

from cats.inference import BREEDS, BreedClassifier


def colour_model(path: Path, size: int = 8) -> Path:
    weights = np.zeros((3, len(BREEDS)), np.float32)
    weights[0, 0] = weights[1, 1] = weights[2, 2] = 10.0
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("Gemm", ["mean", "w", "b"], ["logits"]),
        ],
        "colour",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", len(BREEDS)])],
        [
            numpy_helper.from_array(weights, "w"),
            numpy_helper.from_array(np.zeros(len(BREEDS), np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))
    return path


def test_predicts_the_dominant_colour_class(tmp_path: Path) -> None:
    classifier = BreedClassifier(colour_model(tmp_path / "colour.onnx"))
    assert classifier.size == 8
    blue = Image.new("RGB", (30, 20), (0, 0, 255))
    breed, probability = classifier.predict(blue)
    assert breed == BREEDS[2] and probability > 0.9


def test_preprocess_crops_to_a_square_in_range(tmp_path: Path) -> None:
    classifier = BreedClassifier(colour_model(tmp_path / "colour.onnx"))
    pixels = classifier.preprocess(Image.new("RGB", (40, 10), (255, 0, 0)))
    assert pixels.shape == (1, 3, 8, 8)
    assert pixels.min() >= -1.0 and pixels.max() <= 1.0
''',
    # A06: docs
    "docs/GOAP.md": """\
# Deployment plan

The deployment runs goap's `plans/deployment.yaml`: validation (A01-A03), a feature branch with
three atomic commits (A04-A07), push and CI with automatic lint fixes on failure (A08-A10),
training and ONNX export (T00-T06), validation gates with retraining of a rejected model
(A11, T07-T08), publishing (A12), experiment tracking (A13) and these documents (A14-A15).
The progress report is written to `reports/PROGRESS.md`; decisions are in [the ADRs](adr/).
""",
    "docs/adr/ADR-026-model-publishing.md": """\
# ADR-026: Model publishing

## Status
Accepted

## Context
Trained models must reach users in a form a browser can run, with a record of what was shipped.

## Decision
Publish the int8 ONNX classifier and DiT step with the validation report, as numbered versions
in a model registry (the local registry, or Hugging Face Hub selected in `goap.toml`).

## Consequences
Every version carries a content hash; publishing identical content again creates no version.
""",
    "docs/adr/ADR-027-experiment-tracking.md": """\
# ADR-027: Experiment tracking

## Status
Accepted

## Context
Runs must be comparable: which settings gave which accuracy, latency and size.

## Decision
Record every validated run's parameters and gate metrics with MLflow when it is installed,
else as JSON lines in `.goap/runs.jsonl`.

## Consequences
Tracking works offline and without extra dependencies; MLflow is an optional extra.
""",
    "docs/adr/ADR-028-validation-gates.md": """\
# ADR-028: Validation gates

## Status
Accepted

## Context
A model that trained without errors can still be broken: NaN weights, wrong outputs, too slow.

## Decision
Before publishing, check the shipped artifacts: loading, finite outputs, output ranges, batch
inference, size, latency p50/p95/p99, accuracy and conditional accuracy, and give the result a
version id. A failed gate rejects the model and the plan retrains it.

## Consequences
Nothing unvalidated is published; `artifacts/validation_report.json` says why a model failed.
""",
    "docs/adr/ADR-029-goap-deployment.md": """\
# ADR-029: GOAP deployment plan

## Status
Accepted

## Context
The deployment has many steps with dependencies, and failures (CI, gates) that need rerouting.

## Decision
Describe the steps as GOAP actions with preconditions, effects and costs, and let goap plan,
run, sense the real state and replan; see [the plan](../GOAP.md) and ADRs 026-028.

## Consequences
A failure changes the observed world and the planner finds the next route; a crashed run
resumes without redoing finished steps.
""",
    # A07: utility
    "cats/monitor.py": '''\
"""Summarise a training run from its metrics.jsonl (one JSON object per line, models.train)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def summarise(path: str | Path) -> dict[str, Any]:
    """Steps, last and best loss, mean throughput and the periodic metrics of a run."""
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    losses = [r for r in records if "loss" in r]
    speeds = [r["images_per_s"] for r in losses if "images_per_s" in r]
    periodic = [r for r in records if r.get("event") == "periodic"]
    return {
        "steps": max((r["step"] for r in losses), default=0),
        "last_loss": losses[-1]["loss"] if losses else None,
        "best_loss": min((r["loss"] for r in losses), default=None),
        "images_per_s": sum(speeds) / len(speeds) if speeds else None,
        "periodic": {k: v for r in periodic for k, v in r.items() if k not in ("step", "event")},
    }
''',
    "tests/test_monitor.py": '''\
"""summarise() over a metrics.jsonl as models.train writes it."""

import json
from pathlib import Path

from cats.monitor import summarise


def test_summarise_reads_losses_speed_and_periodic_metrics(tmp_path: Path) -> None:
    lines = [
        {"step": 0, "event": "data", "train_images": 10},
        {"step": 1, "loss": 2.0, "images_per_s": 100.0},
        {"step": 2, "loss": 1.5, "images_per_s": 300.0},
        {"step": 2, "event": "periodic", "val_accuracy": 0.5},
    ]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(line) + "\\n" for line in lines))
    summary = summarise(path)
    assert summary["steps"] == 2 and summary["last_loss"] == 1.5 and summary["best_loss"] == 1.5
    assert summary["images_per_s"] == 200.0
    assert summary["periodic"] == {"val_accuracy": 0.5}


def test_an_empty_run_has_no_losses(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text("")
    assert summarise(path) == {
        "steps": 0,
        "last_loss": None,
        "best_loss": None,
        "images_per_s": None,
        "periodic": {},
    }
''',
}
