"""Flow matching, kept apart from the network: the training objective and the samplers.

Convention (rectified flow / Lipman et al.): x_t = (1 - t) * noise + t * data on a straight
path, so t = 0 is pure noise, t = 1 is data, and the network regresses the constant velocity
data - noise. Sampling integrates dx/dt = v(x, t) from t = 0 to 1 (Euler or Heun).

Classifier-free guidance: during training a share of labels is replaced by the null label;
when sampling, v = v_uncond + s * (v_cond - v_uncond), both from one batched forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

TimeSampling = Literal["uniform", "logit_normal"]
Method = Literal["euler", "heun"]


def sample_t(
    n: int,
    sampling: TimeSampling,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """n training times in (0, 1): uniform, or logit-normal (sigmoid of N(0, 1), as in SD3),
    which spends more steps on the middle of the path where the velocity is hardest."""
    if sampling == "uniform":
        return torch.rand(n, generator=generator, device=device)
    if sampling == "logit_normal":
        return torch.sigmoid(torch.randn(n, generator=generator, device=device))
    raise ValueError(f"time sampling must be 'uniform' or 'logit_normal', got {sampling!r}")


def drop_labels(
    y: torch.Tensor, p: float, null_label: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Replace each label by the null label with probability p (CFG training)."""
    if p <= 0:
        return y
    drop = torch.rand(y.shape, generator=generator, device=y.device) < p
    return torch.where(drop, torch.full_like(y, null_label), y)


def flow_matching_loss(
    model: nn.Module,
    x1: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator | None = None,
    time_sampling: TimeSampling = "logit_normal",
    label_dropout: float = 0.1,
) -> torch.Tensor:
    """Mean squared error between the predicted and the straight-path velocity.

    x1: data in [-1, 1] (N, C, H, W); y: labels (N,). The noise, the times and the dropped
    labels are drawn from `generator` (on x1's device), so a step is reproducible from its seed.
    """
    x0 = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
    t = sample_t(x1.shape[0], time_sampling, generator, x1.device)
    y = drop_labels(y, label_dropout, model.num_classes, generator)
    tb = t.view(-1, *([1] * (x1.dim() - 1)))
    xt = (1 - tb) * x0 + tb * x1
    return F.mse_loss(model(xt, t, y).float(), (x1 - x0).float())


def guided_velocity(
    model: nn.Module, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, cfg_scale: float
) -> torch.Tensor:
    """The velocity with classifier-free guidance. cfg_scale 1 is the plain conditional model
    (one forward of N); any other scale runs cond and uncond as one batch of 2N."""
    if cfg_scale == 1.0:
        return model(x, t, y)
    null = torch.full_like(y, model.num_classes)
    v = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null]))
    v_cond, v_uncond = v.chunk(2)
    return v_uncond + cfg_scale * (v_cond - v_uncond)


@torch.no_grad()
def sample(
    model: nn.Module,
    y: torch.Tensor | Sequence[int],
    steps: int = 50,
    cfg_scale: float = 4.0,
    seed: int = 0,
    method: Method = "euler",
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Generate one image per label in y, in [-1, 1], shape (N, C, H, W).

    The starting noise comes from a CPU generator seeded with `seed` (the same images on any
    device for a given seed), unless `noise` is given. Euler takes `steps` model evaluations
    (times 2 with guidance); Heun takes twice as many and is second-order accurate.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun', got {method!r}")
    device = next(model.parameters()).device
    y = torch.as_tensor(y, dtype=torch.long).to(device)
    if y.dim() != 1 or y.numel() == 0:
        raise ValueError("y must be a non-empty 1-D sequence of class indices")
    if int(y.min()) < 0 or int(y.max()) > model.num_classes:
        raise ValueError(f"labels must lie in 0..{model.num_classes} (the last is the null label)")
    shape = (y.numel(), model.in_channels, model.image_size, model.image_size)
    if noise is None:
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    x = noise.to(device=device, dtype=torch.float32)
    ts = torch.linspace(0, 1, steps + 1, device=device)
    for i in range(steps):
        t0, t1 = ts[i], ts[i + 1]
        dt = t1 - t0
        v0 = guided_velocity(model, x, t0.expand(x.shape[0]), y, cfg_scale).float()
        if method == "euler":
            x = x + dt * v0
        else:
            x_pred = x + dt * v0
            v1 = guided_velocity(model, x_pred, t1.expand(x.shape[0]), y, cfg_scale).float()
            x = x + dt * 0.5 * (v0 + v1)
    return x.clamp(-1, 1)
