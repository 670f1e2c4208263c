"""Validation gates (A11): the deployment checks of seed 004, on the artifacts that ship.

For each model (the int8 ONNX graph that is published, and the checkpoint it came from):

* ``checkpoint_loads``: the checkpoint loads and its EMA weights hold no NaN/Inf
* ``artifact_loads``: onnxruntime loads the graph
* ``outputs_finite``: no NaN/Inf in its outputs
* ``output_range``: classifier probabilities are valid and logits bounded; DiT samples (before
  clamping) stay within a value range
* ``batch_inference``: a batch gives what one-at-a-time calls give (classifier: the same
  predictions; DiT: velocities within a relative deviation, since dynamic int8 quantization
  picks activation scales per call)
* ``size``: the file is under a size limit
* ``latency``: p50 / p95 / p99 of one single-item call under limits (DiT: one guided step)
* ``drift_accuracy`` (classifier, only when it was trained for drifted inputs: its checkpoint
  has an ``exposure`` map): accuracy on the test split under that map, the same limit
* ``accuracy`` (classifier, test split) and ``conditional_accuracy`` (DiT: share of guided
  samples the classifier recognises as the requested breed; not judged when the classifier
  itself failed its accuracy gate)

The report (``artifacts/validation_report.json``) carries a version id (timestamp + content
hash of every checked file) and the digests of those files, so the sensor knows when it is
stale. Any failed gate fails the action and marks the model *rejected*: the plan's retrain
action for that model becomes the way forward.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from actions.contract import ExecutorArgs, InWorkdir, OptionalInWorkdir, WorkdirArgs
from actions.pipeline import (
    DATA_ROOT,
    KINDS,
    REPORT,
    Kind,
    MlSettings,
    apply_threads,
    checkpoint_path,
    int8_path,
    ml_settings,
    ort_session,
    relative,
    sha256_file,
    write_json,
)
from goap.executor import ActionFailed, facts

WARMUP_CALLS = 5


class Latency(ExecutorArgs):
    p50_ms: float = Field(gt=0, description="Median latency limit (ms).")
    p95_ms: float = Field(gt=0, description="95th percentile limit (ms).")
    p99_ms: float = Field(gt=0, description="99th percentile limit (ms).")


class ModelGates(ExecutorArgs):
    """One model's gates; its paths are checked by GatesArgs (they are relative to its workdir)."""

    checkpoint: OptionalInWorkdir = Field(None, description="Default: runs/<kind>/checkpoint.pt.")
    artifact: OptionalInWorkdir = Field(
        None, description="The graph that ships; default: artifacts/<kind>.int8.onnx."
    )
    max_size_mb: float = Field(10.0, gt=0, description="Size limit of the artifact (MB).")


class ClassifierGates(ModelGates):
    latency: Latency = Field(
        default_factory=lambda: Latency(p50_ms=20, p95_ms=50, p99_ms=100),
        description="Latency limits of one single-image call.",
    )
    min_accuracy: float = Field(0.8, ge=0, le=1, description="Test-split accuracy at least.")
    max_abs_logit: float = Field(1e3, gt=0, description="Logits beyond this are out of range.")
    batch_size: int = Field(8, ge=2, description="Images in the batch-inference check.")


class DiTGates(ModelGates):
    latency: Latency = Field(
        default_factory=lambda: Latency(p50_ms=50, p95_ms=100, p99_ms=200),
        description="Latency limits of one guided sampling step.",
    )
    min_conditional_accuracy: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Share of samples recognised as the requested breed (chance: 1/13).",
    )
    samples_per_class: int = Field(8, ge=1, description="Samples per breed.")
    sample_steps: int = Field(10, ge=1, description="Euler steps per sample.")
    cfg_scale: float = Field(4.0, description="Guidance scale of the samples.")
    seed: int = Field(0, description="Noise seed of the samples.")
    value_range: float = Field(1.5, gt=0, description="Samples should lie in [-r, r].")
    max_out_of_range: float = Field(
        0.02, ge=0, le=1, description="Share of sample values allowed outside the range."
    )
    max_batch_deviation: float = Field(
        0.25, ge=0, description="Batch vs single calls: max |diff| / max |velocity|."
    )
    batch_size: int = Field(4, ge=2, description="Rows in the batch-inference check.")


