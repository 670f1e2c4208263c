"""Backend configuration: the optional ``goap.toml`` in the workdir, with environment overrides.

Which CI, model hub and training backend a run uses is configuration, not part of a plan. With
no ``goap.toml`` every backend is the embedded local one, so a fresh machine works offline:

```toml
[backends]
ci = "local"          # "local" | "github"        (env GOAP_CI_BACKEND)
hub = "local"         # "local" | "huggingface"   (env GOAP_HUB_BACKEND)
train = "local"       # "local" | "modal"         (env GOAP_TRAIN_BACKEND)

[git]
remote = "goap-local"             # remote that push and CI use; by default goap's own, so
                                  # a clone's real `origin` is used only when named here
remote_url = ".goap/remote.git"   # added as that remote when the repo lacks it; a local
                                  # path is a bare repository (push can create it)

[ci]                              # local CI backend
commands = ["ruff check .", "ruff format --check .", "python -m pytest -q"]
timeout_s = 1800

[github]                          # GitHub Actions CI backend
repo = "owner/name"
api_url = "https://api.github.com"
token_env = "GITHUB_TOKEN"
timeout_s = 3600
poll_initial_s = 10
poll_max_s = 120

[registry]                        # local model registry backend
path = ".goap/registry"

[huggingface]                     # Hugging Face Hub backend
repo_id = "owner/name"
token_env = "HF_TOKEN"
endpoint = "https://huggingface.co"
private = false

[tracking]
backend = "auto"                  # "auto" (MLflow when importable) | "mlflow" | "jsonl"
mlflow_uri = "sqlite:///.goap/mlflow.db"
runs_file = ".goap/runs.jsonl"

[serving]                         # the model server and a rollout stage (see the README)
traffic = "local"                 # "local": a stage drives bounded local load; "live": waits
[train]                           # settings owned by the ML executors (actions.pipeline)
threads = 1                       # CPU threads of torch and onnxruntime; default: theirs
modal_data_dir = "datasets"       # Modal backend: volume folders for data and outputs
modal_runs_dir = "runs"
```

Relative paths are relative to the workdir. Local state lives in ``.goap/`` in the workdir,
which ignores itself in git so it never makes the tree dirty.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

CONFIG_FILE = "goap.toml"
STATE_DIR = ".goap"
BACKEND_ENV = {"ci": "GOAP_CI_BACKEND", "hub": "GOAP_HUB_BACKEND", "train": "GOAP_TRAIN_BACKEND"}


class ConfigError(ValueError):
    """A bad ``goap.toml`` or override: the message names the file (or variable) and the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Backends(_Section):
    ci: Literal["local", "github"] = "local"
    hub: Literal["local", "huggingface"] = "local"
    train: Literal["local", "modal"] = "local"


class GitSettings(_Section):
    # never the clone's real `origin` unless goap.toml names it: a run on a checkout with
    # credentials must not push to the real project by default
    remote: str = Field("goap-local", min_length=1)
    remote_url: str = Field(f"{STATE_DIR}/remote.git", min_length=1)


class LocalCiSettings(_Section):
    commands: list[Annotated[str, Field(pattern=r"\S")]] = Field(
        default_factory=lambda: ["ruff check .", "ruff format --check .", "python -m pytest -q"],
        min_length=1,
    )
    timeout_s: float = Field(1800, gt=0)


class GithubSettings(_Section):
    repo: str | None = Field(None, pattern=r"^[\w.-]+/[\w.-]+$")
    api_url: str = "https://api.github.com"
    token_env: str = "GITHUB_TOKEN"
    timeout_s: float = Field(3600, gt=0)
    poll_initial_s: float = Field(10, gt=0)
    poll_max_s: float = Field(120, gt=0)


class RegistrySettings(_Section):
    path: str = f"{STATE_DIR}/registry"


class HuggingFaceSettings(_Section):
    repo_id: str | None = Field(None, pattern=r"^[\w.-]+/[\w.-]+$")
    token_env: str = "HF_TOKEN"
    endpoint: str | None = None
    private: bool = False


