"""The web app's deployment (the seed's GitHub Pages deploy) and the sensor that finds it stale.

:func:`deploy_site` puts the built app (``web/dist``, which A03 builds) together with every
published version of the model from the local registry into one static site:

    index.html, app.js, worker.js, chunks/, ort/*.wasm    the app, as built (isolation-sw.js:
                                                          COOP/COEP where a server has none)
    config.json                                           versions, the one served, Hub URL
    models/<version>/...                                  the published files of each version
    models/<version>/web-manifest.json                    classes, image size, sampler
                                                          defaults, SHA-256 of each model
    samples/index.json, samples/*.jpg                     one dataset image per breed

and writes it to a local folder (``target: local``, default ``site/``; staged beside it and
renamed into place, so a reader never sees half a site and a link planted there is replaced,
not followed) or commits it to the ``gh-pages`` branch of the git remote (``target:
gh-pages``; a commit on the branch's previous tip, built with a private index so the work
tree and HEAD are untouched).

:func:`site_status` reads the deployed ``config.json`` back and compares what it serves with
the registry's latest version and the built app: publishing a new version (or rebuilding a
changed app) makes the site stale and the planner redeploys it. Where there is no app to
deploy (no ``web/package.json``, or no build and no npm to make one) it says "not
applicable" and why, as A03 does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from actions.config import load_config
from actions.contract import ExecutorArgs, InWorkdir, OptionalInWorkdir, WorkdirArgs, known
from actions.credentials import redact
from actions.paths import write_text
from actions.publish import version_history
from goap.executor import ActionFailed, facts

CONFIG_FILE = "config.json"
WEB_MANIFEST = "web-manifest.json"
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
SITE_REF = "refs/goap/site"  # where the sensor fetches the remote's gh-pages branch


class SamplerDefaults(ExecutorArgs):
    steps: int = Field(10, ge=1, le=500, description="Sampling steps the generate page starts at.")
    cfg_scale: float = Field(4.0, ge=0, le=20, description="Guidance scale it starts at.")
    method: Literal["euler", "heun"] = Field("euler", description="Sampler it starts at.")


class SiteStatusArgs(WorkdirArgs):
    name: str = Field(
        "tiny-cats",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Model name in the local registry (A12's `name`).",
    )
    web_dir: InWorkdir = Field("web", description="The app's folder (package.json).")
    dist: InWorkdir = Field("web/dist", description="The built app (A03 runs the build).")
    target: Literal["local", "gh-pages"] = Field(
        "local", description="'local': a folder; 'gh-pages': a branch of the git remote."
    )
    site_dir: InWorkdir = Field("site", description="target local: the site folder.")
    branch: str = Field(
        "gh-pages", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$", description="target gh-pages."
    )
    remote: str | None = Field(None, description="target gh-pages: remote; default [git] remote.")
    timeout_s: float = Field(120, gt=0, description="Time allowed for each git command.")


class DeployArgs(SiteStatusArgs):
    classifier: str = Field("classifier.int8.onnx", description="Classifier file in a version.")
    dit: str = Field("dit.int8.onnx", description="Guided-step DiT file in a version.")
    report: str = Field("validation_report.json", description="Validation report in a version.")
    card: str = Field("README.md", description="Model card in a version.")
    sampler: SamplerDefaults = Field(
        default_factory=SamplerDefaults, description="The generate page's starting settings."
    )
    hub_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="Base URL the page fetches model files from first (the site's own copy "
        "is the fallback); default: the Hugging Face repo when [backends] hub = "
        "'huggingface', else none.",
    )
    samples_from: OptionalInWorkdir = Field(
        "data/pets", description="Dataset whose test split gives one sample image per class."
    )
    keep_versions: int = Field(10, ge=1, description="Deploy at most this many latest versions.")


# ---------------------------------------------------------------------------------- executor


@facts(
    "applicable",
    "deployed",
    "reason",
    "target",
    "site_dir",
    "path",
    "branch",
    "remote_url",
    "commit",
    "served_version",
    "versions",
    "hub_url",
    "samples",
    "serve",
    note="reason when not applicable; site_dir, path, serve for target local; branch, "
    "remote_url, commit for gh-pages",
)
def deploy_site(args: DeployArgs) -> dict[str, Any]:
    """Deploy the built app with the published models; facts say which version it serves."""
    dist = args.workdir / args.dist
    if not (dist / "index.html").is_file():
        reason = _not_applicable_reason(args)
        if reason is not None:
            return {"applicable": False, "deployed": False, "reason": reason}
        raise ActionFailed(
            f"{args.dist}/index.html does not exist: the app is not built; run A03 "
            f"(validate_typescript builds it) or `npm ci && npm run build` in {args.web_dir}"
        )
    versions = _deployable(args)
    latest = versions[-1]
    with tempfile.TemporaryDirectory(prefix=".site-", dir=args.workdir) as tmp:
        staged = Path(tmp) / "site"
        shutil.copytree(dist, staged, symlinks=False)
        for version in versions:
            _copy_version(args, version, staged / "models" / version["version"])
        samples = _copy_samples(args, staged / "samples")
        config = {
            "name": args.name,
            "latest": latest["version"],
            "latest_content_hash": latest["content_hash"],
            "versions": [
                {"version": v["version"], "created_at": v.get("created_at")} for v in versions
            ],
            "hub_url": _hub_url(args),
            "app_hash": tree_hash(dist),
            "deployed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        write_text(staged / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
        if args.target == "local":
            where = _replace_folder(args.workdir / args.site_dir, staged)
            facts = {"site_dir": args.site_dir, "path": str(where)}
        else:
            facts = _push_pages(args, staged, latest["version"])
    return known(
        {
            "applicable": True,
            "deployed": True,
            "target": args.target,
            **facts,
            "served_version": latest["version"],
            "versions": [v["version"] for v in versions],
            "hub_url": config["hub_url"],
            "samples": samples,
            "serve": _serve_command(args) if args.target == "local" else None,
        }
    )


def _serve_command(args: SiteStatusArgs) -> str:
    """The one command that serves the local site on 127.0.0.1: web.serve, which sends the
    cross-origin-isolation headers that give ONNX Runtime Web its threads (this interpreter's
    path, so it runs where goap is installed)."""
    site = shlex.quote(str(args.workdir / args.site_dir))
    return f"{shlex.quote(sys.executable)} -m web.serve {site} --port 8000"


def _not_applicable_reason(args: SiteStatusArgs) -> str | None:
    """Why there is no site to deploy, or None when there is one (or npm can build one)."""
    if not (args.workdir / args.web_dir / "package.json").is_file():
        return f"no {args.web_dir}/package.json: this project has no web app"
    if not (args.workdir / args.dist / "index.html").is_file() and shutil.which("npm") is None:
        return f"npm is not installed, so {args.web_dir} cannot be built (install Node.js)"
    return None


def _deployable(args: DeployArgs) -> list[dict[str, Any]]:
    """The latest versions (at most keep_versions) that hold both models."""
    versions = version_history(args.workdir, args.name)
    usable = [
        v
        for v in versions
        if {args.classifier, args.dit} <= {entry["path"] for entry in v.get("files", [])}
    ]
    if not usable:
        raise ActionFailed(
            f"no published version of {args.name} in the local registry holds {args.classifier} "
            f"and {args.dit}; publish the models first (A12)",
            facts={"deployed": False, "versions": [v["version"] for v in versions]},
        )
    return usable[-args.keep_versions :]


def _copy_version(args: DeployArgs, version: dict[str, Any], target: Path) -> None:
    """A version's files (checked against its registry manifest) and its web manifest."""
    source = Path(version["path"])
    files = {entry["path"]: entry for entry in version["files"]}
    target.mkdir(parents=True)
    for name, entry in files.items():
        path = source / name
        if path.is_symlink() or not path.is_file():
            raise ActionFailed(f"{path} is missing or a link; publish {args.name} again")
        if _sha256(path) != entry["sha256"]:
            raise ActionFailed(
                f"{path} does not match its SHA-256 in {source}/manifest.json: the registry copy "
                f"was changed after publishing; publish {args.name} again"
            )
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / name)
    shutil.copyfile(source / "manifest.json", target / "manifest.json")
    image_size, classes = _graph_shape(source / args.classifier)
    web = {
        "name": args.name,
        "version": version["version"],
        "content_hash": version["content_hash"],
        "classes": classes,
        "image_size": image_size,
        "null_label": len(classes),
        "sampler": args.sampler.model_dump(),
        "models": {
            kind: {"path": name, "sha256": files[name]["sha256"], "size": files[name]["size"]}
            for kind, name in (("classifier", args.classifier), ("dit", args.dit))
        },
        "card": args.card if args.card in files else None,
        "report": args.report if args.report in files else None,
    }
    write_text(target / WEB_MANIFEST, json.dumps(web, indent=2) + "\n")