class GatesArgs(WorkdirArgs):
    data_root: InWorkdir = Field(
        DATA_ROOT, description="Dataset; its test split measures accuracy."
    )
    classifier: ClassifierGates = Field(
        default_factory=ClassifierGates, description="The classifier's gates and limits."
    )
    dit: DiTGates = Field(default_factory=DiTGates, description="The DiT's gates and limits.")
    latency_runs: int = Field(50, ge=10, description="Timed calls per latency measurement.")
    report: InWorkdir = Field(REPORT, description="Where validation_report.json is written.")


@dataclass
class Gate:
    """One check: passed (None: not judged), the measured value, the limit, a detail."""

    gate: str
    passed: bool | None
    value: Any = None
    limit: Any = None
    detail: str = ""


class GateError(Exception):
    """A check that could not even run (the model does not load): the model's gates stop."""


# ----------------------------------------------------------------------------------- executor


@facts(
    "passed",
    "failed_gates",
    "version_id",
    "content_hash",
    "report",
    *(f"{kind}_{outcome}" for kind in KINDS for outcome in ("passed", "rejected")),
    *(
        f"classifier_{metric}"
        for metric in (
            "output_range_max_abs_logit",
            "batch_inference_agreement",
            "size_mb",
            "latency_p50_ms",
            "latency_p95_ms",
            "latency_p99_ms",
            "accuracy",
            "drift_accuracy",
        )
    ),
    *(
        f"dit_{metric}"
        for metric in (
            "batch_inference_relative_deviation",
            "size_mb",
            "latency_p50_ms",
            "latency_p95_ms",
            "latency_p99_ms",
            "output_range_share_outside",
            "conditional_accuracy",
        )
    ),
    note="`<kind>_<metric>`: the numbers the gates measured; a gate that did not run has none.",
)
def run_gates(args: GatesArgs) -> dict[str, Any]:
    """A11: run every gate on both models, write validation_report.json; fail if any fails."""
    settings = ml_settings(args.workdir)
    apply_threads(settings)
    root = args.workdir
    specs: dict[Kind, ModelGates] = {"classifier": args.classifier, "dit": args.dit}
    files = {
        kind: {
            "checkpoint": root / (spec.checkpoint or checkpoint_path(kind)),
            "artifact": root / (spec.artifact or int8_path(kind)),
        }
        for kind, spec in specs.items()
    }
    missing = [relative(root, p) for f in files.values() for p in f.values() if not p.is_file()]
    if missing:
        raise ActionFailed(
            f"cannot validate: {', '.join(missing)} missing; train, export and quantize first"
        )
    inputs = {
        f"{kind}.{role}": {"path": relative(root, path), "sha256": sha256_file(path)}
        for kind, paths in files.items()
        for role, path in paths.items()
    }
    checker = _Checker(args, settings, files)
    results = {"classifier": checker.classifier(), "dit": checker.dit()}
    report = _report(args, inputs, results)
    # published with the version: the drift sensor compares its inputs with what it was made for
    report["models"]["classifier"]["exposure"] = checker.exposure
    write_json(root / args.report, report)
    facts = _facts(args, report)
    if not report["passed"]:
        raise ActionFailed(
            "validation gates failed: "
            + "; ".join(
                f"{kind}.{_describe(g)}"
                for kind in KINDS
                for g in results[kind]
                if g.passed is False
            )
            + f" (report: {args.report}); retrain the rejected model(s)",
            facts=facts,
        )
    return facts


# ------------------------------------------------------------------------------------ checks


