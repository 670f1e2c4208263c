"""The ML executors and sensors (actions.train, onnx_export, gates, pipeline, modal_check, docs,
git_groups), called in-process on real files: real training (a few steps), real ONNX files,
real onnxruntime sessions, real git repositories."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from test_actions_support import git, init_repo, isolated_env, write  # noqa: F401

from actions.docs import (
    AdrCheckArgs,
    DocsStatusArgs,
    ProgressArgs,
    check_adrs,
    docs_status,
    write_progress_report,
)
from actions.git_groups import CommitGroupsArgs, commit_groups
from actions.pipeline import (
    Digests,
    PipelineStatusArgs,
    pipeline_status,
    read_record,
    report_status,
    write_record,
)
from goap.executor import ActionFailed

pytestmark = pytest.mark.usefixtures("isolated_env")


# --------------------------------------------------------------------- provenance records


def test_a_changed_source_makes_everything_made_from_it_stale(tmp_path: Path) -> None:
    checkpoint = write(tmp_path / "runs" / "dit" / "checkpoint.pt", "weights v1")
    onnx = write(tmp_path / "artifacts" / "dit.onnx", "graph")
    write_record(tmp_path, checkpoint, None, {"completed": True})
    record = write_record(tmp_path, onnx, checkpoint, {"max_abs_error": 1e-6})
    assert record["path"] == "artifacts/dit.onnx" and record["source"] == "runs/dit/checkpoint.pt"
    assert Digests().current(onnx, checkpoint)
    checkpoint.write_text("weights v2")  # retrained
    assert not Digests().current(onnx, checkpoint)
    assert not Digests().current(checkpoint, None)  # its own record is stale too
    onnx.unlink()
    assert read_record(onnx) is not None and not Digests().current(onnx, None)


def test_report_status_tells_validated_from_rejected(tmp_path: Path) -> None:
    files = {
        f"{kind}.{role}": write(tmp_path / f"{kind}.{role}", f"{kind} {role}")
        for kind in ("classifier", "dit")
        for role in ("checkpoint", "artifact")
    }
    digests = Digests()
    report = {
        "passed": False,
        "version_id": "v_x",
        "inputs": {k: {"path": p.name, "sha256": digests(p)} for k, p in files.items()},
        "models": {"classifier": {"passed": False}, "dit": {"passed": True}},
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    assert report_status(tmp_path, path, Digests()) == {
        "validated": False,
        "classifier_rejected": True,
        "dit_rejected": False,
        "version_id": "v_x",
    }
    files["classifier.checkpoint"].write_text("retrained")  # the rejection no longer applies
    assert report_status(tmp_path, path, Digests())["classifier_rejected"] is False
    files["classifier.checkpoint"].write_text("classifier checkpoint")
    path.write_text(json.dumps({**report, "passed": True, "models": {}}))
    assert report_status(tmp_path, path, Digests())["validated"] is True


# ---------------------------------------------------------------- commit groups, docs


def test_commit_groups_follow_the_working_tree(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "ws")
    write(repo / "src" / "a.py", "A = 1\n")
    write(repo / "docs" / "x.md", "# x\n")
    args = CommitGroupsArgs(
        workdir=repo, groups={"code": ["src/a.py"], "docs": ["docs"]}, branch="feature"
    )
    assert commit_groups(args) == {
        "code_committed": False,
        "docs_committed": False,
        "commits_ahead": 0,
    }
    git(repo, "switch", "-q", "-c", "feature")
    git(repo, "add", "src/a.py")
    git(repo, "commit", "-q", "-m", "code")
    assert commit_groups(args) == {
        "code_committed": True,
        "docs_committed": False,
        "commits_ahead": 1,
    }
    write(repo / "src" / "a.py", "A = 2\n")  # edited after its commit
    assert commit_groups(args)["code_committed"] is False


ADR = """\
# ADR-{n}: Title {n}

## Status
Accepted

## Context
Why.

## Decision
What; see [the plan](../GOAP.md).

