"""Load a YAML catalog strictly and compile it into plain, frozen structures.

The YAML format is a public contract (see README, "Catalog reference"). Loading is two
passes: ``goap.loading.shape`` checks the shape (unknown keys, types, costs), then we check the
meaning (known variables, well-typed conditions and effects, findable executors). Every problem
becomes a SourceError naming the file, the line, the key and the fix; all of them are
reported at once.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from goap.loading import shape, yamlsrc
from goap.loading.logic import Condition, Effect, LogicError, parse_condition, parse_effect
from goap.loading.yamlsrc import Loc, Source, SourceError
from state.model import NAME, TYPES, StateTypeError, Variable, WorldSchema, type_of

TARGET = re.compile(r"^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*):([A-Za-z_]\w*)$")
ENV_REF = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CatalogError(Exception):
    """One or more problems in a catalog file.

    ``calls`` are the Python executors that compiled cleanly (where, target, arguments), so
    ``goap validate`` can still check them in the same report."""

    def __init__(self, errors: list[SourceError], calls: list[dict[str, Any]] | None = None):
        self.errors = sorted(errors, key=lambda e: e.line or 0)  # in the order of the file
        self.calls = calls or []
        super().__init__("\n".join(e.render() for e in self.errors))


# ---------------------------------------------------------------- compiled (plain)


@dataclass(frozen=True)
class Executor:
    """What does the work: an argv (``cmd``) or a Python callable (``run``) with arguments."""

    cmd: tuple[str, ...] | None = None
    run: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    observe: dict[str, str] = field(default_factory=dict)
    timeout: float = 600

    def __hash__(self) -> int:
        return hash((self.cmd, self.run))


@dataclass(frozen=True)
class Retry:
    """How often an action is tried, and how long to wait between tries."""

    attempts: int = 1
    backoff: float = 2.0
    delay: float = 1.0  # seconds before the second attempt

    def wait_before(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (2, 3...): delay, delay*backoff... (a day at most)."""
        return min(self.delay * self.backoff ** (attempt - 2), 86400.0)


@dataclass(frozen=True)
class AgentPolicy:
    """What an agent may change when it runs the action: by default, nothing."""

    args: frozenset[str] = frozenset()  # `with:` arguments it may override (never workdir)
    env: frozenset[str] = frozenset()  # ${NAME} it may use in what it sends


@dataclass(frozen=True)
class Approval:
    """A human must approve each start of the action (``approval:`` in the catalog)."""

    reason: str = ""


@dataclass(frozen=True)
class Action:
    name: str
    cost: float
    pre: tuple[Condition, ...]
    effects: tuple[Effect, ...]
    id: str | None = None
    skill: str | None = None
    description: str = ""
    executor: Executor | None = None
    retry: Retry = Retry()
    line: int | None = None
    agent: AgentPolicy = AgentPolicy()
    # what it holds while it runs (cpu, gpu, memory_gb, or a name from goap.toml [resources])
    resources: tuple[tuple[str, float], ...] = ()
    approval: Approval | None = None  # None: it runs without asking anyone
    # its usual wall time in seconds, as the catalog's author expects it; the journal's
    # measured durations replace it (the schedule's critical path, `goap plan`'s estimate)
    duration: float | None = None

    @property
    def label(self) -> str:
        """The seed's display id (A01) when given, else the name."""
        return self.id or self.name


@dataclass(frozen=True)
class Sensor:
    name: str
    executor: Executor
    line: int | None = None


@dataclass(frozen=True)
class Catalog:
    name: str
    path: Path
    schema: WorldSchema
    goal: tuple[Condition, ...]
    actions: tuple[Action, ...]
    sensors: tuple[Sensor, ...] = ()
    description: str = ""
    failure_budget: int = 3
    skills: dict[str, str] = field(default_factory=dict)  # skill group -> its description
    secrets: tuple[str, ...] = ()  # more environment names (globs) whose values are secret

    @property
    def initial(self) -> dict[str, Any]:
        return self.schema.defaults()

    def action(self, name: str) -> Action:
        for action in self.actions:
            if action.name == name:
                return action
        raise KeyError(name)


