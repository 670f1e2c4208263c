"""Code validation executors (A02, A03 and the test suite): ruff, pytest, TypeScript build.

Each executor runs the real tool in a subprocess with a timeout, returns counts and the first
lines of output as facts, and raises ActionFailed (with the same facts) when the check fails.
The ruff sensor reports the same facts without raising. A TypeScript check in a directory
without package.json is "not applicable" ({"applicable": False}), which is not a pass.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from actions.contract import InWorkdir, WorkdirArgs, known
from actions.process import ProcessResult, head, require_tool, run_process, tail
from goap.executor import ActionFailed, facts

RUFF_HINT = "install ruff (pip install ruff)"
ruff_facts = facts(
    "passed",
    "lint_errors",
    "unformatted_files",
    "lint_output",
    "format_output",
    "format_checked",
    "ruff",
    "duration_s",
    failure=("timed_out", "command"),
    note="Formatting is checked when the project formats with ruff (or `format: true`).",
)


class RuffArgs(WorkdirArgs):
    paths: list[InWorkdir] = Field(
        default_factory=lambda: ["."], description="Files or directories to check, from workdir."
    )
    format: bool | None = Field(
        None,
        description="Also require `ruff format --check`; default: when the project formats "
        "with ruff ([tool.ruff.format] in pyproject.toml or ruff.toml, a ruff-format "
        "pre-commit hook, or `ruff format` among goap.toml's [ci] commands).",
    )
    ruff: str | None = Field(
        None,
        description="The ruff executable; default: the project's virtualenv (.venv/bin/ruff), "
        "else the one beside goap's Python or on PATH.",
    )
    timeout_s: float = Field(300, gt=0, description="Time allowed for each ruff command.")


class PytestArgs(WorkdirArgs):
    paths: list[InWorkdir] = Field(
        default_factory=list,
        description="Test files or directories; default: pytest's own discovery (testpaths).",
    )
    extra_args: list[str] = Field(
        default_factory=list, description="Further pytest arguments, e.g. ['-m', 'not slow']."
    )
    python: str | None = Field(
        None,
        description="Interpreter that runs pytest; default: workdir/.venv/bin/python if present, "
        "else the engine's own Python.",
    )
    timeout_s: float = Field(900, gt=0, description="Time allowed for the whole test run.")

    @field_validator("paths")
    @classmethod
    def _paths_are_not_options(cls, paths: list[str]) -> list[str]:
        """pytest takes ``-x`` among the paths as an option: options belong in extra_args."""
        for index, path in enumerate(paths):
            if path.startswith("-"):
                raise ValueError(
                    f"paths[{index}]: {path[:80]!r} is an option, not a test path; "
                    "put options in extra_args"
                )
        return paths


class TypeScriptArgs(WorkdirArgs):
    project_dir: InWorkdir = Field(
        ".", description="Directory (from workdir) holding package.json, e.g. 'frontend'."
    )
    timeout_s: float = Field(600, gt=0, description="Time allowed for the build.")


# --------------------------------------------------------------------------------------- ruff


@ruff_facts
def ruff_status(args: RuffArgs) -> dict[str, Any]:
    """Sensor: lint errors (and unformatted files, when checked) under ``paths``; never raises
    for findings."""
    ruff = args.ruff or _project_tool(args.workdir, "ruff") or require_tool("ruff", RUFF_HINT)
    lint = run_process(
        [ruff, "check", "--output-format=concise", "--", *args.paths], args.workdir, args.timeout_s
    )
    _fail_if_broken(lint, "ruff", ok_codes=(0, 1))
    found = _RUFF_FOUND.search(lint.output)
    diagnostics = [line for line in lint.output.splitlines() if _RUFF_DIAGNOSTIC.match(line)]
    facts = {
        "passed": lint.ok,
        "lint_errors": int(found.group(1)) if found else len(diagnostics),
        "lint_output": head("\n".join(diagnostics)),
        "format_checked": args.format if args.format is not None else formats(args.workdir),
        "ruff": ruff,
        "duration_s": lint.duration_s,
    }
    if facts["format_checked"]:
        fmt = run_process(
            [ruff, "format", "--check", "--", *args.paths], args.workdir, args.timeout_s
        )
        _fail_if_broken(fmt, "ruff", ok_codes=(0, 1))
        unformatted = [m.group(1) or m.group(2) for m in _RUFF_UNFORMATTED.finditer(fmt.output)]
        would_reformat = _RUFF_WOULD_REFORMAT.search(fmt.output)
        facts["passed"] = lint.ok and fmt.ok
        facts["unformatted_files"] = (
            int(would_reformat.group(1)) if would_reformat else len(unformatted)
        )
        facts["format_output"] = head("\n".join(unformatted))
        facts["duration_s"] += fmt.duration_s
    else:
        facts["unformatted_files"], facts["format_output"] = 0, ""
    facts["duration_s"] = round(facts["duration_s"], 3)
    return facts


def formats(workdir: Path) -> bool:
    """Whether the project formats with ruff, by its own configuration.

    goap.toml's [ci] commands count (with no goap.toml, the local CI's defaults, which run
    `ruff format --check`): validation then agrees with what CI will check.
    """
    for name in ("pyproject.toml", "ruff.toml", ".ruff.toml"):
        text = _read(workdir / name)
        if re.search(r"^\[(tool\.ruff\.)?format\]", text, re.MULTILINE):
            return True
    if "ruff-format" in _read(workdir / ".pre-commit-config.yaml"):
        return True
    try:
        from actions.config import load_config

        commands = load_config(workdir).ci.commands
    except Exception:  # noqa: BLE001 - a bad goap.toml is reported by the CI step itself
        return False
    return any(re.search(r"\bruff\s+format\b", command) for command in commands)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _project_tool(workdir: Path, name: str) -> str | None:
    """``name`` from the project's own virtualenv, when it has one."""
    for venv in (".venv", "venv"):
        candidate = workdir / venv / "bin" / name
        if candidate.is_file():
            return str(candidate)
    return None