## Consequences
So.
"""


def test_adr_check_names_missing_sections_and_broken_links(tmp_path: Path) -> None:
    for n in ("026", "027"):
        write(tmp_path / "docs" / "adr" / f"ADR-{n}-x.md", ADR.format(n=n))
    write(tmp_path / "docs" / "GOAP.md", "# plan\n")
    args = AdrCheckArgs(workdir=tmp_path, required=["ADR-026", "ADR-027"])
    assert (
        docs_status(DocsStatusArgs(workdir=tmp_path, required=args.required))["adrs_complete"]
        is False
    )  # complete, but not indexed yet
    facts = check_adrs(args)
    assert facts == {
        "adrs_complete": True,
        "adrs": 2,
        "problems": [],
        "index": "reports/ADR-INDEX.md",
    }
    index = (tmp_path / "reports" / "ADR-INDEX.md").read_text()
    assert (
        "| ADR-027 | ADR-027: Title 027 | Accepted | [ADR-027-x.md](../docs/adr/ADR-027-x.md) |"
        in index
    )
    assert docs_status(DocsStatusArgs(workdir=tmp_path, required=args.required))["adrs_complete"]
    broken = ADR.format(n="027").replace("## Consequences\nSo.\n", "").replace("GOAP", "NOPE")
    write(tmp_path / "docs" / "adr" / "ADR-027-x.md", broken)
    with pytest.raises(ActionFailed) as failed:
        check_adrs(AdrCheckArgs(workdir=tmp_path, required=["ADR-026", "ADR-027", "ADR-028"]))
    assert failed.value.facts["problems"] == [
        "ADR-027: missing section(s) Consequences",
        "ADR-027: broken link ../NOPE.md",
        "ADR-028: no file matching docs/adr/ADR-028*.md",
    ]


def test_progress_report_lists_done_running_pending_and_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = {
        "deployment_id": "deploy-1",
        "run_id": "r2",
        "status": "running",
        "started_at": "2026-01-01T10:00:00+00:00",
        "current_phase": "agents-md",
        "actions_pending": ["A14", "A15"],
        "history": [
            {"run_id": "r1", "action": "old", "id": "A00", "outcome": "succeeded"},
            {"run_id": "r2", "action": "validate_ruff", "id": "A02", "outcome": "succeeded",
             "duration_s": 1.5, "ended_at": "2026-01-01T10:01:05+00:00"},
            {"run_id": "r2", "action": "run_validation_gates", "id": "A11", "outcome": "failed",
             "attempt": 1, "duration_s": 9.0, "error": "classifier.accuracy = 0.1"},
            {"run_id": "r2", "action": "update_goap_md", "id": "A14", "outcome": "started"},
        ],
    }  # fmt: skip
    (tmp_path / "deployment_state.json").write_text(json.dumps(state))
    # the runner tells its executors where the state file is
    monkeypatch.setenv("GOAP_STATE_FILE", str(tmp_path / "deployment_state.json"))
    facts = write_progress_report(ProgressArgs(workdir=tmp_path))
    assert facts == {
        "path": "reports/PROGRESS.md",
        "run_id": "r2",
        "completed": 1,
        "in_progress": ["A14"],
        "pending": ["A15"],
        "failures": 1,
        "progress": "1/3",
    }
    text = (tmp_path / "reports" / "PROGRESS.md").read_text()
    assert "- [x] A02: validate_ruff (1.5 s, T+1:05)" in text
    assert "- [~] A14: update_goap_md" in text and "- [ ] A15" in text
    assert "A11: run_validation_gates (attempt 1, 9.0 s): classifier.accuracy = 0.1" in text
    assert "A00" not in text  # another run
    with pytest.raises(ActionFailed, match="state file .*missing.json not found; run goap"):
        write_progress_report(ProgressArgs(workdir=tmp_path, state_file="missing.json"))


# ----------------------------------------------------------------------- Modal app (A01)


MODAL_WORKSPACE_APP = """\
import modal

app = modal.App("bad")
volume = modal.Volume.from_name("bad-volume", create_if_missing=True)


@app.function(timeout=30)
def no_gpu(config: dict) -> dict:
    return config


@app.function(gpu="T4", timeout=600, volumes={"/data": volume})
def wrong_volume(config: dict) -> dict:
    return config
