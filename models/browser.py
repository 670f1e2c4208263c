"""The web app's numbers, computed the same way in Python, so the page can be checked.

The page (web/src/noise.ts, sampler.ts, image.ts) starts a generation from seeded noise and
integrates the exported guided-step graph with the samplers of models/flow.py. These are the
same three pieces over numpy and an onnxruntime session: mulberry32 integers (exact in any
language: 32-bit arithmetic only) and Box-Muller in float64, rounded to float32; the float32
times and steps of the page's loop; and the page's pixel conversions. Tests and bench/web.py
compare the browser with these; tests/test_web_reference.py ties them to models/flow.py.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

MASK = 0xFFFFFFFF
Method = Literal["euler", "heun"]


def mulberry32(seed: int, count: int) -> list[int]:
    """The first ``count`` unsigned 32-bit outputs of mulberry32 seeded with ``seed``."""

    def imul(a: int, b: int) -> int:
        return (a * b) & MASK

    state, out = seed & MASK, []
    for _ in range(count):
        state = (state + 0x6D2B79F5) & MASK
        t = imul(state ^ (state >> 15), state | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & MASK
        out.append((t ^ (t >> 14)) & MASK)
    return out


def seeded_noise(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal float32 noise of ``shape``, equal to the page's seededNoise(seed, n)."""
    n = math.prod(shape)
    ints = mulberry32(seed, n + (n % 2))
    out = np.empty(n + (n % 2), np.float64)
    for i in range(0, len(ints), 2):
        u1 = (ints[i] + 0.5) / 4294967296
        u2 = (ints[i + 1] + 0.5) / 4294967296
        r = math.sqrt(-2 * math.log(u1))
        out[i], out[i + 1] = r * math.cos(2 * math.pi * u2), r * math.sin(2 * math.pi * u2)
    return out[:n].astype(np.float32).reshape(shape)


def step_times(steps: int) -> np.ndarray:
    """0, 1/steps, ..., 1 in float32, as the page and torch.linspace(0, 1, steps + 1)."""
    return (np.arange(steps + 1, dtype=np.float64) / steps).astype(np.float32)


def sample(
    session: Any,
    label: int,
    steps: int,
    cfg_scale: float,
    method: Method,
    noise: np.ndarray,
) -> np.ndarray:
    """One image (1, 3, S, S) in [-1, 1] from ``noise`` with the guided-step graph."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    y = np.array([label], np.int64)
    scale = np.array([cfg_scale], np.float32)

    def velocity(x: np.ndarray, t: np.float32) -> np.ndarray:
        feed = {"x": x, "t": np.array([t], np.float32), "y": y, "cfg_scale": scale}
        return session.run(None, feed)[0]

    ts = step_times(steps)
    x = noise.astype(np.float32)
    for i in range(steps):
        dt = np.float32(ts[i + 1] - ts[i])
        v0 = velocity(x, ts[i])
        if method == "euler":
            x = x + dt * v0
        else:
            v1 = velocity(x + dt * v0, ts[i + 1])
            x = x + dt * (np.float32(0.5) * (v0 + v1))
    return np.clip(x, -1, 1)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """(3, S, S) in [-1, 1] -> (S, S, 3) uint8, as the page draws it (models.data.to_uint8)."""
    return np.clip(np.round((image + 1) * 127.5), 0, 255).astype(np.uint8).transpose(1, 2, 0)


def to_tensor(pixels: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 -> (1, 3, S, S) float32 in [-1, 1], as the page feeds the classifier."""
    return (pixels.astype(np.float32) / np.float32(127.5) - 1).transpose(2, 0, 1)[None]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max()
    e = np.exp(z)
    return e / e.sum()