class _Checker:
    """Runs the gates of each model; keeps the classifier's session to judge DiT samples."""

    def __init__(self, args: GatesArgs, settings: MlSettings, files: dict[Kind, dict[str, Path]]):
        self.args, self.settings, self.files = args, settings, files
        self.judge: Any = None
        self.exposure: dict[str, Any] | None = None  # the classifier's drift retrain map

    @staticmethod
    def _run(checks: list[tuple[str, Callable[[], Gate | None]]]) -> list[Gate]:
        """Run checks in order; one that cannot run fails and ends the model's checks; one
        that does not apply to this model (None) is left out."""
        gates: list[Gate] = []
        for name, check in checks:
            try:
                gate = check()
                if gate is not None:
                    gates.append(gate)
            except GateError as exc:
                gates.append(Gate(name, False, detail=str(exc)))
                break
        return gates

    def classifier(self) -> list[Gate]:
        spec, files = self.args.classifier, self.files["classifier"]
        state: dict[str, Any] = {}

        def _checkpoint_loads() -> Gate:
            gate, config = _checkpoint_gate("classifier", files["checkpoint"])
            state["exposure"] = self.exposure = config.get("exposure")
            return gate

        def _artifact_loads() -> Gate:
            state["session"] = _load_session(files["artifact"], self.settings)
            from actions.onnx_export import held_out_split, input_size

            state["images"], state["labels"] = held_out_split(
                self.args.workdir / self.args.data_root, input_size(state["session"])
            )
            return Gate("artifact_loads", True, relative(self.args.workdir, files["artifact"]))

        def _outputs_finite() -> Gate:
            from actions.onnx_export import classify

            state["logits"] = classify(state["session"], state["images"])
            return _finite_gate(state["logits"])

        def _output_range() -> Gate:
            logits = state["logits"].astype(np.float64)
            probs = np.exp(logits - logits.max(1, keepdims=True))
            probs /= probs.sum(1, keepdims=True)
            valid = bool(((probs >= 0) & (probs <= 1)).all()) and bool(
                np.allclose(probs.sum(1), 1, atol=1e-6)
            )
            peak = float(np.abs(logits).max())
            return Gate(
                "output_range",
                valid and peak <= spec.max_abs_logit,
                {"max_abs_logit": round(peak, 4)},
                {"max_abs_logit": spec.max_abs_logit},
                "probabilities in [0, 1], summing to 1" if valid else "invalid probabilities",
            )

        def _batch_inference() -> Gate:
            images = state["images"][: spec.batch_size]
            batch = state["session"].run(None, {"image": images})[0]
            single = np.concatenate(
                [
                    state["session"].run(None, {"image": images[i : i + 1]})[0]
                    for i in range(len(images))
                ]
            )
            agree = float((batch.argmax(1) == single.argmax(1)).mean())
            return Gate(
                "batch_inference",
                agree == 1.0,
                {"agreement": agree},
                {"agreement": 1.0},
                f"batch of {len(images)} vs one at a time; max |logit diff| "
                f"{float(np.abs(batch - single).max()):.4g}",
            )

        def _accuracy() -> Gate:
            value = float((state["logits"].argmax(1) == state["labels"]).mean())
            passed = value >= spec.min_accuracy
            if passed:
                self.judge = state["session"]
            return Gate("accuracy", passed, round(value, 4), f">= {spec.min_accuracy:g}",
                        f"{len(state['labels'])} test images")  # fmt: skip

        def _drift_accuracy() -> Gate | None:
            from actions.onnx_export import classify, held_out_split, input_size

            e = state["exposure"]
            if not e:
                return None  # trained for the data as it is: the accuracy gate said it all
            images, labels = held_out_split(
                self.args.workdir / self.args.data_root, input_size(state["session"]), e
            )
            value = float((classify(state["session"], images).argmax(1) == labels).mean())
            return Gate("drift_accuracy", value >= spec.min_accuracy, round(value, 4),
                        f">= {spec.min_accuracy:g}",
                        f"{len(labels)} test images under scale {e['scale']}, "
                        f"offset {e['offset']}")  # fmt: skip

        def _latency() -> Gate:
            return self._latency({"image": state["images"][:1]}, state["session"], spec)

        return self._run(
            [
                ("checkpoint_loads", _checkpoint_loads),
                ("artifact_loads", _artifact_loads),
                ("outputs_finite", _outputs_finite),
                ("output_range", _output_range),
                ("batch_inference", _batch_inference),
                ("size", lambda: _size_gate(files["artifact"], spec.max_size_mb)),
                ("latency", _latency),
                ("accuracy", _accuracy),
                ("drift_accuracy", _drift_accuracy),
            ]
        )

    def dit(self) -> list[Gate]:
        spec, files = self.args.dit, self.files["dit"]
        state: dict[str, Any] = {}

        def _checkpoint_loads() -> Gate:
            return _checkpoint_gate("dit", files["checkpoint"])[0]

        def _artifact_loads() -> Gate:
            from actions.onnx_export import example_inputs, input_size

            state["session"] = _load_session(files["artifact"], self.settings)
            size = input_size(state["session"])
            state["probe"] = example_inputs("dit", size, spec.batch_size, np.random.default_rng(0))
            return Gate("artifact_loads", True, relative(self.args.workdir, files["artifact"]))

        def _outputs_finite() -> Gate:
            state["velocity"] = state["session"].run(None, state["probe"])[0]
            return _finite_gate(state["velocity"])

        def _batch_inference() -> Gate:
            probe, batch = state["probe"], state["velocity"]
            single = np.concatenate(
                [
                    state["session"].run(None, {k: v[i : i + 1] for k, v in probe.items()})[0]
                    for i in range(spec.batch_size)
                ]
            )
            deviation = float(np.abs(batch - single).max() / max(np.abs(batch).max(), 1e-12))
            return Gate("batch_inference", deviation <= spec.max_batch_deviation,
                        {"relative_deviation": round(deviation, 4)},
                        {"relative_deviation": spec.max_batch_deviation},
                        f"batch of {spec.batch_size} vs one at a time")  # fmt: skip

        def _output_range() -> Gate:
            from actions.onnx_export import breed_labels, sample

            state["labels"] = breed_labels(spec.samples_per_class)
            samples = sample(
                state["session"], state["labels"], spec.sample_steps, spec.cfg_scale, spec.seed
            )
            state["samples"] = samples
            if not np.isfinite(samples).all():
                return Gate("output_range", False, None, "finite samples", "NaN/Inf in samples")
            outside = float((np.abs(samples) > spec.value_range).mean())
            return Gate(
                "output_range",
                outside <= spec.max_out_of_range,
                {"share_outside": round(outside, 5)},
                {"share_outside": spec.max_out_of_range},
                f"sample values outside [-{spec.value_range:g}, {spec.value_range:g}]",
            )

        def _conditional_accuracy() -> Gate:
            from actions.onnx_export import classify

            limit = f">= {spec.min_conditional_accuracy:g}"
            if self.judge is None:
                return Gate("conditional_accuracy", None, None, limit,
                            "not judged: the classifier failed its accuracy gate")  # fmt: skip
            images = np.clip(state["samples"], -1, 1)
            value = float((classify(self.judge, images).argmax(1) == state["labels"]).mean())
            return Gate("conditional_accuracy", value >= spec.min_conditional_accuracy,
                        round(value, 4), limit, f"{len(images)} samples, judged by the "
                        "classifier")  # fmt: skip

        def _latency() -> Gate:
            one = {name: value[:1] for name, value in state["probe"].items()}
            return self._latency(one, state["session"], spec)

        return self._run(
            [
                ("checkpoint_loads", _checkpoint_loads),
                ("artifact_loads", _artifact_loads),
                ("outputs_finite", _outputs_finite),
                ("batch_inference", _batch_inference),
                ("size", lambda: _size_gate(files["artifact"], spec.max_size_mb)),
                ("latency", _latency),
                ("output_range", _output_range),
                ("conditional_accuracy", _conditional_accuracy),
            ]
        )

    def _latency(self, feed: dict[str, np.ndarray], session: Any, spec: Any) -> Gate:
        for _ in range(WARMUP_CALLS):
            session.run(None, feed)
        times = []
        for _ in range(self.args.latency_runs):
            start = time.perf_counter()
            session.run(None, feed)
            times.append((time.perf_counter() - start) * 1000)
        p50, p95, p99 = (float(v) for v in np.percentile(times, [50, 95, 99]))
        limits: Latency = spec.latency
        passed = p50 <= limits.p50_ms and p95 <= limits.p95_ms and p99 <= limits.p99_ms
        value = {"p50_ms": round(p50, 3), "p95_ms": round(p95, 3), "p99_ms": round(p99, 3)}
        return Gate("latency", passed, value, limits.model_dump(), f"{len(times)} calls")


