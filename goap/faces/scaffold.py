"""`goap init`: a first catalog (goap.yaml) and goap.toml for an existing repository.

Why: a catalog that runs needs every executor's name and arguments and a chain of facts that
holds together (a commit must make CI unknown again, a push needs ``pushed == false``), which
is what makes writing one by hand slow and error-prone. So init looks at the directory with
small pure functions (a git repository, ruff, pytest, tox/nox, TypeScript, a virtualenv, a
Modal app) and writes only the steps whose tools it found, in the shape of
plans/deployment.yaml: validate -> branch -> atomic commits -> push -> CI -> fix, with the
sensors that make a rerun start from the truth. Every written catalog validates and plans as
written (tests/test_init.py runs `goap validate`, `goap plan` and a real `goap run`).

Two refusals are deliberate. init never overwrites: when goap.yaml or goap.toml exists it
writes nothing. And it never points goap at a real remote: goap.toml says ``remote =
"goap-local"`` (a bare repository in .goap/), and a clone's ``origin`` is used only after a
person writes it there. A directory that is not a git repository gets a catalog of checks
only (there is no branch to push), and one where nothing is found is refused.

The engine never imports ``actions/``, so executor targets and argument names are written
here as text; `goap validate` imports each target and checks its arguments.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import textwrap
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from goap.running.errors import RunError
from state.files import create_new, safe_name

CATALOG_FILE = "goap.yaml"
CONFIG_FILE = "goap.toml"
BRANCH = "goap/deploy"
PUSH_REMOTE, PUSH_URL = "goap-local", ".goap/remote.git"
SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "build", "dist", "venv"}
MAX_SCANNED_FILES = 5000
MAX_SCANNED_BYTES = 512 * 1024


# ------------------------------------------------------------------------------ what is found


@dataclass(frozen=True)
class GitRepo:
    root: str
    branch: str | None  # None: detached HEAD
    remotes: list[str]
    push_remote: str = PUSH_REMOTE


@dataclass(frozen=True)
class TypeScriptProject:
    project_dir: str  # "." or a folder holding package.json
    build_script: bool  # package.json has scripts.build (else: tsc --noEmit)
    lockfile: bool


@dataclass(frozen=True)
class ModalApp:
    file: str
    app: str  # module:attribute
    train_function: str | None
    volume: str | None


@dataclass(frozen=True)
class Findings:
    git: GitRepo | None = None
    ruff: str | None = None
    pytest: list[str] = field(default_factory=list)
    runners: list[str] = field(default_factory=list)
    typescript: TypeScriptProject | None = None
    venv: str | None = None
    venv_ruff: bool = False
    modal: ModalApp | None = None
    commit_groups: dict[str, list[str]] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return asdict(self)


def sense(directory: Path) -> Findings:
    """Everything init looks for in ``directory``; reads only, writes nothing."""
    git = sense_git(directory)
    venv = sense_venv(directory)
    typescript = sense_typescript(directory)
    return Findings(
        git=git,
        ruff=sense_ruff(directory),
        pytest=sense_pytest(directory),
        runners=sense_runners(directory),
        typescript=typescript,
        venv=venv,
        venv_ruff=venv is not None and (directory / venv / "bin" / "ruff").is_file(),
        modal=sense_modal(directory),
        commit_groups=sense_commit_groups(directory, typescript) if git else {},
    )


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        return subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired):  # no git installed, a hung filesystem
        return None


def _git_out(directory: Path, *args: str) -> str | None:
    result = _git(directory, *args)
    return result.stdout.strip() if result is not None and result.returncode == 0 else None


def sense_git(directory: Path) -> GitRepo | None:
    """The repository containing ``directory``: its root, current branch and remote names."""
    root = _git_out(directory, "rev-parse", "--show-toplevel")
    if root is None:
        return None
    branch = _git_out(directory, "symbolic-ref", "--quiet", "--short", "HEAD") or None
    remotes = (_git_out(directory, "remote") or "").split()
    return GitRepo(root=root, branch=branch, remotes=sorted(remotes))


def _pyproject(directory: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((directory / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _has_section(path: Path, section: str) -> bool:
    """Does the ini-style file ``path`` have a ``[section]`` header?"""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(rf"^\[{re.escape(section)}\]\s*$", text, re.MULTILINE) is not None


def sense_ruff(directory: Path) -> str | None:
    """Where the project configures ruff: pyproject.toml [tool.ruff], ruff.toml, .ruff.toml."""
    if "ruff" in _pyproject(directory).get("tool", {}):
        return "pyproject.toml [tool.ruff]"
    return next((n for n in ("ruff.toml", ".ruff.toml") if (directory / n).is_file()), None)


def sense_pytest(directory: Path) -> list[str]:
    """Every sign that the project tests with pytest: its configuration, a tests/ folder."""
    found = []
    if "pytest" in _pyproject(directory).get("tool", {}):
        found.append("pyproject.toml [tool.pytest.ini_options]")
    if (directory / "pytest.ini").is_file():
        found.append("pytest.ini")
    for name, section in (("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")):
        if _has_section(directory / name, section):
            found.append(f"{name} [{section}]")
    for folder in ("tests", "test"):
        if _has_test_files(directory / folder):
            found.append(f"{folder}/")
    return found


def _has_test_files(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    return any(folder.rglob("test_*.py")) or any(folder.rglob("*_test.py"))


def sense_runners(directory: Path) -> list[str]:
    """tox.ini and noxfile.py: mentioned in goap.toml as alternative CI commands."""
    return [name for name in ("tox.ini", "noxfile.py") if (directory / name).is_file()]


def sense_venv(directory: Path) -> str | None:
    """The project's virtualenv (.venv/ or venv/ with bin/python), relative to ``directory``."""
    return next(
        (n for n in (".venv", "venv") if (directory / n / "bin" / "python").is_file()), None
    )


