"""The typed world state: named variables of type bool, int, float or str.

Variables have dotted names (``git_state.branch_name``); in memory the world is a flat dict
keyed by those names, on disk it is nested JSON grouped by the dots, so
``jq '.world_state.git_state'`` works.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TYPES: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
JSON_TYPES = {"bool": "boolean", "int": "integer", "float": "number", "str": "string"}
INT_LIMIT = 2**63 - 1  # ints are 64-bit, so every JSON reader reads them back exactly


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
        if kind in ("int", "float"):
            self._check_number(value)
        if kind == self.type:
            return value
        if self.type == "float" and kind == "int":
            return float(value)
        if self.type == "int" and kind == "float" and float(value).is_integer():
            return int(value)
        raise StateTypeError(f"{self.name} is {self.type}, got {shown(value)}")

    def _check_number(self, value: float) -> None:
        """Non-finite and out-of-range numbers never enter the world: JSON cannot hold them."""
        if isinstance(value, float) and not math.isfinite(value):
            raise StateTypeError(
                f"{self.name} is {self.type}, got {shown(value)}: only finite numbers are "
                f"stored (NaN and infinity are not JSON)"
            )
        if isinstance(value, int) and abs(value) > INT_LIMIT:
            raise StateTypeError(
                f"{self.name} is {self.type}, got {shown(value)}: numbers are 64-bit, "
                f"at most {INT_LIMIT} in size"
            )

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
            number = int(text) if self.type == "int" else float(text)
        except ValueError:
            raise StateTypeError(f"{self.name} is {self.type}, got {shown(text)}") from None
        return self.coerce(number)


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as the strings "NaN"/"Infinity"/"-Infinity".

    For free-form documents (facts in the journal, JSON goap prints), so what is written is
    JSON that every reader accepts; the typed world never holds such numbers at all.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def quoted(text: Any, limit: int = 60) -> str:
    """A name someone sent, for an error message: repr, capped (1 MB of it is not echoed)."""
    text = repr(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def shown(value: Any, limit: int = 60) -> str:
    """A value for an error message: bounded (a 5000-digit int has no repr), typed."""
    if value is None:
        return "null"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return f"{quoted(value, limit)} ({type_of(value) or type(value).__name__})"


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

    def _names(self, nested: Mapping[str, Any]) -> dict[str, Any]:
        """Nested groups to flat names, exactly the schema's (StateTypeError otherwise)."""
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
        return flat

    def flatten(self, nested: Mapping[str, Any]) -> dict[str, Any]:
        """Nested groups back to a typed flat dict; unknown, missing or bad values are errors."""
        flat, bad = self.flatten_lenient(nested)
        if bad:
            raise StateTypeError("; ".join(bad.values()))
        return flat

    def flatten_lenient(self, nested: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """As ``flatten``, but a value that does not fit holds the default: (world, problems)."""
        flat = self._names(nested)
        world, bad = {}, {}
        for var in self.variables:
            try:
                world[var.name] = var.coerce(flat[var.name])
            except StateTypeError as exc:
                world[var.name], bad[var.name] = var.default, str(exc)
        return world, bad

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
