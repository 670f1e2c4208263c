"""Path arguments of the shipped executors stay inside the workdir, and their writes replace a
planted link instead of writing through it (the progress report could once overwrite any file
the runner can write, and state_file could be used to probe files outside the workdir)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from test_actions_support import isolated_env  # noqa: F401

from actions.checks import PytestArgs, RuffArgs, TypeScriptArgs
from actions.ci import ResolveCiFailureArgs
from actions.contract import leads_outside
from actions.docs import (
    AdrCheckArgs,
    DocsStatusArgs,
    ProgressArgs,
    check_adrs,
    write_progress_report,
)
from actions.gates import GatesArgs
from actions.git import CommitArgs
from actions.git_groups import CommitGroupsArgs
from actions.onnx_export import ExportArgs, QuantizeArgs
from actions.paths import write_text
from actions.pipeline import PipelineStatusArgs, write_json
from actions.publish import PublishArgs, publish_model
from actions.tracking import TrackRunArgs
from actions.train import DatasetArgs, EvaluateArgs, TrainArgs
from goap.executor import ActionFailed

pytestmark = pytest.mark.usefixtures("isolated_env")

SECRET = "outside the workdir: must stay as it is\n"

# (model, the arguments it needs besides the path, the path field)
PATH_FIELDS: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (ProgressArgs, {}, "out"),
    (AdrCheckArgs, {}, "adr_dir"),
    (AdrCheckArgs, {}, "index"),
    (DocsStatusArgs, {}, "progress"),
    (ExportArgs, {"kind": "classifier"}, "checkpoint"),
    (ExportArgs, {"kind": "dit"}, "out"),
    (QuantizeArgs, {"kind": "classifier"}, "source"),
    (QuantizeArgs, {"kind": "classifier"}, "out"),
    (QuantizeArgs, {"kind": "dit"}, "judge"),
    (QuantizeArgs, {"kind": "classifier"}, "data_root"),
    (TrainArgs, {"kind": "classifier", "steps": 1}, "data_root"),
    (TrainArgs, {"kind": "dit", "steps": 1}, "out_dir"),
    (DatasetArgs, {}, "data_root"),
    (EvaluateArgs, {}, "data_root"),
    (EvaluateArgs, {}, "runs_dir"),
    (EvaluateArgs, {}, "out_dir"),
    (TrackRunArgs, {}, "metrics_file"),
    (GatesArgs, {}, "data_root"),
    (GatesArgs, {}, "report"),
    (PipelineStatusArgs, {}, "artifacts_dir"),
    (PipelineStatusArgs, {}, "report"),
    (TypeScriptArgs, {}, "project_dir"),
]
IDS = [f"{model.__name__}.{field}" for model, _, field in PATH_FIELDS]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workdir inside tmp_path, a file beside it (outside), and a link to that file in it."""
    workdir = tmp_path / "ws"
    workdir.mkdir()
    (tmp_path / "secret.txt").write_text(SECRET)
    (workdir / "escape").symlink_to(tmp_path / "secret.txt")
    (workdir / "escape_dir").symlink_to(tmp_path)
    return workdir


ESCAPES = ["../x", "/etc/passwd", "escape", "escape_dir/secret.txt", "sub/../../x"]


def _refused(build: Callable[[], Any], field: str) -> str:
    with pytest.raises(ValidationError) as caught:
        build()
    message = str(caught.value)
    assert f"{field}: " in message and "leads outside the working directory" in message
    return message


@pytest.mark.parametrize(("model", "extra", "field"), PATH_FIELDS, ids=IDS)
def test_a_path_argument_outside_the_workdir_is_refused(
    ws: Path, model: type[BaseModel], extra: dict[str, Any], field: str
) -> None:
    for value in ESCAPES:
        _refused(lambda v=value: model(workdir=ws, **extra, **{field: v}), field)


@pytest.mark.parametrize(("model", "extra", "field"), PATH_FIELDS, ids=IDS)
def test_a_path_argument_inside_the_workdir_is_kept(
    ws: Path, model: type[BaseModel], extra: dict[str, Any], field: str
) -> None:
    (ws / "inner").mkdir()
    (ws / "link_in").symlink_to(ws / "inner")
    for value in ["reports/x.md", "inner", "link_in/y", str(ws / "abs" / "z"), "a/../b"]:
        assert getattr(model(workdir=ws, **extra, **{field: value}), field) == value
    model(workdir=ws, **extra)  # the defaults are inside


def test_path_lists_and_nested_models_are_checked_entry_by_entry(ws: Path) -> None:
    _refused(lambda: RuffArgs(workdir=ws, paths=[".", "../other"]), "paths[1]")
    _refused(lambda: PytestArgs(workdir=ws, paths=["/etc"]), "paths[0]")
    _refused(lambda: ResolveCiFailureArgs(workdir=ws, paths=["escape_dir"]), "paths[0]")
    _refused(lambda: PublishArgs(workdir=ws, name="m", files=["escape"]), "files[0]")
    _refused(lambda: PipelineStatusArgs(workdir=ws, publish_files=["../m"]), "publish_files[0]")
    _refused(lambda: GatesArgs(workdir=ws, dit={"artifact": "/tmp/x.onnx"}), "dit.artifact")
    _refused(lambda: GatesArgs(workdir=ws, classifier={"checkpoint": "escape"}), "checkpoint")
    _refused(lambda: CommitArgs(workdir=ws, paths=["/etc/passwd"], message="m"), "paths[0]")
    _refused(lambda: CommitGroupsArgs(workdir=ws, groups={"code": ["../a"]}), "groups['code'][0]")
    assert GatesArgs(workdir=ws, dit={"artifact": "artifacts/d.onnx"}).dit.artifact
    assert RuffArgs(workdir=ws, paths=["src", "tests/x.py"]).paths == ["src", "tests/x.py"]