# ---------------------------------------------------------------- loading


def load_catalog(path: str | Path, text: str | None = None) -> Catalog:
    """Read, validate and compile a catalog; raise CatalogError listing every problem."""
    try:
        source = yamlsrc.load(path, text)
    except SourceError as exc:
        raise CatalogError([exc]) from None
    if not isinstance(source.data, dict):
        raise CatalogError(
            [
                source.error(
                    (),
                    "a catalog is a mapping with the keys version, name, state, goal, actions",
                    "start from plans/examples/release.yaml",
                )
            ]
        )
    errors: list[SourceError] = []
    spec = shape.check(source, (), source.data, shape.CATALOG, errors)
    return _Compiler(source, spec, errors).compile()


class _Compiler:
    """The second pass. It runs even when the first found problems (their keys are in
    ``Checked.bad``), and then stays quiet about what depends on those keys."""

    def __init__(self, source: Source, spec: shape.Checked, errors: list[SourceError]):
        self.source, self.spec, self.errors = source, spec, errors
        self.broken: set[str] = set()  # declared variables that failed to compile
        self.unknown_state = "state" in spec.bad  # every name may be one of the lost ones
        self.calls: list[dict[str, Any]] = []  # executors that compiled cleanly

    def fail(self, loc: Loc, problem: str, fix: str = "") -> None:
        self.errors.append(self.source.error(loc, problem, fix))

    def compile(self) -> Catalog:
        schema = self.schema()
        goal = self.conditions(schema, ("goal",), self.spec["goal"])
        actions = tuple(self.action(schema, name, a) for name, a in self.spec["actions"].items())
        sensors = tuple(self.sensor(schema, i, s) for i, s in enumerate(self.spec["sensors"]))
        skills = self.skills(actions)
        if not self.spec["actions"] and "actions" not in self.spec.bad:
            self.fail(("actions",), "no actions", "declare at least one action")
        if self.errors:
            raise CatalogError(self.errors, self.calls)
        return Catalog(
            self.spec["name"],
            Path(self.source.file),
            schema,
            goal,
            actions,
            sensors,
            self.spec["description"],
            self.spec["failure_budget"],
            skills,
            self.secret_names(),
        )

    def secret_names(self) -> tuple[str, ...]:
        names = self.spec["secrets"]
        for i, name in enumerate(names):
            if not re.fullmatch(r"[A-Za-z0-9_*?\[\]]+", name):
                self.fail(
                    ("secrets", i),
                    f"{name!r} is not an environment variable name or glob",
                    "write names like DEPLOY_KEY or DEPLOY_*",
                )
        return tuple(names)

    def agent_policy(self, loc: Loc, spec: dict[str, Any], runs: bool) -> AgentPolicy:
        args, env = spec["args"], spec["env"]
        if "workdir" in args:
            self.fail(
                (*loc, "agent", "args"),
                "an agent never chooses the working directory",
                "remove workdir from agent.args",
            )
        if args and not runs:
            self.fail(
                (*loc, "agent", "args"),
                "only a `run:` action takes arguments",
                "remove agent.args, or make the action a `run:`",
            )
        for i, name in enumerate(env):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.fail((*loc, "agent", "env", i), f"{name!r} is not a variable name")
        return AgentPolicy(frozenset(args) - {"workdir"}, frozenset(env))

    def skills(self, actions: tuple[Action, ...]) -> dict[str, str]:
        """Descriptions of the skill groups; each must be the skill of some action."""
        used = {a.skill for a in actions if a.skill}
        for name in self.spec["skills"]:
            if name not in used:
                known = ", ".join(sorted(used)) or "none: give actions a `skill:`"
                self.fail(
                    ("skills", name), f"no action has skill {name!r}", f"skills in use: {known}"
                )
        return dict(self.spec["skills"])

    def schema(self) -> WorldSchema:
        variables: list[Variable] = []
        for name, raw in self.spec["state"].items():
            loc = ("state", name)
            self.broken.add(str(name))
            if not isinstance(name, str) or not NAME.match(name):
                self.fail(
                    loc,
                    f"invalid variable name {name!r}",
                    "use dotted identifiers like git_state.branch_name",
                )
                continue
            if isinstance(raw, dict):
                found = len(self.errors)
                var_spec = shape.check(self.source, loc, raw, shape.VARIABLE, self.errors)
                if len(self.errors) > found:
                    continue
                default = var_spec["default"]
                kind = var_spec["type"]
                if default is None:
                    default = {"bool": False, "int": 0, "float": 0.0, "str": ""}[kind]
                var = Variable(name, kind, default, var_spec["description"])
                try:
                    var = Variable(name, var.type, var.coerce(default), var.description)
                except StateTypeError as exc:
                    self.fail((*loc, "default"), str(exc), f"write a {var.type} default")
                    continue
            else:
                kind = type_of(raw)
                if kind is None:
                    self.fail(
                        loc,
                        f"cannot infer a type from {raw!r}",
                        "write a bool/int/float/str default, or {type: int, default: 0}",
                    )
                    continue
                var = Variable(name, kind, raw)
            variables.append(var)
            self.broken.discard(name)
        names = {v.name for v in variables}
        for var in variables:
            parts = var.name.split(".")
            for end in range(1, len(parts)):
                if ".".join(parts[:end]) in names:
                    self.fail(
                        ("state", var.name),
                        f"{'.'.join(parts[:end])} is a variable, so it cannot also be a group",
                        "rename one of the two",
                    )
        return WorldSchema(variables)

    def conditions(
        self, schema: WorldSchema, loc: Loc, raw: dict[str, Any]
    ) -> tuple[Condition, ...]:
        out = []
        for name, value in raw.items():
            if (var := self.variable(schema, (*loc, name), name)) is None:
                continue
            try:
                out.append(parse_condition(var, value))
            except LogicError as exc:
                self.fail((*loc, name), str(exc), 'write a value, or a comparison like ">= 5"')
        return tuple(out)

    def variable(self, schema: WorldSchema, loc: Loc, name: str) -> Variable | None:
        if name in schema:
            return schema[name]
        if name in self.broken or self.unknown_state:
            return None  # already reported where it is declared
        close = [v.name for v in schema.variables if v.name.split(".")[-1] == name.split(".")[-1]]
        hint = f"did you mean {close[0]}?" if close else "declare it under `state:`"
        self.fail(loc, f"unknown state variable {name!r}", hint)
        return None

    def action(self, schema: WorldSchema, name: str, spec: shape.Checked) -> Action:
        loc: Loc = ("actions", name)
        pre = self.conditions(schema, (*loc, "pre"), spec["pre"])
        effects = []
        for var_name, value in spec["effects"].items():
            if (var := self.variable(schema, (*loc, "effects", var_name), var_name)) is None:
                continue
            try:
                effects.append(parse_effect(var, value))
            except LogicError as exc:
                self.fail((*loc, "effects", var_name), str(exc))
        if not spec["effects"] and "effects" not in spec.bad:
            self.fail(
                (*loc, "effects"),
                "an action without effects can never help",
                "declare what it changes under `effects:`",
            )
        cmd, run = spec["cmd"], spec["run"]
        if cmd is not None and run is not None:
            self.fail(
                (*loc, "run"), "an action has either cmd or run, not both", "keep one of the two"
            )
        executor = None
        if cmd is not None or run is not None:
            found = len(self.errors)
            executor = self.executor(
                schema, loc, cmd, run, spec["with"], spec["observe"], spec["timeout"]
            )
            self.called(f"action {name}", spec, run, clean=len(self.errors) == found)
        elif spec["with"] and not spec.bad & {"cmd", "run"}:
            self.fail(
                (*loc, "with"),
                "`with` gives arguments to `run`, but there is no run",
                "add `run: module:function` or remove `with`",
            )
        return Action(
            name=name,
            cost=spec["cost"],
            pre=pre,
            effects=tuple(effects),
            id=spec["id"],
            skill=spec["skill"],
            description=spec["description"],
            executor=executor,
            retry=Retry(**spec["retry"]),
            agent=self.agent_policy(loc, spec["agent"], run is not None),
            line=self.source.line(loc),
            resources=tuple(sorted((k, float(v)) for k, v in spec["resources"].items() if v)),
            approval=_approval(spec["approval"]),
            duration=spec["duration"],
        )

    def sensor(self, schema: WorldSchema, index: int, spec: shape.Checked) -> Sensor:
        loc: Loc = ("sensors", index)
        found = len(self.errors)
        executor = self.executor(
            schema, loc, None, spec["run"], spec["with"], spec["observe"], spec["timeout"]
        )
        self.called(f"sensor {spec['run']}", spec, spec["run"], clean=len(self.errors) == found)
        return Sensor(spec["run"], executor, self.source.line(loc))

    def called(self, where: str, spec: shape.Checked, run: str | None, clean: bool) -> None:
        """Remember a Python call whose target and arguments are intact, for ``validate``."""
        if run and clean and not spec.bad & {"run", "with"}:
            self.calls.append({"target": run, "args": dict(spec["with"]), "where": where})

    def executor(
        self,
        schema: WorldSchema,
        loc: Loc,
        cmd: list[str] | None,
        run: str | None,
        args: dict[str, Any],
        observe: dict[str, str],
        timeout: float,
    ) -> Executor:
        if run is not None:
            self.target(loc, run)
        for var_name in observe:
            self.variable(schema, (*loc, "observe", var_name), var_name)
        for sub, text in _strings((*loc, "cmd"), cmd or []) + _strings((*loc, "with"), args):
            for problem in env_ref_problems(text):
                self.fail(
                    sub,
                    problem,
                    "write ${NAME} with NAME a variable of the environment (or $$ for a literal $)",
                )
        return Executor(tuple(cmd) if cmd else None, run, dict(args), dict(observe), timeout)

    def target(self, loc: Loc, run: str) -> None:
        match = TARGET.match(run)
        if not match:
            self.fail(
                (*loc, "run"),
                f"{run!r} is not a Python target",
                "write module:function, e.g. actions.git:create_branch",
            )
            return
        module = match.group(1)
        if find_module(module) is None:
            self.fail(
                (*loc, "run"),
                f"module {module!r} cannot be found",
                "check the spelling, or install the package that provides it",
            )


