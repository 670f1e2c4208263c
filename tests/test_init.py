"""`goap init`: what it senses, what it writes, and that what it writes validates, plans and runs.

Every repository here is built for real in a tmp dir (``git init``, files written by the
test), and the real CLI runs in a subprocess: the written catalog must pass `goap validate`
(which imports every `run:` target and checks its arguments) with no error and `goap plan`
must find a plan, for every shape; the Python one is also run to its goal.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from goap.faces import scaffold
from goap.loading.catalog import load_catalog
from goap.planning.planner import plan
from tests.conftest import goap_cmd

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


PYPROJECT = """\
[project]
name = "calc"
version = "0.1.0"

[tool.ruff]
line-length = 100

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

PYTHON_PROJECT = {
    "pyproject.toml": PYPROJECT,
    "calc/__init__.py": "def add(a, b):\n    return a + b\n",
    "tests/test_add.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    "README.md": "# calc\n",
    ".gitignore": "__pycache__/\n.venv/\n",
}


def git_repo(root: Path, files: dict[str, str], commit: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write(root, files)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "commit.gpgsign", "false")
    if commit:
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
    return root


def init(directory: Path, *args: str, env: dict[str, str] | None = None):
    return goap_cmd("init", str(directory), *args, env=env)


def assert_validates_and_plans(directory: Path) -> list[str]:
    """`goap validate` with no error, `goap plan` finds a plan; returns the plan."""
    checked = goap_cmd("validate", "goap.yaml", "--json", cwd=directory)
    report = json.loads(checked.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert checked.returncode == 0 and report["ok"] and errors == [], checked.stdout
    planned = goap_cmd("plan", "goap.yaml", "--json", cwd=directory)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    document = json.loads(planned.stdout)
    assert document["status"] == "found" and document["plan"], document
    return document["plan"]


def catalog_of(directory: Path) -> dict:
    return yaml.safe_load((directory / "goap.yaml").read_text())


def toml_of(directory: Path) -> dict:
    return tomllib.loads((directory / "goap.toml").read_text())


# ---------------------------------------------------------------------- the sensing functions


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"pyproject.toml": "[tool.ruff]\nline-length = 100\n"}, "pyproject.toml [tool.ruff]"),
        ({"pyproject.toml": "[tool.ruff.lint]\nselect = ['E']\n"}, "pyproject.toml [tool.ruff]"),
        ({"ruff.toml": "line-length = 100\n"}, "ruff.toml"),
        ({".ruff.toml": ""}, ".ruff.toml"),
        ({"pyproject.toml": "[tool.black]\n"}, None),
        ({"pyproject.toml": "not toml ["}, None),
    ],
)
def test_sense_ruff_reads_each_place_ruff_is_configured(tmp_path, files, expected):
    write(tmp_path, files)
    assert scaffold.sense_ruff(tmp_path) == expected


@pytest.mark.parametrize(
    "files, expected",
    [
        (
            {"pyproject.toml": "[tool.pytest.ini_options]\n"},
            ["pyproject.toml [tool.pytest.ini_options]"],
        ),
        ({"pytest.ini": "[pytest]\n"}, ["pytest.ini"]),
        ({"setup.cfg": "[metadata]\n[tool:pytest]\naddopts = -q\n"}, ["setup.cfg [tool:pytest]"]),
        ({"tox.ini": "[tox]\n[pytest]\n"}, ["tox.ini [pytest]"]),
        ({"tox.ini": "[tox]\n"}, []),
        ({"tests/unit/test_a.py": ""}, ["tests/"]),
        ({"test/a_test.py": ""}, ["test/"]),
        ({"tests/helpers.py": ""}, []),
    ],
)
def test_sense_pytest_reads_its_configuration_and_the_tests_folder(tmp_path, files, expected):
    write(tmp_path, files)
    assert scaffold.sense_pytest(tmp_path) == expected


def test_sense_runners_and_virtualenv(tmp_path):
    assert scaffold.sense_runners(tmp_path) == [] and scaffold.sense_venv(tmp_path) is None
    write(tmp_path, {"tox.ini": "[tox]\n", "noxfile.py": "", "venv/bin/python": ""})
    assert scaffold.sense_runners(tmp_path) == ["tox.ini", "noxfile.py"]
    assert scaffold.sense_venv(tmp_path) == "venv"
    write(tmp_path, {".venv/bin/python": ""})
    assert scaffold.sense_venv(tmp_path) == ".venv"