def _checkpoint_gate(kind: Kind, path: Path) -> tuple[Gate, dict[str, Any]]:
    """The gate, and the training config the checkpoint records."""
    import torch

    from models.checkpoint import load_classifier, load_dit, read_checkpoint
    from models.errors import CheckpointError

    try:
        (load_classifier if kind == "classifier" else load_dit)(path)
        saved = read_checkpoint(path, kind)
        ema = saved["ema"]
    except CheckpointError as exc:
        raise GateError(str(exc)) from exc
    bad = [name for name, t in ema.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise GateError(f"NaN/Inf in {len(bad)} weight tensor(s) of {path.name}, e.g. {bad[0]}")
    gate = Gate("checkpoint_loads", True, None, "loads, all weights finite", f"{len(ema)} tensors")
    return gate, saved.get("config") or {}


def _load_session(path: Path, settings: MlSettings) -> Any:
    try:
        return ort_session(path, settings)
    except ActionFailed as exc:
        raise GateError(exc.message) from exc


def _finite_gate(values: np.ndarray) -> Gate:
    if not np.isfinite(values).all():
        raise GateError(f"{int((~np.isfinite(values)).sum())} NaN/Inf values in the outputs")
    return Gate("outputs_finite", True, None, "no NaN/Inf", f"{values.size} values")


def _size_gate(path: Path, max_mb: float) -> Gate:
    size_mb = path.stat().st_size / 1e6
    return Gate("size", size_mb <= max_mb, {"mb": round(size_mb, 3)}, {"mb": max_mb})


# ----------------------------------------------------------------------------------- report


def _report(args: GatesArgs, inputs: dict[str, Any], results: dict[str, list[Gate]]) -> dict:
    digest = hashlib.sha256(
        "".join(f"{key}\0{item['sha256']}\n" for key, item in sorted(inputs.items())).encode()
    ).hexdigest()
    created = datetime.now(UTC)
    models = {
        kind: {
            "passed": all(g.passed is not False for g in gates),
            "gates": [asdict(g) for g in gates],
        }
        for kind, gates in results.items()
    }
    return {
        "version_id": f"v_{created.strftime('%Y-%m-%dT%H:%M:%S')}_{digest[:8]}",
        "created_at": created.isoformat(timespec="seconds"),
        "content_hash": digest,
        "passed": all(m["passed"] for m in models.values()),
        "failed_gates": [
            f"{kind}.{g.gate}"
            for kind, gates in results.items()
            for g in gates
            if g.passed is False
        ],
        "inputs": inputs,
        "models": models,
        "metrics": {kind: _metrics(gates) for kind, gates in results.items()},
    }


def _metrics(gates: list[Gate]) -> dict[str, float]:
    """The numbers of a model's gates, flat: latency_p50_ms, size_mb, accuracy..."""
    out: dict[str, float] = {}
    for gate in gates:
        if isinstance(gate.value, dict):
            out |= {f"{gate.gate}_{k}": float(v) for k, v in gate.value.items()}
        elif isinstance(gate.value, int | float) and not isinstance(gate.value, bool):
            out[gate.gate] = float(gate.value)
    return out


def _facts(args: GatesArgs, report: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "passed": report["passed"],
        "failed_gates": report["failed_gates"],
        "version_id": report["version_id"],
        "content_hash": report["content_hash"],
        "report": args.report,
    }
    for kind in KINDS:
        passed = report["models"][kind]["passed"]
        facts |= {f"{kind}_passed": passed, f"{kind}_rejected": not passed}
        facts |= {f"{kind}_{k}": v for k, v in report["metrics"][kind].items()}
    return facts


def _describe(gate: Gate) -> str:
    """'accuracy = 0.12 (limit >= 0.8)', 'latency p99_ms=140 (limit p99_ms=100, ...)'."""

    def show(value: Any) -> str:
        if isinstance(value, dict):
            return ", ".join(
                f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items()
            )
        return str(value)

    value = "" if gate.value is None else f" {show(gate.value)}"
    value = f" ={value}" if value and not isinstance(gate.value, dict) else value
    limit = f" (limit {show(gate.limit)})" if gate.limit is not None else ""
    detail = f": {gate.detail}" if gate.detail and gate.value is None else ""
    return f"{gate.gate}{value}{limit}{detail}"