def _approval(raw: Any) -> Approval | None:
    """The checked ``approval:`` value (shape.approval_problem) as a gate, or None."""
    if raw == "required":
        return Approval()
    if isinstance(raw, dict) and raw.get("required", True):
        return Approval(raw.get("reason", ""))
    return None


def find_module(dotted: str) -> Any:
    """Locate a module's spec without importing it or its parent packages."""
    top, *rest = dotted.split(".")
    try:
        spec = importlib.util.find_spec(top)  # a top-level name is found without importing
    except (ImportError, ValueError):
        return None
    for part in rest:
        path = spec.submodule_search_locations if spec else None
        if path is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(part, list(path))
    return spec


def env_ref_problems(text: str) -> list[str]:
    problems = []
    for match in ENV_REF.finditer(text):
        if match.group(0) == "$$":
            continue
        name = match.group(1)
        if name is None:
            problems.append(f"unclosed ${{ in {text!r}")
        elif not ENV_NAME.match(name):
            problems.append(f"${{{name}}} is not an environment variable name")
    return problems


def _strings(loc: Loc, value: Any) -> list[tuple[Loc, str]]:
    if isinstance(value, str):
        return [(loc, value)]
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _strings((*loc, k), v)]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _strings((*loc, i), v)]
    return []


__all__ = [
    "Action",
    "Approval",
    "Catalog",
    "CatalogError",
    "Executor",
    "Retry",
    "Sensor",
    "TYPES",
    "load_catalog",
]