@ruff_facts
def validate_ruff(args: RuffArgs) -> dict[str, Any]:
    """A02: ruff check must be clean, and ruff format --check when the project formats."""
    facts = ruff_status(args)
    if not facts["passed"]:
        found = [f"{facts['lint_errors']} lint error(s)"]
        if facts["format_checked"]:
            found.append(f"{facts['unformatted_files']} file(s) need formatting")
        raise ActionFailed(
            f"ruff: {', '.join(found)}; run `ruff check --fix` and `ruff format` (actions.ci:"
            "resolve_ci_failure does) and fix the rest by hand",
            tail=f"{facts['lint_output']}\n{facts['format_output']}".strip(),
            facts=facts,
        )
    return facts


_RUFF_FOUND = re.compile(r"^Found (\d+) errors?", re.MULTILINE)
_RUFF_DIAGNOSTIC = re.compile(r"^\S.*:\d+:\d+: ")
# "Would reformat: path" (ruff < 0.9) or " --> path:row:col" under "unformatted:" (newer).
_RUFF_UNFORMATTED = re.compile(r"^(?:Would reformat: (.+)|\s*--> (.+?):\d+:\d+)$", re.MULTILINE)
_RUFF_WOULD_REFORMAT = re.compile(r"^(\d+) files? would be reformatted", re.MULTILINE)


# ------------------------------------------------------------------------------------- pytest

_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")
_PYTEST_NO_TESTS = 5


@facts(
    "passed",
    "tests_passed",
    "tests_failed",
    "errors",
    "skipped",
    "exit_code",
    "timed_out",
    "duration_s",
    "summary",
    failure=("command",),
)
def validate_tests(args: PytestArgs) -> dict[str, Any]:
    """Run the workspace's pytest suite in a subprocess; fails when a test fails or none ran."""
    python = args.python or _workspace_python(args.workdir)
    argv = [python, "-m", "pytest", "-q", *args.extra_args, *args.paths]
    result = run_process(argv, args.workdir, args.timeout_s)
    counts = _pytest_counts(result.output)
    facts = known(
        {
            "passed": result.ok,
            "tests_passed": counts.get("passed", 0),
            "tests_failed": counts.get("failed", 0),
            "errors": counts.get("error", 0) + counts.get("errors", 0),
            "skipped": counts.get("skipped", 0),
            "exit_code": result.returncode,
            "timed_out": result.timed_out,
            "duration_s": result.duration_s,
            "summary": _last_line(result.output),
        }
    )
    if result.timed_out:
        raise ActionFailed(
            f"pytest timed out after {args.timeout_s:g}s; raise timeout_s or speed the tests up",
            tail=tail(result.output),
            facts=facts,
        )
    if result.returncode == _PYTEST_NO_TESTS:
        raise ActionFailed(
            f"pytest collected no tests in {args.workdir}; point `paths` at the tests",
            tail=tail(result.output),
            facts=facts,
        )
    if not result.ok:
        raise ActionFailed(
            f"pytest: {facts['tests_failed']} failed, {facts['errors']} error(s) "
            f"(exit {result.returncode}); fix the failing tests (see the log tail)",
            tail=tail(result.output),
            facts=facts,
        )
    return facts


def _workspace_python(workdir: Path) -> str:
    venv_python = workdir / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.is_file() else sys.executable


