"""Oxford-IIIT Pet data: the breed mapping, a reader for the real layout, preprocessing, and a
generator that writes a synthetic dataset in exactly that layout.

The real layout (https://www.robots.ox.ac.uk/~vgg/data/pets/)::

    root/images/<Breed>_<n>.jpg     cat breeds are Capitalised, dog breeds lower_case
    root/annotations/list.txt       "#" header, then "<image> <class-id> <species> <breed-id>"
    root/annotations/trainval.txt   same four columns, no header
    root/annotations/test.txt

Species 1 is a cat, 2 a dog. The 12 cat breeds keep their own class; dogs become "other" (or are
left out). Images are decoded once, resized (shorter side, then centre crop) and kept in memory as
uint8, so training reads no JPEG per step and an unreadable file is found before training starts.
"""

from __future__ import annotations

import io
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

CAT_BREEDS: tuple[str, ...] = (
    "Abyssinian",
    "Bengal",
    "Birman",
    "Bombay",
    "British_Shorthair",
    "Egyptian_Mau",
    "Maine_Coon",
    "Persian",
    "Ragdoll",
    "Russian_Blue",
    "Siamese",
    "Sphynx",
)
OTHER = "other"
BREEDS: tuple[str, ...] = (*CAT_BREEDS, OTHER)
"""The 13 class names: the 12 cat breeds of Oxford-IIIT Pet, then "other" (index 12)."""
BREED_TO_INDEX: dict[str, int] = {name: i for i, name in enumerate(BREEDS)}
NUM_CLASSES = len(BREEDS)

Split = Literal["trainval", "test"]
Augment = Literal["none", "basic", "full"]
OnBadImage = Literal["error", "skip"]


def breed_index(name: str) -> int:
    """Class index of a breed name (case-insensitive, "_" or " " between words)."""
    key = name.strip().replace(" ", "_").lower()
    for breed, i in BREED_TO_INDEX.items():
        if breed.lower() == key:
            return i
    raise DatasetError(f"unknown breed {name!r}: expected one of {', '.join(BREEDS)}")


