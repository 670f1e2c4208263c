"""The model's lifecycle on disk (dataset, checkpoints, ONNX, int8, gates, release) and its sensor.

Every step that produces a model file writes a provenance record beside it, ``<file>.json``:
the file's SHA-256, the SHA-256 of the file it was made from, and what the step measured. A
file is *current* when it still has its recorded digest and its source still has the recorded
source digest. So retraining a model makes its ONNX export stale, which makes its int8 copy
stale, which makes the validation report stale, without any step having to say so: the sensor
finds it out.

Layout (relative to the workdir; every executor takes these paths as arguments with these
defaults)::

    data/pets/                      the dataset (Oxford-IIIT Pet layout)
    runs/<kind>/checkpoint.pt       training output (+ .json record, metrics.jsonl)
    artifacts/<kind>.onnx           fp32 export (+ .json record)
    artifacts/<kind>.int8.onnx      dynamic int8 quantization (+ .json record)
    artifacts/validation_report.json

``<kind>`` is ``classifier`` or ``dit``. :func:`pipeline_status` reads only these JSON records
and file digests (no torch import), because the runner calls it after every action.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.config import ConfigError, load_config
from actions.contract import InWorkdir, WorkdirArgs, known
from actions.paths import write_text
from actions.publish import ModelCard, PublishStatusArgs, publish_status
from goap.executor import ActionFailed, facts

Kind = Literal["classifier", "dit"]
KINDS: tuple[Kind, ...] = ("classifier", "dit")
DATA_ROOT = "data/pets"
RUNS_DIR = "runs"
ARTIFACTS_DIR = "artifacts"
REPORT = f"{ARTIFACTS_DIR}/validation_report.json"
CHECKPOINT = "checkpoint.pt"


def checkpoint_path(kind: Kind, runs_dir: str = RUNS_DIR) -> str:
    return f"{runs_dir}/{kind}/{CHECKPOINT}"


def onnx_path(kind: Kind, artifacts_dir: str = ARTIFACTS_DIR) -> str:
    return f"{artifacts_dir}/{kind}.onnx"


def int8_path(kind: Kind, artifacts_dir: str = ARTIFACTS_DIR) -> str:
    return f"{artifacts_dir}/{kind}.int8.onnx"


# ----------------------------------------------------------------------------- [train] settings


class MlSettings(BaseModel):
    """``[train]`` in goap.toml: settings every ML executor (train, export, gates) applies."""

    model_config = ConfigDict(extra="forbid")

    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads for torch and onnxruntime; default: the libraries' own "
        "choice. 1 is much faster on a small machine that other processes share.",
    )
    modal_data_dir: str = Field(
        "datasets", description="Modal backend: folder on the volume the dataset is uploaded to."
    )
    modal_runs_dir: str = Field(
        "runs", description="Modal backend: folder on the volume that holds training outputs."
    )


def ml_settings(workdir: Path) -> MlSettings:
    """The ``[train]`` table of workdir/goap.toml, validated (ConfigError names the key)."""
    config = load_config(workdir)
    try:
        return MlSettings.model_validate(config.train)
    except ValidationError as exc:
        problems = "; ".join(
            f"[train] {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{config.source}: {problems}") from exc


def apply_threads(settings: MlSettings) -> None:
    """Limit torch's intra-op threads (call before building models)."""
    if settings.threads is not None:
        import torch

        torch.set_num_threads(settings.threads)


def ort_session(path: Path, settings: MlSettings) -> Any:
    """An onnxruntime CPU session for ``path`` with the configured thread count."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if settings.threads is not None:
        options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ActionFailed(
            f"onnxruntime cannot load {path} ({type(exc).__name__}: {str(exc)[:200]}); "
            "export it again"
        ) from exc


# ---------------------------------------------------------------------------------- records


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def record_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".json")


def write_record(
    workdir: Path, artifact: Path, source: Path | None, info: dict[str, Any]
) -> dict[str, Any]:
    """Write ``<artifact>.json`` (atomically): digests of the artifact and its source, and info."""
    record = {
        "path": relative(workdir, artifact),
        "sha256": sha256_file(artifact),
        "size_bytes": artifact.stat().st_size,
        "source": relative(workdir, source) if source is not None else None,
        "source_sha256": sha256_file(source) if source is not None else None,
        "recorded_at": now(),
        **info,
    }
    write_json(record_path(artifact), record)
    return record


def read_record(artifact: Path) -> dict[str, Any] | None:
    """The record of ``artifact``, or None when it is missing or unreadable."""
    return read_json(record_path(artifact))


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically (a new file renamed over it: a link there is not followed)."""
    write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def relative(workdir: Path, path: Path) -> str:
    """``path`` relative to the workdir when it lies inside it (records stay portable)."""
    try:
        return path.resolve().relative_to(workdir.resolve()).as_posix()
    except ValueError:
        return str(path)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Digests:
    """SHA-256 of files, each computed once per sensor call (missing files: None)."""

    def __init__(self) -> None:
        self._known: dict[Path, str | None] = {}

    def __call__(self, path: Path) -> str | None:
        if path not in self._known:
            self._known[path] = sha256_file(path) if path.is_file() else None
        return self._known[path]

    def current(self, artifact: Path, source: Path | None) -> bool:
        """The artifact has its recorded digest and was made from ``source`` as it is now."""
        record = read_record(artifact)
        if record is None or self(artifact) is None or record.get("sha256") != self(artifact):
            return False
        return source is None or record.get("source_sha256") == self(source)


