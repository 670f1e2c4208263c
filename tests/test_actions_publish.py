"""actions.publish: the local registry on disk; the Hugging Face backend against a local server."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import huggingface_hub.constants
import pytest
from test_actions_support import (  # noqa: F401
    FAKE_HF_TOKEN,
    Request,
    git,
    init_repo,
    isolated_env,
    json_server,
    write,
    write_config,
)

from actions.config import ConfigError
from actions.publish import (
    ModelCard,
    PublishArgs,
    PublishStatusArgs,
    publish_model,
    publish_status,
    version_history,
)
from goap.executor import ActionFailed

pytestmark = pytest.mark.usefixtures("isolated_env")

CARD = ModelCard(
    title="Cat breed classifier",
    description="Classifies 12 cat breeds.",
    tags=["image-classification", "onnx"],
    metrics={"accuracy": 0.91, "latency_p95_ms": 12.5},
)


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """A workdir with weights, an ONNX export and a reports folder."""
    workdir = tmp_path / "ws"
    (workdir / "checkpoints").mkdir(parents=True)
    (workdir / "checkpoints" / "model.pt").write_bytes(b"\x80weights" * 100)
    (workdir / "export").mkdir()
    (workdir / "export" / "model.onnx").write_bytes(b"onnx-graph")
    write(workdir / "reports" / "validation.json", json.dumps({"accuracy": 0.91}))
    write(workdir / "reports" / "benchmark.json", json.dumps({"p95_ms": 12.5}))
    return workdir


def publish_args(workdir: Path, **changes: Any) -> PublishArgs:
    files = ["checkpoints/model.pt", "export/model.onnx", "reports"]
    fields = {"name": "cat-classifier", "files": files, "card": CARD, **changes}
    return PublishArgs(workdir=workdir, **fields)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- local registry


def test_publish_writes_a_version_with_files_card_and_manifest(artifacts: Path) -> None:
    facts = publish_model(publish_args(artifacts))
    version = artifacts / ".goap" / "registry" / "cat-classifier" / "v1"
    assert facts["created"] is True
    assert (facts["backend"], facts["version"], facts["path"]) == ("local", "v1", str(version))
    assert facts["files"] == [
        "README.md",
        "model.onnx",
        "model.pt",
        "reports/benchmark.json",
        "reports/validation.json",
    ]
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["content_hash"] == facts["content_hash"]
    for entry in manifest["files"]:
        assert sha256(version / entry["path"]) == entry["sha256"]
        assert (version / entry["path"]).stat().st_size == entry["size"]
    assert sha256(version / "model.pt") == sha256(artifacts / "checkpoints" / "model.pt")
    card = (version / "README.md").read_text()
    assert card.startswith('---\nlicense: "mit"\ntags: ["image-classification", "onnx"]\n---\n')
    assert "# Cat breed classifier" in card
    assert f"| `model.pt` | 800 | `{sha256(version / 'model.pt')}` |" in card
    assert "| accuracy | 0.91 |" in card


def test_publishing_identical_content_again_is_a_no_op(artifacts: Path) -> None:
    first = publish_model(publish_args(artifacts))
    second = publish_model(publish_args(artifacts))
    assert second == {**first, "created": False}
    assert [v["version"] for v in version_history(artifacts, "cat-classifier")] == ["v1"]


def test_changed_content_makes_a_new_version_and_history_is_queryable(artifacts: Path) -> None:
    publish_model(publish_args(artifacts))
    (artifacts / "export" / "model.onnx").write_bytes(b"onnx-graph-v2")
    second = publish_model(publish_args(artifacts))
    changed_card = publish_args(artifacts, card=CARD.model_copy(update={"metrics": {"a": 1.0}}))
    third = publish_model(changed_card)
    assert (second["version"], third["version"]) == ("v2", "v3")
    history = version_history(artifacts, "cat-classifier")
    assert [v["version"] for v in history] == ["v1", "v2", "v3"]
    assert len({v["content_hash"] for v in history}) == 3
    status = publish_status(PublishStatusArgs(workdir=artifacts, name="cat-classifier"))
    assert status["versions"] == ["v1", "v2", "v3"]
    assert status["latest_version"] == "v3"
    assert "up_to_date" not in status


def test_publish_status_tells_whether_these_files_are_the_latest(artifacts: Path) -> None:
    status_args = PublishStatusArgs(
        workdir=artifacts, name="cat-classifier", files=publish_args(artifacts).files, card=CARD
    )
    before = publish_status(status_args)
    assert (before["published"], before["up_to_date"], before["versions"]) == (False, False, [])
    publish_model(publish_args(artifacts))
    assert publish_status(status_args)["up_to_date"] is True
    (artifacts / "checkpoints" / "model.pt").write_bytes(b"retrained")
    assert publish_status(status_args)["up_to_date"] is False


def test_a_readme_among_the_files_replaces_the_generated_card(artifacts: Path) -> None:
    write(artifacts / "card" / "README.md", "# Hand-written card\n")
    args = PublishArgs(workdir=artifacts, name="m", files=["export/model.onnx", "card/README.md"])
    version = Path(publish_model(args)["path"])
    assert (version / "README.md").read_text() == "# Hand-written card\n"


def test_registry_path_comes_from_goap_toml(artifacts: Path, tmp_path: Path) -> None:
    registry = tmp_path / "shared-registry"
    write_config(artifacts, f'[registry]\npath = "{registry}"\n')
    facts = publish_model(publish_args(artifacts))
    assert facts["path"] == str(registry / "cat-classifier" / "v1")


def test_registry_inside_a_git_workspace_keeps_the_tree_clean(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    publish_model(PublishArgs(workdir=repo, name="m", files=["README.md"]))
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["missing.onnx"], r"`files` entry 'missing.onnx' does not exist"),
        (["checkpoints/model.pt", "checkpoints/model.pt"], "two files named 'model.pt'"),
    ],
)
def test_bad_files_are_clear_errors(artifacts: Path, files: list[str], message: str) -> None:
    with pytest.raises(ActionFailed, match=message):
        publish_model(PublishArgs(workdir=artifacts, name="m", files=files))


def test_metrics_must_be_finite() -> None:
    with pytest.raises(ValueError, match="finite"):
        ModelCard(metrics={"loss": float("nan")})


# ------------------------------------------------------------------------ Hugging Face backend


class FakeHub:
    """The Hub endpoints create_repo, upload_folder and model_info call, with canned answers."""

    def __init__(self) -> None:
        self.committed: list[str] = []

    def create_repo(self, request: Request, match: re.Match[str]) -> tuple[int, Any]:
        body = json.loads(request.body)
        return 200, {
            "url": f"http://{request.headers['host']}/{body['organization']}/{body['name']}"
        }

    def validate_yaml(self, request: Request, match: re.Match[str]) -> tuple[int, Any]:
        return 200, {}

    def preupload(self, request: Request, match: re.Match[str]) -> tuple[int, Any]:
        files = json.loads(request.body)["files"]
        modes = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
        return 200, {"files": modes}

    def commit(self, request: Request, match: re.Match[str]) -> tuple[int, Any]:
        for line in request.body.splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                self.committed.append(item["value"]["path"])
        url = f"http://{request.headers['host']}/{match.group(1)}/commit/{'c0ffee' * 6}ab12"
        return 200, {"commitUrl": url, "commitOid": "c0ffee" * 6 + "ab12"}

    def model_info(self, request: Request, match: re.Match[str]) -> tuple[int, Any]:
        siblings = [{"rfilename": name} for name in self.committed]
        return 200, {"id": match.group(1), "sha": "c0ffee" * 6 + "ab12", "siblings": siblings}

    def serve(self, server: Any) -> None:
        server.route("POST", r"/api/repos/create", self.create_repo)
        server.route("POST", r"/api/validate-yaml", self.validate_yaml)
        server.route("POST", r"/api/models/([\w-]+/[\w-]+)/preupload/main", self.preupload)
        server.route("POST", r"/api/models/([\w-]+/[\w-]+)/commit/main", self.commit)
        server.route("GET", r"/api/models/([\w-]+/[\w-]+)(\?.*)?", self.model_info)


def huggingface_config(workdir: Path, endpoint: str) -> None:
    write_config(
        workdir,
        f'[backends]\nhub = "huggingface"\n\n[huggingface]\nrepo_id = "acme/cat-classifier"\n'
        f'endpoint = "{endpoint}"\n',
    )


def test_huggingface_publish_creates_repo_and_uploads_files_card_manifest(
    artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    hub = FakeHub()
    with json_server() as server:
        hub.serve(server)
        huggingface_config(artifacts, server.url)
        facts = publish_model(publish_args(artifacts))
        status = publish_status(PublishStatusArgs(workdir=artifacts, name="cat-classifier"))
    assert facts["backend"] == "huggingface"
    assert facts["repo_id"] == "acme/cat-classifier"
    assert facts["revision"] == "c0ffee" * 6 + "ab12"
    assert facts["url"] == f"{server.url}/acme/cat-classifier"
    assert sorted(hub.committed) == sorted(facts["files"])
    assert {"README.md", "manifest.json", "model.pt", "reports/validation.json"} <= set(
        hub.committed
    )
    create = next(r for r in server.requests if r.path == "/api/repos/create")
    assert json.loads(create.body) == {
        "name": "cat-classifier",
        "organization": "acme",
        "type": "model",
        "visibility": "public",
    }
    assert all(r.headers["authorization"] == f"Bearer {FAKE_HF_TOKEN}" for r in server.requests)
    assert FAKE_HF_TOKEN not in json.dumps(facts)
    assert (status["published"], status["revision"]) == (True, facts["revision"])


def test_huggingface_status_of_a_missing_repo(
    artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    with json_server() as server:  # no routes: 404 RepoNotFound
        huggingface_config(artifacts, server.url)
        status = publish_status(PublishStatusArgs(workdir=artifacts, name="cat-classifier"))
    assert (status["published"], status["files"]) == (False, [])


def test_huggingface_rejection_is_reported_without_the_token(
    artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    with json_server() as server:
        server.route("POST", r"/api/repos/create", lambda r, m: (403, {"error": "no write access"}))
        huggingface_config(artifacts, server.url)
        with pytest.raises(ActionFailed, match="check the token in HF_TOKEN") as error:
            publish_model(publish_args(artifacts))
    failure = error.value
    assert "403" in failure.message
    assert FAKE_HF_TOKEN not in f"{failure.message}{failure.tail}{failure.facts}"
    assert failure.facts["published"] is False


def test_huggingface_offline_fails_fast_without_the_token(
    artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    huggingface_config(artifacts, "http://127.0.0.1:9")  # never contacted: offline mode
    with pytest.raises(ActionFailed, match="OfflineModeIsEnabled") as error:
        publish_model(publish_args(artifacts))
    assert FAKE_HF_TOKEN not in f"{error.value.message}{error.value.tail}{error.value.facts}"


def test_huggingface_without_token_names_the_variable(artifacts: Path) -> None:
    with json_server() as server:
        huggingface_config(artifacts, server.url)
        with pytest.raises(ActionFailed, match="HF_TOKEN is not set"):
            publish_model(publish_args(artifacts))
    assert server.requests == []


def test_huggingface_without_repo_id_is_a_config_error(
    artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    monkeypatch.setenv("GOAP_HUB_BACKEND", "huggingface")
    with pytest.raises(ConfigError, match=r"\[huggingface\] repo_id is not set"):
        publish_model(publish_args(artifacts))