def test_sense_typescript_here_or_one_folder_down(tmp_path):
    write(tmp_path, {"package.json": "{}"})  # neither a build script nor a tsconfig.json
    assert scaffold.sense_typescript(tmp_path) is None
    write(
        tmp_path, {"web/package.json": '{"scripts": {"build": "tsc"}}', "web/package-lock.json": ""}
    )
    assert scaffold.sense_typescript(tmp_path) == scaffold.TypeScriptProject("web", True, True)
    write(tmp_path, {"tsconfig.json": "{}"})
    assert scaffold.sense_typescript(tmp_path) == scaffold.TypeScriptProject(".", False, False)


MODAL_APP = """\
import modal

app = modal.App("demo")
vol = modal.Volume.from_name("v", create_if_missing=True)


@app.function(
    gpu="A10G",
    timeout=600,
    volumes={"/data": vol},
)
def prepare(x):
    return x


@app.function(gpu="A10G", timeout=600, volumes={"/data": vol})
def train_model(config):
    return config
"""


def test_sense_modal_finds_the_app_its_train_function_and_volume(tmp_path):
    write(tmp_path, {".venv/lib/modal_app.py": MODAL_APP, "notes.py": "# modal.App( in text\n"})
    assert scaffold.sense_modal(tmp_path) is None  # inside a virtualenv, or no assignment
    write(tmp_path, {"app/__init__.py": "", "app/modal_app.py": MODAL_APP})
    assert scaffold.sense_modal(tmp_path) == scaffold.ModalApp(
        file="app/modal_app.py",
        app="app.modal_app:app",
        train_function="train_model",
        volume="/data",
    )


def test_sense_git_reports_branch_and_remotes(tmp_path):
    assert scaffold.sense_git(tmp_path) is None
    repo = git_repo(tmp_path / "repo", {"a.py": ""})
    git(repo, "remote", "add", "upstream", str(tmp_path / "elsewhere.git"))
    git(repo, "remote", "add", "origin", str(tmp_path / "elsewhere.git"))
    found = scaffold.sense_git(repo)
    assert found == scaffold.GitRepo(
        root=str(repo.resolve()), branch="main", remotes=["origin", "upstream"]
    )
    assert found.push_remote == "goap-local"


def test_commit_groups_hold_what_exists_and_git_does_not_ignore(tmp_path):
    files = {
        **PYTHON_PROJECT,
        "tool.py": "",
        "setup.py": "",
        "docs/index.md": "",
        "build/__init__.py": "",
        "generated/__init__.py": "",
        ".gitignore": "generated/\n",
    }
    repo = git_repo(tmp_path / "repo", files, commit=False)
    (repo / "doc").mkdir()  # empty: git cannot commit it
    assert scaffold.sense_commit_groups(repo) == {
        "code": ["calc", "tool.py"],
        "tests": ["tests"],
        "docs": ["docs", "README.md"],
        "config": ["pyproject.toml", "setup.py", ".gitignore"],
    }


# ---------------------------------------------------------------------- goap init, end to end


