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


def test_an_exposure_drift_is_fitted_and_the_fitted_map_makes_training_data_look_served(
    tmp_path,
) -> None:
    """The load generator's brightening, measured as the server measures it (decoded images
    resized to the model's size): drift, and the map a retrain trains on. The training images
    under that map no longer drift from the served ones."""
    from models.drift import dataset_profile, fit_exposure
    from models.loadgen import shifted_jpeg
    from models.pets import expose, load_image, make_synthetic_pets, read_annotations

    root = make_synthetic_pets(tmp_path / "pets", per_class=16, size=48)
    size, shift = 32, 0.35
    reference = dataset_profile(root, size)["rows"]
    served = []
    for i, record in enumerate(read_annotations(root, "trainval")):
        path = tmp_path / f"served{i}.jpg"
        path.write_bytes(shifted_jpeg(record.path, shift))
        served.append(image_features(load_image(path, size)).tolist())
    report = compare(reference, served)
    assert report["drift"] and {"mean_r", "mean_g", "mean_b"} <= set(report["drifted"])
    exposure = report["exposure"]
    assert exposure["scale"] == pytest.approx([1 - shift] * 3, abs=0.03)
    assert exposure["offset"] == pytest.approx([shift] * 3, abs=0.03)

    images = np.stack([load_image(r.path, size) for r in read_annotations(root, "trainval")])
    mapped = expose(images, **exposure)
    rows = [image_features(x).tolist() for x in mapped]
    after = compare(rows, served)
    assert not (set(after["drifted"]) & {"mean_r", "mean_g", "mean_b", "std_r", "std_g", "std_b"})
    # identity is a no-op; only sharpness drifted: there is no exposure map to fit
    assert np.array_equal(expose(mapped, [1, 1, 1], [0, 0, 0]), mapped)
    same = np.asarray(reference)
    assert fit_exposure(same, same) == {"scale": [1.0] * 3, "offset": [0.0] * 3}
    blurred = same.copy()
    blurred[:, -1] *= 0.2
    sharpness = compare(reference, blurred.tolist())
    assert sharpness["drifted"] == ["gradient"] and "exposure" not in sharpness


@pytest.mark.slow
def test_the_drift_benchmark_runs_end_to_end() -> None:
    """bench.drift with tiny trainings: the sensor finds the drift, both variants train and
    are judged (the figures themselves come from the full run, bench/results/)."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    done = subprocess.run(
        [sys.executable, "-m", "bench.drift", "--seeds", "1", "--steps", "3", "--shift", "0.35",
         "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads(done.stdout)["shifts"]["0.35"]
    assert row["exposure"]["offset"] == pytest.approx([0.35] * 3, abs=0.04)
    for variant in ("plain", "drift"):
        assert 0 <= row[variant]["shifted"] <= 1 and 0 <= row[variant]["clean"] <= 1
    assert row["ratio_shifted"] == pytest.approx(row["drift"]["shifted"] / row["plain"]["shifted"])
