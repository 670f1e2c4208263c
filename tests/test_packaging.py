"""The wheel: what it ships, and `goap demo` from a non-editable install in an empty folder.

The wheel is built from a copy of the checkout into which a demo workspace was planted (as
`goap demo` leaves one in ./goap-demo): it must contain none of it. The install goes into a
fresh virtual environment that borrows this environment's third-party packages (torch,
onnx, ...) through a .pth line but not its editable goap, so the demo runs from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGES = {"goap", "state", "actions", "models", "plans", "demo"}


def source_copy(target: Path) -> Path:
    """The checkout's tracked and untracked-but-not-ignored files, plus a demo workspace."""
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
    workspace = target / "goap-demo"
    for name in ("cats/__init__.py", "cats/inference.py", "tests/test_x.py", "goap.toml"):
        (workspace / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace / name).write_text("# a finished demo workspace\n")
    return target


@pytest.fixture(scope="module")
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


def test_the_wheel_ships_plans_and_templates_and_no_workspace(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == PACKAGES
    assert not [n for n in names if "goap-demo" in n or n.startswith("cats/")]
    for shipped in (
        "plans/deployment.yaml",
        "plans/training.yaml",
        "plans/examples/release.yaml",
        "demo/template/project/dot-gitignore",
        "demo/template/project/goap.toml",
        "demo/template/project/cats/modal_app.py",
        "demo/template/work/cats/inference.py",
        "goap/running/worker.py",
    ):
        assert shipped in names, shipped
    points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(points).decode()
    assert "[goap.commands]" in text and "demo = demo.command:demo_cmd" in text


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_goap_demo_from_the_wheel_in_an_empty_directory(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
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
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = subprocess.run(
        [str(python), "-c", "import goap, demo, plans; print(goap.__file__, plans.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert str(ROOT) not in where and str(venv) in where
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run(
        [str(venv / "bin" / "goap"), "demo", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=empty,
        timeout=800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["status"] == "completed" and summary["published_version"] == "v1"
    assert Path(summary["workspace"]) == empty / "goap-demo"
    assert (empty / "goap-demo" / ".gitignore").is_file()  # the dotfile template, renamed