class TrackingSettings(_Section):
    backend: Literal["auto", "mlflow", "jsonl"] = "auto"
    mlflow_uri: str | None = None
    runs_file: str = f"{STATE_DIR}/runs.jsonl"


class ServingSettings(_Section):
    """``[serving]``: the model server (actions.serving) and the traffic of a rollout stage."""

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)  # 0: a free port, written to the ready file
    state_dir: str = f"{STATE_DIR}/serve"
    start_timeout_s: float = Field(60, gt=0)
    # "local": a stage drives its window itself with models.loadgen (the demo, the tests);
    # "live": it waits for the requests users send
    traffic: Literal["local", "live"] = "local"
    traffic_data: str = "data/pets"  # local traffic: labelled images (Oxford-IIIT Pet layout)
    traffic_split: Literal["trainval", "test"] = "test"
    traffic_clients: int = Field(50, ge=1)
    traffic_concurrency: int = Field(4, ge=1, le=64)
    traffic_shift: float = Field(0.0, ge=-1, le=1)  # models.loadgen's input shift (drift)
    window_timeout_s: float = Field(600, gt=0)


class GoapConfig(_Section):
    """The whole configuration, with the workdir it applies to and the file it came from."""

    backends: Backends = Backends()
    git: GitSettings = GitSettings()
    ci: LocalCiSettings = LocalCiSettings()
    github: GithubSettings = GithubSettings()
    registry: RegistrySettings = RegistrySettings()
    huggingface: HuggingFaceSettings = HuggingFaceSettings()
    tracking: TrackingSettings = TrackingSettings()
    serving: ServingSettings = ServingSettings()
    train: dict[str, Any] = Field(default_factory=dict)
    # read by the engine (goap.running.resources), which checks it: capacities by name
    resources: dict[str, float] = Field(default_factory=dict)
    # read by the engine (goap.running.jobs): action -> job backend, and [jobs.ray]
    jobs: dict[str, Any] = Field(default_factory=dict)
    _workdir: Path = PrivateAttr(Path("."))
    _source: str = PrivateAttr("defaults")

    @property
    def workdir(self) -> Path:
        return self._workdir

    @property
    def source(self) -> str:
        """The file the settings came from, for error messages."""
        return self._source

    def path(self, value: str) -> Path:
        """A configured path, relative ones resolved against the workdir."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.workdir / path

    def missing(self, key: str, why: str) -> ConfigError:
        """The error for a required setting that is not set."""
        return ConfigError(f"{self.source}: {key} is not set; it is required {why}")


def load_config(workdir: Path) -> GoapConfig:
    """Read ``workdir/goap.toml`` (optional), apply GOAP_*_BACKEND overrides, validate."""
    file = workdir / CONFIG_FILE
    raw: dict[str, Any] = {}
    if file.is_file():
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc}); fix the syntax") from exc
    overrides = {key: os.environ[env] for key, env in BACKEND_ENV.items() if os.environ.get(env)}
    if overrides:
        backends = raw.get("backends", {})
        if not isinstance(backends, dict):
            raise ConfigError(f"{file}: [backends] must be a table")
        raw["backends"] = {**backends, **overrides}
    try:
        config = GoapConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, file, overrides)) from exc
    config._workdir = workdir
    config._source = str(file) if file.is_file() else f"{file} (absent, defaults)"
    return config


def _describe(exc: ValidationError, file: Path, overrides: dict[str, str]) -> str:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        section, key = loc[0], ".".join(loc[1:])
        where = f"[{section}] {key}".strip()
        if section == "backends" and key in overrides:
            where = f"{BACKEND_ENV[key]} (overrides [backends] {key})"
        given = f" (got {error['input']!r})" if error["type"] != "missing" else ""
        problems.append(f"{where}: {error['msg']}{given}")
    return f"{file}: " + "; ".join(problems)


def state_dir(workdir: Path, *parts: str) -> Path:
    """``workdir/.goap/<parts>``, created; ``.goap`` ignores itself so git never sees it."""
    root = workdir / STATE_DIR
    root.mkdir(parents=True, exist_ok=True)
    ignore = root / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# local goap state: never committed\n*\n", encoding="utf-8")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
