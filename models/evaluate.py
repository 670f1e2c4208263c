"""Offline evaluation (no weights can be downloaded, so the classifier trained here is the judge).

- Classifier: accuracy, per-class accuracy and confusion matrix on a held-out split.
- Generator: the share of samples that the classifier assigns to the requested breed, per breed
  and overall, with and without classifier-free guidance (chance is 1/13); the Frechet distance
  between generated and real images in the classifier's penultimate feature space (an FID
  computed with our classifier instead of Inception: comparable between our runs only); a sample
  grid per breed.
Each evaluate_* function returns a dict of metrics and writes it as a JSON report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models import flow
from models.checkpoint import load_classifier, load_dit
from models.data import BREEDS, NUM_CLASSES, PetImages, load_split, save_grid, to_float


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


@torch.no_grad()
def classify(
    model: nn.Module, images: torch.Tensor, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, features) of images — uint8 or float in [-1, 1] — at the model's input size."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, feats = [], []
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size]
        x = to_float(x) if x.dtype == torch.uint8 else x.float()
        x = _resize(x.to(device), model.image_size)
        f = model.features(x)
        feats.append(f.float().cpu())
        logits.append(model.head(f).float().cpu())
    model.train(was_training)
    return torch.cat(logits), torch.cat(feats)


def accuracy(model: nn.Module, data: PetImages) -> float:
    """Top-1 accuracy of a classifier on a decoded split."""
    logits, _ = classify(model, data.images)
    return float((logits.argmax(1) == data.labels).float().mean())


def confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, n: int = NUM_CLASSES
) -> torch.Tensor:
    """(n, n) counts: row = true class, column = predicted class."""
    return torch.bincount(target * n + pred, minlength=n * n).view(n, n)


def frechet_distance(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (rows are samples):
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2). The matrix square root's trace is
    taken as sum sqrt(eig(S_a^1/2 S_b S_a^1/2)), a symmetric form that needs no scipy."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    tr_sqrt = np.sqrt(np.clip(cross, 0, None)).sum()
    fd = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt
    return float(max(fd, 0.0))


def _write(report: dict[str, Any], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def evaluate_classifier(
    checkpoint: str | Path,
    data_root: str | Path,
    split: str = "test",
    report_path: str | Path | None = None,
    include_dogs: bool = True,
    max_other: int | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Accuracy, per-class accuracy and confusion matrix of a classifier checkpoint (EMA).
    The report is written to report_path (default: classifier_report.json next to the
    checkpoint)."""
    model = load_classifier(checkpoint, device=device)
    data = load_split(data_root, split, model.image_size, include_dogs, max_other=max_other)
    logits, _ = classify(model, data.images)
    pred = logits.argmax(1)
    cm = confusion_matrix(pred, data.labels)
    per_class = {
        BREEDS[i]: (float(cm[i, i] / cm[i].sum()) if cm[i].sum() else None)
        for i in range(NUM_CLASSES)
    }
    report = {
        "kind": "classifier",
        "checkpoint": str(checkpoint),
        "split": split,
        "images": len(data),
        "accuracy": float((pred == data.labels).float().mean()),
        "per_class_accuracy": per_class,
        "confusion_matrix": cm.tolist(),
        "classes": list(BREEDS),
        "report": str(report_path or Path(checkpoint).with_name("classifier_report.json")),
    }
    _write(report, report["report"])
    return report


def evaluate_generator(
    dit_checkpoint: str | Path,
    classifier_checkpoint: str | Path,
    data_root: str | Path,
    out_dir: str | Path,
    samples_per_class: int = 16,
    steps: int = 25,
    cfg_scale: float = 4.0,
    method: flow.Method = "euler",
    seed: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """Recognition shares with and without CFG, Frechet distances, and grids per breed.

    Both settings start from the same noise (same seed), so they differ by guidance alone.
    "Without CFG" is the conditional model (cfg_scale 1). Writes out_dir/report.json and
    out_dir/grids/<breed>.png (top row with CFG, bottom row without).
    """
    out_dir = Path(out_dir)
    dit = load_dit(dit_checkpoint, device=device)
    clf = load_classifier(classifier_checkpoint, device=device)
    real = load_split(data_root, "test", clf.image_size)
    reference = load_split(data_root, "trainval", clf.image_size)
    real_feats = classify(clf, real.images)[1]
    labels = torch.arange(NUM_CLASSES).repeat_interleave(samples_per_class)
    results: dict[str, dict[str, Any]] = {}
    images: dict[str, torch.Tensor] = {}
    for name, scale in (("cfg", cfg_scale), ("no_cfg", 1.0)):
        x = flow.sample(dit, labels, steps, scale, seed, method).cpu()
        logits, feats = classify(clf, x)
        hit = (logits.argmax(1) == labels).float()
        results[name] = {
            "share": float(hit.mean()),
            "per_breed": {BREEDS[i]: float(hit[labels == i].mean()) for i in range(NUM_CLASSES)},
            "fd": frechet_distance(feats, real_feats),
        }
        images[name] = x
    grids = []
    for i, breed in enumerate(BREEDS):
        rows = torch.cat([images["cfg"][labels == i], images["no_cfg"][labels == i]])
        grids.append(str(save_grid(rows, out_dir / "grids" / f"{breed}.png", samples_per_class)))
    report = {
        "kind": "generator",
        "dit_checkpoint": str(dit_checkpoint),
        "classifier_checkpoint": str(classifier_checkpoint),
        "samples_per_class": samples_per_class,
        "steps": steps,
        "method": method,
        "cfg_scale": cfg_scale,
        "seed": seed,
        "chance": 1 / NUM_CLASSES,
        "share_cfg": results["cfg"]["share"],
        "share_no_cfg": results["no_cfg"]["share"],
        "per_breed_cfg": results["cfg"]["per_breed"],
        "per_breed_no_cfg": results["no_cfg"]["per_breed"],
        "fd_cfg": results["cfg"]["fd"],
        "fd_no_cfg": results["no_cfg"]["fd"],
        # Between two real splits: the floor that sample size and split differences set.
        "fd_real_trainval_vs_test": frechet_distance(
            classify(clf, reference.images)[1], real_feats
        ),
        "grids": grids,
        "report": str(out_dir / "report.json"),
    }
    _write(report, report["report"])
    return report
