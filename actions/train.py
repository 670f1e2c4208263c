"""Dataset, training and evaluation executors, over models/ (T00-T02, the retrains, evaluate).

``[backends] train`` picks where training runs: ``local`` (default) calls the Modal functions
of models.modal_app in this process (``.local()``: no token, no network); ``modal`` uploads the
dataset to the Modal volume, runs the same function on a GPU (``.remote()``) and downloads the
checkpoint and metrics into the same local folder, so export and the gates do not care where
training ran. torch and models/ are imported inside the executors: a sensor or the runner's
preflight that imports this module stays light.

Every training writes ``runs/<kind>/checkpoint.pt.json`` (see actions.pipeline): the
checkpoint's digest, the config and the final metrics.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from actions.config import load_config
from actions.contract import InWorkdir, OptionalInWorkdir, WorkdirArgs, known
from actions.paths import replacing
from actions.pipeline import (
    DATA_ROOT,
    REPORT,
    RUNS_DIR,
    Kind,
    MlSettings,
    apply_threads,
    checkpoint_path,
    ml_settings,
    now,
    read_json,
    relative,
    write_record,
)
from goap.executor import ActionFailed, facts, leave_jobs, progress, reattach, remote_job

MODAL_TOKEN_HINT = (
    "the Modal training backend needs a Modal token: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET "
    "(or run `modal token new`), or select [backends] train = 'local'"
)


class DatasetArgs(WorkdirArgs):
    data_root: InWorkdir = Field(DATA_ROOT, description="Dataset root (Oxford-IIIT Pet layout).")
    generate: bool = Field(
        True,
        description="When no dataset is there, write a synthetic one "
        "(models.pets.make_synthetic_pets); false: fail instead.",
    )
    per_class: int = Field(40, ge=2, description="Synthetic: images per class.")
    image_size: int = Field(32, ge=8, description="Synthetic: image side in pixels.")
    seed: int = Field(0, description="Synthetic: random seed.")
    test_fraction: float = Field(0.3, gt=0, lt=1, description="Synthetic: held-out share.")


class TrainArgs(WorkdirArgs):
    kind: Kind = Field(description="Which model: 'classifier' or 'dit'.")
    data_root: InWorkdir = Field(DATA_ROOT, description="Dataset root (Oxford-IIIT Pet layout).")
    out_dir: OptionalInWorkdir = Field(None, description="Output folder; default: runs/<kind>.")
    preset: str | None = Field(None, description="Model preset; default: models' default.")
    steps: int = Field(ge=1, description="Optimizer steps.")
    batch_size: int = Field(32, ge=1, description="Effective batch of one step.")
    lr: float | None = Field(None, gt=0, description="Peak learning rate; default: models'.")
    warmup_steps: int = Field(10, ge=0, description="Linear warmup steps.")
    seed: int = Field(0, description="Seed of initialisation, batches and noise.")
    fresh: bool = Field(
        False,
        description="Start over instead of resuming out_dir/checkpoint.pt (what a retrain of "
        "a rejected model needs: resuming would give back the same weights).",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Further fields of models.train.ClassifierTrainConfig / DiTTrainConfig "
        "(e.g. image_size, ema_decay, augment, sample_steps); checked against them.",
    )
    adapt_to: OptionalInWorkdir = Field(
        None,
        description="A drift report (actions.serving.drift_status's drift_report.json): train "
        "on data re-exposed as the served inputs are (models.drift.fit_exposure); an error "
        "when the report finds no drift that such a map describes.",
    )
    retrain: bool = Field(
        False,
        description="A retrain: change what the failure calls for (a new seed each time; "
        "steps x1.5 per earlier retrain when an accuracy gate failed) and refuse a training "
        "that would repeat an earlier one (same settings and data).",
    )


class EvaluateArgs(WorkdirArgs):
    data_root: InWorkdir = Field(DATA_ROOT, description="Dataset root; the test split is used.")
    runs_dir: InWorkdir = Field(
        RUNS_DIR, description="Where the checkpoints are: <runs_dir>/<kind>/."
    )
    out_dir: InWorkdir = Field("runs/eval", description="Where the reports and sample grids go.")
    samples_per_class: int = Field(8, ge=1, description="Generator: samples per breed.")
    sample_steps: int = Field(10, ge=1, description="Generator: Euler steps per sample.")
    cfg_scale: float = Field(4.0, description="Generator: classifier-free guidance scale.")
    seed: int = Field(0, description="Generator: noise seed.")


# ---------------------------------------------------------------------------------- executors


@facts("data_root", "generated", "trainval", "test", "classes", "all_classes_present")
def prepare_dataset(args: DatasetArgs) -> dict[str, Any]:
    """T00: check the dataset's layout and count it; generate a synthetic one if none is there."""
    from models.errors import DatasetError
    from models.pets import NUM_CLASSES, make_synthetic_pets, read_annotations

    root = args.workdir / args.data_root
    generated = False
    if not (root / "annotations").is_dir():
        if not args.generate:
            raise ActionFailed(
                f"no dataset at {root}: put the Oxford-IIIT Pet layout there (images/, "
                "annotations/{trainval,test}.txt) or set generate: true"
            )
        make_synthetic_pets(root, args.per_class, args.image_size, args.seed, args.test_fraction)
        generated = True
    try:
        splits = {split: read_annotations(root, split) for split in ("trainval", "test")}
    except DatasetError as exc:
        raise ActionFailed(f"dataset at {root} is not usable: {exc}") from exc
    missing = [r.path for records in splits.values() for r in records if not r.path.is_file()]
    if missing:
        raise ActionFailed(
            f"{len(missing)} image(s) listed in {root}/annotations are missing (first: "
            f"{missing[0]}); restore them or regenerate the dataset"
        )
    labels = {r.label for records in splits.values() for r in records}
    return {
        "data_root": args.data_root,
        "generated": generated,
        "trainval": len(splits["trainval"]),
        "test": len(splits["test"]),
        "classes": len(labels),
        "all_classes_present": len(labels) == NUM_CLASSES,
    }


