"""Drift statistics (models/drift.py) on hand-built samples: KS and PSI, and the features."""

from __future__ import annotations

import numpy as np
import pytest

from models.drift import FEATURES, compare, image_features, psi


def test_drift_statistics_on_hand_built_samples() -> None:
    rng = np.random.default_rng(0)
    same = rng.normal(size=(400, len(FEATURES))), rng.normal(size=(400, len(FEATURES)))
    assert not compare(same[0].tolist(), same[1].tolist())["drift"]
    moved = compare(same[0].tolist(), (same[1] + np.eye(len(FEATURES))[0] * 0.8).tolist())
    assert moved["drifted"] == ["mean_r"] and moved["features"]["mean_r"]["psi"] > 0.2
    few = compare(same[0].tolist(), same[1][:20].tolist())
    assert few["reason"] == "insufficient" and not few["drift"]
    # PSI by hand: reference uniform over 10 deciles, recent all in the lowest one
    ref = np.arange(1000) / 1000
    expected = (1 - 0.1) * np.log(1 / 0.1) + 9 * (1e-4 - 0.1) * np.log(1e-4 / 0.1)
    assert psi(ref, np.full(100, 0.01)) == pytest.approx(expected, rel=1e-6)
    flat = np.full((8, 8, 3), 128, np.uint8)
    assert image_features(flat)[-1] == 0 and image_features(flat)[0] == pytest.approx(128 / 255)
