"""Oxford-IIIT Pet as tensors: a split decoded into memory, preprocessing and augmentation on
whole batches, the exposure map of a drift retrain, and image grids.

Images are decoded once (``models.pets``: the layout, the breeds, decoding), resized (shorter
side, then centre crop) and kept in memory as uint8, so training reads no JPEG per step and an
unreadable file is found before training starts. The names of ``models.pets`` are re-exported
here, where most callers look for them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from models.errors import DatasetError
from models.pets import (  # noqa: F401  (re-exported: the dataset's names, where callers look)
    BREED_TO_INDEX,
    BREEDS,
    CAT_BREEDS,
    NUM_CLASSES,
    OTHER,
    Record,
    Split,
    breed_index,
    describe_synthetic,
    draw_synthetic,
    expose,
    labels_of,
    load_image,
    make_synthetic_pets,
    read_annotations,
)

Augment = Literal["none", "basic", "full"]
OnBadImage = Literal["error", "skip"]


@dataclass
class PetImages(torch.utils.data.Dataset):
    """A split decoded in memory: uint8 images (N, 3, S, S), labels (N,), and what was dropped.

    Indexing gives (image in [-1, 1], label) without augmentation, so it also works with a
    DataLoader; training uses `preprocess` on whole batches instead.
    """

    images: torch.Tensor
    labels: torch.Tensor
    paths: list[Path]
    dropped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return to_float(self.images[i]), int(self.labels[i])

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=NUM_CLASSES).tolist()


def load_split(
    root: str | Path,
    split: Split,
    size: int,
    include_dogs: bool = True,
    on_bad_image: OnBadImage = "error",
    max_other: int | None = None,
) -> PetImages:
    """Read and decode one split. on_bad_image="skip" drops unreadable images but records them
    in `dropped` and warns with the count; "error" (default) stops at the first one.

    max_other caps the number of "other" images (the real set has ~5000 dogs against ~200
    images per cat breed); the subset taken is the first ones in annotation order.
    """
    records = read_annotations(root, split, include_dogs)
    if max_other is not None:
        other = [r for r in records if r.label == BREED_TO_INDEX[OTHER]][max_other:]
        drop = {r.path for r in other}
        records = [r for r in records if r.path not in drop]
    arrays, labels, paths, dropped = [], [], [], []
    for rec in records:
        try:
            arrays.append(load_image(rec.path, size))
        except DatasetError as e:
            if on_bad_image == "error":
                raise
            dropped.append(str(e))
            continue
        labels.append(rec.label)
        paths.append(rec.path)
    if dropped:
        warnings.warn(
            f"{split}: dropped {len(dropped)} of {len(records)} images that could not be read "
            f"(first: {dropped[0]})",
            stacklevel=2,
        )
    if not arrays:
        raise DatasetError(f"{Path(root)}: no readable image in split {split!r}")
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return PetImages(images, torch.tensor(labels, dtype=torch.long), paths, dropped)


# --------------------------------------------------------------------------------------------
# Preprocessing: uint8 -> [-1, 1], with augmentation on whole batches
# --------------------------------------------------------------------------------------------


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return images.float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255] (clamped)."""
    return images.detach().float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def expose_batch(
    images: torch.Tensor, scale: Sequence[float], offset: Sequence[float]
) -> torch.Tensor:
    """A uint8 batch (N, 3, S, S) under ``models.pets.expose`` (computed on the CPU, once per
    split: the map is a constant of the training)."""
    pixels = images.detach().cpu().permute(0, 2, 3, 1).numpy()
    mapped = torch.from_numpy(expose(pixels, scale, offset)).permute(0, 3, 1, 2).contiguous()
    return mapped.to(images.device)


def preprocess(
    images: torch.Tensor, augment: Augment = "basic", generator: torch.Generator | None = None
) -> torch.Tensor:
    """Normalise a uint8 batch (N, 3, S, S) to [-1, 1] and augment it.

    "none": nothing. "basic": horizontal flip (p=0.5). "full": flip, rotation within +-10
    degrees, scale 0.9-1.1, translation within +-6%, and brightness/contrast/saturation jitter
    of +-15%. All draws come from `generator` (on the images' device), so a batch is a pure
    function of its seed.
    """
    x = to_float(images)
    if augment == "none":
        return x
    n = x.shape[0]
    u = torch.rand(n, 8, generator=generator, device=x.device)
    flip = torch.where(u[:, 0] < 0.5, -1.0, 1.0)
    if augment == "basic":
        return torch.where(flip.view(n, 1, 1, 1) < 0, x.flip(3), x)
    if augment != "full":
        raise ValueError(f"augment must be 'none', 'basic' or 'full', got {augment!r}")
    angle = (u[:, 1] * 2 - 1) * math.radians(10)
    scale = 1 + (u[:, 2] * 2 - 1) * 0.1
    tx, ty = (u[:, 3] * 2 - 1) * 0.12, (u[:, 4] * 2 - 1) * 0.12  # grid units: 0.12 = 6% of width
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    brightness, contrast, saturation = ((u[:, 5:8] * 2 - 1) * 0.15).unbind(1)
    x = x + brightness.view(n, 1, 1, 1) * 2  # [-1, 1] spans 2
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (1 + contrast.view(n, 1, 1, 1)) + mean
    gray = x.mean(dim=1, keepdim=True)
    x = (x - gray) * (1 + saturation.view(n, 1, 1, 1)) + gray
    return x.clamp(-1, 1)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, pad: int = 2) -> Path:
    """Write images in [-1, 1] (N, 3, H, W) as one PNG grid, `nrow` per row."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = to_uint8(images.cpu())
    n, c, h, w = x.shape
    ncol = min(nrow, n)
    rows = math.ceil(n / ncol)
    grid = torch.full((c, rows * (h + pad) + pad, ncol * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, k = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[:, top : top + h, left : left + w] = x[i]
    Image.fromarray(grid.permute(1, 2, 0).numpy()).save(path)
    return path
