"""models.data: the Oxford-IIIT Pet layout, the breed mapping, preprocessing, the generator."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest_models import one_torch_thread, small_pets  # noqa: F401  (fixture)
from PIL import Image

from models.data import (
    BREEDS,
    CAT_BREEDS,
    NUM_CLASSES,
    breed_index,
    labels_of,
    load_split,
    make_synthetic_pets,
    preprocess,
    read_annotations,
    save_grid,
)
from models.errors import DatasetError


def test_breeds_are_the_12_oxford_cats_then_other():
    assert len(BREEDS) == NUM_CLASSES == 13
    assert BREEDS[-1] == "other" and BREEDS[:12] == CAT_BREEDS
    assert breed_index("maine coon") == BREEDS.index("Maine_Coon")
    assert labels_of(["Sphynx", "12", 0]) == [11, 12, 0]
    with pytest.raises(DatasetError, match="unknown breed 'Tabby'"):
        breed_index("Tabby")


def test_generator_writes_the_oxford_layout(small_pets: Path):  # noqa: F811
    root = small_pets
    assert (root / "images" / "Abyssinian_1.jpg").is_file()
    assert (root / "images" / "beagle_1.jpg").is_file()  # dogs: lower-case names
    listed = (root / "annotations" / "list.txt").read_text().splitlines()
    assert listed[0].startswith("#")
    rows = [r.split() for r in listed if not r.startswith("#")]
    assert len(rows) == 12 * 6 + 6 and all(len(r) == 4 for r in rows)
    species = {r[0].rsplit("_", 1)[0]: r[2] for r in rows}
    assert species["Sphynx"] == "1" and species["pug"] == "2"
    trainval = (root / "annotations" / "trainval.txt").read_text().split()
    test = (root / "annotations" / "test.txt").read_text().split()
    assert len(trainval) + len(test) == 4 * len(rows)
    with Image.open(root / "images" / "Bengal_3.jpg") as im:
        assert im.format == "JPEG" and im.size == (32, 32) and im.mode == "RGB"


def test_generator_is_seeded(tmp_path: Path):
    a = make_synthetic_pets(tmp_path / "a", per_class=2, size=16, seed=3)
    b = make_synthetic_pets(tmp_path / "b", per_class=2, size=16, seed=3)
    c = make_synthetic_pets(tmp_path / "c", per_class=2, size=16, seed=4)
    img = "images/Persian_1.jpg"
    assert (a / img).read_bytes() == (b / img).read_bytes() != (c / img).read_bytes()


def test_split_loads_every_class_with_dogs_as_other(small_pets: Path):  # noqa: F811
    train = load_split(small_pets, "trainval", 24)
    test = load_split(small_pets, "test", 24)
    assert train.images.shape == (len(train), 3, 24, 24) and train.images.dtype == torch.uint8
    assert train.class_counts() == [4] * 13 and test.class_counts() == [2] * 13
    assert not set(train.paths) & set(test.paths)
    x, y = train[0]
    assert x.shape == (3, 24, 24) and -1 <= x.min() and x.max() <= 1 and 0 <= y < 13


def test_dogs_can_be_left_out_or_capped(small_pets: Path):  # noqa: F811
    cats = read_annotations(small_pets, "trainval", include_dogs=False)
    assert {r.label for r in cats} == set(range(12))
    capped = load_split(small_pets, "trainval", 16, max_other=1)
    assert capped.class_counts()[12] == 1


def test_missing_annotation_file_names_the_file(small_pets: Path):  # noqa: F811
    (small_pets / "annotations" / "test.txt").unlink()
    with pytest.raises(DatasetError, match=r"annotations/test\.txt not found.*make-data"):
        load_split(small_pets, "test", 16)


def test_unknown_cat_breed_names_file_and_line(small_pets: Path):  # noqa: F811
    ann = small_pets / "annotations" / "trainval.txt"
    ann.write_text(ann.read_text() + "Tabby_1 38 1 13\n")
    lineno = len(ann.read_text().splitlines())
    with pytest.raises(DatasetError, match=rf"trainval\.txt:{lineno}: unknown cat breed 'Tabby'"):
        read_annotations(small_pets, "trainval")


def test_malformed_line_and_bad_species(small_pets: Path):  # noqa: F811
    ann = small_pets / "annotations" / "test.txt"
    ann.write_text("Bengal_1 2 1\n")
    with pytest.raises(DatasetError, match=r"test\.txt:1: expected"):
        read_annotations(small_pets, "test")
    ann.write_text("Bengal_1 2 3 2\n")
    with pytest.raises(DatasetError, match="species must be 1"):
        read_annotations(small_pets, "test")


def test_corrupt_image_is_an_error_naming_it_or_a_counted_drop(small_pets: Path):  # noqa: F811
    bad = small_pets / "images" / "Birman_1.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(DatasetError, match=r"Birman_1\.jpg: unreadable image"):
        load_split(small_pets, "trainval", 16)
    with pytest.warns(UserWarning, match="dropped 1 of"):
        data = load_split(small_pets, "trainval", 16, on_bad_image="skip")
    assert len(data.dropped) == 1 and "Birman_1.jpg" in data.dropped[0]
    assert len(data) == 13 * 4 - 1


def test_missing_image_is_named(small_pets: Path):  # noqa: F811
    (small_pets / "images" / "Bombay_2.jpg").unlink()
    with pytest.raises(
        DatasetError, match=r"Bombay_2\.jpg: image listed in the annotations is missing"
    ):
        load_split(small_pets, "trainval", 16)


def test_non_square_and_grayscale_images_are_resized_and_cropped(small_pets: Path):  # noqa: F811
    Image.new("L", (90, 40), 200).save(small_pets / "images" / "Ragdoll_1.jpg")
    data = load_split(small_pets, "trainval", 20)
    assert data.images.shape[1:] == (3, 20, 20)


def test_preprocess_levels():
    images = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    plain = preprocess(images, "none")
    assert plain.dtype == torch.float32 and plain.min() >= -1 and plain.max() <= 1
    assert torch.allclose(plain, images.float() / 127.5 - 1)
    flipped = preprocess(images, "basic", torch.Generator().manual_seed(0))
    for a, b in zip(flipped, plain, strict=True):
        assert torch.equal(a, b) or torch.equal(a, b.flip(2))
    full = [preprocess(images, "full", torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert torch.equal(full[0], full[1]) and not torch.equal(full[0], full[2])
    assert full[0].shape == plain.shape and full[0].abs().max() <= 1


def test_save_grid_writes_a_png(tmp_path: Path):
    path = save_grid(torch.rand(5, 3, 8, 8) * 2 - 1, tmp_path / "g.png", nrow=3, pad=1)
    with Image.open(path) as im:
        assert im.size == (3 * 9 + 1, 2 * 9 + 1)
