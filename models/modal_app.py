"""Modal GPU functions: train the classifier, train the DiT, sample. One Volume holds the data
and the checkpoints (mounted at /vol in the containers).

Two backends run the same functions:
- "local" (the default): in this process through `.local()`; needs no Modal token and no
  network, paths are local paths.
- "modal": on a Modal GPU, `.remote()` through `call`, or `spawn` for a call that outlives the
  caller (found again by its id with `poll`); needs a Modal token (`modal token new`), and the
  paths in the config are paths in the container (data uploaded to the volume, e.g. /vol/pets,
  outputs under /vol/runs/...). `upload_dataset` copies a local dataset to the volume.

Checkpoints are committed to the volume as they are written, so a run that hits the timeout
resumes from its last checkpoint when called again with the same config.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import modal

from models.errors import ModelsError

APP_NAME = "goap-cats"
VOLUME_NAME = "goap-cats-data"
VOLUME_PATH = "/vol"
GPU = "A10G"  # the seed's GPU: 24 GB, bf16
TRAIN_TIMEOUT_S = 6 * 60 * 60  # a training call; longer runs resume from the volume
SAMPLE_TIMEOUT_S = 10 * 60
PYTHON_VERSION = "3.11"

Backend = Literal["local", "modal"]

app = modal.App(APP_NAME)
volume = modal.Volume.from_name(VOLUME_NAME, create_if_missing=True)
image = (
    modal.Image.debian_slim(python_version=PYTHON_VERSION)
    .pip_install(
        "torch>=2.6,<2.14",
        "numpy>=1.26",
        "pillow>=10",
        "pydantic>=2.6",
        "rich>=13",
        "safetensors>=0.4",
    )  # fmt: skip
    .add_local_python_source("models")
)

# What each function is declared with; the decorators below read it, tests check it.
SPECS: dict[str, dict[str, Any]] = {
    "train_classifier": {"gpu": GPU, "timeout": TRAIN_TIMEOUT_S},
    "train_dit": {"gpu": GPU, "timeout": TRAIN_TIMEOUT_S},
    "sample": {"gpu": GPU, "timeout": SAMPLE_TIMEOUT_S},
}


def _options(name: str) -> dict[str, Any]:
    return {**SPECS[name], "volumes": {VOLUME_PATH: volume}, "image": image}


def _commit(_: Path | None = None) -> None:
    """Persist the volume's changes; only inside a Modal container (a no-op locally)."""
    if not modal.is_local():
        volume.commit()


@app.function(**_options("train_classifier"))
def train_classifier(config: dict[str, Any]) -> dict[str, Any]:
    """models.train.train_classifier on a GPU; returns the TrainResult as JSON."""
    from models.train import train_classifier as run

    return run(config, on_checkpoint=_commit).model_dump(mode="json")


@app.function(**_options("train_dit"))
def train_dit(config: dict[str, Any]) -> dict[str, Any]:
    """models.train.train_dit on a GPU; returns the TrainResult as JSON."""
    from models.train import train_dit as run

    return run(config, on_checkpoint=_commit).model_dump(mode="json")


@app.function(**_options("sample"))
def sample(
    checkpoint: str,
    labels: list[int],
    out_png: str,
    steps: int = 50,
    cfg_scale: float = 4.0,
    seed: int = 0,
    method: str = "euler",
) -> dict[str, Any]:
    """Sample one image per label from a DiT checkpoint (EMA) into a PNG grid."""
    import torch

    from models.checkpoint import load_dit
    from models.data import save_grid
    from models.flow import sample as draw

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_dit(checkpoint, device=device)
    images = draw(model, labels, steps=steps, cfg_scale=cfg_scale, seed=seed, method=method)
    path = save_grid(images, out_png, nrow=min(len(labels), 8))
    _commit()
    return {"png": str(path), "images": len(labels), "steps": steps, "cfg_scale": cfg_scale}


FUNCTIONS: dict[str, modal.Function] = {
    "train_classifier": train_classifier,
    "train_dit": train_dit,
    "sample": sample,
}


def has_token() -> bool:
    """Whether a Modal token is configured (env or ~/.modal.toml); checked before any call."""
    cfg = modal.config.config
    return bool(cfg.get("token_id") and cfg.get("token_secret"))


def call(name: str, *args: Any, backend: Backend = "local", **kwargs: Any) -> dict[str, Any]:
    """Run one of FUNCTIONS in-process ("local") or on Modal ("modal")."""
    if name not in FUNCTIONS:
        raise ModelsError(f"unknown Modal function {name!r}; choose one of {', '.join(FUNCTIONS)}")
    fn = FUNCTIONS[name]
    if backend == "local":
        with warnings.catch_warnings():  # "executing locally ... no access to the Volume"
            warnings.filterwarnings("ignore", message=".*executing locally.*")
            return fn.local(*args, **kwargs)
    if backend != "modal":
        raise ModelsError(f"backend must be 'local' or 'modal', got {backend!r}")
    if not has_token():
        raise ModelsError(
            "the Modal backend needs a Modal token: run `modal token new` or set "
            "MODAL_TOKEN_ID and MODAL_TOKEN_SECRET (or use --backend local)"
        )
    with app.run():
        return fn.remote(*args, **kwargs)


# ------------------------------------------------- calls that outlive the caller (spawn)

CallState = Literal["running", "done", "gone"]


def spawn(name: str, *args: Any) -> str:
    """Start one of FUNCTIONS on Modal without waiting; returns the call's id.

    The app runs detached (``app.run(detach=True)``), so the call goes on when this process
    ends; :func:`poll` and :func:`result` find it again by its id from any process."""
    if name not in FUNCTIONS:
        raise ModelsError(f"unknown Modal function {name!r}; choose one of {', '.join(FUNCTIONS)}")
    if not has_token():
        raise ModelsError("spawning on Modal needs a token: run `modal token new`")
    with app.run(detach=True):
        return FUNCTIONS[name].spawn(*args).object_id


def poll(call_id: str, wait_s: float = 0.0) -> tuple[CallState, Any]:
    """(state, result): the call's result when done, waiting up to ``wait_s`` for it."""
    try:
        return "done", modal.FunctionCall.from_id(call_id).get(timeout=wait_s)
    except (modal.exception.NotFoundError, modal.exception.OutputExpiredError):
        return "gone", None  # (OutputExpiredError is a TimeoutError: checked first)
    except (TimeoutError, modal.exception.TimeoutError):
        return "running", None


def cancel(call_id: str) -> None:
    """Stop the call (its container too)."""
    modal.FunctionCall.from_id(call_id).cancel(terminate_containers=True)


def upload_dataset(local_root: str | Path, remote_dir: str = "pets") -> str:
    """Copy a dataset in the Oxford-IIIT Pet layout to the volume; returns its container path.
    Needs a Modal token."""
    if not has_token():
        raise ModelsError("uploading to the Modal volume needs a token: run `modal token new`")
    local_root = Path(local_root)
    with volume.batch_upload(force=True) as batch:
        batch.put_directory(str(local_root), f"/{remote_dir}")
    return f"{VOLUME_PATH}/{remote_dir}"
