"""models.train: the one training mechanism — exact resume, accumulation, OOM recovery, logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest_models import one_torch_thread, small_pets  # noqa: F401  (fixture)
from torch import nn

from models.checkpoint import load_classifier, load_dit, read_checkpoint
from models.data import load_split
from models.errors import CheckpointError
from models.train import (
    DiTTrainConfig,
    Task,
    TrainConfig,
    batch_indices,
    lr_factor,
    run_training,
    train_classifier,
    train_dit,
)


def _dit_config(root: Path, out: Path, **kw) -> dict:
    return {
        "data_root": root, "out_dir": out, "preset": "tiny", "steps": 6, "batch_size": 8,
        "warmup_steps": 2, "log_every": 1, "progress": False, "sample_steps": 2, **kw,
    }  # fmt: skip


def _clf_config(root: Path, out: Path, **kw) -> dict:
    return {
        "data_root": root, "out_dir": out, "steps": 6, "batch_size": 8, "warmup_steps": 2,
        "image_size": 32, "log_every": 1, "progress": False, **kw,
    }  # fmt: skip


def _assert_same_state(a: Path, b: Path) -> None:
    sa, sb = read_checkpoint(a), read_checkpoint(b)
    assert sa["step"] == sb["step"]
    for key in ("model", "ema"):
        assert sa[key].keys() == sb[key].keys()
        for name in sa[key]:
            assert torch.equal(sa[key][name], sb[key][name]), f"{key}.{name} differs"
    for pa, pb in zip(
        sa["optimizer"]["state"].values(), sb["optimizer"]["state"].values(), strict=True
    ):
        for name in pa:
            assert torch.equal(pa[name], pb[name]), f"optimizer {name} differs"
    assert sa["scheduler"] == sb["scheduler"]


def _drift_retrain_config(root: Path, out: Path, **kw) -> dict:
    exposure = {"scale": [0.65, 0.7, 0.6], "offset": [0.35, 0.3, 0.4], "share": 0.5}
    return _clf_config(root, out, exposure=exposure, **kw)


@pytest.mark.parametrize(
    ("train", "make_config"),
    [(train_dit, _dit_config), (train_classifier, _clf_config),
     (train_classifier, _drift_retrain_config)],
    ids=["dit", "classifier", "classifier-exposure"],
)  # fmt: skip
def test_stop_and_resume_is_bit_exact(small_pets: Path, tmp_path: Path, train, make_config):  # noqa: F811
    full = train(make_config(small_pets, tmp_path / "full"))
    assert full.completed and full.step == 6

    part = train(make_config(small_pets, tmp_path / "part", stop_after=3))
    assert not part.completed and part.step == 3
    assert read_checkpoint(part.checkpoint)["step"] == 3
    resumed = train(make_config(small_pets, tmp_path / "part"))
    assert resumed.completed and resumed.step == 6

    _assert_same_state(full.checkpoint, resumed.checkpoint)
    losses = [
        [json.loads(li)["loss"] for li in r.metrics.read_text().splitlines() if "loss" in li]
        for r in (full, resumed)
    ]
    assert losses[0] == losses[1] and len(losses[0]) == 6


def test_resume_refuses_other_settings(small_pets: Path, tmp_path: Path):  # noqa: F811
    train_dit(_dit_config(small_pets, tmp_path, stop_after=1))
    with pytest.raises(CheckpointError, match=r"other settings \(batch_size: 8 -> 4\)"):
        train_dit(_dit_config(small_pets, tmp_path, batch_size=4))
    restarted = train_dit(_dit_config(small_pets, tmp_path, batch_size=4, resume=False, steps=1))
    assert restarted.step == 1


def test_resume_drops_metrics_logged_after_the_checkpoint(small_pets: Path, tmp_path: Path):  # noqa: F811
    first = train_dit(_dit_config(small_pets, tmp_path, stop_after=2))
    with first.metrics.open("a") as f:  # as if the run had died at step 3 before checkpointing
        f.write(json.dumps({"step": 3, "loss": 123.0}) + "\n")
    train_dit(_dit_config(small_pets, tmp_path))
    steps = [
        json.loads(li)["step"] for li in first.metrics.read_text().splitlines() if '"loss"' in li
    ]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_dit_training_writes_checkpoint_metrics_and_samples(small_pets: Path, tmp_path: Path):  # noqa: F811
    result = train_dit(_dit_config(small_pets, tmp_path, every=3))
    lines = [json.loads(li) for li in result.metrics.read_text().splitlines()]
    assert lines[0]["event"] == "data" and lines[0]["train_images"] == 13 * 4
    logged = [li for li in lines if "loss" in li]
    assert {"step", "loss", "lr", "grad_norm", "micro_batch", "images_per_s"} <= logged[0].keys()
    assert logged[0]["lr"] == pytest.approx(3e-4 / 2)  # warmup: lr * (step + 1) / warmup_steps
    assert [p.name for p in result.samples] == ["step_0000003.png", "step_0000006.png"]
    state = read_checkpoint(result.checkpoint)
    assert state["kind"] == "dit" and state["config"]["seed"] == 0
    assert {"torch", "numpy", "python", "cuda"} <= state["rng"].keys()
    model = load_dit(result.checkpoint)
    assert not model.training and model(
        torch.zeros(1, 3, 32, 32), torch.rand(1), torch.tensor([3])
    ).shape == (1, 3, 32, 32)
    with pytest.raises(CheckpointError, match="is a dit checkpoint, expected a classifier"):
        load_classifier(result.checkpoint)


class Linear(nn.Module):
    """A deterministic stand-in network: the loss has no randomness and no batch statistics."""

    def __init__(self, fail_above: int | None = None):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 13)
        self.fail_above = fail_above
        self.batch_sizes: list[int] = []

    def forward(self, x):
        self.batch_sizes.append(x.shape[0])
        if self.fail_above is not None and x.shape[0] > self.fail_above:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.fc(x.flatten(1))

    def arch(self) -> dict:
        return {}


def _fit(data, out: Path, model: nn.Module, **kw) -> nn.Module:
    torch.manual_seed(0)
    model.fc.reset_parameters()
    cfg = TrainConfig(data_root=out, out_dir=out, steps=3, batch_size=8, warmup_steps=0,
                      progress=False, augment="none", **kw)  # fmt: skip
    task = Task("classifier", model, lambda m, x, y, g: F.cross_entropy(m(x), y))
    run_training(task, data, cfg)
    return model


def test_accumulation_and_oom_recovery_keep_the_effective_batch(small_pets: Path, tmp_path: Path):  # noqa: F811
    data = load_split(small_pets, "trainval", 32)
    whole = _fit(data, tmp_path / "a", Linear())
    accumulated = _fit(data, tmp_path / "b", Linear(), grad_accum=4)
    assert accumulated.batch_sizes == [2] * 12
    oom = Linear(fail_above=3)
    _fit(data, tmp_path / "c", oom)
    # 8 fails, 4 fails, then micro-batches of 2 for the rest of the run.
    assert oom.batch_sizes[:2] == [8, 4] and oom.batch_sizes[2:] == [2] * 12
    assert read_checkpoint(tmp_path / "c" / "checkpoint.pt")["micro_batch"] == 2
    for other in (accumulated, oom):
        assert torch.allclose(whole.fc.weight, other.fc.weight, atol=1e-6)


def test_schedule_and_batches():
    factors = [lr_factor(s, 10, 110, 0.1) for s in range(110)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == 1.0
    assert factors[60] == pytest.approx(0.55) and factors[-1] == pytest.approx(0.1, abs=1e-3)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:], strict=False))
    # Consecutive steps walk through seeded permutations: each epoch sees every image once.
    epoch = torch.cat([batch_indices(10, 5, s, seed=3) for s in range(2)])
    assert sorted(epoch.tolist()) == list(range(10))
    assert torch.equal(batch_indices(10, 5, 4, seed=3), batch_indices(10, 5, 4, seed=3))
    assert batch_indices(10, 4, 2, seed=3).shape == (4,)  # a batch across an epoch boundary


def test_config_validation():
    with pytest.raises(ValueError, match="not divisible by grad_accum"):
        TrainConfig(data_root=".", out_dir=".", batch_size=6, grad_accum=4)
    with pytest.raises(ValueError, match="unknown DiT preset"):
        DiTTrainConfig(data_root=".", out_dir=".", preset="big")
    with pytest.raises(ValueError, match="generates 32px images"):
        DiTTrainConfig(data_root=".", out_dir=".", preset="tiny", image_size=64)
    with pytest.raises(ValueError, match="Extra inputs"):
        TrainConfig(data_root=".", out_dir=".", stepz=3)


def test_unreadable_or_missing_checkpoint_is_named(tmp_path: Path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match=r"bad\.pt: not a readable checkpoint"):
        load_dit(bad)
    with pytest.raises(CheckpointError, match=r"none\.pt: checkpoint not found"):
        load_classifier(tmp_path / "none.pt")