@facts(
    "kind",
    "backend",
    "checkpoint",
    "metrics_file",
    "step",
    "steps",
    "completed",
    "final_loss",
    "seconds",
    "parameters",
    "train_images",
    "fresh",
    "seed",
    "val_accuracy",
    "val_images",
    "sample_grid",
    note="val_accuracy and val_images: the classifier's; sample_grid: the DiT's (local runs).",
)
def train_model(args: TrainArgs) -> dict[str, Any]:
    """T01/T02 and the retrains: train one model through models.modal_app's backend."""
    settings = ml_settings(args.workdir)
    apply_threads(settings)
    backend = load_config(args.workdir).backends.train
    out_dir = args.workdir / (args.out_dir or f"{RUNS_DIR}/{args.kind}")
    ledger = Ledger(out_dir / LEDGER_FILE)
    exposure = _exposure(args.workdir, args.adapt_to) if args.adapt_to else None
    if args.retrain and exposure is None:  # keeps the data the last training was made on
        exposure = ledger.last_exposure()
    if args.retrain:
        args = ledger.varied(args, "drift" if args.adapt_to else _failure(args))
    config = _train_config(args, out_dir, exposure)
    fingerprint = ledger.fingerprint(config, args.workdir / args.data_root)
    if args.retrain:
        ledger.refuse_repeat(fingerprint, args)
    from models.errors import ModelsError

    try:
        if backend == "modal":  # its metrics arrive with the checkpoint: no live progress
            result = _train_on_modal(args, config, out_dir, settings)
        else:
            with _reporting(out_dir / "metrics.jsonl", config["steps"]):
                result = _call(args.kind, config, "local")
    except ModelsError as exc:  # CheckpointError, DatasetError: bad input, said plainly
        hint = "; set fresh: true to start over" if "other settings" in str(exc) else ""
        raise ActionFailed(f"{args.kind} training failed: {exc}{hint}") from exc
    checkpoint = out_dir / "checkpoint.pt"
    facts = _train_facts(args, result, backend, checkpoint)
    if not result["completed"]:
        raise ActionFailed(
            f"{args.kind} training stopped at step {result['step']} of {result['steps']}; "
            "run it again to resume",
            facts=facts,
        )
    write_record(
        args.workdir,
        checkpoint,
        None,
        {
            "kind": args.kind,
            "backend": backend,
            "completed": True,
            "step": result["step"],
            "final_loss": result["final_loss"],
            "final_metrics": result["final_metrics"],
            "parameters": result["parameters"],
            "train_images": result["train_images"],
            "seconds": round(result["seconds"], 3),
            "config": result["config"],
        },
    )
    ledger.add(fingerprint, config, args.retrain)
    return facts


