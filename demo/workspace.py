"""The demo workspace: a git repository on ``main`` holding a small ML project.

Made from ``demo/template``: ``project/`` is committed and pushed to a bare remote in
``.goap/remote.git`` (a Modal app over goap's ``models`` package, its tests, the CI commands
and backends in ``goap.toml``); ``work/`` is left uncommitted, as the three groups of work
that A05-A07 commit (an ONNX inference module, ADRs, a metrics utility). The web app (the
top-level ``web/`` package data: sources, package.json and its lock, no node_modules) is
committed in ``web/`` with the project, so A03 builds it for real. A template file named
``dot-NAME`` is written as ``.NAME``: dotfiles are easily lost as package data. Then the
synthetic Oxford-IIIT Pet dataset is written by ``python -m models make-data`` in a child
process, so torch never enters the goap process.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from goap.running.errors import RunError

TEMPLATE = files("demo") / "template"
WEB_APP = "web"  # the app's folder in the workspace, from the `web` package data
# what of it is source (a checkout's web/ also holds node_modules/ and dist/): as pyproject's
# package-data for `web`
WEB_SOURCES = (
    "package.json", "package-lock.json", "tsconfig.json", "build.mjs", "index.html", "style.css",
)  # fmt: skip
DOT = "dot-"  # template name prefix of a dotfile
DATASET = {"root": "data/pets", "per_class": 40, "size": 32, "seed": 0}
STATE_FILE = "deployment_state.json"  # the demo run's state file, in the workspace


def is_workspace(directory: Path) -> bool:
    return (directory / ".git").is_dir() and (directory / "goap.toml").is_file()


def create_workspace(directory: Path) -> bool:
    """Create the demo workspace in ``directory``; False when it already is one (reused)."""
    directory = directory.absolute()
    if is_workspace(directory):
        return False
    if directory.exists() and any(directory.iterdir()):
        raise RunError(
            f"{directory} exists and is not a goap demo workspace; choose another --dir or empty it"
        )
    directory.mkdir(parents=True, exist_ok=True)
    copy_template(TEMPLATE / "project", directory)
    copy_web_app(directory / WEB_APP)
    git = _git(directory)
    git("init", "-q", "-b", "main")
    for key, value in (("user.name", "goap demo"), ("user.email", "demo@goap.invalid")):
        git("config", key, value)
    git("config", "commit.gpgsign", "false")
    git("add", "-A")
    git("commit", "-q", "-m", "tiny-cats: project, Modal app, CI settings")
    local = directory / ".goap"
    local.mkdir(exist_ok=True)
    (local / ".gitignore").write_text("# local goap state: never committed\n*\n")
    git("init", "-q", "--bare", "-b", "main", str(local / "remote.git"))
    git("remote", "add", "origin", ".goap/remote.git")  # relative: the folder can be moved
    git("push", "-q", "-u", "origin", "main")
    copy_template(TEMPLATE / "work", directory)  # uncommitted: what A05-A07 commit
    _make_dataset(directory)
    return True


def copy_template(source: Traversable, target: Path) -> list[Path]:
    """Write every file under ``source`` into ``target`` (``dot-x`` becomes ``.x``).

    Hidden entries and ``__pycache__`` are what tools leave in a checkout's template (a
    ``.ruff_cache``, bytecode), never template files: those are spelled ``dot-``.
    """
    written = []
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        name = "." + entry.name[len(DOT) :] if entry.name.startswith(DOT) else entry.name
        if entry.is_dir():
            written += copy_template(entry, target / name)
            continue
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(entry.read_bytes())
        written.append(path)
    return written


def copy_web_app(target: Path) -> None:
    """The web app's sources (never node_modules/ or dist/) into ``target``."""
    source = files(WEB_APP)
    (target / "src").mkdir(parents=True, exist_ok=True)
    for name in WEB_SOURCES:
        (target / name).write_bytes((source / name).read_bytes())
    for entry in (source / "src").iterdir():
        if entry.name.endswith(".ts"):
            (target / "src" / entry.name).write_bytes(entry.read_bytes())


def _git(cwd: Path) -> Callable[..., str]:
    def run(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60
            )
        except FileNotFoundError:
            raise RunError("git is not installed; the demo workspace is a git repository") from None
        if done.returncode != 0:
            raise RunError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
        return done.stdout

    return run


def _make_dataset(directory: Path) -> None:
    """The synthetic dataset, written by models' own command line (torch stays out of here)."""
    argv = [
        sys.executable, "-m", "models", "make-data", str(DATASET["root"]),
        "--per-class", str(DATASET["per_class"]), "--size", str(DATASET["size"]),
        "--seed", str(DATASET["seed"]), "--json",
    ]  # fmt: skip
    done = subprocess.run(argv, cwd=directory, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RunError(f"generating the dataset failed: {done.stderr.strip()[-500:]}")