def _graph_shape(classifier: Path) -> tuple[int, list[str]]:
    """Image side and class names, read from the classifier graph (checked against BREEDS)."""
    import onnxruntime as ort

    from models.pets import BREEDS

    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(classifier), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for bad files
        raise ActionFailed(
            f"onnxruntime cannot load {classifier} ({type(exc).__name__}); publish it again"
        ) from exc
    side = session.get_inputs()[0].shape[-1]
    classes = session.get_outputs()[0].shape[-1]
    if not isinstance(side, int) or classes != len(BREEDS):
        raise ActionFailed(
            f"{classifier.name} has input side {side!r} and {classes!r} outputs; the site needs "
            f"a fixed image size and {len(BREEDS)} classes (models.pets.BREEDS)"
        )
    return side, list(BREEDS)


def _copy_samples(args: DeployArgs, target: Path) -> int:
    """One test image per class from the dataset (Oxford-IIIT Pet layout), when there is one."""
    if args.samples_from is None:
        return 0
    root = args.workdir / args.samples_from
    try:
        lines = (root / "annotations" / "test.txt").read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    from models.pets import BREEDS, CAT_BREEDS

    picked: dict[str, str] = {}
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[0].startswith("#"):
            continue
        stem, species, breed_id = fields[0], fields[2], fields[3]
        label = CAT_BREEDS[int(breed_id) - 1] if species == "1" else BREEDS[-1]
        image = root / "images" / f"{stem}.jpg"
        if label not in picked and image.is_file() and not image.is_symlink():
            picked[label] = image.name
    if not picked:
        return 0
    target.mkdir(parents=True)
    for name in picked.values():
        shutil.copyfile(root / "images" / name, target / name)
    index = [{"file": picked[label], "label": label} for label in BREEDS if label in picked]
    write_text(target / "index.json", json.dumps(index, indent=2) + "\n")
    return len(index)


