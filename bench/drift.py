"""Does a drift retrain help? Accuracy on drifted inputs, a re-exposed retrain against a plain one.

The demo's setting: the generated dataset (40 images per class, 32 px), the demo's classifier
training (250 steps, batch 32). The drift is the load generator's exposure shift
(``models.loadgen.shifted_jpeg``: brighter for shift > 0, darker below), applied to the files
and re-encoded as JPEG, as a client would send them. Per shift:

1. the drift report, as the server's sensor makes it: the features of the shifted trainval
   images against the training data's (``models.drift.compare``), and its exposure map;
2. for each seed, two trainings that differ only in the data: the baseline (a plain retrain,
   what T10 did before: a new seed, the same data) and the drift retrain (half of each batch
   under the fitted map, ``models.train`` ``exposure``);
3. both judged on the test split as it arrives shifted (the real shifted JPEGs, not the fitted
   map) and unshifted.

Printed: mean accuracy per variant and the ratio drift retrain / baseline on the shifted test
split (above 1: the retrain helps), and on the clean split (near 1: it did not forget).
The generated images make the task easy (colour and texture separate the breeds): the absolute
accuracies say little about Oxford-IIIT Pet; the ratio under the same drift is the figure.

    python -m bench.drift [--shift 0.35 --shift -0.35] [--seeds 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np


def shifted_split(root: Path, split: str, size: int, shift: float, folder: Path):
    """The split's images as a client sends them after the drift: (uint8 N,3,S,S, labels)."""
    import torch

    from models.loadgen import shifted_jpeg
    from models.pets import load_image, read_annotations

    folder.mkdir(parents=True, exist_ok=True)
    images, labels = [], []
    for i, record in enumerate(read_annotations(root, split)):  # type: ignore[arg-type]
        path = folder / f"{i}.jpg"
        path.write_bytes(shifted_jpeg(record.path, shift))
        images.append(load_image(path, size))
        labels.append(record.label)
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2), torch.tensor(labels)


def accuracy(checkpoint: Path, images, labels) -> float:
    from models.checkpoint import load_classifier
    from models.data import PetImages
    from models.evaluate import accuracy as measure

    return measure(load_classifier(checkpoint), PetImages(images, labels, []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shift", type=float, action="append", help="default: 0.35 and -0.35")
    parser.add_argument("--seeds", type=int, default=2, help="trainings per variant")
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    import torch

    from models.data import load_split, make_synthetic_pets
    from models.drift import compare, dataset_profile, image_features
    from models.train import train_classifier

    torch.set_num_threads(max(1, torch.get_num_threads()))
    size, shifts = 32, args.shift or [0.35, -0.35]
    machine = platform.processor() or platform.machine()
    results: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": machine,
        "steps": args.steps,
        "shifts": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = make_synthetic_pets(Path(tmp) / "pets", per_class=40, size=size)
        reference = dataset_profile(root, size)["rows"]
        clean = load_split(root, "test", size)
        for shift in shifts:
            served, _ = shifted_split(root, "trainval", size, shift, Path(tmp) / f"served{shift}")
            rows = [image_features(x.permute(1, 2, 0).numpy()).tolist() for x in served]
            report = compare(reference, rows)
            if "exposure" not in report:
                raise SystemExit(f"shift {shift}: no exposure drift seen ({report['reason']})")
            test, labels = shifted_split(root, "test", size, shift, Path(tmp) / f"test{shift}")
            row: dict[str, Any] = {"exposure": report["exposure"], "drifted": report["drifted"]}
            for variant, exposure in (("plain", None), ("drift", report["exposure"])):
                scores = []
                for seed in range(1, args.seeds + 1):
                    started = time.monotonic()
                    out = Path(tmp) / f"{variant}{shift}_{seed}"
                    train_classifier({
                        "data_root": root, "out_dir": out, "steps": args.steps, "batch_size": 32,
                        "warmup_steps": 10, "seed": seed, "image_size": size, "resume": False,
                        "progress": False, "checkpoint_every": args.steps,
                        **({"exposure": {**exposure, "share": 0.5}} if exposure else {}),
                    })  # fmt: skip
                    ckpt = out / "checkpoint.pt"
                    scores.append((accuracy(ckpt, test, labels),
                                   accuracy(ckpt, clean.images, clean.labels)))  # fmt: skip
                    print(f"shift {shift:+}: {variant} seed {seed}: shifted {scores[-1][0]:.3f} "
                          f"clean {scores[-1][1]:.3f} ({time.monotonic() - started:.0f} s)",
                          flush=True, file=sys.stderr)  # fmt: skip
                row[variant] = {"shifted": float(np.mean([s for s, _ in scores])),
                                "clean": float(np.mean([c for _, c in scores]))}  # fmt: skip
            row["ratio_shifted"] = row["drift"]["shifted"] / max(row["plain"]["shifted"], 1e-9)
            row["ratio_clean"] = row["drift"]["clean"] / max(row["plain"]["clean"], 1e-9)
            results["shifts"][str(shift)] = row
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"bench.drift {results['date']} on {results['machine']}: {args.seeds} seed(s) per "
          f"variant, {args.steps} steps, generated dataset (40 per class, 32 px)")  # fmt: skip
    print(f"{'shift':>6} {'plain shifted':>14} {'drift shifted':>14} {'ratio':>6}"
          f" {'plain clean':>12} {'drift clean':>12} {'ratio':>6}")  # fmt: skip
    for shift, row in results["shifts"].items():
        plain, drift = row["plain"], row["drift"]
        print(f"{float(shift):+6.2f} {plain['shifted']:14.3f} {drift['shifted']:14.3f}"
              f" {row['ratio_shifted']:6.2f} {plain['clean']:12.3f} {drift['clean']:12.3f}"
              f" {row['ratio_clean']:6.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
