"""Model publishing (A12) and its sensor, over two backends.

``[backends] hub`` picks the backend:

* ``local`` (default): a registry directory (``[registry] path``) holding
  ``<name>/v1, v2, ...``, each with the published files, a model card ``README.md`` and a
  ``manifest.json`` with every file's SHA-256 and a content hash. Publishing content identical
  to the latest version is a no-op that returns that version.
* ``huggingface``: ``create_repo(exist_ok=True)`` then ``upload_folder`` of the same files,
  card and manifest, with the token read only from ``[huggingface] token_env`` (HF_TOKEN).

A file argument is published under its own name; a directory under its name with its tree.
A README.md among the files replaces the generated model card.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from actions.config import STATE_DIR, GoapConfig, load_config, state_dir
from actions.contract import ExecutorArgs, FiniteFloat, InWorkdir, WorkdirArgs, known, leads_outside
from actions.credentials import redact, token_from_env
from goap.executor import ActionFailed, facts

if TYPE_CHECKING:  # huggingface_hub is imported only when the Hugging Face backend is used
    from huggingface_hub import HfApi

CARD_FILE = "README.md"
MANIFEST_FILE = "manifest.json"
_VERSION_DIR = re.compile(r"^v(\d+)$")
_REPO_ID = r"^[\w.-]+/[\w.-]+$"


class ModelCard(ExecutorArgs):
    title: str | None = Field(None, description="Card title; default: the model name.")
    description: str = Field("", description="What the model is and how it was trained.")
    license: str = Field("mit", description="License identifier for the card metadata.")
    tags: list[str] = Field(default_factory=list, description="Hub tags for the card metadata.")
    metrics: dict[str, FiniteFloat] = Field(
        default_factory=dict, description="Evaluation metrics shown in the card, name -> value."
    )


class PublishStatusArgs(WorkdirArgs):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Model name: its folder in the local registry, and the default card title.",
    )
    files: list[InWorkdir] = Field(
        default_factory=list,
        description="Files or directories (from workdir) to compare with the latest version.",
    )
    card: ModelCard = Field(default_factory=ModelCard, description="Model card contents.")
    repo_id: str | None = Field(
        None,
        pattern=_REPO_ID,
        description="Hugging Face backend: repo id 'owner/name'; default: [huggingface] repo_id.",
    )


class PublishArgs(PublishStatusArgs):
    files: list[InWorkdir] = Field(
        min_length=1,
        description="Files or directories (from workdir) to publish: weights, ONNX, reports.",
    )
    commit_message: str | None = Field(
        None, description="Hugging Face backend: commit message; default names the content hash."
    )


@dataclass(frozen=True)
class Artifact:
    """One file of a version: where it goes, where its bytes come from, its digest and size."""

    path: str
    sha256: str
    size: int
    source: Path | None = None
    content: bytes | None = None

    def write_into(self, folder: Path) -> None:
        target = folder / self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.content is not None:
            target.write_bytes(self.content)
        elif self.source is not None:
            shutil.copyfile(self.source, target)


# ---------------------------------------------------------------------------------- executors


@facts(
    "backend",
    "published",
    "created",
    "name",
    "version",
    "path",
    "content_hash",
    "files",
    "repo_id",
    "revision",
    "url",
    "commit_url",
    failure=("token_env", "token_present"),
    note="repo_id, revision, url and commit_url come from the Hugging Face backend.",
)
def publish_model(args: PublishArgs) -> dict[str, Any]:
    """A12: publish the files with a model card to the configured hub backend."""
    config = load_config(args.workdir)
    artifacts = _collect_artifacts(args)
    if config.backends.hub == "huggingface":
        return _publish_to_huggingface(config, args, artifacts)
    return _publish_to_registry(config, args, artifacts)


@facts(
    "backend",
    "name",
    "published",
    "versions",
    "latest_version",
    "latest_content_hash",
    "up_to_date",
    "repo_id",
    "revision",
    "files",
    failure=("token_env", "token_present"),
    note="up_to_date only when `files` is given; repo_id, revision, files from Hugging Face.",
)
def publish_status(args: PublishStatusArgs) -> dict[str, Any]:
    """Sensor: is the model published, which versions exist, is ``files`` the latest content."""
    config = load_config(args.workdir)
    if config.backends.hub == "huggingface":
        return _huggingface_status(config, args)
    versions = version_history(args.workdir, args.name)
    latest = versions[-1] if versions else None
    facts: dict[str, Any] = {
        "backend": "local",
        "name": args.name,
        "published": latest is not None,
        "versions": [v["version"] for v in versions],
        "latest_version": latest["version"] if latest else None,
        "latest_content_hash": latest["content_hash"] if latest else None,
    }
    if args.files:
        expected = content_hash(_collect_artifacts(args))
        facts["up_to_date"] = latest is not None and latest["content_hash"] == expected
    return known(facts)


def version_history(workdir: Path, name: str) -> list[dict[str, Any]]:
    """Manifests of every published version of ``name`` in the local registry, oldest first."""
    folder = _registry_root(load_config(workdir)) / name
    if not folder.is_dir():
        return []
    numbered = [
        (int(match.group(1)), entry)
        for entry in folder.iterdir()
        if (match := _VERSION_DIR.match(entry.name)) and (entry / MANIFEST_FILE).is_file()
    ]
    return [_read_version(entry) for _, entry in sorted(numbered)]


def _read_version(folder: Path) -> dict[str, Any]:
    """A version's manifest, with its version, number and path taken from the folder."""
    manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    number = int(folder.name.removeprefix("v"))
    return {**manifest, "version": folder.name, "number": number, "path": str(folder)}