def _hub_url(args: DeployArgs) -> str | None:
    if args.hub_url is not None:
        return args.hub_url
    config = load_config(args.workdir)
    if config.backends.hub == "huggingface" and config.huggingface.repo_id:
        endpoint = config.huggingface.endpoint.rstrip("/")
        return f"{endpoint}/{config.huggingface.repo_id}/resolve/main"
    return None


def _replace_folder(target: Path, staged: Path) -> Path:
    """Rename ``staged`` to ``target``; what was there (a folder or a link) is moved aside first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.is_symlink() or target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent)) / "x"
        os.rename(target, old)  # moves a link itself, never what it points to
    os.rename(staged, target)
    if old is not None:
        if old.is_symlink() or old.is_file():
            old.unlink()
        else:
            shutil.rmtree(old)
        old.parent.rmdir()
    return target


# ------------------------------------------------------------------------------- gh-pages


def _git(args: SiteStatusArgs, *argv: str, env: dict[str, str] | None = None) -> str:
    command = ["git", *argv]
    try:
        done = subprocess.run(
            command,
            cwd=args.workdir,
            capture_output=True,
            text=True,
            timeout=args.timeout_s,
            env={**os.environ, **GIT_ENV, **(env or {})},
        )
    except FileNotFoundError:
        raise ActionFailed("git is not installed; target gh-pages needs git") from None
    except subprocess.TimeoutExpired:
        raise ActionFailed(f"`git {argv[0]}` timed out after {args.timeout_s:g}s") from None
    if done.returncode != 0:
        raise ActionFailed(
            f"`git {argv[0]}` failed (exit {done.returncode}): "
            f"{redact(done.stderr.strip())[-300:]}",
            facts={"deployed": False},
        )
    return done.stdout.strip()


def _remote_url(args: SiteStatusArgs) -> str:
    config = load_config(args.workdir)
    name = args.remote or config.git.remote
    remotes = _git(args, "remote").split()
    if name in remotes:
        return _git(args, "remote", "get-url", name)
    url = config.git.remote_url
    local = Path(url)
    if "://" not in url and ":" not in url.split("/", 1)[0] and not local.is_absolute():
        return str((args.workdir / local).absolute())
    return url


def _fetch_pages(args: SiteStatusArgs, url: str) -> str | None:
    """The remote branch's tip, fetched into a private ref; None when it has no such branch."""
    listed = _git(args, "ls-remote", url, f"refs/heads/{args.branch}")
    if not listed:
        return None
    _git(args, "fetch", "--quiet", "--no-tags", url, f"+refs/heads/{args.branch}:{SITE_REF}")
    return _git(args, "rev-parse", SITE_REF)