"""


def test_modal_specs_are_read_from_what_modal_recorded(tmp_path: Path) -> None:
    from actions.modal_check import ModalAppArgs, modal_app_status

    status = modal_app_status(ModalAppArgs(workdir=tmp_path, app="models.modal_app:app"))
    assert status["specs_ok"] and status["problems"] == []
    assert {f["name"]: (f["gpu"], f["timeout_s"], f["volumes"]) for f in status["functions"]} == {
        "train_classifier": ("A10G", 21600.0, ["/vol"]),
        "train_dit": ("A10G", 21600.0, ["/vol"]),
        "sample": ("A10G", 600.0, ["/vol"]),
    }
    write(tmp_path / "bad_modal_app.py", MODAL_WORKSPACE_APP)
    status = modal_app_status(ModalAppArgs(workdir=tmp_path, app="bad_modal_app:app"))
    assert status["problems"] == [
        "no_gpu: no GPU requested",
        "no_gpu: timeout 30s outside [60, 86400]",
        "no_gpu: no volume mounted at /vol",
        "wrong_volume: no volume mounted at /vol",
    ]
    with pytest.raises(ActionFailed, match="is dict, not a modal.App"):
        modal_app_status(ModalAppArgs(workdir=tmp_path, app="json:__dict__"))


@pytest.mark.slow
def test_a01_trains_one_step_through_the_local_backend(tmp_path: Path) -> None:
    from actions.modal_check import ModalCheckArgs, validate_modal_app

    facts = validate_modal_app(ModalCheckArgs(workdir=tmp_path, app="models.modal_app:app"))
    assert facts["backend"] == "local" and facts["train_step"] == 1
    assert np.isfinite(facts["train_loss"]) and facts["specs_ok"]


def test_modal_training_backend_without_a_token_names_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actions.train import TrainArgs, train_model
    from models import modal_app

    monkeypatch.setenv("GOAP_TRAIN_BACKEND", "modal")
    monkeypatch.setattr(modal_app, "has_token", lambda: False)
    with pytest.raises(ActionFailed, match="MODAL_TOKEN_ID and MODAL_TOKEN_SECRET"):
        train_model(TrainArgs(workdir=tmp_path, kind="dit", steps=1))


# --------------------------------------------------------- train, export, quantize, gates


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a dataset, a classifier and a DiT trained for a few steps."""
    from actions.train import DatasetArgs, TrainArgs, prepare_dataset, train_model

    root = tmp_path_factory.mktemp("ml")
    (root / "goap.toml").write_text("[train]\nthreads = 1\n")
    facts = prepare_dataset(DatasetArgs(workdir=root, per_class=6, image_size=16))
    assert facts["generated"] and facts["classes"] == 13
    clf = TrainArgs(
        workdir=root, kind="classifier", steps=30, batch_size=16, options={"image_size": 16}
    )
    assert train_model(clf)["completed"]
    dit = TrainArgs(workdir=root, kind="dit", steps=4, batch_size=8, options={"sample_steps": 2})
    assert train_model(dit)["completed"]
    return root


@pytest.fixture
def workspace(trained: Path, tmp_path: Path) -> Path:
    """A private copy of the trained workspace."""
    return Path(shutil.copytree(trained, tmp_path / "ws"))


@pytest.mark.slow
def test_training_writes_a_record_and_rejects_bad_settings(workspace: Path) -> None:
    from actions.train import TrainArgs, train_model

    record = read_record(workspace / "runs" / "classifier" / "checkpoint.pt")
    assert record["completed"] and record["config"]["image_size"] == 16
    assert record["final_metrics"]["val_accuracy"] >= 0
    with pytest.raises(ActionFailed, match=r"invalid dit training settings: .*32px images, not 64"):
        train_model(TrainArgs(workdir=workspace, kind="dit", steps=1, options={"image_size": 64}))
    with pytest.raises(ActionFailed, match="other settings .*set fresh: true to start over"):
        train_model(TrainArgs(workdir=workspace, kind="dit", steps=4, batch_size=4))
    again = train_model(TrainArgs(workdir=workspace, kind="dit", steps=1, fresh=True))
    assert again["step"] == 1 and again["fresh"] is True


