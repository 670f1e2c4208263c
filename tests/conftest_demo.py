"""The one `goap demo` from scratch that the demo and packaging tests share.

It runs from the wheel: built from a copy of the checkout (into which a demo workspace and
tool caches were planted, which the wheel must not ship), installed without its editable
self into a fresh virtual environment that borrows this environment's third-party packages
(torch, onnx, ...) through a .pth line, started as ``goap demo`` in an empty folder. So one
run of several minutes proves both that the packaged product works where it is installed and
everything tests/test_demo.py checks of the finished workspace; the contingency tests copy
that workspace and run the checkout's goap on it (the same catalog, the same templates).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from conftest_serving import stop_server


def source_copy(target: Path) -> Path:
    """The checkout's tracked and untracked-but-not-ignored files, plus a demo workspace and
    the caches tools leave in the templates."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    planted = [
        *(f"goap-demo/{name}" for name in ("cats/__init__.py", "tests/test_x.py", "goap.toml")),
        # what tools leave in a checkout's templates: never template files
        "demo/template/project/.ruff_cache/0.17.6/123",
        "demo/template/work/cats/__pycache__/inference.cpython-311.pyc",
        # what npm and the build leave in the web app: never shipped
        "web/node_modules/typescript/package.json",
        "web/dist/app.js",
    ]
    for name in planted:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text("# not source\n")
    return target


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = source_copy(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    (found,) = out.glob("goap_mlops-*.whl")
    return found


@dataclass
class Installed:
    """The wheel in a virtual environment of its own, and the environment to run it with."""

    venv: Path
    env: dict[str, str]

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # this environment's third-party packages, without processing its .pth files (the
    # editable goap is one of those), so goap itself can only come from the wheel
    (Path(site) / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GOAP_"))}
    env = {k: v for k, v in env.items() if k not in CLEAN_ENV}
    # the workspace's CI runs ruff: the executable beside this Python (its package is borrowed)
    path = [str(venv / "bin"), *filter(None, [env.get("PATH")]), str(Path(sys.executable).parent)]
    env["PATH"] = os.pathsep.join(path)
    return Installed(venv, env)


CLEAN_ENV = ("GOAP_CI_BACKEND", "GOAP_HUB_BACKEND", "GOAP_TRAIN_BACKEND", "HF_TOKEN",
             "GITHUB_TOKEN", "MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET")  # fmt: skip


@dataclass
class Demo:
    workspace: Path
    proc: subprocess.CompletedProcess
    summary: dict[str, Any]
    seconds: float
    cwd: Path  # the empty folder it was started in


@pytest.fixture(scope="session")
def finished(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`goap demo` from the wheel, from nothing to its goal (minutes: shared by every test)."""
    empty = tmp_path_factory.mktemp("empty")
    started = time.monotonic()
    proc = subprocess.run(
        [str(installed.venv / "bin" / "goap"), "demo", "--json"],
        capture_output=True,
        text=True,
        env=installed.env,
        cwd=empty,
        timeout=900,
    )
    seconds = time.monotonic() - started
    try:
        summary = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"goap demo printed no JSON (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    workspace = empty / "goap-demo"
    yield Demo(workspace, proc, summary, seconds, empty)
    stop_server(workspace / ".goap" / "serve")  # S01's model server outlives the run
