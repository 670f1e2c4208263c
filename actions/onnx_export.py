"""ONNX export with an onnxruntime parity check, and dynamic int8 quantization that is measured.

Graphs (dynamic batch axis on every input and output):

* classifier: ``image`` (N, 3, S, S) float in [-1, 1] -> ``logits`` (N, 13)
* dit: one guided sampling step, ``x`` (N, 3, S, S), ``t`` (N,) float, ``y`` (N,) int64,
  ``cfg_scale`` (N,) float -> ``velocity`` (N, 3, S, S). Classifier-free guidance is inside
  the graph (conditional and null-label rows as one batch of 2N, then
  ``v_uncond + s * (v_cond - v_uncond)``), so a browser runs one call per Euler step.

Export is models.export's (torch's TorchScript exporter at opset 20, LayerNorms as plain ops
for the browser's sake; the dynamo exporter's opset-23 attention breaks dynamic quantization,
see NOTES-environment). Parity is checked against the model itself at several batch sizes,
which also proves the batch axis is dynamic. Quantization is
onnxruntime's ``quantize_dynamic`` (QUInt8 weights by default: QInt8 lost accuracy on this
CPU family), and what it costs is measured, not assumed: test-split accuracy for the
classifier, and for the DiT the share of samples (same noise, fp32 vs int8 graph) that the
classifier recognises as the requested breed.

The onnxruntime helpers (:func:`classify`, :func:`sample`) are shared with the gates.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from actions.contract import InWorkdir, OptionalInWorkdir, WorkdirArgs
from actions.paths import replacing
from actions.pipeline import (
    DATA_ROOT,
    Kind,
    apply_threads,
    checkpoint_path,
    int8_path,
    ml_settings,
    onnx_path,
    ort_session,
    relative,
    write_record,
)
from goap.executor import ActionFailed, facts

if TYPE_CHECKING:
    from torch import nn

INPUTS: dict[Kind, tuple[str, ...]] = {
    "classifier": ("image",),
    "dit": ("x", "t", "y", "cfg_scale"),
}
OUTPUTS: dict[Kind, tuple[str, ...]] = {"classifier": ("logits",), "dit": ("velocity",)}


class ExportArgs(WorkdirArgs):
    kind: Kind = Field(description="Which model: 'classifier' or 'dit'.")
    checkpoint: OptionalInWorkdir = Field(None, description="Default: runs/<kind>/checkpoint.pt.")
    out: OptionalInWorkdir = Field(
        None, description="ONNX file to write; default: artifacts/<kind>.onnx."
    )
    opset: int = Field(
        20, ge=13, description="ONNX opset of the TorchScript exporter (20: one Gelu op)."
    )
    batch_sizes: list[int] = Field(
        default_factory=lambda: [1, 3],
        min_length=1,
        description="Batch sizes the parity check runs at (more than one proves a dynamic axis).",
    )
    max_abs_error: float = Field(
        1e-3, gt=0, description="Largest allowed |onnxruntime - torch| over the parity inputs."
    )
    seed: int = Field(0, description="Seed of the random parity inputs.")


class QuantizeArgs(WorkdirArgs):
    kind: Kind = Field(description="Which model: 'classifier' or 'dit'.")
    source: OptionalInWorkdir = Field(
        None, description="fp32 ONNX; default: artifacts/<kind>.onnx."
    )
    out: OptionalInWorkdir = Field(
        None, description="int8 ONNX; default: artifacts/<kind>.int8.onnx."
    )
    weight_type: Literal["QUInt8", "QInt8"] = Field(
        "QUInt8", description="Weight type of quantize_dynamic."
    )
    op_types: list[str] = Field(
        default_factory=lambda: ["MatMul", "Gemm", "Conv"],
        min_length=1,
        description="Operators to quantize.",
    )
    data_root: InWorkdir = Field(
        DATA_ROOT, description="Dataset; its test split measures accuracy."
    )
    judge: OptionalInWorkdir = Field(
        None,
        description="DiT: the classifier ONNX that recognises samples; default: "
        "artifacts/classifier.onnx.",
    )
    samples_per_class: int = Field(8, ge=1, description="DiT: samples per breed.")
    sample_steps: int = Field(10, ge=1, description="DiT: Euler steps per sample.")
    cfg_scale: float = Field(4.0, description="DiT: guidance scale of the samples.")
    seed: int = Field(0, description="DiT: noise seed (the same noise for fp32 and int8).")
    max_accuracy_drop: float = Field(
        0.05, ge=0, description="Fail when int8 loses more than this much accuracy."
    )


# ---------------------------------------------------------------------------------- executors


@facts(
    "kind",
    "path",
    "size_bytes",
    "opset",
    "inputs",
    "outputs",
    "image_size",
    "batch_sizes",
    "max_abs_error",
    "tolerance",
    "parity_ok",
    "seconds",
)
def export_onnx(args: ExportArgs) -> dict[str, Any]:
    """Export a checkpoint's EMA model to ONNX and check it against torch with onnxruntime."""
    settings = ml_settings(args.workdir)
    apply_threads(settings)
    import torch

    from models.export import write_onnx

    checkpoint = args.workdir / (args.checkpoint or checkpoint_path(args.kind))
    out = args.workdir / (args.out or onnx_path(args.kind))
    started = time.monotonic()
    model, image_size = _graph_module(args.kind, checkpoint)
    example = example_inputs(args.kind, image_size, 2, np.random.default_rng(args.seed))
    names, outputs = list(INPUTS[args.kind]), list(OUTPUTS[args.kind])
    # written beside out, then renamed over it: a link planted at out is replaced, not followed
    with replacing(out) as partial:
        write_onnx(
            model,
            tuple(torch.from_numpy(example[name]) for name in names),
            partial,
            names,
            outputs,
            args.opset,
        )
    session = ort_session(out, settings)
    rng = np.random.default_rng(args.seed + 1)
    worst = 0.0
    for batch in args.batch_sizes:
        feed = example_inputs(args.kind, image_size, batch, rng)
        (got,) = session.run(None, feed)
        with torch.no_grad():
            expected = model(*(torch.from_numpy(feed[name]) for name in names)).numpy()
        if got.shape != expected.shape:
            raise ActionFailed(
                f"{out.name} returned shape {got.shape} for batch {batch}, torch {expected.shape}: "
                "the batch axis is not dynamic; check the export",
            )
        error = float(np.abs(got - expected).max())  # NaN when an output is not finite
        worst = error if not np.isfinite(error) else max(worst, error)
        if not np.isfinite(worst):
            break
    facts = {
        "kind": args.kind,
        "path": relative(args.workdir, out),
        "size_bytes": out.stat().st_size,
        "opset": args.opset,
        "inputs": names,
        "outputs": outputs,
        "image_size": image_size,
        "batch_sizes": args.batch_sizes,
        "max_abs_error": worst,
        "tolerance": args.max_abs_error,
        "parity_ok": bool(np.isfinite(worst) and worst <= args.max_abs_error),
        "seconds": round(time.monotonic() - started, 3),
    }
    if not facts["parity_ok"]:
        raise ActionFailed(
            f"{out.name}: onnxruntime differs from torch by {worst:.3g} (> {args.max_abs_error:g}"
            "); a non-finite error means non-finite weights: retrain the model",
            facts=facts,
        )
    write_record(args.workdir, out, checkpoint, facts)
    return facts


