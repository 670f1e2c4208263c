"""The quality bars, measured for real on the generated dataset (seeded, CPU):

- the classifier reaches >= 95% accuracy on the held-out split;
- after a short training of the tiny DiT, the classifier recognises the requested breed in a
  clearly higher share of samples with CFG than without, and than chance (1/13).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest_models import one_torch_thread, pets_root, trained_classifier, trained_dit  # noqa: F401  (fixtures)

from models.data import BREEDS
from models.evaluate import evaluate_classifier, evaluate_generator


@pytest.mark.slow
def test_classifier_reaches_95_percent_on_held_out_data(trained_classifier, pets_root, tmp_path):  # noqa: F811
    assert trained_classifier.completed
    report = evaluate_classifier(trained_classifier.checkpoint, pets_root, "test",
                                 tmp_path / "report.json")  # fmt: skip
    print(f"classifier held-out accuracy: {report['accuracy']:.4f} on {report['images']} images")
    assert report["images"] == 13 * 30
    assert report["accuracy"] >= 0.95
    assert report["accuracy"] == pytest.approx(trained_classifier.final_metrics["val_accuracy"])
    cm = report["confusion_matrix"]
    assert sum(map(sum, cm)) == report["images"] and len(cm) == len(BREEDS)
    assert json.loads((tmp_path / "report.json").read_text())["accuracy"] == report["accuracy"]


@pytest.mark.slow
def test_cfg_samples_are_recognised_as_the_requested_breed(
    trained_dit,  # noqa: F811
    trained_classifier,  # noqa: F811
    pets_root,  # noqa: F811
    tmp_path: Path,
):
    assert trained_dit.completed and trained_dit.samples
    report = evaluate_generator(
        trained_dit.checkpoint, trained_classifier.checkpoint, pets_root, tmp_path,
        samples_per_class=16, steps=20, cfg_scale=5.0, seed=0,
    )  # fmt: skip
    chance = report["chance"]
    print(
        f"recognised: CFG {report['share_cfg']:.3f}, no CFG {report['share_no_cfg']:.3f}, "
        f"chance {chance:.3f}; FD CFG {report['fd_cfg']:.3f}, no CFG {report['fd_no_cfg']:.3f}, "
        f"real vs real {report['fd_real_trainval_vs_test']:.3f}"
    )
    assert report["share_cfg"] >= report["share_no_cfg"] + 0.15
    assert report["share_cfg"] >= 4 * chance
    assert len(report["grids"]) == 13 and all(Path(g).is_file() for g in report["grids"])
    assert (tmp_path / "report.json").is_file()