def _pytest_counts(output: str) -> dict[str, int]:
    for line in reversed(output.splitlines()):
        found = _PYTEST_COUNT.findall(line)
        if found:
            return {word: int(number) for number, word in found}
    return {}


def _last_line(output: str) -> str:
    lines = [line.strip("= ") for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --------------------------------------------------------------------------------- TypeScript


@facts(
    "applicable",
    "passed",
    "command",
    "project_dir",
    "exit_code",
    "timed_out",
    "duration_s",
    "output_head",
    "reason",
    note="Without package.json (or a build script or tsconfig.json): applicable false, reason.",
)
def validate_typescript(args: TypeScriptArgs) -> dict[str, Any]:
    """A03: the app built for real, as its CI would: ``npm ci`` when package-lock.json pins
    the dependencies, ``tsc --noEmit`` when there is a tsconfig.json, then ``npm run build``
    when package.json has a build script. Not applicable (and why) without a package.json,
    without anything to run, or when the project needs npm and npm is not installed."""
    project = args.workdir / args.project_dir
    package_json = project / "package.json"
    if not package_json.is_file():
        return _not_applicable(args, f"no package.json in {args.project_dir}")
    try:
        scripts = json.loads(package_json.read_text(encoding="utf-8")).get("scripts") or {}
    except (json.JSONDecodeError, AttributeError) as exc:
        raise ActionFailed(f"{package_json} is not a valid JSON object; fix it") from exc
    locked = (project / "package-lock.json").is_file()
    typed = (project / "tsconfig.json").is_file()
    if not (locked or typed or "build" in scripts):
        return _not_applicable(
            args,
            f"{args.project_dir}/package.json has no build script and there is no tsconfig.json",
        )
    npm = shutil.which("npm")
    if (locked or "build" in scripts) and npm is None:
        return _not_applicable(
            args, f"npm is not installed, so {args.project_dir} cannot be built here (install "
            "Node.js and npm to check it)",
        )  # fmt: skip
    steps: list[list[str]] = []
    if locked:
        steps.append([str(npm), "ci", "--no-audit", "--no-fund", "--prefer-offline"])
    if typed:
        steps.append(["tsc", "--noEmit"])  # resolved after npm ci has installed it
    if "build" in scripts:
        steps.append([str(npm), "run", "build"])
    shown = [" ".join([Path(argv[0]).name, *argv[1:]]) for argv in steps]
    outputs, duration, result = [], 0.0, None
    for argv, command in zip(steps, shown, strict=True):
        if argv[0] == "tsc":
            argv = [_typescript_compiler(project), *argv[1:]]
        result = run_process(argv, project, max(1.0, args.timeout_s - duration))
        duration += result.duration_s
        outputs.append(f"$ {command}\n{result.output}")
        if not result.ok:
            break
    assert result is not None
    failed = shown[len(outputs) - 1]
    facts = known(
        {
            "applicable": True,
            "passed": result.ok,
            "command": " && ".join(shown),
            "project_dir": args.project_dir,
            "exit_code": result.returncode,
            "timed_out": result.timed_out,
            "duration_s": round(duration, 3),
            "output_head": head(result.output),
        }
    )
    if result.timed_out:
        raise ActionFailed(
            f"TypeScript build `{failed}` timed out after {args.timeout_s:g}s; raise timeout_s",
            tail=tail(result.output),
            facts=facts,
        )
    if not result.ok:
        raise ActionFailed(
            f"TypeScript build `{failed}` failed in {args.project_dir} "
            f"(exit {result.returncode}); fix the errors in the log tail",
            tail=tail(result.output),
            facts=facts,
        )
    return facts


def _typescript_compiler(project: Path) -> str:
    local = project / "node_modules" / ".bin" / "tsc"
    if local.is_file():
        return str(local)
    return require_tool("tsc", f"run `npm install --save-dev typescript` in {project}")


def _not_applicable(args: TypeScriptArgs, reason: str) -> dict[str, Any]:
    return {"applicable": False, "project_dir": args.project_dir, "reason": reason}


def _fail_if_broken(result: ProcessResult, tool: str, ok_codes: tuple[int, ...]) -> None:
    """ActionFailed when a checker itself did not work (timeout, crash, bad config)."""
    if result.timed_out:
        raise ActionFailed(
            f"{tool} timed out after {result.duration_s:g}s; raise timeout_s",
            tail=tail(result.output),
            facts={"timed_out": True},
        )
    if result.returncode not in ok_codes:
        raise ActionFailed(
            f"`{result.command}` could not run (exit {result.returncode}); fix the tool or its "
            "configuration (see the log tail)",
            tail=tail(result.output),
        )
