"""The typed world state: named variables of type bool, int, float or str.

Variables have dotted names (``git_state.branch_name``); in memory the world is a flat dict
keyed by those names, on disk it is nested JSON grouped by the dots, so
``jq '.world_state.git_state'`` works.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TYPES: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
JSON_TYPES = {"bool": "boolean", "int": "integer", "float": "number", "str": "string"}


class StateTypeError(ValueError):
    """A value does not fit a variable's declared type."""


class StateError(Exception):
    """A state file that cannot be used as it is; the message says why and what to do.

    Declared here, not in ``state.store``, so the CLI can catch it without loading the
    store's pydantic models on commands that never read a state file.
    """


def type_of(value: Any) -> str | None:
    """The variable type a YAML/JSON literal implies, or None for lists, maps and null."""
    for name in ("bool", "int", "float", "str"):  # bool first: bool is a subclass of int
        if isinstance(value, TYPES[name]):
            return name
    return None


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    default: Any
    description: str = ""

    @property
    def numeric(self) -> bool:
        return self.type in ("int", "float")

    def coerce(self, value: Any) -> Any:
        """Return ``value`` as this variable's type, or raise StateTypeError (no lossy casts)."""
        kind = type_of(value)
        if kind == self.type:
            return value
        if self.type == "float" and kind == "int":
            return float(value)
        if self.type == "int" and kind == "float" and float(value).is_integer():
            return int(value)
        shown = "null" if value is None else f"{value!r} ({kind or type(value).__name__})"
        raise StateTypeError(f"{self.name} is {self.type}, got {shown}")

    def parse(self, text: str) -> Any:
        """Parse command-line text as this variable's type (``true``, ``3``, ``2.5``, ``main``)."""
        if self.type == "str":
            return text
        if self.type == "bool":
            lowered = text.strip().lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            raise StateTypeError(f"{self.name} is bool: write true or false, not {text!r}")
        try:
            return int(text) if self.type == "int" else float(text)
        except ValueError:
            raise StateTypeError(f"{self.name} is {self.type}, got {text!r}") from None


class WorldSchema:
    """The ordered set of variables of one catalog."""

    def __init__(self, variables: list[Variable]):
        self.variables = tuple(variables)
        self.index = {v.name: i for i, v in enumerate(self.variables)}
        self.by_name = {v.name: v for v in self.variables}

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def __getitem__(self, name: str) -> Variable:
        return self.by_name[name]

    def defaults(self) -> dict[str, Any]:
        return {v.name: v.default for v in self.variables}

    def fingerprint(self) -> str:
        """Identifies the variable set: a state file from another catalog has another one."""
        text = "\n".join(f"{v.name}:{v.type}" for v in sorted(self.variables, key=lambda v: v.name))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def nest(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Flat dotted names to nested groups, in declaration order."""
        root: dict[str, Any] = {}
        for var in self.variables:
            *groups, leaf = var.name.split(".")
            node = root
            for group in groups:
                node = node.setdefault(group, {})
            node[leaf] = flat[var.name]
        return root

    def flatten(self, nested: Mapping[str, Any]) -> dict[str, Any]:
        """Nested groups back to a typed flat dict; unknown or missing names are errors."""
        flat: dict[str, Any] = {}
        _walk(nested, "", flat)
        unknown = sorted(set(flat) - set(self.by_name))
        missing = [v.name for v in self.variables if v.name not in flat]
        if unknown or missing:
            parts = []
            if unknown:
                parts.append("unknown variables: " + ", ".join(unknown))
            if missing:
                parts.append("missing variables: " + ", ".join(missing))
            raise StateTypeError("; ".join(parts))
        return {v.name: v.coerce(flat[v.name]) for v in self.variables}

    def json_schema(self, title: str = "world_state") -> dict[str, Any]:
        """JSON Schema of the nested world state."""
        root: dict[str, Any] = _object(title)
        for var in self.variables:
            *groups, leaf = var.name.split(".")
            node = root
            for group in groups:
                if group not in node["properties"]:
                    node["properties"][group] = _object(group)
                    node["required"].append(group)
                node = node["properties"][group]
            prop: dict[str, Any] = {"type": JSON_TYPES[var.type], "default": var.default}
            if var.description:
                prop["description"] = var.description
            node["properties"][leaf] = prop
            node["required"].append(leaf)
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        return root


def _object(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def _walk(node: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _walk(value, name + ".", out)
        else:
            out[name] = value