def test_a_retrain_changes_what_the_failure_calls_for_and_never_repeats(workspace: Path) -> None:
    import torch

    from actions.train import TrainArgs, train_model

    checkpoint = workspace / "runs" / "classifier" / "checkpoint.pt"
    weights = lambda: torch.load(checkpoint, weights_only=False)["model"]  # noqa: E731
    report = workspace / "artifacts" / "validation_report.json"
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps({"failed_gates": ["classifier.accuracy"]}))
    base = dict(workdir=workspace, kind="classifier", steps=4, batch_size=8, seed=0, fresh=True)
    options = {"options": {"image_size": 16}}
    first = train_model(TrainArgs(**base, **options, retrain=True))  # seed 0 was used already
    assert first["seed"] == 1 and first["steps"] == 4  # no earlier retrain: the steps stay
    w1 = weights()
    second = train_model(TrainArgs(**base, **options, retrain=True))
    assert second["seed"] == 2 and second["steps"] == 6  # one earlier retrain: x1.5
    w2 = weights()
    assert any(not torch.equal(w1[k], w2[k]) for k in w1)  # different weights, not a copy
    report.write_text(json.dumps({"failed_gates": ["classifier.latency"]}))
    third = train_model(TrainArgs(**base, **options, retrain=True))
    assert third["seed"] == 3 and third["steps"] == 4  # not an accuracy failure: a new start only
    ledger = (checkpoint.parent / "trainings.jsonl").read_text().splitlines()
    assert len(ledger) == 4 and [json.loads(x)["retrain"] for x in ledger] == [False] + [True] * 3
    # an agent that sets a used seed by hand: the retrain moves past it, never repeats
    fourth = train_model(TrainArgs(**{**base, "seed": 2}, **options, retrain=True))
    assert fourth["seed"] == 4


def test_a_drift_retrain_trains_on_re_exposed_data_and_later_retrains_keep_it(
    workspace: Path,
) -> None:
    import torch

    from actions.train import Ledger, TrainArgs, train_model

    report = workspace / ".goap" / "serve" / "drift_report.json"
    base = dict(workdir=workspace, kind="classifier", steps=4, batch_size=8, fresh=True,
                options={"image_size": 16}, retrain=True, adapt_to=str(report))  # fmt: skip
    with pytest.raises(ActionFailed, match="no drift report at .*drift_status"):
        train_model(TrainArgs(**base))
    report.parent.mkdir(parents=True)
    report.write_text(json.dumps({"drift": False, "reason": "no feature drifted"}))
    with pytest.raises(ActionFailed, match=r"describes no drift .*\(no feature drifted\)"):
        train_model(TrainArgs(**base))
    wild = {"scale": [0.0, 1, 1], "offset": [0, 0, 0]}
    report.write_text(json.dumps({"drift": True, "exposure": wild}))
    with pytest.raises(ActionFailed, match="invalid classifier training settings: exposure"):
        train_model(TrainArgs(**base))

    exposure = {"scale": [0.65, 0.65, 0.65], "offset": [0.35, 0.35, 0.35]}
    report.write_text(json.dumps({"drift": True, "drifted": ["mean_r"], "exposure": exposure}))
    checkpoint = workspace / "runs" / "classifier" / "checkpoint.pt"
    adapted = train_model(TrainArgs(**base))
    saved = torch.load(checkpoint, weights_only=False)
    assert saved["config"]["exposure"] == {**exposure, "share": 0.5}
    plain = {k: v for k, v in base.items() if k != "adapt_to"}
    ledger = Ledger(checkpoint.parent / "trainings.jsonl")
    # the same seed and steps without the map: other data, so not a repeat, and other weights
    drifted_weights = saved["model"]
    (workspace / "runs" / "classifier" / "trainings.jsonl").write_text(
        "\n".join(json.dumps(e) for e in ledger.entries()[:1]) + "\n"
    )  # forget the drift retrain, so the next one is a plain one with the same seed
    unadapted = train_model(TrainArgs(**plain))
    assert unadapted["seed"] == adapted["seed"]
    plain_weights = torch.load(checkpoint, weights_only=False)["model"]
    assert any(not torch.equal(drifted_weights[k], plain_weights[k]) for k in plain_weights)

    again = train_model(TrainArgs(**base))  # the drift retrain again: a new seed
    assert again["seed"] == adapted["seed"] + 1
    later = train_model(TrainArgs(**plain))  # a retrain after, say, a rollback keeps the map
    assert later["seed"] == again["seed"] + 1
    assert torch.load(checkpoint, weights_only=False)["config"]["exposure"]["scale"] == [0.65] * 3
    assert ledger.entries()[-1]["config"]["exposure"]["offset"] == [0.35] * 3


