"""models.modal_app: the declared GPU functions, and the in-process (.local()) backend."""

from __future__ import annotations

from pathlib import Path

import modal
import pytest
from conftest_models import one_torch_thread, small_pets  # noqa: F401  (fixture)
from PIL import Image

from models import modal_app
from models.errors import ModelsError


def test_functions_are_declared_with_gpu_timeout_and_volume():
    assert isinstance(modal_app.app, modal.App)
    assert set(modal_app.FUNCTIONS) == {"train_classifier", "train_dit", "sample"}
    for name, fn in modal_app.FUNCTIONS.items():
        spec = modal_app.SPECS[name]
        assert spec["gpu"] == "A10G" and spec["timeout"] >= 600
        assert fn._spec_.gpus == "A10G"  # what modal recorded from the decorator
        assert isinstance(fn, modal.Function)
        assert list(fn._spec_.volumes) == ["/vol"]
    assert modal_app.SPECS["train_dit"]["timeout"] == 6 * 3600


def test_local_backend_trains_and_samples_without_a_token(
    small_pets: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("MODAL_TOKEN_ID", "")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "")
    config = {
        "data_root": str(small_pets), "out_dir": str(tmp_path / "dit"), "steps": 2,
        "batch_size": 4, "warmup_steps": 1, "progress": False, "sample_steps": 1,
    }  # fmt: skip
    result = modal_app.call("train_dit", config)
    assert result["completed"] and Path(result["checkpoint"]).is_file()
    out = modal_app.call("sample", result["checkpoint"], [0, 12], str(tmp_path / "s.png"), 2)
    with Image.open(out["png"]) as im:
        assert im.size == (2 * (32 + 2) + 2, 32 + 2 + 2)  # two 32px images, 2px padding


def test_modal_backend_without_a_token_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(modal_app, "has_token", lambda: False)
    with pytest.raises(ModelsError, match="needs a Modal token"):
        modal_app.call("train_dit", {}, backend="modal")
    with pytest.raises(ModelsError, match="unknown Modal function"):
        modal_app.call("train_gan", {})
