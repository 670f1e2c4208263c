"""Oxford-IIIT Pet as files: the breed mapping, a reader for the real layout, image decoding,
and a generator that writes a synthetic dataset in exactly that layout.

The real layout (https://www.robots.ox.ac.uk/~vgg/data/pets/)::

    root/images/<Breed>_<n>.jpg     cat breeds are Capitalised, dog breeds lower_case
    root/annotations/list.txt       "#" header, then "<image> <class-id> <species> <breed-id>"
    root/annotations/trainval.txt   same four columns, no header
    root/annotations/test.txt

Species 1 is a cat, 2 a dog. The 12 cat breeds keep their own class; dogs become "other" (or are
left out). Nothing here needs torch (numpy and Pillow only): the model server, the load
generator and the drift sensor read images through this module and start in a fraction of the
time; ``models.data`` builds the tensors training uses on top of it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
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


def expose(pixels: np.ndarray, scale: Sequence[float], offset: Sequence[float]) -> np.ndarray:
    """uint8 pixels (..., 3), channels last, under the per-channel exposure map
    ``scale * x + offset`` (x in [0, 1], clamped): the drift ``models.drift.fit_exposure``
    measures, and what a drift retrain trains and is judged on."""
    a, b = np.asarray(scale, np.float32), np.asarray(offset, np.float32)
    x = np.clip(pixels.astype(np.float32) / 255.0 * a + b, 0.0, 1.0)
    return np.round(x * 255.0).astype(np.uint8)


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
