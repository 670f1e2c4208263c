"""models.browser (what the page computes, in Python) against models.flow: the same samplers
over the exported guided-step graph give flow.sample's images from the same noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from conftest_models import one_torch_thread  # noqa: F401  (autouse fixture)

from models import browser
from models.checkpoint import load_dit, save_checkpoint
from models.dit import build
from models.export import export_onnx
from models.flow import sample


@pytest.fixture(scope="module")
def dit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = build("tiny", depth=2)
    for p in model.parameters():  # leave the zero start so the velocity is not trivially 0
        p.data.add_(torch.randn_like(p) * 0.02)
    state = model.state_dict()
    root = tmp_path_factory.mktemp("dit")
    return save_checkpoint(root / "dit.pt", {"kind": "dit", "arch": model.arch(), "model": state,
                                              "ema": state})  # fmt: skip


@pytest.mark.parametrize(("method", "steps", "cfg"), [("euler", 6, 4.0), ("heun", 3, 1.0)])
def test_the_page_sampler_over_onnx_equals_flow_sample(dit: Path, tmp_path: Path, method, steps,
                                                      cfg):  # fmt: skip
    graph = export_onnx(dit, tmp_path / "dit.onnx")
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    noise = browser.seeded_noise(7, (1, 3, 32, 32))
    got = browser.sample(session, 3, steps, cfg, method, noise)
    expected = sample(load_dit(dit), [3], steps, cfg, method=method, noise=torch.from_numpy(noise))
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-4)
    assert np.abs(got - noise.clip(-1, 1)).max() > 1e-3  # the steps moved the image


def test_noise_is_deterministic_and_seeds_differ():
    a, b = browser.seeded_noise(1, (2, 3)), browser.seeded_noise(2, (2, 3))
    assert a.dtype == np.float32 and np.array_equal(a, browser.seeded_noise(1, (2, 3)))
    assert not np.array_equal(a, b)
    assert browser.mulberry32(0, 2) == [1144304738, 1416247]  # mulberry32's published start