# ----------------------------------------------------------------------------------- sensor


class PipelineStatusArgs(WorkdirArgs):
    data_root: InWorkdir = Field(DATA_ROOT, description="Dataset root (Oxford-IIIT Pet layout).")
    runs_dir: InWorkdir = Field(RUNS_DIR, description="Training outputs: <runs_dir>/<kind>/.")
    artifacts_dir: InWorkdir = Field(ARTIFACTS_DIR, description="ONNX exports and int8 copies.")
    report: InWorkdir = Field(REPORT, description="The validation gates' report.")
    publish_name: str | None = Field(
        None,
        description="Model name in the hub; when set, report whether the validated "
        "release (publish_files) is the latest published version.",
    )
    publish_files: list[InWorkdir] = Field(
        default_factory=list, description="The files A12 publishes (as in its `files`)."
    )
    publish_card: ModelCard = Field(
        default_factory=ModelCard, description="The model card A12 publishes (as in its `card`)."
    )


@facts(
    "dataset_ready",
    *(
        f"{kind}_{state}"
        for kind in KINDS
        for state in ("trained", "exported", "quantized", "rejected")
    ),
    "validated",
    "version_id",
    "published",
    "publish_error",
    note="Each state holds only while the files it was made from are unchanged.",
)
def pipeline_status(args: PipelineStatusArgs) -> dict[str, Any]:
    """Sensor: dataset ready; per model trained / exported / quantized / rejected; validated;
    published. Reads records and digests only."""
    root = args.workdir
    digests = Digests()
    annotations = root / args.data_root / "annotations"
    facts: dict[str, Any] = {
        "dataset_ready": all((annotations / f"{s}.txt").is_file() for s in ("trainval", "test"))
        and any((root / args.data_root / "images").glob("*.jpg")),
    }
    current: dict[str, bool] = {}
    for kind in KINDS:
        checkpoint = root / checkpoint_path(kind, args.runs_dir)
        onnx = root / onnx_path(kind, args.artifacts_dir)
        int8 = root / int8_path(kind, args.artifacts_dir)
        record = read_record(checkpoint) or {}
        trained = digests.current(checkpoint, None) and bool(record.get("completed"))
        exported = trained and digests.current(onnx, checkpoint)
        quantized = exported and digests.current(int8, onnx)
        facts |= {
            f"{kind}_trained": trained,
            f"{kind}_exported": exported,
            f"{kind}_quantized": quantized,
        }
        current[kind] = quantized
    facts |= report_status(root, root / args.report, digests)
    facts["validated"] = facts["validated"] and all(current.values())
    if args.publish_name:
        facts |= _published(args, facts["validated"])
    return known(facts)


def report_status(workdir: Path, report_file: Path, digests: Digests) -> dict[str, Any]:
    """What the validation report says about the files as they are now.

    ``validated``: the report passed and every file it checked is unchanged. ``<kind>_rejected``:
    that model failed its gates and its checkpoint is unchanged (so retraining is what helps).
    """
    report = read_json(report_file)
    facts: dict[str, Any] = {"validated": False, **{f"{k}_rejected": False for k in KINDS}}
    if report is None:
        return facts
    inputs = report.get("inputs", {})
    unchanged = bool(inputs) and all(
        digests(workdir / item["path"]) == item["sha256"] for item in inputs.values()
    )
    for kind in KINDS:
        model = report.get("models", {}).get(kind, {})
        checkpoint = inputs.get(f"{kind}.checkpoint")
        same_checkpoint = checkpoint is not None and (
            digests(workdir / checkpoint["path"]) == checkpoint["sha256"]
        )
        facts[f"{kind}_rejected"] = same_checkpoint and model.get("passed") is False
    facts["validated"] = unchanged and report.get("passed") is True
    if unchanged:
        facts["version_id"] = report.get("version_id")
    return facts


def _published(args: PipelineStatusArgs, validated: bool) -> dict[str, Any]:
    """Is the validated release the latest published version? (the hub's own sensor decides)."""
    if not validated:
        return {"published": False}
    try:
        query = PublishStatusArgs(
            workdir=args.workdir,
            name=args.publish_name,
            files=args.publish_files,
            card=args.publish_card,
        )
        status = publish_status(query)
    except (ActionFailed, ConfigError) as exc:  # e.g. no token for the Hub: leave it unknown
        return {"publish_error": getattr(exc, "message", str(exc))}
    if "up_to_date" in status:
        return {"published": bool(status["up_to_date"])}
    return {"published": bool(status.get("published"))}