def sense_typescript(directory: Path) -> TypeScriptProject | None:
    """A package.json with a build script or a tsconfig.json beside it, here or one level down."""
    folders = [directory] + sorted(
        p for p in directory.iterdir() if p.is_dir() and not _skipped(p.name)
    )
    for folder in folders:
        project = _typescript_project(directory, folder)
        if project is not None:
            return project
    return None


def _typescript_project(directory: Path, folder: Path) -> TypeScriptProject | None:
    try:
        package = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    scripts = package.get("scripts") if isinstance(package, dict) else None
    build = isinstance(scripts, dict) and "build" in scripts
    if not build and not (folder / "tsconfig.json").is_file():
        return None
    return TypeScriptProject(
        project_dir=folder.relative_to(directory).as_posix(),
        build_script=build,
        lockfile=(folder / "package-lock.json").is_file(),
    )


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in SKIP_DIRS


def _python_files(directory: Path) -> list[Path]:
    """The project's .py files (hidden folders, virtualenvs, node_modules left out), bounded."""
    found: list[Path] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not _skipped(d))
        found += [Path(root) / f for f in sorted(files) if f.endswith(".py")]
        if len(found) >= MAX_SCANNED_FILES:
            break
    return found[:MAX_SCANNED_FILES]


_MODAL_APP = re.compile(r"^(\w+)\s*=\s*modal\.App\(", re.MULTILINE)
_VOLUME = re.compile(r"volumes\s*=\s*\{\s*[\"']([^\"']+)[\"']")


def sense_modal(directory: Path) -> ModalApp | None:
    """The first importable .py file that assigns ``NAME = modal.App(...)``."""
    for path in _python_files(directory):
        module = _module_name(directory, path)
        text = _small_text(path)
        match = _MODAL_APP.search(text) if module and "modal.App(" in text else None
        if match:
            volume = _VOLUME.search(text)
            return ModalApp(
                file=path.relative_to(directory).as_posix(),
                app=f"{module}:{match.group(1)}",
                train_function=_train_function(text, match.group(1)),
                volume=volume.group(1) if volume else None,
            )
    return None


