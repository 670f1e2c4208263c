"""The shape of a catalog: which keys each mapping takes, and what kind of value each holds.

This is the first pass of loading (``goap.loading.catalog`` checks the meaning after it). It is a
table per mapping and one function, not pydantic models: ``goap plan`` is called by agents
in loops and must start in under 0.3 s, and importing pydantic and building the models
took about 0.1 s of that (bench/planner.py measures the fresh process). Every problem is
reported, with the file, line, key and fix, and all of them at once: a wrong value is replaced
by a neutral stand-in and its key listed in ``Checked.bad``, so the second pass still checks
the rest of the file and stays quiet about what depends on the wrong key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from goap.loading.yamlsrc import Loc, Source, SourceError
from state.model import shown

Check = Callable[[Any], str | None]  # the problem with a value, or None
NUMBER_LIMIT = 1e15  # costs, timeouts, budgets: larger ones are typos, and sums must stay finite
REQUIRED = object()  # the default of a key that must be written
_BAD = object()  # what a wrong value checks to (its problem is in the errors)


class Checked(dict[str, Any]):
    """A checked mapping: every key of its table, and ``bad``, the keys whose value was wrong
    or missing (they hold a neutral stand-in: the key's default, or an empty value)."""

    def __init__(self, values: dict[str, Any], bad: set[str]):
        super().__init__(values)
        self.bad = frozenset(bad)


_EMPTY = {"mapping": dict, "mapping of strings": dict, "actions": dict, "strings": list}
_EMPTY |= {"resources": dict}
_EMPTY |= {"sensors": list, "int": int, "number": float}


@dataclass(frozen=True)
class Key:
    kind: str  # "str", "int", "number", "mapping", "strings", "mapping of strings", ...
    default: Any = REQUIRED
    check: Check | None = None
    fix: str = ""


def positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def at_least(low: int, high: int | None = None) -> Check:
    def check(value: float) -> str | None:
        if value < low:
            return f"must be at least {low}"
        if high is not None and value > high:
            return f"must be at most {high}"
        return None

    return check


def one_of(*allowed: Any) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"must be {' or '.join(map(str, allowed))}"

    return check


def approval_problem(value: Any) -> str | None:
    """``approval: required`` or ``{required: true|false, reason: "..."}``."""
    if value == "required":
        return None
    if not isinstance(value, dict):
        return f"must be `required` or a mapping, not {_describe(value)}"
    unknown = sorted(str(k) for k in value if k not in ("required", "reason"))
    if unknown:
        return f"unknown key {unknown[0]!r} (an approval has required and reason)"
    if not isinstance(value.get("required", True), bool):
        return f"required: must be true or false, not {shown(value['required'])}"
    if not isinstance(value.get("reason", ""), str):
        return f"reason: must be a string, not {shown(value['reason'])}"
    return None


VARIABLE = {
    "type": Key(
        "str",
        check=one_of("bool", "int", "float", "str"),
        fix="write {type: int, default: 0} (types: bool, int, float, str)",
    ),
    "default": Key("any", None),
    "description": Key("str", ""),
}
RETRY = {
    "attempts": Key("int", 1, at_least(1, 100), "e.g. `attempts: 3`"),
    "backoff": Key("number", 2.0, at_least(0, 100), "a factor from 0 to 100, e.g. `backoff: 2`"),
    "delay": Key("number", 1.0, at_least(0, 86400), "seconds before the second attempt"),
}
AGENT = {  # what an agent (goap skill run, MCP run_action) may change of an action
    "args": Key("strings", [], fix="names of `with:` arguments, e.g. `args: [epochs]`"),
    "env": Key("strings", [], fix="environment variable names, e.g. `env: [RUN_LABEL]`"),
}
ACTION = {
    "id": Key("str", None),
    "skill": Key("str", None),
    "description": Key("str", ""),
    "cost": Key("number", 1.0, positive, "costs are positive numbers, e.g. `cost: 1`"),
    "pre": Key("mapping", {}),
    "effects": Key("mapping", {}),
    "cmd": Key("strings", None, lambda v: None if v else "must not be empty", "e.g. [ruff, .]"),
    "run": Key("str", None),
    "with": Key("mapping", {}),
    "observe": Key("mapping of strings", {}),
    "timeout": Key("number", 600.0, positive, "seconds, e.g. `timeout: 600`"),
    "duration": Key("number", None, positive, "usual wall time in seconds, e.g. `duration: 90`"),
    "retry": Key("retry", {}),
    "agent": Key("agent", {}),
    "resources": Key(
        "resources", {}, fix="amounts by name, e.g. `resources: {cpu: 2, gpu: 1, memory_gb: 8}`"
    ),
    "approval": Key(
        "any",
        None,
        approval_problem,
        'write `approval: required` or `approval: {required: true, reason: "..."}`',
    ),
}
SENSOR = {
    "run": Key("str"),
    "with": Key("mapping", {}),
    "observe": Key("mapping of strings"),
    "timeout": Key("number", 120.0, positive, "seconds, e.g. `timeout: 120`"),
}
CATALOG = {
    "version": Key("int", check=one_of(1), fix="write `version: 1`"),
    "name": Key("str"),
    "description": Key("str", ""),
    "state": Key("mapping"),
    "goal": Key("mapping"),
    "actions": Key("actions"),
    "sensors": Key("sensors", []),
    "skills": Key("mapping of strings", {}),  # skill group -> what it is for (SKILL.md)
    "failure_budget": Key("int", 3, at_least(1), "e.g. `failure_budget: 3`"),
    "secrets": Key("strings", [], fix="environment variable names or globs, e.g. [DEPLOY_*]"),
}


def check(
    source: Source, loc: Loc, data: Any, keys: dict[str, Key], errors: list[SourceError]
) -> Checked:
    """``data`` with defaults filled in; each problem is appended to ``errors``."""
    if not isinstance(data, dict):
        errors.append(source.error(loc, "must be a mapping", "write `key: value` lines"))
        return Checked({key: _stand_in(spec) for key, spec in keys.items()}, set(keys))
    out: dict[str, Any] = {}
    bad: set[str] = set()
    for key in data:
        if key not in keys:
            allowed = ", ".join(keys)
            errors.append(
                source.error((*loc, key), "unknown key", f"remove it or use one of: {allowed}")
            )
    for key, spec in keys.items():
        if key not in data and spec.default is REQUIRED:
            errors.append(source.error((*loc, key), "required key is missing", f"add `{key}:`"))
            value = _BAD
        else:
            given = data[key] if key in data else _fresh(spec.default)
            value = _value(source, (*loc, key), given, spec, errors)
        if value is _BAD:
            bad.add(key)
            value = _stand_in(spec)
        out[key] = value
    return Checked(out, bad)


def _stand_in(spec: Key) -> Any:
    """What a wrong or missing value is replaced by: the default, else an empty value."""
    if spec.kind in ("retry", "agent"):  # a record: each of its keys at its default
        table = RETRY if spec.kind == "retry" else AGENT
        return Checked({key: _stand_in(inner) for key, inner in table.items()}, set())
    if spec.default is REQUIRED:
        return _EMPTY.get(spec.kind, lambda: None)()
    return _fresh(spec.default)


def _fresh(default: Any) -> Any:
    """A fresh {} or [] for each catalog (a shared one would leak between them)."""
    return type(default)() if default in ({}, []) else default


def _value(source: Source, loc: Loc, value: Any, spec: Key, errors: list[SourceError]) -> Any:
    """One checked value (``_BAD`` when it is wrong, the problem appended to ``errors``)."""
    if value is None and spec.default is None:
        return None  # an optional key written empty
    if spec.kind in ("actions", "sensors", "retry", "agent"):
        return _nested(source, loc, value, spec.kind, errors)
    problem = _kind_problem(value, spec.kind)
    if problem is None and spec.check is not None:
        problem = spec.check(value)
    if problem is not None:
        errors.append(source.error(loc, problem, spec.fix))
        return _BAD
    return float(value) if spec.kind == "number" else value


def _kind_problem(value: Any, kind: str) -> str | None:
    if kind == "any":
        return None
    if kind == "str":
        ok = isinstance(value, str)
    elif kind in ("int", "number"):
        allowed = int if kind == "int" else int | float
        if not isinstance(value, allowed) or isinstance(value, bool):
            return f"must be {_ARTICLE[kind]}, not {_describe(value)}"
        if abs(value) > NUMBER_LIMIT or not math.isfinite(value):  # abs first: 10**400 is no float
            return f"must be a finite number of at most {NUMBER_LIMIT:g}, not {shown(value)}"
        return None
    elif kind == "resources":
        if not isinstance(value, dict):
            return f"must be a mapping of resource names to amounts, not {_describe(value)}"
        for name, amount in value.items():
            if not isinstance(name, str) or not name.isidentifier():
                return f"{name!r} is not a resource name (letters, digits, _)"
            if isinstance(amount, bool) or not isinstance(amount, int | float):
                return f"{name}: {shown(amount)} is not an amount"
            if not 0 <= amount <= NUMBER_LIMIT or not math.isfinite(amount):
                return f"{name}: {shown(amount)} must be a finite amount of at least 0"
        return None
    elif kind == "strings":
        if isinstance(value, list):
            return next((f"{v!r} is not a string" for v in value if not isinstance(v, str)), None)
        ok = False
    elif isinstance(value, dict):  # "mapping", "mapping of strings"
        for key, item in value.items():
            if not isinstance(key, str):
                return f"the key {key!r} is not a string (quote it)"
            if kind == "mapping of strings" and not isinstance(item, str):
                return f"{key}: {item!r} is not a string (quote it)"
        return None
    else:
        ok = False
    return None if ok else f"must be {_ARTICLE[kind]}, not {_describe(value)}"


_ARTICLE = {
    "str": "a string",
    "int": "a whole number",
    "number": "a number",
    "strings": "a list of strings",
    "mapping": "a mapping",
    "mapping of strings": "a mapping of names to strings",
}


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    return shown(value)


def _nested(source: Source, loc: Loc, value: Any, kind: str, errors: list[SourceError]) -> Any:
    """The catalog's records: actions by name, the list of sensors, an action's retry."""
    if kind in ("retry", "agent"):
        return check(source, loc, value, RETRY if kind == "retry" else AGENT, errors)
    if kind == "actions":
        if not isinstance(value, dict) or not all(isinstance(name, str) for name in value):
            errors.append(source.error(loc, "must be a mapping of action names to actions"))
            return _BAD
        return {name: check(source, (*loc, name), a, ACTION, errors) for name, a in value.items()}
    if not isinstance(value, list):
        errors.append(source.error(loc, "must be a list of sensors", "write `- run: ...` items"))
        return _BAD
    return [check(source, (*loc, i), sensor, SENSOR, errors) for i, sensor in enumerate(value)]