@facts(
    "accuracy",
    "test_images",
    "share_cfg",
    "share_no_cfg",
    "chance",
    "fd_cfg",
    "fd_no_cfg",
    "classifier_report",
    "generator_report",
)
def evaluate_models(args: EvaluateArgs) -> dict[str, Any]:
    """Evaluate both checkpoints (models.evaluate): classifier accuracy on the test split; the
    share of generated samples the classifier recognises as the requested breed, with and
    without guidance; Frechet distances. Reports go to out_dir."""
    apply_threads(ml_settings(args.workdir))
    from models.errors import ModelsError
    from models.evaluate import evaluate_classifier, evaluate_generator

    root, out = args.workdir, args.workdir / args.out_dir
    classifier = root / checkpoint_path("classifier", args.runs_dir)
    dit = root / checkpoint_path("dit", args.runs_dir)
    data = root / args.data_root
    try:
        clf = evaluate_classifier(classifier, data, "test", out / "classifier.json")
        gen = evaluate_generator(
            dit, classifier, data, out / "generator", args.samples_per_class,
            args.sample_steps, args.cfg_scale, seed=args.seed,
        )  # fmt: skip
    except ModelsError as exc:
        raise ActionFailed(f"evaluation failed: {exc}") from exc
    return {
        "accuracy": clf["accuracy"],
        "test_images": clf["images"],
        "share_cfg": gen["share_cfg"],
        "share_no_cfg": gen["share_no_cfg"],
        "chance": gen["chance"],
        "fd_cfg": gen["fd_cfg"],
        "fd_no_cfg": gen["fd_no_cfg"],
        "classifier_report": relative(root, out / "classifier.json"),
        "generator_report": relative(root, out / "generator" / "report.json"),
    }


# ----------------------------------------------------------------------------------- helpers


def _exposure(workdir: Path, adapt_to: str) -> dict[str, Any]:
    """The exposure map of the drift report ``adapt_to``, for models.train's ``exposure``."""
    report = read_json(workdir / adapt_to)
    if report is None:
        raise ActionFailed(
            f"no drift report at {adapt_to}: the drift sensor (drift_status) writes it "
            "when the model server is up; nothing to adapt to"
        )
    if not report.get("drift") or not isinstance(report.get("exposure"), dict):
        why = report.get("reason", "no drift")
        raise ActionFailed(
            f"{adapt_to} describes no drift an exposure map can follow ({why}); "
            "retrain without adapt_to, or collect more served inputs first"
        )
    return {**report["exposure"], "share": 0.5}


