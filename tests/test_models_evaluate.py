"""models.evaluate: the Frechet distance and the confusion matrix (the reports are exercised by
test_models_quality and test_models_cli)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest_models import one_torch_thread  # noqa: F401  (autouse fixture)

from models.evaluate import confusion_matrix, frechet_distance


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20_000, 4))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    # Same covariance, mean shifted by (1, 2, 0, 0): FD = |shift|^2 = 5.
    assert frechet_distance(a, a + [1, 2, 0, 0]) == pytest.approx(5, abs=1e-6)
    # N(0, I) vs N(0, 9 I) in 4 dims: 4 * (1 - 3)^2 = 16.
    assert frechet_distance(a, 3 * rng.normal(size=(20_000, 4))) == pytest.approx(16, rel=0.03)
    # Fewer samples than dimensions (singular covariances) still gives a finite value.
    assert np.isfinite(frechet_distance(rng.normal(size=(5, 16)), rng.normal(size=(7, 16))))


def test_confusion_matrix_rows_are_true_classes():
    target = torch.tensor([0, 0, 1, 2, 2, 2])
    pred = torch.tensor([0, 1, 1, 2, 0, 2])
    cm = confusion_matrix(pred, target, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
