"""models.export: ONNX (checked against onnxruntime) and safetensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from conftest_models import one_torch_thread  # noqa: F401  (autouse fixture)
from safetensors import safe_open

from models.checkpoint import load_classifier, load_dit, save_checkpoint
from models.classifier import build_classifier
from models.dit import build
from models.export import export_onnx, export_safetensors
from models.flow import guided_velocity


def _checkpoint(tmp_path: Path, kind: str) -> Path:
    torch.manual_seed(0)
    model = build_classifier(image_size=32) if kind == "classifier" else build("tiny", depth=2)
    for p in model.parameters():  # leave the zero start so the output is not trivially 0
        p.data.add_(torch.randn_like(p) * 0.02)
    state = model.state_dict()
    return save_checkpoint(
        tmp_path / f"{kind}.pt", {"kind": kind, "arch": model.arch(), "model": state, "ema": state}
    )


def test_classifier_onnx_matches_torch_with_a_dynamic_batch(tmp_path: Path):
    ckpt = _checkpoint(tmp_path, "classifier")
    path = export_onnx(ckpt, tmp_path / "clf.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    (logits,) = session.run(None, {"image": x.numpy()})
    with torch.no_grad():
        expected = load_classifier(ckpt)(x).numpy()
    assert logits.shape == (5, 13)
    np.testing.assert_allclose(logits, expected, atol=1e-4)


def test_dit_onnx_is_the_guided_step_of_flow(tmp_path: Path):
    """The exported graph has the CFG input: flow.guided_velocity, one row per image."""
    ckpt = _checkpoint(tmp_path, "dit")
    path = export_onnx(ckpt, tmp_path / "dit.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x", "t", "y", "cfg_scale"]
    x, t, y = torch.randn(3, 3, 32, 32), torch.rand(3), torch.tensor([0, 4, 12])
    model = load_dit(ckpt)
    for scale in (1.0, 4.0):
        feed = {"x": x.numpy(), "t": t.numpy(), "y": y.numpy()}
        (v,) = session.run(None, {**feed, "cfg_scale": np.full(3, scale, np.float32)})
        with torch.no_grad():
            expected = guided_velocity(model, x, t, y, scale).numpy()
        np.testing.assert_allclose(v, expected, atol=1e-4)


def test_safetensors_holds_the_ema_weights_and_arch(tmp_path: Path):
    ckpt = _checkpoint(tmp_path, "dit")
    path = export_safetensors(ckpt, tmp_path / "dit.safetensors")
    with safe_open(str(path), "pt") as f:
        assert f.metadata()["kind"] == "dit" and '"depth": 2' in f.metadata()["arch"]
        assert torch.equal(f.get_tensor("final_layer.linear.weight"),
                           load_dit(ckpt).final_layer.linear.weight)  # fmt: skip


def test_the_dit_graph_keeps_the_ops_the_browser_runs_fast(tmp_path: Path):
    """One Gelu op, and LayerNorm as plain ops, also after onnxruntime's own fusions (which
    would put back the kernel that is scalar in WASM): see models.export."""
    import onnx

    path = export_onnx(_checkpoint(tmp_path, "dit"), tmp_path / "dit.onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for graph in (path, tmp_path / "optimized.onnx"):
        ops = {node.op_type for node in onnx.load(str(graph)).graph.node}
        assert "LayerNormalization" not in ops and "Tanh" not in ops, graph
    assert "Gelu" in {n.op_type for n in onnx.load(str(path)).graph.node}


def test_for_export_keeps_every_layer_norms_function():
    from models.export import PlainLayerNorm, for_export

    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.LayerNorm(8, elementwise_affine=False, eps=1e-6),
        torch.nn.Linear(8, 8),
        torch.nn.Sequential(torch.nn.LayerNorm((2, 4), eps=1e-5)),
    )
    with torch.no_grad():
        model[2][0].weight.uniform_(0.5, 2)
        model[2][0].bias.uniform_(-1, 1)
    plain = for_export(model)
    assert isinstance(plain[0], PlainLayerNorm) and isinstance(plain[2][0], PlainLayerNorm)
    assert isinstance(model[0], torch.nn.LayerNorm)  # the model itself is left as it was
    x = torch.randn(5, 8) * 3 + 1
    with torch.no_grad():
        a = model[2](model[1](model[0](x)).view(5, 2, 4))
        b = plain[2](plain[1](plain[0](x)).view(5, 2, 4))
    torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