def test_python_repo_validates_plans_and_runs_without_touching_origin(tmp_path):
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    repo = git_repo(tmp_path / "calc", PYTHON_PROJECT)
    git(repo, "remote", "add", "origin", str(origin))
    write(repo, {"calc/mul.py": "def mul(a, b):\n    return a * b\n"})  # work to commit

    done = init(repo)
    assert done.returncode == 0, done.stderr
    assert "remotes: origin" in done.stdout and "goap pushes to goap-local" in done.stdout
    config = toml_of(repo)
    assert config["git"] == {"remote": "goap-local", "remote_url": ".goap/remote.git"}
    code_lines = [line for line in (repo / "goap.toml").read_text().splitlines() if "#" not in line]
    assert not [line for line in code_lines if "origin" in line]
    assert config["ci"]["commands"] == [
        "ruff check .",
        "ruff format --check .",
        "python -m pytest -q",
    ]
    plan_names = assert_validates_and_plans(repo)
    assert plan_names[:3] == ["validate_ruff", "validate_tests", "create_branch"]
    assert plan_names[-2:] == ["push", "monitor_ci"]

    ran = goap_cmd("run", "goap.yaml", "--workdir", str(repo), "--json", cwd=repo, timeout=300)
    result = json.loads(ran.stdout)
    assert ran.returncode == 0 and result["status"] == "completed", ran.stdout + ran.stderr
    executed = [step["action"] for step in result["executed"]]
    # the two checks are independent: they run at once, in either order (the longer first)
    assert set(executed[:2]) == {"validate_ruff", "validate_tests"}
    assert executed[2:] == ["create_branch", "commit_code", "push", "monitor_ci"]
    assert git(repo, "log", "-1", "--format=%s", "goap/deploy") == "feat: update the source code"
    pushed = git(
        repo, "--git-dir", str(repo / ".goap" / "remote.git"), "for-each-ref", "--format=%(refname)"
    )
    assert pushed == "refs/heads/goap/deploy"
    assert git(tmp_path, "--git-dir", str(origin), "for-each-ref") == ""  # origin got nothing
    assert result["world_state"]["ci_state"]["pipeline_passed"] is True

    again = goap_cmd("run", "goap.yaml", "--json", cwd=repo, timeout=300)
    assert json.loads(again.stdout)["executed"] == []  # the sensors see that the goal holds


def test_the_catalog_chains_like_the_seed(tmp_path):
    """A commit makes CI unknown and the branch unpushed; failed CI: fix, push, check again."""
    repo = git_repo(tmp_path / "calc", PYTHON_PROJECT)
    assert init(repo).returncode == 0
    catalog = load_catalog(repo / "goap.yaml")
    done = {
        "code_validation.ruff_validated": True,
        "code_validation.tests_validated": True,
        "git_state.branch_name": "goap/deploy",
        **{f"git_state.{g}_committed": True for g in ("code", "tests", "docs", "config")},
        "git_state.pushed": True,
    }
    failed_ci = {**catalog.initial, **done, "ci_state.ci_status_known": True}
    names = [a.name for a in plan(catalog, failed_ci).actions]
    assert names == ["resolve_ci_failure", "push", "monitor_ci"]
    edited = {**catalog.initial, **done, "git_state.code_committed": False}
    names = [a.name for a in plan(catalog, edited).actions]
    assert names == ["commit_code", "push", "monitor_ci"]
    assert catalog_of(repo)["actions"]["commit_code"]["effects"] == {
        "git_state.code_committed": True,
        "git_state.pushed": False,
        "ci_state.ci_status_known": False,
        "ci_state.pipeline_passed": False,
    }


