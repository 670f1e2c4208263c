"""Training: one mechanism (`run_training`) for both models, parameterised by a `Task` that says
what the network is, what its loss is, and what to do every so often (evaluate, draw samples).

What the mechanism does: AdamW (fused on CUDA), linear warmup then cosine decay, gradient
clipping, gradient accumulation over micro-batches, bf16 autocast on CUDA, an EMA of the
weights, OOM recovery (halve the micro-batch, keep the effective batch), metrics as JSON lines,
a rich progress bar, and checkpoints that resume bit-exactly.

Why resume is exact: the batch of step s (which images, their augmentation, the noise and times
of the loss) is a pure function of (seed, s), drawn from generators seeded per step rather than
from a stream that would have to be replayed; everything else that changes over a run (weights,
EMA, optimizer moments, scheduler, global RNGs, micro-batch size) is in the checkpoint.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from models import flow
from models.checkpoint import (  # noqa: F401  (load_* re-exported for callers of train)
    load_classifier,
    load_dit,
    read_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from models.classifier import CLASSIFIER_PRESETS, build_classifier
from models.data import (
    NUM_CLASSES,
    Augment,
    OnBadImage,
    PetImages,
    expose_batch,
    load_split,
    preprocess,
    save_grid,
)
from models.dit import PRESETS, build
from models.errors import CheckpointError, ModelsError
from models.evaluate import accuracy

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
METRICS_NAME = "metrics.jsonl"

# --------------------------------------------------------------------------------------------
# Configs and result (the boundary other code calls)
# --------------------------------------------------------------------------------------------


class Exposure(BaseModel):
    """Train for inputs that drifted: ``share`` of every batch passes through the exposure map
    the drift report fitted (``models.drift.fit_exposure``) before augmentation."""

    model_config = ConfigDict(extra="forbid")

    scale: tuple[float, float, float] = Field(description="per channel (R, G, B)")
    offset: tuple[float, float, float] = Field(description="per channel, pixels in [0, 1]")
    share: float = Field(0.5, gt=0, le=1, description="share of each batch re-exposed")

    @model_validator(mode="after")
    def _check(self) -> Exposure:
        if not all(0 < a <= 20 for a in self.scale) or not all(-1 <= b <= 1 for b in self.offset):
            raise ValueError("exposure scale must be in (0, 20] and offset in [-1, 1]")
        return self


class TrainConfig(BaseModel):
    """Settings shared by both trainings. batch_size is the effective batch of one optimizer
    step, split into grad_accum micro-batches."""

    model_config = ConfigDict(extra="forbid")

    data_root: Path
    out_dir: Path
    steps: int = Field(1000, ge=1)
    batch_size: int = Field(64, ge=1)
    grad_accum: int = Field(1, ge=1)
    lr: float = Field(3e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(100, ge=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    grad_clip: float = Field(1.0, ge=0, description="max gradient norm; 0 disables clipping")
    ema_decay: float = Field(0.999, ge=0, lt=1)
    seed: int = 0
    image_size: int | None = Field(None, ge=8, description="default: the preset's")
    augment: Augment = "basic"
    exposure: Exposure | None = Field(None, description="re-expose a share of each batch")
    include_dogs: bool = True
    max_other: int | None = Field(None, ge=0)
    on_bad_image: OnBadImage = "error"
    mixed_precision: bool = Field(True, description="bf16 autocast on CUDA (no effect on CPU)")
    device: str = "auto"
    resume: bool = Field(True, description="continue from out_dir/checkpoint.pt if it exists")
    stop_after: int | None = Field(
        None, ge=1, description="end this run at this step (checkpoint written), schedule unchanged"
    )
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    every: int = Field(0, ge=0, description="evaluate / draw samples every N steps (0: at the end)")
    progress: bool = True

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.batch_size % self.grad_accum:
            raise ValueError(
                f"batch_size {self.batch_size} is not divisible by grad_accum {self.grad_accum}"
            )
        return self


class ClassifierTrainConfig(TrainConfig):
    preset: str = "small"
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(5e-4, ge=0)
    augment: Augment = "full"
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    ema_decay: float = Field(0.99, ge=0, lt=1)

    @model_validator(mode="after")
    def _preset(self) -> ClassifierTrainConfig:
        if self.preset not in CLASSIFIER_PRESETS:
            raise ValueError(
                f"unknown classifier preset {self.preset!r}: {', '.join(CLASSIFIER_PRESETS)}"
            )
        return self


class DiTTrainConfig(TrainConfig):
    preset: str = "tiny"
    time_sampling: flow.TimeSampling = "logit_normal"
    label_dropout: float = Field(0.1, ge=0, le=1, description="share of null labels, for CFG")
    sample_steps: int = Field(25, ge=1)
    sample_cfg_scale: float = 4.0
    sample_method: flow.Method = "euler"

    @model_validator(mode="after")
    def _preset(self) -> DiTTrainConfig:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown DiT preset {self.preset!r}: {', '.join(PRESETS)}")
        size = PRESETS[self.preset].image_size
        if self.image_size not in (None, size):
            raise ValueError(
                f"preset {self.preset!r} generates {size}px images, not {self.image_size}"
            )
        return self


class TrainResult(BaseModel):
    """What a training run produced: paths and final figures."""

    kind: Literal["classifier", "dit"]
    out_dir: Path
    checkpoint: Path
    metrics: Path
    samples: list[Path] = []
    step: int
    steps: int
    completed: bool
    final_loss: float | None
    final_metrics: dict[str, Any] = {}
    train_images: int
    dropped_images: int
    micro_batch_size: int
    parameters: int
    seconds: float


# --------------------------------------------------------------------------------------------
# The mechanism
# --------------------------------------------------------------------------------------------

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]
PeriodicFn = Callable[[nn.Module, int], dict[str, Any]]


@dataclass
class Task:
    """What differs between trainings: the network, its loss on a batch (images in [-1, 1],
    labels, a seeded generator), and what to do with the EMA model every `config.every` steps
    and at the end (returns metrics for the log)."""

    kind: Literal["classifier", "dit"]
    model: nn.Module
    loss: LossFn
    periodic: PeriodicFn | None = None


def seed_of(*parts: int) -> int:
    """A stable 63-bit seed from integers (same on every platform and Python version)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def batch_indices(n: int, batch_size: int, step: int, seed: int) -> torch.Tensor:
    """Indices of step's batch: epochs are seeded permutations, a step takes the next slice."""
    pos = torch.arange(step * batch_size, (step + 1) * batch_size)
    epoch = pos // n
    out = torch.empty(batch_size, dtype=torch.long)
    for e in epoch.unique().tolist():
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed_of(seed, e)))
        sel = epoch == e
        out[sel] = perm[pos[sel] % n]
    return out


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warmup to 1, then cosine decay to min_ratio at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices and kernels only, not on biases and norm scales."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999), fused=device.type == "cuda")


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema = decay * ema + (1 - decay) * model, for parameters and float buffers."""
    for e, m in zip(ema.state_dict().values(), model.state_dict().values(), strict=True):
        if e.dtype.is_floating_point:
            e.lerp_(m, 1 - decay)
        else:
            e.copy_(m)


def ema_decay_at(decay: float, step: int) -> float:
    """The EMA decay warms up as (1 + step) / (10 + step): early weights are forgotten fast."""
    return min(decay, (1 + step) / (10 + step))


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# Config fields that may change between a run and its resumption without changing the result.
RESUME_FREE = {
    "data_root",
    "out_dir",
    "resume",
    "stop_after",
    "progress",
    "device",
    "log_every",
    "checkpoint_every",
    "every",
    "sample_steps",
    "sample_cfg_scale",
    "sample_method",
}


def check_resumable(saved: dict[str, Any], cfg: TrainConfig, path: Path) -> None:
    now = cfg.model_dump(mode="json")
    diff = [
        f"{k}: {saved.get(k)!r} -> {now.get(k)!r}"
        for k in sorted(set(saved) | set(now))
        if k not in RESUME_FREE and saved.get(k) != now.get(k)
    ]
    if diff:
        raise CheckpointError(
            f"{path} was written with other settings ({'; '.join(diff)}); resume with the same "
            f"settings, or start over with resume=False (--no-resume) or another out_dir"
        )


def trim_metrics(path: Path, step: int) -> None:
    """Drop metric lines logged after `step` (by a run that died before its next checkpoint)."""
    if not path.exists():
        return
    keep = [
        line for line in path.read_text().splitlines() if json.loads(line).get("step", 0) <= step
    ]
    path.write_text("".join(line + "\n" for line in keep))


def optimizer_step(
    task: Task,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    micro: int,
    cfg: TrainConfig,
    step: int,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Accumulate gradients over micro-batches of the batch (x, y), clip, and step.

    On CUDA out-of-memory the gradients are dropped, the micro-batch is halved and the step is
    redone: the effective batch stays x.shape[0]. Returns (mean loss, grad norm, micro-batch).
    """
    model, n = task.model, x.shape[0]
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda" and cfg.mixed_precision
        else contextlib.nullcontext()
    )
    while True:
        try:
            optimizer.zero_grad(set_to_none=True)
            total = torch.zeros((), device=device)
            for i, start in enumerate(range(0, n, micro)):
                xb = x[start : start + micro].to(device, non_blocking=True)
                yb = y[start : start + micro].to(device, non_blocking=True)
                gen = torch.Generator(device).manual_seed(seed_of(cfg.seed, step, i))
                with autocast:
                    loss = task.loss(model, xb, yb, gen)
                (loss * (xb.shape[0] / n)).backward()
                total += loss.detach() * (xb.shape[0] / n)
            break
        except torch.OutOfMemoryError:
            if micro == 1:
                raise
            optimizer.zero_grad(set_to_none=True)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            micro = max(1, micro // 2)
            log.warning("out of memory at step %d: micro-batch halved to %d", step, micro)
    max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return total, grad_norm, micro


def run_training(
    task: Task,
    data: PetImages,
    cfg: TrainConfig,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> TrainResult:
    """Train task.model on data as cfg says; resume from out_dir/checkpoint.pt if allowed."""
    started = time.time()
    device = resolve_device(cfg.device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, metrics_path = out / CHECKPOINT_NAME, out / METRICS_NAME
    model = task.model.to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = make_optimizer(model, cfg, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)
    )
    step, micro = 0, cfg.batch_size // cfg.grad_accum
    if cfg.resume and ckpt_path.exists():
        state = read_checkpoint(ckpt_path, task.kind)
        check_resumable(state["config"], cfg, ckpt_path)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, micro = state["step"], state["micro_batch"]
        set_rng_state(state["rng"])
        trim_metrics(metrics_path, step)
        log.info("resumed %s from %s at step %d", task.kind, ckpt_path, step)
    else:
        metrics_path.unlink(missing_ok=True)
        for old in (out / "samples").glob("step_*.png"):
            old.unlink()

    def save() -> None:
        save_checkpoint(
            ckpt_path,
            {
                "kind": task.kind,
                "arch": model.arch(),
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "micro_batch": micro,
                "rng": rng_state(),
                "config": cfg.model_dump(mode="json"),
            },
        )
        if on_checkpoint is not None:
            on_checkpoint(ckpt_path)

    end = min(cfg.steps, cfg.stop_after or cfg.steps)
    final_metrics: dict[str, Any] = {}
    loss_value: float | None = None
    console = Console(stderr=True)
    progress = Progress(
        TextColumn(f"[bold]{task.kind}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeRemainingColumn(),
        console=console,
        disable=not (cfg.progress and console.is_terminal),
    )
    bar = progress.add_task(task.kind, total=cfg.steps, completed=step, loss="-")
    window_start, window_images = time.time(), 0
    images, labels = data.images.to(device), data.labels.to(device)  # uint8: small enough
    exposed = None  # the split under the drift retrain's exposure map, made once
    if cfg.exposure is not None:
        exposed = expose_batch(images, cfg.exposure.scale, cfg.exposure.offset)
    model.train()
    with progress, metrics_path.open("a") as metrics_file:

        def write(record: dict[str, Any]) -> None:
            metrics_file.write(json.dumps(record) + "\n")
            metrics_file.flush()

        if step == 0:
            write({"step": 0, "event": "data", "train_images": len(data),
                   "dropped_images": len(data.dropped), "class_counts": data.class_counts(),
                   "device": str(device)})  # fmt: skip
        while step < end:
            idx = batch_indices(len(data), cfg.batch_size, step, cfg.seed).to(device)
            gen = torch.Generator(device).manual_seed(seed_of(cfg.seed, step, -1))
            batch = images[idx]
            if exposed is not None:  # drawn first, from the step's own generator
                pick = torch.rand(len(idx), generator=gen, device=device) < cfg.exposure.share
                batch = torch.where(pick.view(-1, 1, 1, 1), exposed[idx], batch)
            x = preprocess(batch, cfg.augment, gen)
            y = labels[idx]
            loss, grad_norm, micro = optimizer_step(task, optimizer, x, y, micro, cfg, step, device)
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            update_ema(ema, model, ema_decay_at(cfg.ema_decay, step))
            step += 1
            window_images += cfg.batch_size
            if step % cfg.log_every == 0 or step == end:
                loss_value = float(loss)
                elapsed = time.time() - window_start
                write(
                    {
                        "step": step,
                        "loss": loss_value,
                        "lr": lr,
                        "grad_norm": float(grad_norm),
                        "micro_batch": micro,
                        "images_per_s": window_images / max(elapsed, 1e-9),
                    }
                )
                window_start, window_images = time.time(), 0
                progress.update(bar, completed=step, loss=f"{loss_value:.4f}")
            periodic_due = cfg.every and step % cfg.every == 0
            if task.periodic is not None and (periodic_due or step == cfg.steps):
                final_metrics = task.periodic(ema, step)
                write({"step": step, "event": "periodic", **final_metrics})
            if step % cfg.checkpoint_every == 0 and step < end:
                save()
        if end == cfg.steps and not final_metrics and task.periodic is not None:
            final_metrics = task.periodic(ema, step)  # finished before: report again
        save()

    if loss_value is None and metrics_path.exists():
        losses = [json.loads(li).get("loss") for li in metrics_path.read_text().splitlines()]
        loss_value = next((v for v in reversed(losses) if v is not None), None)
    return TrainResult(
        kind=task.kind,
        out_dir=out,
        checkpoint=ckpt_path,
        metrics=metrics_path,
        samples=sorted((out / "samples").glob("*.png")),
        step=step,
        steps=cfg.steps,
        completed=step >= cfg.steps,
        final_loss=loss_value,
        final_metrics=final_metrics,
        train_images=len(data),
        dropped_images=len(data.dropped),
        micro_batch_size=micro,
        parameters=sum(p.numel() for p in model.parameters()),
        seconds=time.time() - started,
    )


# --------------------------------------------------------------------------------------------
# The two trainings
# --------------------------------------------------------------------------------------------


def _load(cfg: TrainConfig, split: Literal["trainval", "test"], size: int) -> PetImages:
    return load_split(cfg.data_root, split, size, cfg.include_dogs, cfg.on_bad_image, cfg.max_other)


def train_classifier(
    config: ClassifierTrainConfig | dict[str, Any],
    on_checkpoint: Callable[[Path], None] | None = None,
) -> TrainResult:
    """Train the breed classifier on trainval; report EMA accuracy on test (final_metrics)."""
    cfg = ClassifierTrainConfig.model_validate(config)
    size = cfg.image_size or CLASSIFIER_PRESETS[cfg.preset].image_size
    data = _load(cfg, "trainval", size)
    held_out = _load(cfg, "test", size)
    torch.manual_seed(cfg.seed)
    model = build_classifier(cfg.preset, image_size=size, num_classes=NUM_CLASSES)

    def loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor, _: torch.Generator) -> torch.Tensor:
        return F.cross_entropy(m(x).float(), y, label_smoothing=cfg.label_smoothing)

    def periodic(ema: nn.Module, step: int) -> dict[str, Any]:
        return {"val_accuracy": accuracy(ema, held_out), "val_images": len(held_out)}

    return run_training(Task("classifier", model, loss, periodic), data, cfg, on_checkpoint)


def train_dit(
    config: DiTTrainConfig | dict[str, Any],
    on_checkpoint: Callable[[Path], None] | None = None,
) -> TrainResult:
    """Train TinyDiT with flow matching on trainval; write an EMA sample grid (one column per
    class, CFG) under out_dir/samples every `every` steps and at the end."""
    cfg = DiTTrainConfig.model_validate(config)
    size = PRESETS[cfg.preset].image_size
    data = _load(cfg, "trainval", size)
    torch.manual_seed(cfg.seed)
    model = build(cfg.preset, num_classes=NUM_CLASSES)

    def loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return flow.flow_matching_loss(m, x, y, gen, cfg.time_sampling, cfg.label_dropout)

    def periodic(ema: nn.Module, step: int) -> dict[str, Any]:
        labels = torch.arange(NUM_CLASSES).repeat(2)
        images = flow.sample(
            ema, labels, cfg.sample_steps, cfg.sample_cfg_scale, cfg.seed, cfg.sample_method
        )
        path = save_grid(
            images, Path(cfg.out_dir) / "samples" / f"step_{step:07d}.png", NUM_CLASSES
        )
        return {"sample_grid": str(path)}

    return run_training(Task("dit", model, loss, periodic), data, cfg, on_checkpoint)


__all__ = [
    "ClassifierTrainConfig",
    "DiTTrainConfig",
    "ModelsError",
    "Task",
    "TrainConfig",
    "TrainResult",
    "load_classifier",
    "load_dit",
    "run_training",
    "train_classifier",
    "train_dit",
]