@facts(
    "kind",
    "path",
    "weight_type",
    "op_types",
    "size_before",
    "size_after",
    "size_ratio",
    "metric",
    "fp32",
    "int8",
    "accuracy_change",
    "max_abs_diff",
    "seconds",
    note="metric: accuracy (classifier) or conditional_accuracy (DiT), measured fp32 and int8.",
)
def quantize_onnx(args: QuantizeArgs) -> dict[str, Any]:
    """Dynamic int8 quantization; reports the sizes and the measured accuracy change."""
    settings = ml_settings(args.workdir)
    apply_threads(settings)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source = args.workdir / (args.source or onnx_path(args.kind))
    out = args.workdir / (args.out or int8_path(args.kind))
    if not source.is_file():
        raise ActionFailed(f"{source} does not exist; export the {args.kind} to ONNX first")
    started = time.monotonic()
    logging.getLogger().setLevel(logging.ERROR)  # quiet its "consider pre-processing" advice
    with replacing(out) as partial:  # a link planted at out is replaced, not followed
        quantize_dynamic(
            str(source),
            str(partial),
            weight_type=getattr(QuantType, args.weight_type),
            op_types_to_quantize=args.op_types,
        )
    fp32, int8 = ort_session(source, settings), ort_session(out, settings)
    if args.kind == "classifier":
        metric = "accuracy"
        images, labels = held_out_split(args.workdir / args.data_root, input_size(fp32))
        before = accuracy(fp32, images, labels)
        after = accuracy(int8, images, labels)
        probe = {"image": images[:8]}
    else:
        metric = "conditional_accuracy"
        judge_path = args.workdir / (args.judge or onnx_path("classifier"))
        if not judge_path.is_file():
            raise ActionFailed(f"judge {judge_path} does not exist; export the classifier first")
        judge = ort_session(judge_path, settings)
        measure = (args.samples_per_class, args.sample_steps, args.cfg_scale, args.seed)
        before = conditional_accuracy(fp32, judge, *measure)
        after = conditional_accuracy(int8, judge, *measure)
        probe = example_inputs("dit", input_size(fp32), 4, np.random.default_rng(args.seed))
    diff = float(np.abs(fp32.run(None, probe)[0] - int8.run(None, probe)[0]).max())
    size_before, size_after = source.stat().st_size, out.stat().st_size
    facts = {
        "kind": args.kind,
        "path": relative(args.workdir, out),
        "weight_type": args.weight_type,
        "op_types": args.op_types,
        "size_before": size_before,
        "size_after": size_after,
        "size_ratio": round(size_after / size_before, 4),
        "metric": metric,
        "fp32": before,
        "int8": after,
        "accuracy_change": round(after - before, 6),
        "max_abs_diff": diff,
        "seconds": round(time.monotonic() - started, 3),
    }
    if before - after > args.max_accuracy_drop:
        raise ActionFailed(
            f"int8 {args.kind} loses {before - after:.3f} {metric} ({before:.3f} -> {after:.3f}"
            f", more than {args.max_accuracy_drop:g}); try weight_type QUInt8 or fewer op_types",
            facts=facts,
        )
    write_record(args.workdir, out, source, facts)
    return facts