def test_git_paths_may_name_a_link_itself(ws: Path) -> None:
    """git stages a link as a link (it never reads the target), so a link may be committed."""
    assert CommitArgs(workdir=ws, paths=["escape", "."], message="m").paths == ["escape", "."]
    _refused(lambda: CommitArgs(workdir=ws, paths=["escape_dir/x"], message="m"), "paths[0]")
    assert not leads_outside(ws, "escape", follow_last=False)
    assert leads_outside(ws, "escape")


def test_pytest_paths_cannot_smuggle_options(ws: Path) -> None:
    with pytest.raises(ValidationError, match=r"paths\[0\]: '--basetemp=x' is an option"):
        PytestArgs(workdir=ws, paths=["--basetemp=x"])


# ----------------------------------------------------------------- the progress report (A14)


def _state(path: Path) -> Path:
    path.write_text(json.dumps({"run_id": "r1", "history": [], "actions_pending": ["A15"]}))
    return path


def test_progress_report_does_not_write_through_a_planted_link(ws: Path) -> None:
    outside = ws.parent / "secret.txt"
    (ws / "reports").mkdir()
    link = ws / "reports" / "PROGRESS.md"
    link.symlink_to(outside)
    state_file = str(_state(ws / "s.json"))
    _refused(lambda: ProgressArgs(workdir=ws, state_file=state_file), "out")  # link seen: refused
    link.unlink()
    args = ProgressArgs(workdir=ws, state_file=state_file)
    link.symlink_to(outside)  # planted after the check (a race): the write still replaces it
    facts = write_progress_report(args)
    assert outside.read_text() == SECRET
    report = ws / "reports" / "PROGRESS.md"
    assert not report.is_symlink() and "### Pending Actions\n- [ ] A15" in report.read_text()
    assert facts["path"] == "reports/PROGRESS.md"
    assert sorted(p.name for p in (ws / "reports").iterdir()) == ["PROGRESS.md"]


def test_progress_report_out_cannot_leave_the_workdir(ws: Path) -> None:
    _state(ws / "s.json")
    for out in ["../PROGRESS.md", str(ws.parent / "secret.txt"), "escape"]:
        _refused(lambda o=out: ProgressArgs(workdir=ws, state_file="s.json", out=o), "out")
    assert (ws.parent / "secret.txt").read_text() == SECRET


def test_state_file_is_inside_the_workdir_or_the_runs_own(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = _state(ws.parent / "run_state.json")  # the runner's state file may lie anywhere
    monkeypatch.setenv("GOAP_STATE_FILE", str(own))
    assert write_progress_report(ProgressArgs(workdir=ws))["run_id"] == "r1"
    assert write_progress_report(ProgressArgs(workdir=ws, state_file=str(own)))["run_id"] == "r1"
    assert ProgressArgs(workdir=ws, state_file="../run_state.json").state_file  # the same file
    _state(ws / "mine.json")
    assert write_progress_report(ProgressArgs(workdir=ws, state_file="mine.json"))["run_id"]
    messages = set()
    for other in ["/etc/passwd", str(ws.parent / "no-such-file.json"), "escape", "../secret.txt"]:
        with pytest.raises(ValidationError) as caught:
            ProgressArgs(workdir=ws, state_file=other)
        error = caught.value.errors()[0]["msg"]
        assert "state_file:" in error and "GOAP_STATE_FILE" in error
        messages.add(re.sub(r"'[^']*'", "<value>", error))  # the value, maybe shortened
    # the same words for a file that exists and one that does not: no way to probe the disk
    assert len(messages) == 1


def test_state_file_outside_is_refused_without_a_run(ws: Path) -> None:
    with pytest.raises(ValidationError, match="neither inside the working directory"):
        ProgressArgs(workdir=ws, state_file=str(ws.parent / "secret.txt"))


# ------------------------------------------------------------------------- other writes


def test_adr_index_and_json_records_replace_a_planted_link(ws: Path) -> None:
    outside = ws.parent / "secret.txt"
    (ws / "reports").mkdir()
    args = AdrCheckArgs(workdir=ws)
    (ws / "reports" / "ADR-INDEX.md").symlink_to(outside)  # planted after the check
    with pytest.raises(ActionFailed, match="ADRs incomplete"):
        check_adrs(args)
    assert outside.read_text() == SECRET
    assert "# Architecture decision records" in (ws / "reports" / "ADR-INDEX.md").read_text()
    (ws / "r.json").symlink_to(outside)
    (ws / "r.json.tmp").symlink_to(outside)  # the fixed temporary name used before
    write_json(ws / "r.json", {"a": 1})
    assert outside.read_text() == SECRET
    assert json.loads((ws / "r.json").read_text()) == {"a": 1}
    write_text(ws / "new" / "n.txt", "x")
    assert (ws / "new" / "n.txt").read_text() == "x"
    assert oct((ws / "new" / "n.txt").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_publish_refuses_a_published_folder_with_a_link_out(ws: Path) -> None:
    (ws / "export").mkdir()
    (ws / "export" / "model.onnx").write_bytes(b"onnx")
    (ws / "export" / "stolen.txt").symlink_to(ws.parent / "secret.txt")
    with pytest.raises(ActionFailed, match="export/stolen.txt, a link that leads outside"):
        publish_model(PublishArgs(workdir=ws, name="m", files=["export"]))
    (ws / "export" / "stolen.txt").unlink()
    assert publish_model(PublishArgs(workdir=ws, name="m", files=["export"]))["published"]