# ----------------------------------------------------------------------------------- content


def _collect_artifacts(args: PublishStatusArgs) -> list[Artifact]:
    """The files of a version: the given files and directories, plus the model card."""
    artifacts: dict[str, Artifact] = {}
    for entry in args.files:
        source = args.workdir / entry
        if source.is_file():
            found = [(source.name, source)]
        elif source.is_dir():
            tree = sorted(source.rglob("*"))
            linked_out = [p for p in tree if leads_outside(args.workdir, str(p))]
            if linked_out:  # refused whether or not the link's target exists
                raise ActionFailed(
                    f"`files` entry {entry!r} holds {_tree_name(source, linked_out[0])}, a "
                    "link that leads outside the working directory; remove it or copy the file in"
                )
            found = [(_tree_name(source, path), path) for path in tree if path.is_file()]
        else:
            raise ActionFailed(
                f"`files` entry {entry!r} does not exist in {args.workdir}; produce it first or "
                "fix the path"
            )
        for name, path in found:
            if name == MANIFEST_FILE or name in artifacts:
                raise ActionFailed(
                    f"`files` would publish two files named {name!r} ({path}); rename one "
                    f"({MANIFEST_FILE} is reserved)"
                )
            artifacts[name] = _file_artifact(name, path)
    if CARD_FILE not in artifacts:
        card = render_model_card(args.name, args.card, list(artifacts.values())).encode()
        artifacts[CARD_FILE] = Artifact(
            CARD_FILE, hashlib.sha256(card).hexdigest(), len(card), content=card
        )
    return [artifacts[name] for name in sorted(artifacts)]


def _tree_name(folder: Path, path: Path) -> str:
    """A file of a published directory is published as <directory name>/<path in it>."""
    return f"{folder.name}/{path.relative_to(folder).as_posix()}"


def content_hash(artifacts: list[Artifact]) -> str:
    """One SHA-256 over every file's path and digest: equal hash, equal published content."""
    digest = hashlib.sha256()
    for artifact in sorted(artifacts, key=lambda a: a.path):
        digest.update(f"{artifact.path}\0{artifact.sha256}\n".encode())
    return digest.hexdigest()


def render_model_card(name: str, card: ModelCard, artifacts: list[Artifact]) -> str:
    """A Hub-style model card: YAML metadata, description, files with digests, metrics."""
    metadata = [
        "---",
        f"license: {json.dumps(card.license)}",
        f"tags: {json.dumps(sorted(set(card.tags)))}",
        "---",
    ]
    lines = [*metadata, "", f"# {card.title or name}", ""]
    if card.description:
        lines += [card.description.strip(), ""]
    lines += ["## Files", "", "| file | size (bytes) | sha256 |", "| --- | --- | --- |"]
    lines += [f"| `{a.path}` | {a.size} | `{a.sha256}` |" for a in artifacts]
    if card.metrics:
        lines += ["", "## Metrics", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {key} | {value:g} |" for key, value in sorted(card.metrics.items())]
    return "\n".join(lines) + "\n"


def _file_artifact(name: str, path: Path) -> Artifact:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return Artifact(name, digest, path.stat().st_size, source=path)


def _manifest(name: str, version: str | None, artifacts: list[Artifact], card: ModelCard) -> str:
    manifest = {
        "name": name,
        "version": version,
        "content_hash": content_hash(artifacts),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": [{"path": a.path, "sha256": a.sha256, "size": a.size} for a in artifacts],
        "card": card.model_dump(),
    }
    return json.dumps(manifest, indent=2) + "\n"


# ------------------------------------------------------------------------------ local backend


def _registry_root(config: GoapConfig) -> Path:
    root = config.path(config.registry.path)
    if root.is_relative_to(config.workdir / STATE_DIR):
        state_dir(config.workdir)
    return root


def _publish_to_registry(
    config: GoapConfig, args: PublishArgs, artifacts: list[Artifact]
) -> dict[str, Any]:
    """Write a new version folder atomically (staged, then renamed), unless content is unchanged."""
    folder = _registry_root(config) / args.name
    versions = version_history(args.workdir, args.name)
    digest = content_hash(artifacts)
    if versions and versions[-1]["content_hash"] == digest:
        return _registry_facts(args, versions[-1], created=False)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=folder))
    try:
        for artifact in artifacts:
            artifact.write_into(staging)
        number = versions[-1]["number"] if versions else 0
        while True:  # another publisher may take vN between listing and renaming: take vN+1
            number += 1
            version = f"v{number}"
            manifest = _manifest(args.name, version, artifacts, args.card)
            (staging / MANIFEST_FILE).write_text(manifest)
            try:
                os.rename(staging, folder / version)
                break
            except OSError:
                if not (folder / version).exists():
                    raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _registry_facts(args, _read_version(folder / version), created=True)


