"""Shared fixtures of the models/ tests: a generated dataset and the two trained models.

Imported by the test modules (`from conftest_models import ...`). The expensive objects are
built once per session through a module-level cache, whichever module asks first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

from models.data import make_synthetic_pets

_CACHE: dict[str, Any] = {}

# The quality-bar data: 100 images per class at 32x32 (70 train / 30 test), seeded.
PETS = {"per_class": 100, "size": 32, "seed": 0}
CLASSIFIER = {"steps": 400, "batch_size": 32, "warmup_steps": 20, "image_size": 32, "seed": 0}
DIT = {
    "preset": "tiny", "steps": 600, "batch_size": 32, "lr": 1.5e-3, "warmup_steps": 50,
    "ema_decay": 0.995, "seed": 0,
}  # fmt: skip


# One intra-op thread: on a shared 2-core machine two OpenMP threads spin against the other
# processes and run several times slower (measured: 0.22 s vs 1.0 s per DiT step under load).
THREADS = int(os.environ.get("MODELS_TEST_THREADS", "1"))


@contextmanager
def torch_threads(n: int = THREADS) -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Autouse in every module that imports it: the module's tests run with THREADS threads."""
    with torch_threads():
        yield


def cached(key: str, build: Callable[[], Any]) -> Any:
    if key not in _CACHE:
        with torch_threads():
            _CACHE[key] = build()
    return _CACHE[key]


@pytest.fixture(scope="session")
def pets_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated dataset used by the quality bars (session-wide)."""
    return cached("pets", lambda: make_synthetic_pets(tmp_path_factory.mktemp("pets"), **PETS))


@pytest.fixture
def small_pets(tmp_path: Path) -> Path:
    """A fresh small dataset (6 images per class, 32x32) that a test may damage."""
    return make_synthetic_pets(tmp_path / "pets", per_class=6, size=32, seed=1)


@pytest.fixture(scope="session")
def trained_classifier(pets_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """TrainResult of the classifier trained on pets_root (session-wide)."""
    from models.train import train_classifier

    def build():
        out = tmp_path_factory.mktemp("classifier")
        return train_classifier(
            {"data_root": pets_root, "out_dir": out, "progress": False, **CLASSIFIER}
        )

    return cached("classifier", build)


@pytest.fixture(scope="session")
def trained_dit(pets_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """TrainResult of the tiny DiT trained on pets_root (session-wide)."""
    from models.train import train_dit

    def build():
        out = tmp_path_factory.mktemp("dit")
        return train_dit({"data_root": pets_root, "out_dir": out, "progress": False, **DIT})

    return cached("dit", build)