def test_typescript_project_gets_only_its_steps(tmp_path):
    files = {
        "package.json": '{"name": "web", "devDependencies": {"typescript": "^5"}}\n',
        "package-lock.json": "{}\n",
        "tsconfig.json": '{"compilerOptions": {"strict": true}}\n',
        "src/index.ts": "export const x: number = 1;\n",
        ".gitignore": "node_modules/\n",
    }
    repo = git_repo(tmp_path / "web", files)
    done = init(repo, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["actions"] == [
        "validate_typescript",
        "create_branch",
        "commit_code",
        "commit_config",
        "push",
        "monitor_ci",
    ]
    catalog = catalog_of(repo)
    assert catalog["actions"]["validate_typescript"]["with"] == {"project_dir": "."}
    assert catalog["actions"]["commit_config"]["with"]["paths"] == [
        ".gitignore",
        "package.json",
        "package-lock.json",
        "tsconfig.json",
    ]
    assert set(catalog["skills"]) == {"testing-workflow", "git-workflow", "ci-monitor"}
    assert toml_of(repo)["ci"]["commands"] == ["npm ci", "npx --no-install tsc --noEmit"]
    assert assert_validates_and_plans(repo)[0] == "validate_typescript"


def test_directory_without_git_gets_the_checks_only(tmp_path):
    project = tmp_path / "calc"
    write(project, PYTHON_PROJECT)
    done = init(project, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "not a git repository" in done.stdout
    catalog = catalog_of(project)
    assert list(catalog["actions"]) == ["validate_ruff", "validate_tests"]
    assert "sensors" not in catalog and "actions.git" not in (project / "goap.yaml").read_text()
    assert toml_of(project)["git"]["remote"] == "goap-local"
    assert assert_validates_and_plans(project) == ["validate_ruff", "validate_tests"]


def test_directory_with_nothing_found_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = init(empty, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert done.returncode == 2 and "found nothing to plan" in done.stderr
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize("existing", ["goap.yaml", "goap.toml", "link:goap.yaml"])
def test_an_existing_file_is_never_overwritten_and_nothing_is_written(tmp_path, existing):
    repo = git_repo(tmp_path / "calc", PYTHON_PROJECT)
    name = existing.removeprefix("link:")
    if existing.startswith("link:"):
        (repo / name).symlink_to(tmp_path / "nowhere")
    else:
        (repo / name).write_text("mine\n")
    before = sorted(p.name for p in repo.iterdir())
    done = init(repo)
    assert done.returncode == 2
    assert f"{repo / name} already exists" in done.stderr.replace("\n", "")
    assert sorted(p.name for p in repo.iterdir()) == before
    if not existing.startswith("link:"):
        assert (repo / name).read_text() == "mine\n"


def test_json_output_shape(tmp_path):
    repo = git_repo(tmp_path / "calc", PYTHON_PROJECT)
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    done = init(repo, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"dir", "found", "wrote", "actions"}
    assert document["dir"] == str(repo)
    assert document["wrote"] == [str(repo / "goap.yaml"), str(repo / "goap.toml")]
    assert document["actions"] == list(catalog_of(repo)["actions"])
    found = document["found"]
    assert set(found) == {
        "git",
        "ruff",
        "pytest",
        "runners",
        "typescript",
        "venv",
        "venv_ruff",
        "modal",
        "commit_groups",
    }
    assert found["git"]["branch"] == "main" and found["git"]["remotes"] == ["origin"]
    assert found["git"]["push_remote"] == "goap-local"
    assert found["ruff"] == "pyproject.toml [tool.ruff]" and found["typescript"] is None
    assert found["commit_groups"]["code"] == ["calc"]

    refused = init(repo, "--json")
    error = json.loads(refused.stdout)
    assert (
        refused.returncode == 2 and error["exit_code"] == 2 and "already exists" in error["error"]
    )


def test_virtualenv_runs_the_tests_and_ci(tmp_path):
    repo = git_repo(tmp_path / "calc", PYTHON_PROJECT)
    bin_dir = repo / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    (bin_dir / "ruff").write_text("")
    done = init(repo)
    assert done.returncode == 0, done.stderr
    venv = repo / ".venv" / "bin"
    assert toml_of(repo)["ci"]["commands"] == [
        f"{shlex.quote(str(venv / 'ruff'))} check .",
        f"{shlex.quote(str(venv / 'ruff'))} format --check .",
        f"{shlex.quote(str(venv / 'python'))} -m pytest -q",
    ]
    assert catalog_of(repo)["actions"]["validate_tests"]["with"]["python"] == ".venv/bin/python"
    assert ".venv" not in json.dumps(catalog_of(repo)["actions"]["commit_config"])  # ignored
    assert_validates_and_plans(repo)


def test_modal_app_gets_a_validation_step_before_the_branch(tmp_path):
    repo = git_repo(tmp_path / "ml", {"app/__init__.py": "", "app/modal_app.py": MODAL_APP})
    done = init(repo)
    assert done.returncode == 0, done.stderr
    catalog = catalog_of(repo)
    modal = catalog["actions"]["validate_modal_app"]
    assert modal["run"] == "actions.modal_check:validate_modal_app"
    assert modal["with"]["app"] == "app.modal_app:app"
    assert modal["with"]["train_function"] == "train_model"
    assert modal["with"]["require"]["volume"] == "/data"
    assert catalog["actions"]["create_branch"]["pre"]["code_validation.modal_app_validated"]
    assert "monitor_ci" not in catalog["actions"] and "ci" not in toml_of(repo)  # no CI jobs
    assert assert_validates_and_plans(repo)[0] == "validate_modal_app"