def _push_pages(args: DeployArgs, staged: Path, version: str) -> dict[str, Any]:
    """Commit ``staged`` as the branch's new tip (on its old one) and push it."""
    url = _remote_url(args)
    parent = _fetch_pages(args, url)
    with tempfile.TemporaryDirectory(prefix="goap-pages-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": str(staged)}
        _git(args, "add", "--all", "--force", ".", env=env)
        tree = _git(args, "write-tree", env=env)
    identity = {
        "GIT_AUTHOR_NAME": "goap deploy",
        "GIT_AUTHOR_EMAIL": "deploy@goap.invalid",
        "GIT_COMMITTER_NAME": "goap deploy",
        "GIT_COMMITTER_EMAIL": "deploy@goap.invalid",
    }
    message = f"Deploy the site with {args.name} {version}"
    parents = ["-p", parent] if parent else []
    commit = _git(args, "commit-tree", tree, *parents, "-m", message, env=identity)
    _git(args, "push", "--quiet", url, f"{commit}:refs/heads/{args.branch}")
    return {"branch": args.branch, "remote_url": redact(url), "commit": commit}


# ------------------------------------------------------------------------------------ sensor


@facts(
    "applicable",
    "current",
    "reason",
    "deployed",
    "served_version",
    "latest_version",
    "app_current",
    "serve",
    note="reason only when not applicable",
)
def site_status(args: SiteStatusArgs) -> dict[str, Any]:
    """Sensor: which version the deployed site serves; ``current`` when that is the latest
    published one with the app as built now (or when there is no app to deploy)."""
    reason = _not_applicable_reason(args)
    if reason is not None:
        return {"applicable": False, "current": True, "reason": reason}
    versions = version_history(args.workdir, args.name)
    latest = versions[-1] if versions else None
    deployed = _deployed_config(args)
    facts: dict[str, Any] = {
        "applicable": True,
        "deployed": deployed is not None,
        "served_version": deployed.get("latest") if deployed else None,
        "latest_version": latest["version"] if latest else None,
    }
    dist = args.workdir / args.dist
    app_current = deployed is not None and (
        not dist.is_dir() or deployed.get("app_hash") == tree_hash(dist)
    )
    facts["app_current"] = app_current
    facts["current"] = bool(
        deployed is not None
        and latest is not None
        and deployed.get("latest_content_hash") == latest["content_hash"]
        and app_current
    )
    if args.target == "local" and deployed is not None:
        facts["serve"] = _serve_command(args)
    return known(facts)


def _deployed_config(args: SiteStatusArgs) -> dict[str, Any] | None:
    if args.target == "local":
        path = args.workdir / args.site_dir / CONFIG_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return None
    else:
        try:
            if _fetch_pages(args, _remote_url(args)) is None:
                return None
            text = _git(args, "show", f"{SITE_REF}:{CONFIG_FILE}")
        except ActionFailed:
            return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def tree_hash(folder: Path) -> str:
    """One SHA-256 over every file's relative path and digest (the built app's identity).

    A ``.wasm`` runtime (40 MB, copied from the locked onnxruntime-web package) counts by its
    name and size, so the sensor, which runs after every action, stays fast.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        mark = f"size {path.stat().st_size}" if path.suffix == ".wasm" else _sha256(path)
        digest.update(f"{path.relative_to(folder).as_posix()}\0{mark}\n".encode())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
