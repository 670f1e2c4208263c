"""summarise() over a metrics.jsonl as models.train writes it."""

import json
from pathlib import Path

from cats.monitor import summarise


def test_summarise_reads_losses_speed_and_periodic_metrics(tmp_path: Path) -> None:
    lines = [
        {"step": 0, "event": "data", "train_images": 10},
        {"step": 1, "loss": 2.0, "images_per_s": 100.0},
        {"step": 2, "loss": 1.5, "images_per_s": 300.0},
        {"step": 2, "event": "periodic", "val_accuracy": 0.5},
    ]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    summary = summarise(path)
    assert summary["steps"] == 2 and summary["last_loss"] == 1.5 and summary["best_loss"] == 1.5
    assert summary["images_per_s"] == 200.0
    assert summary["periodic"] == {"val_accuracy": 0.5}


def test_an_empty_run_has_no_losses(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text("")
    assert summarise(path) == {
        "steps": 0,
        "last_loss": None,
        "best_loss": None,
        "images_per_s": None,
        "periodic": {},
    }