def test_a_retrain_that_would_repeat_an_earlier_training_is_refused(workspace: Path) -> None:
    from actions.train import Ledger, TrainArgs, _train_config

    args = TrainArgs(workdir=workspace, kind="classifier", steps=30, batch_size=16, seed=0,
                     options={"image_size": 16}, retrain=True)  # fmt: skip
    out = workspace / "runs" / "classifier"
    ledger = Ledger(out / "trainings.jsonl")
    config = _train_config(args.model_copy(update={"retrain": False}), out)
    fingerprint = ledger.fingerprint(config, workspace / "data" / "pets")
    assert len(ledger.entries()) == 1  # the fixture's training, with these very settings
    with pytest.raises(ActionFailed, match="would repeat training #1 .*same settings and data"):
        ledger.refuse_repeat(fingerprint, args)
    (workspace / "data" / "pets" / "annotations" / "extra.txt").write_text("new data\n")
    changed = ledger.fingerprint(config, workspace / "data" / "pets")
    assert changed != fingerprint  # other data is another training
    ledger.refuse_repeat(changed, args)


@pytest.mark.slow
def test_evaluation_reports_accuracy_and_recognised_samples(workspace: Path) -> None:
    from actions.train import EvaluateArgs, evaluate_models

    facts = evaluate_models(EvaluateArgs(workdir=workspace, samples_per_class=1, sample_steps=2))
    assert facts["test_images"] == 13 * 2 and 0 <= facts["accuracy"] <= 1
    assert facts["chance"] == pytest.approx(1 / 13)
    assert {"share_cfg", "share_no_cfg", "fd_cfg", "fd_no_cfg"} <= facts.keys()
    report = json.loads((workspace / facts["generator_report"]).read_text())
    assert report["share_cfg"] == facts["share_cfg"]


@pytest.mark.slow
def test_export_quantize_and_gates_on_real_models(workspace: Path) -> None:
    from actions.gates import GatesArgs, run_gates
    from actions.onnx_export import ExportArgs, QuantizeArgs, export_onnx, quantize_onnx

    status = PipelineStatusArgs(workdir=workspace)
    assert pipeline_status(status)["classifier_trained"] is True
    for kind in ("classifier", "dit"):
        exported = export_onnx(ExportArgs(workdir=workspace, kind=kind, batch_sizes=[1, 3]))
        assert exported["parity_ok"] and exported["max_abs_error"] < 1e-3
    dit = json.loads((workspace / "artifacts" / "dit.onnx.json").read_text())
    assert (
        dit["inputs"] == ["x", "t", "y", "cfg_scale"] and dit["source"] == "runs/dit/checkpoint.pt"
    )
    for kind in ("classifier", "dit"):
        quantized = quantize_onnx(QuantizeArgs(workdir=workspace, kind=kind, samples_per_class=2,
                                               sample_steps=2, max_accuracy_drop=1.0))  # fmt: skip
        assert quantized["size_after"] < quantized["size_before"]
        assert quantized["metric"] in ("accuracy", "conditional_accuracy")
        assert quantized["accuracy_change"] == pytest.approx(quantized["int8"] - quantized["fp32"])
    assert {k: v for k, v in pipeline_status(status).items() if k.endswith("quantized")} == {
        "classifier_quantized": True,
        "dit_quantized": True,
    }

    # A DiT trained for 4 steps cannot pass: the gate fails, names itself, rejects the DiT.
    lenient = {"classifier": {"min_accuracy": 0.0}, "dit": {"samples_per_class": 2}}
    with pytest.raises(ActionFailed, match=r"validation gates failed: dit\.") as failed:
        run_gates(GatesArgs(workdir=workspace, latency_runs=10, **lenient))
    facts = failed.value.facts
    assert facts["passed"] is False and facts["dit_rejected"] and not facts["classifier_rejected"]
    report = json.loads((workspace / "artifacts" / "validation_report.json").read_text())
    assert report["version_id"].startswith("v_") and report["version_id"].endswith(
        report["content_hash"][:8]
    )
    gates = [g["gate"] for g in report["models"]["classifier"]["gates"]]
    assert gates == ["checkpoint_loads", "artifact_loads", "outputs_finite", "output_range",
                     "batch_inference", "size", "latency", "accuracy"]  # fmt: skip
    assert set(report["metrics"]["classifier"]) >= {"latency_p50_ms", "latency_p99_ms", "size_mb"}
    sensed = pipeline_status(status)
    assert sensed["dit_rejected"] and not sensed["classifier_rejected"] and not sensed["validated"]

    # With limits a 4-step DiT meets, every gate passes and the sensor sees the release.
    easy = {"min_conditional_accuracy": 0.0, "value_range": 100.0, "samples_per_class": 1}
    passed = run_gates(GatesArgs(workdir=workspace, latency_runs=10,
                                 classifier={"min_accuracy": 0.0}, dit=easy))  # fmt: skip
    assert passed["passed"] and passed["failed_gates"] == []
    sensed = pipeline_status(status)
    assert sensed["validated"] and not sensed["dit_rejected"]
    assert sensed["version_id"] == passed["version_id"]

    # A classifier retrained for drifted inputs is also judged on the test split so mapped.
    from actions.onnx_export import classify, held_out_split
    from actions.pipeline import ml_settings, onnx_path, ort_session
    from actions.train import TrainArgs, train_model

    exposure = {"scale": [0.5, 0.6, 0.7], "offset": [0.4, 0.3, 0.2]}
    report = workspace / ".goap" / "serve" / "drift_report.json"
    report.parent.mkdir(parents=True)
    report.write_text(json.dumps({"drift": True, "exposure": exposure}))
    train_model(
        TrainArgs(
            workdir=workspace,
            kind="classifier",
            steps=30,
            batch_size=16,
            options={"image_size": 16},
            retrain=True,
            adapt_to=str(report),
        )
    )
    export_onnx(ExportArgs(workdir=workspace, kind="classifier", batch_sizes=[1, 3]))
    fp32 = onnx_path("classifier")  # a 30-step model's int8 batch may flip a near tie
    passed = run_gates(GatesArgs(workdir=workspace, latency_runs=10, dit=easy,
                                 classifier={"min_accuracy": 0.0, "artifact": fp32}))  # fmt: skip
    report = json.loads((workspace / "artifacts" / "validation_report.json").read_text())
    (gate,) = [g for g in report["models"]["classifier"]["gates"] if g["gate"] == "drift_accuracy"]
    session = ort_session(workspace / fp32, ml_settings(workspace))
    images, labels = held_out_split(workspace / "data" / "pets", 16, exposure)
    by_hand = float((classify(session, images).argmax(1) == labels).mean())
    assert gate["value"] == pytest.approx(by_hand, abs=1e-4)
    assert "scale [0.5, 0.6, 0.7]" in gate["detail"]
    assert passed["classifier_drift_accuracy"] == gate["value"]