def _small_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_SCANNED_BYTES:
            return ""
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _module_name(directory: Path, path: Path) -> str | None:
    """``pkg/modal_app.py`` -> ``pkg.modal_app``; None when a part is not an identifier."""
    parts = list(path.relative_to(directory).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def _train_function(text: str, app: str) -> str | None:
    """The first function decorated with ``@<app>.function`` named train*, else the first."""
    names = re.findall(rf"^@{re.escape(app)}\.function\b[\s\S]*?^\s*def (\w+)", text, re.MULTILINE)
    return next((n for n in names if n.startswith("train")), names[0] if names else None)


def sense_commit_groups(
    directory: Path, typescript: TypeScriptProject | None = None
) -> dict[str, list[str]]:
    """The atomic commit groups: source, tests, docs, project configuration, as they exist.

    Paths git ignores and empty folders are left out; goap.yaml and goap.toml too (goap.toml
    holds this checkout's own settings; add them to a group to version them).
    """
    candidates = {
        "code": _code_paths(directory, typescript),
        "tests": ["tests", "test", "conftest.py"],
        "docs": ["docs", "doc", "README.md", "README.rst", "README", "CHANGELOG.md"],
        "config": _config_paths(typescript),
    }
    groups = {}
    for name, paths in candidates.items():
        present = [p for p in dict.fromkeys(paths) if _has_content(directory / p)]
        ignored = _ignored(directory, present)
        kept = [p for p in present if p not in ignored]
        if kept:
            groups[name] = kept
    return groups


def _code_paths(directory: Path, typescript: TypeScriptProject | None) -> list[str]:
    not_code = {"tests", "test", "docs", "doc", "src"}
    packages = sorted(
        p.name
        for p in directory.iterdir()
        if p.is_dir() and not _skipped(p.name) and p.name not in not_code
        if (p / "__init__.py").is_file()
    )
    modules = sorted(
        p.name
        for p in directory.glob("*.py")
        if p.name not in {"setup.py", "noxfile.py", "conftest.py"}
    )
    ts_src = [_join(typescript.project_dir, "src")] if typescript else []
    return ["src", *packages, *modules, *ts_src]


def _config_paths(typescript: TypeScriptProject | None) -> list[str]:
    python = ["pyproject.toml", "setup.cfg", "setup.py", "ruff.toml", ".ruff.toml", "pytest.ini"]
    more = ["tox.ini", "noxfile.py", "requirements.txt", "requirements-dev.txt", ".gitignore"]
    more.append(".pre-commit-config.yaml")
    node = ["package.json", "package-lock.json", "tsconfig.json"]
    ts = [_join(typescript.project_dir, n) for n in node] if typescript else []
    return [*python, *more, *ts]


def _join(folder: str, name: str) -> str:
    return name if folder == "." else f"{folder}/{name}"


def _has_content(path: Path) -> bool:
    """A file, or a folder with at least one file (git cannot commit an empty folder)."""
    if path.is_symlink() or path.is_file():
        return True
    return path.is_dir() and any(p.is_file() for p in path.rglob("*"))


def _ignored(directory: Path, paths: list[str]) -> set[str]:
    if not paths:
        return set()
    result = _git(directory, "check-ignore", "--", *paths)
    if result is None or result.returncode != 0:  # 1: none of them is ignored
        return set()
    return set(result.stdout.splitlines())


# ------------------------------------------------------------------------------ the catalog


@dataclass(frozen=True)
class Action:
    """One action of the written catalog: its name, skill, comment and YAML fields."""

    name: str
    skill: str
    comment: str
    fields: str  # YAML lines after `id` and `skill`, indented as under the action


@dataclass(frozen=True)
class Catalog:
    actions: list[Action]
    state: list[str]  # YAML lines under `state:`
    goal: list[str]  # YAML lines under `goal:`
    sensors: list[str]  # YAML lines under `sensors:`


SKILLS = {
    "model-training": "Check the Modal app's functions and train one step.",
    "code-quality": "Lint and format-check the code with ruff.",
    "testing-workflow": "Run the project's test suite and builds.",
    "git-workflow": "Branch, commit in atomic groups, and push (to goap.toml [git] remote).",
    "ci-monitor": "Watch CI for the pushed commit and resolve failures.",
}


def _q(value: Any) -> str:
    """A YAML (and TOML) scalar or flow list: JSON text, which both read the same way."""
    text = json.dumps(value, ensure_ascii=False)
    return _UNQUOTED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_UNQUOTED = re.compile("[\x7f\x85\u2028\u2029]")  # JSON leaves them raw; YAML, TOML do not


def _comment(text: str) -> str:
    """``text`` as comment lines, long ones wrapped; a control character cannot end one."""
    lines = []
    for line in text.splitlines():
        line = _CONTROL.sub("?", line)
        lead = " " * (len(line) - len(line.lstrip()) + 2)
        lines += textwrap.wrap(line, 92, subsequent_indent=lead, break_on_hyphens=False) or [""]
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


def _lines(text: str, indent: int) -> str:
    return "".join(" " * indent + line + "\n" if line else "\n" for line in text.splitlines())


def check_actions(found: Findings) -> list[Action]:
    """The validation steps (the seed's A01-A03 and the test suite) whose tools were found."""
    steps = []
    if found.modal:
        steps.append(_modal_action(found.modal))
    if found.ruff:
        steps.append(_ruff_action(found.ruff))
    if found.pytest:
        steps.append(_tests_action(found))
    if found.typescript:
        steps.append(_typescript_action(found.typescript))
    return steps


def _check_var(action: Action) -> str:
    return f"code_validation.{action.name.removeprefix('validate_')}_validated"


def _modal_action(modal: ModalApp) -> Action:
    train = f"\n  train_function: {_q(modal.train_function)}" if modal.train_function else ""
    return Action(
        "validate_modal_app",
        "model-training",
        f"Imports the Modal app of {modal.file}, checks that every function asks for a GPU, a\n"
        "timeout within bounds and the volume (as Modal recorded them), then trains one\n"
        "optimizer step with goap's training config (models.train) on a tiny synthetic\n"
        "dataset: locally through .local(), on Modal with goap.toml [backends] train =\n"
        '"modal". Set `train_function` to a function that accepts that config, and `require`\n'
        "to the GPU and timeouts your functions must declare.",
        "description: Check the Modal app's function specs and train one step\n"
        "cost: 5\n"
        "effects: {code_validation.modal_app_validated: true}\n"
        "run: actions.modal_check:validate_modal_app\n"
        "with:\n"
        f"  app: {_q(modal.app)}{train}\n"
        f"  require: {{gpu: null, min_timeout_s: 60, volume: {_q(modal.volume)}}}\n"
        "timeout: 300",
    )


def _ruff_action(source: str) -> Action:
    return Action(
        "validate_ruff",
        "code-quality",
        f"`ruff check` and `ruff format --check` under `paths`, with the project's own ruff\n"
        f"configuration ({source}); narrow `paths` to check less.",
        "description: ruff check and ruff format --check on the Python code\n"
        "cost: 3\n"
        "effects: {code_validation.ruff_validated: true}\n"
        "run: actions.checks:validate_ruff\n"
        'with: {paths: ["."]}\n'
        "timeout: 360",
    )


def _tests_action(found: Findings) -> Action:
    python = f"\n  python: {_q(f'{found.venv}/bin/python')}" if found.venv else ""
    return Action(
        "validate_tests",
        "testing-workflow",
        f"pytest, as configured by {', '.join(found.pytest)}; it fails when a test fails or\n"
        "none is collected. `paths` and `extra_args` (e.g. [-m, not slow]) narrow the run;\n"
        "`python` is the interpreter (default: .venv/bin/python if present, else goap's).",
        "description: Run the test suite with pytest\n"
        "cost: 4\n"
        "effects: {code_validation.tests_validated: true}\n"
        "run: actions.checks:validate_tests\n"
        f"with:\n  timeout_s: 900{python}\n"
        "timeout: 960",
    )


def _typescript_action(project: TypeScriptProject) -> Action:
    how = "npm run build" if project.build_script else "tsc --noEmit"
    return Action(
        "validate_typescript",
        "testing-workflow",
        f"The TypeScript build of {project.project_dir} ({how}: `npm run build` when\n"
        "package.json has a build script, else tsc from node_modules or PATH). It observes\n"
        "whether the project applies; one without package.json is reported as not applicable.",
        f"description: {_q(f'TypeScript build of {project.project_dir}')}\n"
        "cost: 4\n"
        "effects: {code_validation.typescript_validated: true}\n"
        "run: actions.checks:validate_typescript\n"
        f"with: {{project_dir: {_q(project.project_dir)}}}\n"
        "observe: {code_validation.typescript_applicable: applicable}\n"
        "timeout: 660",
    )


def _checks_state(checks: list[Action]) -> list[str]:
    lines = [f"{_check_var(a)}: false" for a in checks]
    if any(a.name == "validate_typescript" for a in checks):
        lines.append(
            "code_validation.typescript_applicable:\n"
            '  {type: bool, default: false, description: "a package.json was found"}'
        )
    return lines


def _branch_action(checks: list[Action]) -> Action:
    pre = "".join(f"  {_check_var(a)}: true\n" for a in checks)
    return Action(
        "create_branch",
        "git-workflow",
        "Switches to the work branch, creating it from HEAD when missing (uncommitted\n"
        "changes come along). The branch name is set once, in the goal (`&branch`).",
        "description: Create and switch to the work branch (not on any remote yet)\n"
        "cost: 2\n"
        f"pre:\n{pre}"
        '  git_state.branch_name: {op: "!=", value: *branch}\n'
        "effects:\n  git_state.branch_name: *branch\n  git_state.pushed: false\n"
        "run: actions.git:create_branch\n"
        "with: {branch: *branch}",
    )


COMMIT_MESSAGES = {
    "code": "feat: update the source code",
    "tests": "test: update the tests",
    "docs": "docs: update the documentation",
    "config": "build: update the project configuration",
}


def _commit_action(group: str, paths: list[str], with_ci: bool) -> Action:
    ci = "  ci_state.ci_status_known: false\n  ci_state.pipeline_passed: false\n" if with_ci else ""
    description = f"Commit the {group} group: {', '.join(paths)}"[:100]
    return Action(
        f"commit_{group}",
        "git-workflow",
        f"One atomic commit of the {group} group: exactly `paths`, nothing else (a file\n"
        "holding a token is refused). A new commit is unpushed and its CI unknown. Edit\n"
        "`paths` and `message` freely; the commit_groups sensor reads the same `paths`.",
        f"description: {_q(description)}\n"
        "cost: 2\n"
        f"pre: {{git_state.branch_name: *branch, git_state.{group}_committed: false}}\n"
        f"effects:\n  git_state.{group}_committed: true\n  git_state.pushed: false\n{ci}"
        "run: actions.git:commit\n"
        f"with:\n  paths: &{group}_paths {_q(paths)}\n  message: {_q(COMMIT_MESSAGES[group])}",
    )


def _push_action(groups: dict[str, list[str]]) -> Action:
    committed = "".join(f"  git_state.{g}_committed: true\n" for g in groups)
    return Action(
        "push",
        "git-workflow",
        "Pushes the branch to goap.toml [git] remote: goap's own bare repository\n"
        f"{PUSH_URL} (created here on the first push) unless goap.toml names another.",
        "description: Push the branch to goap.toml [git] remote\n"
        "cost: 3\n"
        f"pre:\n  git_state.branch_name: *branch\n{committed}  git_state.pushed: false\n"
        "effects: {git_state.pushed: true}\n"
        "run: actions.git:push\n"
        "with: {create_remote: true}\n"
        "retry: {attempts: 2, backoff: 2.0, delay: 1.0}",
    )


def _monitor_action() -> Action:
    return Action(
        "monitor_ci",
        "ci-monitor",
        "Waits for CI of the pushed commit: the local backend clones it from the remote and\n"
        'runs goap.toml [ci] commands; [backends] ci = "github" watches GitHub Actions. A\n'
        "failing CI is an observation (pipeline_passed: false), not a failure of this step.",
        "description: Wait for CI of the pushed commit\n"
        "cost: 1\n"
        "pre: {git_state.pushed: true, ci_state.ci_status_known: false}\n"
        "effects: {ci_state.ci_status_known: true, ci_state.pipeline_passed: true}\n"
        "run: actions.ci:monitor_ci\n"
        "observe: {ci_state.pipeline_passed: passed}\n"
        "timeout: 1900",
    )


def _resolve_action() -> Action:
    return Action(
        "resolve_ci_failure",
        "ci-monitor",
        "When CI failed: commits ruff's automatic fixes (only files that were clean before),\n"
        "so the branch is unpushed again and push and monitor_ci follow. With nothing to fix\n"
        "it fails with the CI log tail, and the run escalates to a person.",
        "description: Commit ruff's automatic fixes for the failing commit\n"
        "cost: 10\n"
        "pre:\n  git_state.branch_name: *branch\n"
        "  ci_state.ci_status_known: true\n  ci_state.pipeline_passed: false\n"
        "effects: {ci_state.ci_status_known: false, git_state.pushed: false}\n"
        "run: actions.ci:resolve_ci_failure\n"
        "with: {push: false}",
    )


def _git_sensors(git: GitRepo, groups: dict[str, list[str]], with_ci: bool) -> list[str]:
    sensors = [
        "- run: actions.git:git_state  # the branch checked out, and whether the remote has it\n"
        "  with: {branch: *branch}\n"
        "  observe:\n"
        "    git_state.branch_name: current_branch\n"
        "    git_state.pushed: remote_has_head"
    ]
    if groups:
        paths = "".join(f"    {g}: *{g}_paths\n" for g in groups)
        observed = "".join(f"    git_state.{g}_committed: {g}_committed\n" for g in groups)
        sensors.append(
            "- run: actions.git_groups:commit_groups  # a group is committed when its paths are\n"
            "  with:                                   # tracked and unchanged\n"
            f"    groups:\n{_lines(paths, 2)}"
            "    branch: *branch\n"
            f"    base: {_q(git.branch or 'main')}  # the branch the work starts from\n"
            f"  observe:\n{observed.rstrip()}"
        )
    if with_ci:
        sensors.append(
            "- run: actions.ci:ci_status  # CI's verdict on HEAD (missing: never ran)\n"
            "  observe: {ci_state.pipeline_passed: passed}"
        )
    return sensors


def build_catalog(found: Findings) -> Catalog:
    """The actions, state, goal and sensors for what was found (no git: checks only)."""
    checks = check_actions(found)
    state = _checks_state(checks)
    goal = [f"{_check_var(a)}: true" for a in checks]
    if found.git is None:
        return Catalog(checks, state, goal, [])
    with_ci = has_ci(found)
    groups = found.commit_groups
    actions = [*checks, _branch_action(checks)]
    actions += [_commit_action(g, paths, with_ci) for g, paths in groups.items()]
    actions.append(_push_action(groups))
    state.append(
        'git_state.branch_name: {type: str, default: "", description: the branch checked out}'
    )
    state += [f"git_state.{g}_committed: false" for g in groups]
    state.append("git_state.pushed: false")
    goal.append(f"git_state.branch_name: &branch {_q(BRANCH)}  # the work branch: rename it here")
    goal += [f"git_state.{g}_committed: true" for g in groups]
    goal.append("git_state.pushed: true")
    if with_ci:
        actions.append(_monitor_action())
        if found.ruff:
            actions.append(_resolve_action())
        state += ["ci_state.ci_status_known: false", "ci_state.pipeline_passed: false"]
        goal.append("ci_state.pipeline_passed: true")
    return Catalog(actions, state, goal, _git_sensors(found.git, groups, with_ci))


def render_action(action: Action, number: int) -> str:
    comment = _lines(_comment(action.comment), 2)
    head = f"  {action.name}:\n    id: A{number:02d}\n    skill: {action.skill}\n"
    return comment + head + _lines(action.fields, 4)


def catalog_text(found: Findings, name: str) -> str:
    """The whole goap.yaml: a header saying what was found and how to use it, then the catalog."""
    catalog = build_catalog(found)
    skills = dict.fromkeys(a.skill for a in catalog.actions)
    parts = [
        _catalog_header(found),
        "version: 1\n",
        f"name: {_q(name)}\n",
        f"description: {_q(_description(found))}\n",
        "failure_budget: 3  # failed attempts before the run stops and asks a person\n",
        "skills:  # what each skill group is for (`goap skill export` writes SKILL.md files)\n",
        "".join(f"  {s}: {_q(SKILLS[s])}\n" for s in skills),
        "\nstate:  # the typed world state; sensors (below) overwrite what they observe\n",
        "".join(_lines(line, 2) for line in catalog.state),
        "\ngoal:\n",
        "".join(_lines(line, 2) for line in catalog.goal),
        "\nactions:\n",
        "\n".join(render_action(a, n) for n, a in enumerate(catalog.actions, 1)),
    ]
    if catalog.sensors:
        parts.append("\nsensors:  # called before the first step and after every step\n")
        parts.append("".join(_lines(s, 2) for s in catalog.sensors))
    return "".join(parts)


def _description(found: Findings) -> str:
    if found.git is None:
        return "Run the project's checks (no git repository: no branch, push or CI)."
    return "Validate, branch, commit in atomic groups, push to goap's own remote, pass CI."


def _catalog_header(found: Findings) -> str:
    lines = [
        "goap.yaml, written by `goap init` from what it found here:",
        *[f"  {line}" for line in found_lines(found)],
        "The shape is plans/deployment.yaml's: validate -> branch -> atomic commits -> push ->",
        "CI (-> fix), each step's preconditions met by the effects of the ones before.",
        "  goap validate goap.yaml   # lint, and every executor's arguments checked",
        "  goap plan goap.yaml       # the cheapest plan from the initial state",
        "  goap run goap.yaml        # run it here; the sensors look at git and CI first",
        "Customize: the branch name (once, in the goal), each commit group's `paths` and",
        "`message`, `with:` of any step. Backends, the push remote and the CI commands are in",
        "goap.toml, never here. goap_state.json (the state file, and its .lock) and .goap/ are",
        "goap's own: .goap/ ignores itself; add goap_state.json* to .gitignore.",
    ]
    return _comment("\n".join(lines))


def found_lines(found: Findings) -> list[str]:
    """What was found, one line per tool, for the terminal and the catalog's header."""
    git = found.git
    if git is None:
        git_line = (
            "git: not a git repository, so no branch, commit, push or CI steps (for them: "
            "`git init`, remove goap.yaml and goap.toml, run goap init again)"
        )
    else:
        remotes = ", ".join(git.remotes) or "none"
        git_line = (
            f"git: branch {git.branch or '(detached HEAD)'}; remotes: {remotes}; goap pushes to "
            f"{git.push_remote} ({PUSH_URL}) unless goap.toml [git] names another"
        )
    ts = found.typescript
    rows = [
        git_line,
        f"ruff: {found.ruff or 'not configured'}",
        f"pytest: {', '.join(found.pytest) or 'not found'}",
        f"tox/nox: {', '.join(found.runners) or 'none'}",
        f"TypeScript: {ts.project_dir if ts else 'none'}",
        f"virtualenv: {found.venv or 'none'}",
        f"Modal app: {found.modal.app + ' in ' + found.modal.file if found.modal else 'none'}",
    ]
    if git is not None:
        groups = "; ".join(f"{g}: {', '.join(p)}" for g, p in found.commit_groups.items())
        rows.append(f"commit groups: {groups or 'none'}")
    return rows


# ------------------------------------------------------------------------------ goap.toml


def has_ci(found: Findings) -> bool:
    """CI steps need CI jobs: ruff, pytest or TypeScript (the Modal check is not a CI job)."""
    return bool(found.ruff or found.pytest or found.typescript)


def ci_commands(found: Findings, directory: Path) -> list[str]:
    """The local CI jobs: the same checks the catalog runs before branching.

    A virtualenv's tools are named by absolute path: CI runs in a fresh clone of the pushed
    commit in a temporary folder, which has no .venv of its own.
    """
    venv = (directory.absolute() / found.venv / "bin") if found.venv else None
    python = shlex.quote(str(venv / "python")) if venv else "python"
    ruff = shlex.quote(str(venv / "ruff")) if venv and found.venv_ruff else "ruff"
    commands = [f"{ruff} check .", f"{ruff} format --check ."] if found.ruff else []
    if found.pytest:
        commands.append(f"{python} -m pytest -q")
    if found.typescript:
        commands += _typescript_commands(found.typescript)
    return commands


def _typescript_commands(project: TypeScriptProject) -> list[str]:
    install = "npm ci" if project.lockfile else "npm install"
    check = "npm run build" if project.build_script else "npx --no-install tsc --noEmit"
    if project.project_dir == ".":
        return [install, check]
    where = shlex.quote(project.project_dir)
    return [f"sh -c {shlex.quote(f'cd {where} && {install} && {check}')}"]


def config_text(found: Findings, directory: Path) -> str:
    """goap.toml: backends, the push remote (never a real one by default) and CI commands."""
    names = ", ".join(found.git.remotes) if found.git and found.git.remotes else "none"
    remotes = _CONTROL.sub("?", names)
    parts = [
        "# goap.toml, written by `goap init`: the backends and settings of goap's executors for\n"
        '# this checkout (README "goap.toml"; actions/config.py checks every key).\n'
        "# GOAP_CI_BACKEND, GOAP_HUB_BACKEND and GOAP_TRAIN_BACKEND override [backends].\n\n"
        "[backends]\n"
        'ci = "local"      # "github": GitHub Actions of [github] repo (token in GITHUB_TOKEN)\n'
        'hub = "local"     # "huggingface": [huggingface] repo_id (token in HF_TOKEN)\n'
        'train = "local"   # "modal": Modal GPUs (MODAL_TOKEN_ID / MODAL_TOKEN_SECRET)\n\n'
        "[git]\n"
        "# push and CI use goap's own bare repository (created by the first push), so a run\n"
        "# never publishes to a real remote by default. This repository's remotes: "
        f"{remotes}.\n"
        '# To push to origin instead, replace the next line by:  remote = "origin"\n'
        f"remote = {_q(PUSH_REMOTE)}\n"
        f"remote_url = {_q(PUSH_URL)}   # added as that remote when the repository lacks it\n",
    ]
    commands = ci_commands(found, directory)
    if commands:
        parts.append(_ci_section(found, commands))
    parts.append(
        '\n# [github]                      # with [backends] ci = "github"\n'
        '# repo = "owner/name"\n# token_env = "GITHUB_TOKEN"\n'
    )
    return "".join(parts)


def _ci_section(found: Findings, commands: list[str]) -> str:
    notes = [
        "The local CI backend clones the pushed commit into a temporary folder and runs each",
        "command there as one job: the checks init found, the ones the catalog runs before",
        "branching.",
    ]
    if found.ruff:
        notes += [
            "validate_ruff checks lint and format, so CI runs both; a project that is not",
            "formatted with ruff runs `ruff format` once, or drops the format job here and",
            "replaces validate_ruff by `cmd: [ruff, check, .]`.",
        ]
    if found.venv:
        notes.append(f"{found.venv}/ is named by absolute path: the clone has no virtualenv.")
    elif found.pytest:
        notes.append("`python` is goap's own interpreter.")
    if found.typescript:
        notes.append("The npm jobs install node_modules in the clone (the registry or a cache).")
    notes += [f'{r} found: `commands = ["{_runner(r)}"]` runs it instead.' for r in found.runners]
    if found.git is None:
        notes.append("Not a git repository yet: these are used once the catalog has CI steps.")
    listed = "".join(f"    {_q(c)},\n" for c in commands)
    return f"\n[ci]\n{_comment(chr(10).join(notes))}commands = [\n{listed}]\ntimeout_s = 1800\n"


def _runner(name: str) -> str:
    return "tox" if name == "tox.ini" else "nox"


# ------------------------------------------------------------------------------ writing


@dataclass(frozen=True)
class InitReport:
    directory: Path
    found: Findings
    wrote: list[Path]
    actions: list[str]

    def document(self) -> dict[str, Any]:
        """`goap init --json`."""
        return {
            "dir": str(self.directory),
            "found": self.found.document(),
            "wrote": [str(p) for p in self.wrote],
            "actions": self.actions,
        }

    def lines(self) -> list[str]:
        """What the terminal shows: what was found, what was written, what to run next."""
        here = "" if self.directory == Path.cwd() else f"cd {shlex.quote(str(self.directory))} && "
        return [
            f"goap init {self.directory}",
            "found:",
            *[f"  {line}" for line in found_lines(self.found)],
            f"wrote: {', '.join(str(p) for p in self.wrote)}",
            f"actions: {', '.join(self.actions)}",
            f"next: {here}goap validate {CATALOG_FILE} && goap plan {CATALOG_FILE} "
            f"&& goap run {CATALOG_FILE}",
        ]


def init(directory: Path) -> InitReport:
    """Sense ``directory`` and write goap.yaml and goap.toml into it, both or neither."""
    directory = directory.absolute()
    if not directory.is_dir():
        raise RunError(f"{directory} is not a directory; give the repository's folder")
    targets = [directory / CATALOG_FILE, directory / CONFIG_FILE]
    existing = [p for p in targets if os.path.lexists(p)]
    if existing:
        raise RunError(
            f"{existing[0]} already exists; goap init never overwrites: edit it, or move "
            f"{' and '.join(p.name for p in existing)} away and run goap init again"
        )
    found = sense(directory)
    catalog = build_catalog(found)
    if not catalog.actions:
        raise RunError(
            f"found nothing to plan in {directory}: no git repository, no ruff or pytest "
            "configuration, no TypeScript project, no Modal app; write goap.yaml by hand "
            "(README, Catalog reference) or run goap init in the repository"
        )
    name = f"{safe_name(directory.name)}-deploy"
    texts = [catalog_text(found, name), config_text(found, directory)]
    _write_all(dict(zip(targets, texts, strict=True)))
    return InitReport(directory, found, targets, [a.name for a in catalog.actions])


def _write_all(files: dict[Path, str]) -> None:
    """Create every file exclusively (never over an existing name); on failure remove them."""
    written: list[Path] = []
    try:
        for path, text in files.items():
            with create_new(path) as handle:
                written.append(path)
                handle.write(text.encode("utf-8"))
    except FileExistsError as exc:
        _remove(written)
        raise RunError(f"{exc.filename} appeared meanwhile; goap init wrote nothing") from None
    except BaseException:
        _remove(written)
        raise


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
