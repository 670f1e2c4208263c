"""The wheel: what it ships, and `goap demo` from a non-editable install in an empty folder.

The wheel (tests/conftest_demo.py) is built from a copy of the checkout into which a demo
workspace was planted (as `goap demo` leaves one in ./goap-demo): it must contain none of it.
The suite's one `goap demo` runs from it (tests/test_demo.py checks that it did).
"""

# ruff: noqa: F811  (the fixtures imported from conftest_demo are test arguments)
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT
from conftest_demo import source_copy, wheel  # noqa: F401  (a fixture)

from demo.workspace import copy_template

PACKAGES = {"goap", "state", "actions", "models", "plans", "demo", "web", "dashboard"}
TEMPLATES = [
    p
    for p in (ROOT / "demo" / "template").rglob("*")
    if p.is_file()
    and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(ROOT).parts)
]


def test_the_wheel_ships_plans_and_templates_and_no_workspace(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == PACKAGES
    assert not [n for n in names if "goap-demo" in n or n.startswith(("cats/", "tests/"))]
    assert not [n for n in names if "/." in n or "__pycache__" in n]
    templates = {n for n in names if n.startswith("demo/template/")}
    assert templates == {f"demo/{p.relative_to(ROOT / 'demo').as_posix()}" for p in TEMPLATES}
    for shipped in (
        "plans/deployment.yaml",
        "plans/training.yaml",
        "plans/examples/release.yaml",
        "demo/template/project/dot-gitignore",
        "demo/template/project/goap.toml",
        "demo/template/project/cats/modal_app.py",
        "demo/template/work/cats/inference.py",
        "goap/running/worker.py",
        "web/package-lock.json",
        "web/src/worker.ts",
        "dashboard/static/index.html",
        "dashboard/static/app.js",
        "dashboard/static/style.css",
    ):
        assert shipped in names, shipped
    assert not [n for n in names if n.startswith(("web/node_modules/", "web/dist/"))]
    points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(points).decode()
    assert "[goap.commands]" in text and "demo = demo.command:demo_cmd" in text
    assert "ui = dashboard.command:ui_cmd" in text


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this host")
def test_the_wheel_carries_the_compiled_core_where_a_compiler_is(wheel: Path):
    """With a compiler the planner's C core is built into the wheel: an install here that
    silently fell back to pure Python would be 10 times slower and nobody would see it."""
    names = zipfile.ZipFile(wheel).namelist()
    assert [n for n in names if n.startswith("goap/planning/_core.") and n.endswith(".so")]


def test_without_a_c_compiler_the_wheel_builds_in_pure_python(tmp_path: Path):
    """A host whose compiler fails (CC=false): the build warns, goes on, and the wheel
    has no core; the planner then searches in Python (tests/test_compiled.py: same plans)."""
    src = source_copy(tmp_path / "src")
    env = {**os.environ, "CC": "false", "LDSHARED": "false"}
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
         "-w", str(tmp_path / "out"), str(src)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    assert 'building extension "goap.planning._core" failed' in built.stdout + built.stderr
    (found,) = (tmp_path / "out").glob("goap_mlops-*.whl")
    names = zipfile.ZipFile(found).namelist()
    assert "goap/planning/compiled.py" in names
    assert not [n for n in names if n.startswith("goap/planning/_core.")]


def test_a_template_is_written_with_its_dotfiles_and_without_caches(tmp_path: Path):
    template = Path(shutil.copytree(ROOT / "demo" / "template" / "project", tmp_path / "t"))
    (template / ".ruff_cache").mkdir(exist_ok=True)
    (template / ".ruff_cache" / "CACHEDIR.TAG").write_text("cache")
    (template / "cats" / "__pycache__").mkdir(exist_ok=True)
    (template / "cats" / "__pycache__" / "modal_app.cpython-311.pyc").write_bytes(b"\0")
    written = copy_template(template, tmp_path / "ws")
    names = {p.relative_to(tmp_path / "ws").as_posix() for p in written}
    assert ".gitignore" in names and "dot-gitignore" not in names
    assert "cats/modal_app.py" in names and "goap.toml" in names
    assert not [n for n in names if ".ruff_cache" in n or "__pycache__" in n]
    ignored = (tmp_path / "ws" / ".gitignore").read_text()
    assert ignored == (template / "dot-gitignore").read_text() and "data/" in ignored


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_core_wheel_names_the_extra_a_missing_import_needs(wheel: Path, tmp_path: Path):
    """Installed without extras (pydantic, PyYAML, rich, typer only), goap plans and runs
    plain commands, and an executor or command needing more names the extra to install."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GOAP_"))}
    goap = str(venv / "bin" / "goap")
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        "version: 1\nname: core\nstate: {built: false, branched: false}\n"
        "goal: {branched: true}\nactions:\n"
        "  build: {effects: {built: true}, cmd: ['true']}\n"
        "  branch: {pre: {built: true}, effects: {branched: true},"
        " run: 'actions.git:create_branch', with: {branch: feature/x}}\n"
    )
    plan = subprocess.run(
        [goap, "plan", str(catalog), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert plan.returncode == 0 and json.loads(plan.stdout)["plan"] == ["build", "branch"]
    run = subprocess.run(
        [goap, "run", str(catalog)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert run.returncode == 2 and "pip install 'goap-mlops[git]'" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    mcp = subprocess.run(
        [goap, "mcp", str(catalog)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert mcp.returncode == 2 and "pip install 'goap-mlops[agents]'" in mcp.stderr, mcp.stderr
