"""Export a checkpoint for the browser (ONNX) or for publishing (safetensors).

ONNX uses the TorchScript-based exporter (opset 20, dynamic batch axis): it is fast, needs no
onnxscript, and gives plain ops that onnxruntime-web runs. Two choices make the graph faster on
both sides, most where it is slowest, in the browser's WASM kernels (`python -m bench.web_ops`,
headless Chromium against onnxruntime-Python, one thread each; bench/results/web-ops-*):

- opset 20 has a Gelu op with ``approximate="tanh"``: one kernel instead of the eight-op
  formula opset 17 spells out (mostly a gain for onnxruntime-Python);
- LayerNormalization is written as ReduceMean, Sub, Mul, ReduceMean, Add, Sqrt, Div (the same
  arithmetic, within 4e-6): ONNX Runtime Web's LayerNormalization kernel is scalar, 52 us on
  (2, 64, 96) against 18 us for these vectorised ops. ``d * d``, not ``Pow``, so onnxruntime's
  LayerNormFusion does not put the slow kernel back (a test checks).

One guided step of a tiny DiT, int8, against the opset-17 export with LayerNormalization:
browser 3.27 -> 2.87 ms, onnxruntime-Python 0.97 -> 0.91 ms. Inputs and outputs:
- classifier: "image" (N, 3, S, S) in [-1, 1] -> "logits" (N, 13)
- dit: one guided sampling step, "x" (N, 3, S, S), "t" (N,) float, "y" (N,) int64, "cfg_scale" (N,)
  float -> "velocity" (N, 3, S, S). Classifier-free guidance is inside the graph (the
  conditional and null-label rows as one batch of 2N, then v_uncond + s * (v_cond - v_uncond),
  as flow.guided_velocity), so the pipeline, onnxruntime-Python and the web app run this one
  graph and only the sampling loop stays in the caller. cfg_scale 1 gives the conditional model.
"""

from __future__ import annotations

import json
import warnings
from copy import deepcopy
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from models.checkpoint import load_classifier, load_dit, read_checkpoint


def _load(checkpoint: str | Path) -> tuple[str, torch.nn.Module]:
    kind = read_checkpoint(checkpoint)["kind"]
    model = load_classifier(checkpoint) if kind == "classifier" else load_dit(checkpoint)
    return kind, model


class GuidedStep(torch.nn.Module):
    """The DiT as one guided velocity evaluation: (x, t, y, cfg_scale) -> velocity."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x, t, y, cfg_scale):
        null = torch.full_like(y, self.model.num_classes)
        v = self.model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null]))
        v_cond, v_uncond = v.chunk(2)
        return v_uncond + cfg_scale.view(-1, 1, 1, 1) * (v_cond - v_uncond)


def guided_step(dit: torch.nn.Module) -> torch.nn.Module:
    """The module exported as the DiT graph (in eval mode)."""
    return GuidedStep(dit).eval()


DIT_INPUTS = ("x", "t", "y", "cfg_scale")
OPSET = 20  # the first with Gelu (see the module docstring)


class PlainLayerNorm(torch.nn.Module):
    """nn.LayerNorm's arithmetic as plain ops, for the exported graph only (training keeps
    the fused kernel): see the module docstring for why."""

    def __init__(self, norm: torch.nn.LayerNorm):
        super().__init__()
        self.dims = tuple(range(-len(norm.normalized_shape), 0))
        self.eps = norm.eps
        self.weight, self.bias = norm.weight, norm.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x - x.mean(self.dims, keepdim=True)
        y = d / torch.sqrt((d * d).mean(self.dims, keepdim=True) + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


def for_export(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``module`` with every LayerNorm written as plain ops (the same function)."""
    copy = deepcopy(module)
    for parent in list(copy.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.LayerNorm):
                setattr(parent, name, PlainLayerNorm(child))
    return copy.eval()


def write_onnx(
    module: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    out_path: str | Path,
    names: list[str],
    outputs: list[str],
    opset: int = OPSET,
    plain_norms: bool = True,
) -> Path:
    """The one export of a graph module (every caller's): a dynamic batch axis on every
    input and output, LayerNorms as plain ops (``plain_norms=False`` only for bench.web_ops,
    which measures what that saves)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but supported
        torch.onnx.export(
            for_export(module) if plain_norms else module.eval(),
            example,
            str(out_path),
            input_names=names,
            output_names=outputs,
            dynamic_axes={n: {0: "batch"} for n in names + outputs},
            opset_version=opset,
            dynamo=False,
        )
    return Path(out_path)


def export_onnx(checkpoint: str | Path, out_path: str | Path, opset: int = OPSET) -> Path:
    """Write the EMA model of a checkpoint as one ONNX file with a dynamic batch axis."""
    kind, model = _load(checkpoint)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    s = model.image_size
    if kind == "classifier":
        args: tuple[torch.Tensor, ...] = (torch.zeros(2, 3, s, s),)
        names, outputs = ["image"], ["logits"]
    else:
        model = guided_step(model)
        args = (
            torch.zeros(2, 3, s, s),
            torch.full((2,), 0.5),
            torch.zeros(2, dtype=torch.long),
            torch.full((2,), 4.0),
        )
        names, outputs = list(DIT_INPUTS), ["velocity"]
    return write_onnx(model, args, out_path, names, outputs, opset)


def export_safetensors(checkpoint: str | Path, out_path: str | Path) -> Path:
    """Write the EMA weights as safetensors, with kind and arch as JSON metadata."""
    state = read_checkpoint(checkpoint)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous() for k, v in state["ema"].items()}
    metadata: dict[str, Any] = {"kind": state["kind"], "arch": json.dumps(state["arch"])}
    save_file(tensors, str(out_path), metadata={k: str(v) for k, v in metadata.items()})
    return out_path