def _train_config(
    args: TrainArgs, out_dir: Path, exposure: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The models.train config, validated here so a bad option names itself before training."""
    from models.train import ClassifierTrainConfig, DiTTrainConfig

    fields = {
        "data_root": str(args.workdir / args.data_root),
        "out_dir": str(out_dir),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "warmup_steps": args.warmup_steps,
        "seed": args.seed,
        "resume": not args.fresh,
        "progress": False,
        "checkpoint_every": args.steps,  # one write at the end: the run is short
        **({"preset": args.preset} if args.preset else {}),
        **({"lr": args.lr} if args.lr else {}),
        **({"exposure": exposure} if exposure else {}),
    }
    clash = sorted(set(args.options) & set(fields))
    if clash:
        raise ActionFailed(f"`options` repeats {', '.join(clash)}; set them as arguments instead")
    model = ClassifierTrainConfig if args.kind == "classifier" else DiTTrainConfig
    try:
        return model.model_validate({**fields, **args.options}).model_dump(mode="json")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise ActionFailed(f"invalid {args.kind} training settings: {problems}") from exc


LEDGER_FILE = "trainings.jsonl"
ACCURACY_GATES = {"classifier": {"accuracy", "drift_accuracy"}, "dit": {"conditional_accuracy"}}


def _failure(args: TrainArgs) -> str:
    """What the last validation said about this model: 'accuracy' (it underfits: more steps
    help), 'other' (a new start helps), or 'none' (no report names it)."""
    report = read_json(args.workdir / REPORT) or {}
    failed = [
        g.split(".", 1)[1] for g in report.get("failed_gates", []) if g.startswith(args.kind + ".")
    ]
    if ACCURACY_GATES[args.kind] & set(failed):
        return "accuracy"
    return "other" if failed else "none"


class Ledger:
    """Every completed training of a model, one JSON line each (``runs/<kind>/trainings.jsonl``):
    what made it (the settings and a digest of the data) so a retrain can be made to differ."""

    def __init__(self, path: Path):
        self.path = path

    def entries(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_bytes().splitlines()
        except OSError:
            return []
        return [r for r in map(_record, lines) if r]

    @staticmethod
    def fingerprint(config: dict[str, Any], data_root: Path) -> str:
        """The settings that decide the weights, and the data: its annotations and the name and
        size of every image (not their bytes: a dataset of thousands hashes in milliseconds)."""
        digest = hashlib.sha256()
        settings = {k: v for k, v in config.items() if k not in _NOT_WEIGHTS}
        digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
        for folder in ("annotations", "images"):
            for path in (
                sorted((data_root / folder).glob("*")) if (data_root / folder).is_dir() else []
            ):
                digest.update(f"{path.name}\0{path.stat().st_size}\n".encode())
                if folder == "annotations":
                    digest.update(path.read_bytes())
        return digest.hexdigest()

    def varied(self, args: TrainArgs, failure: str) -> TrainArgs:
        """``args`` changed as the failure calls for: the seed moves past every earlier
        training's; after an accuracy failure the steps grow by half per earlier retrain;
        after input drift the data changes (the caller's exposure map)."""
        entries = self.entries()
        seeds = {e["config"].get("seed") for e in entries}
        seed = args.seed
        while seed in seeds:
            seed += 1
        retrains = sum(1 for e in entries if e.get("retrain"))
        steps = args.steps
        if failure == "accuracy":
            steps = int(round(args.steps * 1.5**retrains))
        why = "on re-exposed data (input drift)" if failure == "drift" else f"({failure} failure)"
        progress(message=f"retrain #{retrains + 1}: seed {seed}, {steps} steps {why}")
        return args.model_copy(update={"seed": seed, "steps": steps, "fresh": True})

    def last_exposure(self) -> dict[str, Any] | None:
        """The exposure map of the last training (a drift retrain's), which a later retrain
        keeps: the served inputs it was made for have not changed back."""
        entries = self.entries()
        return entries[-1]["config"].get("exposure") if entries else None

    def refuse_repeat(self, fingerprint: str, args: TrainArgs) -> None:
        for number, entry in enumerate(self.entries(), 1):
            if entry.get("fingerprint") == fingerprint:
                raise ActionFailed(
                    f"this {args.kind} retrain would repeat training #{number} of "
                    f"{self.path} (same settings and data: seed {args.seed}, {args.steps} "
                    "steps) and give the same weights; change the seed, the steps or the data"
                )

    def add(self, fingerprint: str, config: dict[str, Any], retrain: bool) -> None:
        settings = {k: v for k, v in config.items() if k not in _NOT_WEIGHTS}
        line = json.dumps(
            {"fingerprint": fingerprint, "retrain": retrain, "at": now(), "config": settings}
        )
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


_NOT_WEIGHTS = {"out_dir", "resume", "progress", "checkpoint_every", "data_root", "device"}


@contextlib.contextmanager
def _reporting(metrics: Path, total: int, every: float = 1.0) -> Iterator[None]:
    """Follow the training's metrics file (models/ knows nothing of goap) and report its
    newest step and loss on goap's progress channel while the training runs."""
    stop = threading.Event()

    def follow() -> None:
        offset = 0
        while not stop.wait(every):
            try:
                with metrics.open("rb") as handle:
                    if handle.seek(0, 2) < offset:  # a fresh training replaced the file
                        offset = 0
                    handle.seek(offset)
                    lines = handle.read().split(b"\n")
            except OSError:
                continue
            offset += sum(len(line) + 1 for line in lines[:-1])  # complete lines only
            steps = [r for r in map(_record, lines[:-1]) if r and "loss" in r]
            if steps:
                last = steps[-1]
                speed = (
                    {"images_per_s": round(last["images_per_s"])} if "images_per_s" in last else {}
                )
                progress(step=last["step"], total=total, loss=last["loss"], **speed)

    thread = threading.Thread(target=follow, name="goap-train-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(every + 1)


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _call(kind: Kind, config: dict[str, Any], backend: str) -> dict[str, Any]:
    from models.modal_app import call

    result = call(f"train_{kind}", config, backend=backend)
    return {**result, "config": config}


def _train_on_modal(
    args: TrainArgs, config: dict[str, Any], out_dir: Path, settings: MlSettings
) -> dict[str, Any]:
    """Upload the dataset, train on a Modal GPU, download checkpoint and metrics to out_dir."""
    from models import modal_app

    if not modal_app.has_token():
        raise ActionFailed(MODAL_TOKEN_HINT)
    project = args.workdir.name
    remote_data = modal_app.upload_dataset(
        args.workdir / args.data_root, f"{settings.modal_data_dir}/{project}"
    )
    remote_out = f"{settings.modal_runs_dir}/{project}/{args.kind}"
    remote = {
        **config,
        "data_root": remote_data,
        "out_dir": f"{modal_app.VOLUME_PATH}/{remote_out}",
    }
    result = {**_on_modal(f"train_{args.kind}", remote), "config": config}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("checkpoint.pt", "metrics.jsonl"):
        with replacing(out_dir / name) as partial, partial.open("wb") as handle:
            for chunk in modal_app.volume.read_file(f"{remote_out}/{name}"):
                handle.write(chunk)
    return {**result, "config": config}


def _on_modal(name: str, config: dict[str, Any], poll_s: float = 30.0) -> dict[str, Any]:
    """Run a Modal function as a job that outlives this process, exactly once.

    The call is spawned (not ``.remote()``) and its id reported to goap before we wait, so a
    runner that dies during a two-hour training does not pay for a second one: the next
    attempt gets the id back (``reattach``) and waits for the same call, or collects the
    result of one that finished meanwhile. SIGTERM (goap stopping) cancels the call unless
    the run leaves jobs running (``goap run --leave-jobs``)."""
    import signal

    from models import modal_app

    previous = reattach()
    call_id = None
    if previous is not None and previous.get("backend") == "modal":
        state, result = modal_app.poll(previous["id"])
        if state == "done":
            return result
        if state == "running":
            call_id = previous["id"]
            progress(message=f"reattached to Modal call {call_id}")
    if call_id is None:
        call_id = modal_app.spawn(name, config)
    remote_job("modal", call_id, function=name)

    def stop(signum: int, frame: Any) -> None:
        if not leave_jobs():
            modal_app.cancel(call_id)
        raise ActionFailed(
            f"stopped; Modal call {call_id} {'left running' if leave_jobs() else 'cancelled'}"
        )

    before = signal.signal(signal.SIGTERM, stop)
    try:
        waited = 0.0
        while True:
            state, result = modal_app.poll(call_id, wait_s=poll_s)
            if state == "done":
                return result
            if state == "gone":
                raise ActionFailed(f"Modal call {call_id} of {name} is gone (expired or deleted)")
            waited += poll_s
            progress(message=f"Modal call {call_id} running", waited_s=round(waited))
    finally:
        signal.signal(signal.SIGTERM, before)


def _train_facts(
    args: TrainArgs, result: dict[str, Any], backend: str, checkpoint: Path
) -> dict[str, Any]:
    """What a training reports: where the checkpoint is, loss, time, the final metrics."""
    root = args.workdir
    metrics = {k: v for k, v in result["final_metrics"].items() if isinstance(v, int | float)}
    grid = result["final_metrics"].get("sample_grid")
    if grid and Path(grid).is_file():  # a local path (on Modal it stays on the volume)
        metrics["sample_grid"] = relative(root, Path(grid))
    return known(
        {
            "kind": args.kind,
            "backend": backend,
            "checkpoint": relative(root, checkpoint),
            "metrics_file": relative(root, checkpoint.parent / "metrics.jsonl"),
            "step": result["step"],
            "steps": result["steps"],
            "completed": result["completed"],
            "final_loss": result["final_loss"],
            "seconds": round(result["seconds"], 3),
            "parameters": result["parameters"],
            "train_images": result["train_images"],
            "fresh": args.fresh,
            "seed": args.seed,
            **metrics,
        }
    )