@pytest.mark.slow
def test_nan_weights_fail_the_export_and_the_gates(workspace: Path) -> None:
    import torch

    from actions.gates import GatesArgs, run_gates
    from actions.onnx_export import ExportArgs, QuantizeArgs, export_onnx, quantize_onnx

    for kind in ("classifier", "dit"):
        export_onnx(ExportArgs(workdir=workspace, kind=kind))
        quantize_onnx(QuantizeArgs(workdir=workspace, kind=kind, samples_per_class=1,
                                   sample_steps=1, max_accuracy_drop=1.0))  # fmt: skip
    path = workspace / "runs" / "classifier" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    state["ema"]["head.weight"][0, 0] = float("nan")
    torch.save(state, path)
    with pytest.raises(ActionFailed, match="checkpoint_loads: NaN/Inf in 1 weight tensor"):
        run_gates(GatesArgs(workdir=workspace, latency_runs=10))
    with pytest.raises(ActionFailed, match="a non-finite error means non-finite weights"):
        export_onnx(ExportArgs(workdir=workspace, kind="classifier"))


def test_missing_artifacts_are_named(tmp_path: Path) -> None:
    from actions.gates import GatesArgs, run_gates

    with pytest.raises(ActionFailed, match="runs/classifier/checkpoint.pt, .* missing; train"):
        run_gates(GatesArgs(workdir=tmp_path))


def test_a_bad_train_setting_in_goap_toml_is_named(tmp_path: Path) -> None:
    from actions.config import ConfigError
    from actions.pipeline import ml_settings

    (tmp_path / "goap.toml").write_text(textwrap.dedent("[train]\nthreads = 0\n"))
    with pytest.raises(ConfigError, match=r"goap.toml: \[train\] threads: Input should be"):
        ml_settings(tmp_path)