# --------------------------------------------------------------------------------------------
# Reading the layout
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One annotated image: its file and its class index in BREEDS."""

    path: Path
    label: int


def read_annotations(root: str | Path, split: Split, include_dogs: bool = True) -> list[Record]:
    """Parse annotations/<split>.txt into records; dogs map to "other" or are left out.

    Raises DatasetError naming the file and line for a missing file, a malformed line, an
    unknown species or a cat breed that is not one of the 12.
    """
    root = Path(root)
    ann = root / "annotations" / f"{split}.txt"
    if not ann.is_file():
        raise DatasetError(
            f"{ann} not found: expected the Oxford-IIIT Pet layout (images/, annotations/"
            f"{{list,trainval,test}}.txt) under {root}; make a synthetic one with "
            f"`python -m models make-data {root}`"
        )
    records: list[Record] = []
    for lineno, line in enumerate(ann.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 4 or not all(p.isdigit() for p in parts[1:]):
            raise DatasetError(
                f"{ann}:{lineno}: expected '<image> <class-id> <species> <breed-id>', got {line!r}"
            )
        image, species = parts[0], int(parts[2])
        breed = image.rsplit("_", 1)[0]
        if species == 1:
            if breed not in CAT_BREEDS:
                raise DatasetError(
                    f"{ann}:{lineno}: unknown cat breed {breed!r} (image {image}); "
                    f"expected one of {', '.join(CAT_BREEDS)}"
                )
            label = BREED_TO_INDEX[breed]
        elif species == 2:
            if not include_dogs:
                continue
            label = BREED_TO_INDEX[OTHER]
        else:
            raise DatasetError(f"{ann}:{lineno}: species must be 1 (cat) or 2 (dog), got {species}")
        records.append(Record(root / "images" / f"{image}.jpg", label))
    if not records:
        raise DatasetError(f"{ann} lists no usable image (include_dogs={include_dogs})")
    return records


def load_image(path: Path, size: int) -> np.ndarray:
    """Decode an image file to RGB uint8 (size, size, 3): shorter side resized, centre crop."""
    try:
        with Image.open(path) as im:
            im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when it can
            im = im.convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
            im = im.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=3.0)
            left, top = (nw - size) // 2, (nh - size) // 2
            im = im.crop((left, top, left + size, top + size))
            return np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise DatasetError(f"{path}: image listed in the annotations is missing") from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{path}: unreadable image ({e}); delete or replace it") from None


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


# --------------------------------------------------------------------------------------------
# The synthetic dataset: 12 "cat breeds" + 2 "dog breeds", in the real layout
# --------------------------------------------------------------------------------------------

SHAPES = ("disk", "square", "triangle", "star", "cat", "ring", "cross")
TEXTURES = ("solid", "stripes", "spots", "checker", "rings", "gradient")
PALETTES = (  # (colour 1, colour 2, background)
    ((230, 140, 50), (250, 210, 140), (40, 60, 90)),  # ginger
    ((115, 115, 125), (205, 205, 215), (35, 95, 45)),  # grey
    ((30, 30, 35), (110, 100, 95), (220, 210, 170)),  # black
    ((240, 225, 190), (170, 125, 80), (75, 40, 85)),  # cream
    ((120, 70, 30), (205, 160, 95), (150, 200, 225)),  # brown
    ((245, 245, 245), (160, 175, 205), (125, 30, 45)),  # white
    ((75, 105, 175), (175, 195, 235), (205, 180, 60)),  # blue
)
SYNTHETIC_DOGS = ("beagle", "pug")
# (shape, texture, palette) per breed: each attribute is shared by two or three breeds, and any
# two breeds differ in at least two of the three, so no single cue names a class.
SYNTHETIC_STYLE: dict[str, tuple[int, int, int]] = dict(
    zip(
        (*CAT_BREEDS, *SYNTHETIC_DOGS),
        [(0, 1, 0), (1, 2, 1), (2, 4, 2), (3, 1, 3), (4, 3, 4), (5, 1, 5), (6, 2, 6)]
        + [(0, 0, 3), (1, 0, 4), (2, 5, 5), (3, 0, 6), (4, 4, 0), (5, 3, 1), (6, 5, 2)],
        strict=True,
    )
)


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    r = np.hypot(u, v)
    if shape == "disk":
        return r < 1.0
    if shape == "square":
        return np.maximum(abs(u), abs(v)) < 0.8
    if shape == "triangle":
        return (v > -0.65) & (v < 0.95 - 1.75 * abs(u))
    if shape == "star":
        return r < 0.55 + 0.4 * np.cos(5 * np.arctan2(v, u))
    if shape == "cat":
        head = np.hypot(u, v + 0.2) < 0.7
        ears = (v > 0.1) & (v < 1.15 - 2.0 * abs(abs(u) - 0.5))
        return head | ears
    if shape == "ring":
        return (r > 0.5) & (r < 1.0)
    if shape == "cross":
        return ((abs(u) < 0.32) & (abs(v) < 0.95)) | ((abs(v) < 0.32) & (abs(u) < 0.95))
    raise ValueError(shape)


def _texture(texture: str, u: np.ndarray, v: np.ndarray, k: float, phase: float) -> np.ndarray:
    """Weight of colour 2 in [0, 1] at each point of the shape."""
    if texture == "solid":
        return np.zeros_like(u)
    if texture == "stripes":
        return (np.sin(k * u + phase) > 0).astype(float)
    if texture == "spots":
        return (np.sin(k * u + phase) * np.sin(k * v + phase) > 0.35).astype(float)
    if texture == "checker":
        return (np.sin(k * u + phase) * np.sin(k * v) > 0).astype(float)
    if texture == "rings":
        return (np.sin(k * np.hypot(u, v) + phase) > 0).astype(float)
    if texture == "gradient":
        return np.clip((u + 1) / 2, 0, 1)
    raise ValueError(texture)


def draw_synthetic(breed: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One synthetic image (size, size, 3) uint8 of `breed` with random pose, colour and noise."""
    shape, texture, palette = SYNTHETIC_STYLE[breed]
    c1, c2, bg = (np.array(c, float) + rng.uniform(-20, 20, 3) for c in PALETTES[palette])
    hi = 2 * size  # draw at twice the size, then downsample: anti-aliased edges
    ys, xs = np.mgrid[0:hi, 0:hi]
    x = (xs + 0.5) / hi * 2 - 1
    y = 1 - (ys + 0.5) / hi * 2
    cx, cy = rng.uniform(-0.3, 0.3, 2)
    scale = rng.uniform(0.45, 0.75)
    angle = rng.uniform(-math.pi, math.pi) if shape != "cat" else rng.uniform(-0.6, 0.6)
    ca, sa = math.cos(angle), math.sin(angle)
    u = ((x - cx) * ca + (y - cy) * sa) / scale
    v = (-(x - cx) * sa + (y - cy) * ca) / scale
    mask = _shape_mask(SHAPES[shape], u, v)[..., None]
    weight = _texture(TEXTURES[texture], u, v, rng.uniform(5, 8), rng.uniform(0, 2 * math.pi))
    fg = c1 * (1 - weight[..., None]) + c2 * weight[..., None]
    gx, gy = rng.normal(0, 1, 2)
    background = bg + 25 * (gx * x + gy * y)[..., None]
    img = np.where(mask, fg, background)
    img = img.reshape(size, 2, size, 2, 3).mean(axis=(1, 3))
    img = img + rng.normal(0, 7, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_synthetic_pets(
    root: str | Path,
    per_class: int = 60,
    size: int = 128,
    seed: int = 0,
    test_fraction: float = 0.3,
) -> Path:
    """Write a synthetic Oxford-IIIT Pet: `per_class` JPEGs for each of the 13 classes (the
    "other" class is split between two dog breeds), with list.txt, trainval.txt and test.txt.

    Classes differ by shape, texture and palette combined (each cue alone is shared), under
    random position, rotation, scale, colour and noise, and JPEG quality 75-95.
    """
    if per_class < 2:
        raise ValueError("per_class must be at least 2 (one train and one test image)")
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    counts = {b: per_class for b in CAT_BREEDS}
    for i, dog in enumerate(SYNTHETIC_DOGS):
        counts[dog] = per_class // len(SYNTHETIC_DOGS) + (i < per_class % len(SYNTHETIC_DOGS))
    # Oxford numbers the 37 breeds alphabetically (class-id) and within each species (breed-id).
    class_id = {b: i + 1 for i, b in enumerate(sorted(counts, key=str.lower))}
    species_id = {b: (1, CAT_BREEDS.index(b) + 1) for b in CAT_BREEDS}
    species_id |= {d: (2, i + 1) for i, d in enumerate(SYNTHETIC_DOGS)}
    lines: dict[str, list[str]] = {"trainval": [], "test": []}
    for breed, count in counts.items():
        n_test = max(1, round(count * test_fraction))
        for n in range(1, count + 1):
            name = f"{breed}_{n}"
            img = Image.fromarray(draw_synthetic(breed, size, rng))
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=int(rng.integers(75, 96)))
            (root / "images" / f"{name}.jpg").write_bytes(buf.getvalue())
            species, breed_id = species_id[breed]
            split = "test" if n > count - n_test else "trainval"
            lines[split].append(f"{name} {class_id[breed]} {species} {breed_id}")
    header = [
        "#Image CLASS-ID SPECIES BREED ID",
        "#ID: 1:37 Class ids",
        "#SPECIES: 1:Cat 2:Dog",
        "#BREED ID: 1-25:Cat 1:12:Dog",
        "#All images with 1st letter as captial are cat images",
        "#images with small first letter are dog images",
    ]
    listed = sorted(lines["trainval"] + lines["test"], key=str.lower)
    (root / "annotations" / "list.txt").write_text("\n".join(header + listed) + "\n")
    for split, rows in lines.items():
        (root / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")
    return root


def describe_synthetic() -> list[dict[str, str]]:
    """The style of each synthetic breed, for documentation and the command line."""
    return [
        {"breed": b, "shape": SHAPES[s], "texture": TEXTURES[t], "palette": str(PALETTES[p][0])}
        for b, (s, t, p) in SYNTHETIC_STYLE.items()
    ]


def labels_of(names: Sequence[str | int]) -> list[int]:
    """Class indices from breed names or indices (as given on a command line)."""
    out = []
    for n in names:
        if isinstance(n, int) or str(n).isdigit():
            i = int(n)
            if not 0 <= i < NUM_CLASSES:
                raise DatasetError(f"class index {i} out of range 0..{NUM_CLASSES - 1}")
            out.append(i)
        else:
            out.append(breed_index(str(n)))
    return out
