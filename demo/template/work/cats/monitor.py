"""Summarise a training run from its metrics.jsonl (one JSON object per line, models.train)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def summarise(path: str | Path) -> dict[str, Any]:
    """Steps, last and best loss, mean throughput and the periodic metrics of a run."""
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    losses = [r for r in records if "loss" in r]
    speeds = [r["images_per_s"] for r in losses if "images_per_s" in r]
    periodic = [r for r in records if r.get("event") == "periodic"]
    return {
        "steps": max((r["step"] for r in losses), default=0),
        "last_loss": losses[-1]["loss"] if losses else None,
        "best_loss": min((r["loss"] for r in losses), default=None),
        "images_per_s": sum(speeds) / len(speeds) if speeds else None,
        "periodic": {k: v for r in periodic for k, v in r.items() if k not in ("step", "event")},
    }
