"""actions.checks: real ruff, pytest and npm subprocesses on small workspaces in tmp dirs."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest
from test_actions_support import isolated_env, write  # noqa: F401

from actions.checks import (
    PytestArgs,
    RuffArgs,
    TypeScriptArgs,
    ruff_status,
    validate_ruff,
    validate_tests,
    validate_typescript,
)
from goap.executor import ActionFailed

pytestmark = pytest.mark.usefixtures("isolated_env")

CLEAN_MODULE = "def add(a: int, b: int) -> int:\n    return a + b\n"
# An unused import (lint error) and bad spacing (needs formatting).
DIRTY_MODULE = "import os\n\n\ndef sub(a, b):\n    return a-b\n"
# Inner pytest runs skip the cache and the hypothesis plugin (1 s of import each run).
QUIET_PYTEST = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest"]


def package(workdir: Path, scripts: dict[str, str]) -> None:
    write(workdir / "package.json", json.dumps({"name": "web", "scripts": scripts}))


# --------------------------------------------------------------------------------------- ruff


def test_ruff_passes_on_a_clean_workspace(tmp_path: Path) -> None:
    write(tmp_path / "calc.py", CLEAN_MODULE)
    facts = validate_ruff(RuffArgs(workdir=tmp_path))
    assert facts["passed"] is True
    assert (facts["lint_errors"], facts["unformatted_files"]) == (0, 0)


def test_ruff_reports_counts_and_first_lines_and_changes_nothing(tmp_path: Path) -> None:
    write(tmp_path / "calc.py", CLEAN_MODULE)
    dirty = write(tmp_path / "pkg" / "dirty.py", DIRTY_MODULE)
    sensed = ruff_status(RuffArgs(workdir=tmp_path))
    assert sensed["passed"] is False
    assert sensed["lint_errors"] >= 1
    assert sensed["unformatted_files"] == 1
    assert "F401" in sensed["lint_output"]
    assert "dirty.py" in sensed["format_output"]
    with pytest.raises(ActionFailed, match=r"lint error\(s\), 1 file\(s\) need formatting") as err:
        validate_ruff(RuffArgs(workdir=tmp_path))
    assert err.value.facts == {**sensed, "duration_s": err.value.facts["duration_s"]}
    assert "F401" in err.value.tail
    assert dirty.read_text() == DIRTY_MODULE


def test_ruff_checks_only_the_given_paths(tmp_path: Path) -> None:
    write(tmp_path / "good" / "calc.py", CLEAN_MODULE)
    write(tmp_path / "bad" / "dirty.py", DIRTY_MODULE)
    assert validate_ruff(RuffArgs(workdir=tmp_path, paths=["good"]))["passed"] is True


def test_ruff_configuration_error_is_a_failure_not_a_finding(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.ruff.lint]\nselect = ["NOPE999"]\n')
    write(tmp_path / "calc.py", CLEAN_MODULE)
    with pytest.raises(ActionFailed, match="could not run"):
        ruff_status(RuffArgs(workdir=tmp_path))


# ------------------------------------------------------------------------------------- pytest


def test_pytest_counts_a_passing_suite(tmp_path: Path) -> None:
    write(tmp_path / "calc.py", CLEAN_MODULE)
    write(
        tmp_path / "tests" / "test_calc.py",
        "import pytest\nfrom calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
        "@pytest.mark.skip\ndef test_later():\n    pass\n",
    )
    facts = validate_tests(PytestArgs(workdir=tmp_path, extra_args=QUIET_PYTEST))
    assert facts["passed"] is True
    assert (facts["tests_passed"], facts["tests_failed"], facts["skipped"]) == (1, 0, 1)
    assert "1 passed, 1 skipped" in facts["summary"]


def test_pytest_failure_reports_counts_and_log_tail(tmp_path: Path) -> None:
    write(
        tmp_path / "test_math.py",
        "def test_ok():\n    assert 1 + 1 == 2\n\n\ndef test_broken():\n    assert 2 + 2 == 5\n",
    )
    with pytest.raises(ActionFailed, match=r"pytest: 1 failed") as error:
        validate_tests(PytestArgs(workdir=tmp_path, extra_args=QUIET_PYTEST))
    assert error.value.facts["tests_passed"] == 1
    assert error.value.facts["tests_failed"] == 1
    assert error.value.facts["exit_code"] == 1
    assert "test_broken" in error.value.tail


def test_pytest_with_no_tests_is_a_failure(tmp_path: Path) -> None:
    write(tmp_path / "calc.py", CLEAN_MODULE)
    with pytest.raises(ActionFailed, match="collected no tests"):
        validate_tests(PytestArgs(workdir=tmp_path, extra_args=QUIET_PYTEST))


# --------------------------------------------------------------------------------- TypeScript


def test_typescript_without_package_json_is_not_applicable(tmp_path: Path) -> None:
    facts = validate_typescript(TypeScriptArgs(workdir=tmp_path, project_dir="."))
    assert facts["applicable"] is False
    assert "passed" not in facts
    assert "no package.json" in facts["reason"]


@pytest.fixture
def npm() -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")


@pytest.mark.usefixtures("npm")
def test_npm_build_script_is_run(tmp_path: Path) -> None:
    web = tmp_path / "frontend"
    package(web, {"build": "node -e \"require('fs').writeFileSync('dist.txt', 'built')\""})
    facts = validate_typescript(TypeScriptArgs(workdir=tmp_path, project_dir="frontend"))
    assert (facts["applicable"], facts["passed"], facts["command"]) == (True, True, "npm run build")
    assert (web / "dist.txt").read_text() == "built"


@pytest.mark.usefixtures("npm")
def test_failing_npm_build_fails_with_the_log(tmp_path: Path) -> None:
    package(tmp_path, {"build": "node -e \"console.error('TS2322: bad type'); process.exit(2)\""})
    with pytest.raises(ActionFailed, match="`npm run build` failed") as error:
        validate_typescript(TypeScriptArgs(workdir=tmp_path))
    assert error.value.facts["passed"] is False
    assert "TS2322" in error.value.tail


@pytest.mark.usefixtures("npm")
def test_build_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    package(tmp_path, {"build": 'node -e "setTimeout(() => {}, 30000)"'})
    started = time.monotonic()
    with pytest.raises(ActionFailed, match="timed out after 1.5s") as error:
        validate_typescript(TypeScriptArgs(workdir=tmp_path, timeout_s=1.5))
    assert time.monotonic() - started < 10
    assert error.value.facts["timed_out"] is True


def test_tsc_no_emit_when_there_is_no_build_script(tmp_path: Path) -> None:
    package(tmp_path, {"lint": "true"})
    write(tmp_path / "tsconfig.json", "{}")
    tsc = write(
        tmp_path / "node_modules" / ".bin" / "tsc",
        '#!/bin/sh\necho "tsc $*" > tsc-called.txt\necho "src/a.ts(1,7): error TS2322"\nexit 2\n',
    )
    tsc.chmod(0o755)
    with pytest.raises(ActionFailed, match="`tsc --noEmit` failed") as error:
        validate_typescript(TypeScriptArgs(workdir=tmp_path))
    assert "TS2322" in error.value.tail
    assert (tmp_path / "tsc-called.txt").read_text() == "tsc --noEmit\n"


def test_missing_typescript_compiler_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    package(tmp_path, {})
    write(tmp_path / "tsconfig.json", "{}")
    with pytest.raises(ActionFailed, match="npm install --save-dev typescript"):
        validate_typescript(TypeScriptArgs(workdir=tmp_path))


def test_package_json_without_build_or_tsconfig_is_not_applicable(tmp_path: Path) -> None:
    package(tmp_path, {"test": "true"})
    assert validate_typescript(TypeScriptArgs(workdir=tmp_path))["applicable"] is False


UNFORMATTED_ONLY = "def sub(a, b):\n    return a-b\n"  # lint-clean, but ruff format differs


def test_ruff_checks_formatting_only_when_the_project_formats(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(UNFORMATTED_ONLY)
    (tmp_path / "goap.toml").write_text('[ci]\ncommands = ["ruff check ."]\n')  # no format
    facts = validate_ruff(RuffArgs(workdir=tmp_path))
    assert facts["passed"] and facts["format_checked"] is False
    with pytest.raises(ActionFailed, match="1 file\\(s\\) need formatting"):
        validate_ruff(RuffArgs(workdir=tmp_path, format=True))  # asked for explicitly
    (tmp_path / "pyproject.toml").write_text("[tool.ruff.format]\nquote-style = 'double'\n")
    assert ruff_status(RuffArgs(workdir=tmp_path))["format_checked"] is True
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / "goap.toml").unlink()  # the local CI's defaults run `ruff format --check`
    assert ruff_status(RuffArgs(workdir=tmp_path))["format_checked"] is True


def test_ruff_comes_from_the_projects_virtualenv_first(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(CLEAN_MODULE)
    fake = tmp_path / ".venv" / "bin" / "ruff"
    fake.parent.mkdir(parents=True)
    real = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    fake.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "calls"}\nexec {real} "$@"\n')
    fake.chmod(0o755)
    facts = ruff_status(RuffArgs(workdir=tmp_path))
    assert facts["ruff"] == str(fake) and facts["passed"]
    assert "check" in (tmp_path / "calls").read_text()