def _registry_facts(args: PublishArgs, manifest: dict[str, Any], created: bool) -> dict[str, Any]:
    return {
        "backend": "local",
        "published": True,
        "created": created,
        "name": args.name,
        "version": manifest["version"],
        "path": manifest["path"],
        "content_hash": manifest["content_hash"],
        "files": [entry["path"] for entry in manifest["files"]],
    }


# ----------------------------------------------------------------------- Hugging Face backend


def _huggingface_target(config: GoapConfig, args: PublishStatusArgs) -> tuple[HfApi, str, str]:
    """The Hub client, repo id and token (kept only for redaction)."""
    repo_id = args.repo_id or config.huggingface.repo_id
    if not repo_id:
        raise config.missing(
            "[huggingface] repo_id", "when [backends] hub = 'huggingface' (or pass repo_id)"
        )
    token = token_from_env(config.huggingface.token_env, "the Hugging Face Hub")
    from huggingface_hub import HfApi

    return HfApi(endpoint=config.huggingface.endpoint, token=token), repo_id, token


def _publish_to_huggingface(
    config: GoapConfig, args: PublishArgs, artifacts: list[Artifact]
) -> dict[str, Any]:
    api, repo_id, token = _huggingface_target(config, args)
    digest = content_hash(artifacts)
    message = args.commit_message or f"Publish {args.name} (content {digest[:12]})"
    try:
        with tempfile.TemporaryDirectory(prefix="goap-publish-") as tmp:
            folder = Path(tmp)
            for artifact in artifacts:
                artifact.write_into(folder)
            (folder / MANIFEST_FILE).write_text(_manifest(args.name, None, artifacts, args.card))
            repo_url = api.create_repo(
                repo_id, exist_ok=True, private=config.huggingface.private, repo_type="model"
            )
            commit = api.upload_folder(
                repo_id=repo_id, folder_path=folder, commit_message=message, repo_type="model"
            )
    except Exception as exc:  # any Hub client failure: report it without the token
        raise _hub_failure(f"upload to {repo_id}", exc, token, config) from exc
    return known(
        {
            "backend": "huggingface",
            "published": True,
            "repo_id": repo_id,
            "revision": commit.oid,
            "url": str(repo_url),
            "commit_url": commit.commit_url,
            "content_hash": digest,
            "files": [a.path for a in artifacts] + [MANIFEST_FILE],
        }
    )


def _huggingface_status(config: GoapConfig, args: PublishStatusArgs) -> dict[str, Any]:
    from huggingface_hub.errors import RepositoryNotFoundError

    api, repo_id, token = _huggingface_target(config, args)
    facts: dict[str, Any] = {"backend": "huggingface", "repo_id": repo_id, "name": args.name}
    try:
        info = api.model_info(repo_id)
    except RepositoryNotFoundError:
        return {**facts, "published": False, "files": []}
    except Exception as exc:  # any Hub client failure: report it without the token
        raise _hub_failure(f"looking up {repo_id}", exc, token, config) from exc
    files = sorted(sibling.rfilename for sibling in info.siblings or [])
    return known(
        {**facts, "published": MANIFEST_FILE in files, "revision": info.sha, "files": files}
    )


def _hub_failure(what: str, exc: Exception, token: str, config: GoapConfig) -> ActionFailed:
    detail = redact(str(exc), [token]).strip().splitlines()
    reason = f"{type(exc).__name__}: {detail[0] if detail else ''}".strip(": ")
    return ActionFailed(
        f"Hugging Face {what} failed ({reason}); check the token in "
        f"{config.huggingface.token_env}, the network and the repo permissions",
        tail=redact("\n".join(detail[:20]), [token]),
        facts={"backend": "huggingface", "published": False},
    )
