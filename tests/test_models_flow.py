"""models.flow: the flow-matching objective and the Euler / Heun samplers with CFG."""

from __future__ import annotations

import pytest
import torch
from conftest_models import one_torch_thread  # noqa: F401  (autouse fixture)
from torch import nn

from models import flow
from models.dit import build


class ConstantVelocity(nn.Module):
    """v(x, t, y) = table[y]: integrating from 0 to 1 moves x by exactly table[y]."""

    def __init__(self, num_classes: int = 3, size: int = 4):
        super().__init__()
        self.num_classes, self.in_channels, self.image_size = num_classes, 3, size
        self.table = nn.Parameter(torch.randn(num_classes + 1, 3, size, size) * 0.1)
        self.batch_sizes: list[int] = []

    def forward(self, x, t, y):
        self.batch_sizes.append(x.shape[0])
        return self.table[y].expand_as(x)


def test_time_sampling_ranges():
    g = torch.Generator().manual_seed(0)
    for sampling in ("uniform", "logit_normal"):
        t = flow.sample_t(10_000, sampling, g)
        assert t.min() > 0 and t.max() < 1
    t = flow.sample_t(10_000, "logit_normal", g)
    assert abs(float(t.mean()) - 0.5) < 0.01 and float(t.std()) < 0.25  # mass in the middle
    with pytest.raises(ValueError):
        flow.sample_t(2, "cosine")


def test_label_dropout_uses_the_null_label():
    g = torch.Generator().manual_seed(0)
    y = torch.zeros(10_000, dtype=torch.long)
    dropped = flow.drop_labels(y, 0.1, 13, g)
    assert set(dropped.unique().tolist()) == {0, 13}
    assert abs(float((dropped == 13).float().mean()) - 0.1) < 0.01
    assert torch.equal(flow.drop_labels(y, 0.0, 13, g), y)


def test_loss_target_is_the_straight_path_velocity():
    """A model that returns the true velocity (data - noise) has zero loss."""

    class Oracle(nn.Module):
        num_classes = 3

        def __init__(self, x1):
            super().__init__()
            self.x1 = x1

        def forward(self, xt, t, y):
            tb = t.view(-1, 1, 1, 1)
            x0 = (xt - tb * self.x1) / (1 - tb)
            return self.x1 - x0

    x1 = torch.rand(4, 3, 8, 8) * 2 - 1
    loss = flow.flow_matching_loss(Oracle(x1), x1, torch.zeros(4, dtype=torch.long),
                                   torch.Generator().manual_seed(0), "uniform")  # fmt: skip
    assert float(loss) < 1e-8


def test_loss_is_reproducible_from_the_generator():
    torch.manual_seed(0)
    model = build("tiny", depth=1)
    x1, y = torch.rand(4, 3, 32, 32) * 2 - 1, torch.arange(4)
    losses = [
        flow.flow_matching_loss(model, x1, y, torch.Generator().manual_seed(s)) for s in (1, 1, 2)
    ]
    assert torch.equal(losses[0], losses[1]) and not torch.equal(losses[0], losses[2])


@pytest.mark.parametrize("method", ["euler", "heun"])
@pytest.mark.parametrize("steps", [1, 3, 10])
def test_samplers_integrate_exactly_with_guidance(method: str, steps: int):
    torch.manual_seed(0)
    model = ConstantVelocity()
    y = torch.tensor([0, 2, 1])
    noise = torch.randn(3, 3, 4, 4) * 0.1
    out = flow.sample(model, y, steps=steps, cfg_scale=2.5, method=method, noise=noise)
    table = model.table.detach()
    guided = table[3] + 2.5 * (table[y] - table[3])  # v_uncond + s (v_cond - v_uncond)
    assert torch.allclose(out, (noise + guided).clamp(-1, 1), atol=1e-5)
    # One batched forward per evaluation: cond and uncond together (2N rows).
    evals = steps * (2 if method == "heun" else 1)
    assert model.batch_sizes == [6] * evals


def test_cfg_scale_one_is_the_plain_conditional_model():
    model = ConstantVelocity()
    out = flow.sample(model, [1, 1], steps=4, cfg_scale=1.0, seed=0)
    assert model.batch_sizes == [2] * 4
    noise = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, (noise + model.table.detach()[1]).clamp(-1, 1), atol=1e-5)


def test_sampling_is_seeded_and_in_range():
    torch.manual_seed(0)
    model = build("tiny", depth=1).eval()
    for p in model.parameters():
        p.data.add_(torch.randn_like(p) * 0.05)
    a = flow.sample(model, [0, 12], steps=3, cfg_scale=3.0, seed=7)
    b = flow.sample(model, [0, 12], steps=3, cfg_scale=3.0, seed=7)
    c = flow.sample(model, [0, 12], steps=3, cfg_scale=3.0, seed=8)
    assert a.shape == (2, 3, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= -1 and a.max() <= 1
    h = flow.sample(model, [0, 12], steps=3, cfg_scale=3.0, seed=7, method="heun")
    assert not torch.equal(a, h)


def test_sample_rejects_bad_arguments():
    model = ConstantVelocity()
    with pytest.raises(ValueError, match="steps"):
        flow.sample(model, [0], steps=0)
    with pytest.raises(ValueError, match="method"):
        flow.sample(model, [0], method="rk4")
    with pytest.raises(ValueError, match="labels must lie"):
        flow.sample(model, [5])