# ----------------------------------------------------------------- graphs and their inputs


def _graph_module(kind: Kind, checkpoint: Path) -> tuple[nn.Module, int]:
    """The module that becomes the graph, and its image size."""
    from models.checkpoint import load_classifier, load_dit
    from models.errors import CheckpointError

    try:
        model = load_classifier(checkpoint) if kind == "classifier" else load_dit(checkpoint)
    except CheckpointError as exc:
        raise ActionFailed(f"cannot export: {exc}") from exc
    return (model if kind == "classifier" else guided_step(model)), model.image_size


def guided_step(dit: nn.Module) -> nn.Module:
    """The DiT as one guided velocity evaluation: (x, t, y, cfg_scale) -> velocity; the one
    module models.export exports too, so every caller runs the same graph."""
    from models.export import guided_step as guided

    return guided(dit)


def example_inputs(
    kind: Kind, image_size: int, batch: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Random inputs of a graph (labels include the null label, index 13)."""
    from models.data import NUM_CLASSES

    shape = (batch, 3, image_size, image_size)
    if kind == "classifier":
        return {"image": rng.uniform(-1, 1, shape).astype(np.float32)}
    return {
        "x": rng.standard_normal(shape).astype(np.float32),
        "t": rng.uniform(0, 1, batch).astype(np.float32),
        "y": rng.integers(0, NUM_CLASSES + 1, batch).astype(np.int64),
        "cfg_scale": rng.uniform(1, 5, batch).astype(np.float32),
    }


# ------------------------------------------------------------------- onnxruntime helpers


def input_size(session: Any) -> int:
    """Image side of a graph's first input (N, 3, S, S)."""
    side = session.get_inputs()[0].shape[-1]
    if not isinstance(side, int):
        raise ActionFailed(f"graph input {session.get_inputs()[0].name} has no fixed image size")
    return side


def held_out_split(
    data_root: Path, size: int, exposure: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The held-out split as float images in [-1, 1] and labels; with ``exposure`` (a
    models.train Exposure as a dict), under that map: the inputs a drift retrain is for."""
    from models.data import expose_batch, load_split, to_float
    from models.errors import DatasetError

    try:
        data = load_split(data_root, "test", size)
    except DatasetError as exc:
        raise ActionFailed(f"cannot read the test split: {exc}") from exc
    images = data.images
    if exposure is not None:
        images = expose_batch(images, exposure["scale"], exposure["offset"])
    return to_float(images).numpy(), data.labels.numpy()


def classify(session: Any, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Logits of a classifier graph, resizing images to its input size when they differ."""
    size = input_size(session)
    if images.shape[-1] != size:
        import torch
        import torch.nn.functional as F

        resized = F.interpolate(torch.from_numpy(images), size=(size, size), mode="bilinear")
        images = resized.numpy()
    parts = [
        session.run(None, {"image": images[i : i + batch_size]})[0]
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts)


def accuracy(session: Any, images: np.ndarray, labels: np.ndarray) -> float:
    return float((classify(session, images).argmax(1) == labels).mean())


def sample(session: Any, labels: np.ndarray, steps: int, cfg_scale: float, seed: int) -> np.ndarray:
    """Euler integration from noise (t=0) to data (t=1) with the guided-step graph; unclamped."""
    size = input_size(session)
    n = len(labels)
    x = np.random.default_rng(seed).standard_normal((n, 3, size, size)).astype(np.float32)
    scale = np.full(n, cfg_scale, np.float32)
    for i in range(steps):
        t = np.full(n, i / steps, np.float32)
        (v,) = session.run(None, {"x": x, "t": t, "y": labels.astype(np.int64), "cfg_scale": scale})
        x = x + v / steps
    return x


def breed_labels(samples_per_class: int) -> np.ndarray:
    from models.data import NUM_CLASSES

    return np.repeat(np.arange(NUM_CLASSES), samples_per_class)


def conditional_accuracy(
    dit: Any, judge: Any, samples_per_class: int, steps: int, cfg_scale: float, seed: int
) -> float:
    """Share of guided samples the judge classifies as the breed they were asked for."""
    labels = breed_labels(samples_per_class)
    images = np.clip(sample(dit, labels, steps, cfg_scale, seed), -1, 1)
    return float((classify(judge, images).argmax(1) == labels).mean())
