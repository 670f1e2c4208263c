"""Checkpoints: one file holding everything a run needs to continue exactly where it stopped.

Contents: kind ("classifier" | "dit"), arch (to rebuild the network), model and EMA weights,
optimizer and scheduler state, step, micro-batch size (after OOM halving), the global RNG states
(torch, CUDA, numpy, python) and the run's config. Only plain types and tensors are stored, so
files load with torch.load(weights_only=True). Writes are atomic (temp file, then rename): a run
killed while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from models.classifier import BreedClassifier, ClassifierConfig
from models.dit import DiT, DiTConfig
from models.errors import CheckpointError

FORMAT_VERSION = 1
Kind = Literal["classifier", "dit"]


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write payload (plus the format version) atomically to path.

    The temp file is created exclusively under a random name, so a link planted at a
    predictable name is never written through; the rename replaces a link at ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save({"format_version": FORMAT_VERSION, **payload}, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path: str | Path, kind: Kind | None = None) -> dict[str, Any]:
    """Load a checkpoint file, checking that it is one of ours and of the expected kind."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: checkpoint not found; train one with `python -m models train`"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(e).__name__}); expected a file written "
            f"by models.train (truncated or foreign files fail here)"
        ) from None
    if not isinstance(state, dict) or "kind" not in state or "arch" not in state:
        raise CheckpointError(f"{path}: not a models/ checkpoint (no 'kind' and 'arch' entries)")
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {state.get('format_version')}, expected {FORMAT_VERSION}"
        )
    if kind is not None and state["kind"] != kind:
        raise CheckpointError(f"{path}: is a {state['kind']} checkpoint, expected a {kind} one")
    return state


def rng_state() -> dict[str, Any]:
    """The global RNG states, as plain types."""
    np_state = np.random.get_state(legacy=False)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "state": np_state["state"]["key"].tolist(),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what rng_state() returned."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": np.array(n["state"], dtype=np.uint32), "pos": n["pos"]},
            "has_gauss": n["has_gauss"],
            "gauss": n["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _weights(state: dict[str, Any], path: Path, ema: bool) -> dict[str, torch.Tensor]:
    key = "ema" if ema else "model"
    if key not in state:
        raise CheckpointError(f"{path}: holds no '{key}' weights")
    return state[key]


def load_classifier(
    path: str | Path, ema: bool = True, device: str | torch.device = "cpu"
) -> BreedClassifier:
    """A ready eval-mode classifier from a checkpoint (EMA weights by default)."""
    path = Path(path)
    state = read_checkpoint(path, "classifier")
    model = BreedClassifier(ClassifierConfig(**state["arch"]))
    model.load_state_dict(_weights(state, path, ema))
    return model.to(device).eval()


def load_dit(path: str | Path, ema: bool = True, device: str | torch.device = "cpu") -> DiT:
    """A ready eval-mode DiT from a checkpoint (EMA weights by default)."""
    path = Path(path)
    state = read_checkpoint(path, "dit")
    model = DiT(DiTConfig(**state["arch"]))
    model.load_state_dict(_weights(state, path, ema))
    return model.to(device).eval()
