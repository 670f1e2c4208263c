"""Conditions and effects: how catalogs talk about the world state.

A condition compares one variable with a constant (``==``, ``!=``, ``<``, ``<=``, ``>``,
``>=``); an effect sets a variable or adds to a number. Both are parsed from the catalog's
short YAML forms here, and are small frozen tuples so the planner can use them directly.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from goap.loading.yamlsrc import SourceError, load_value
from state.model import StateTypeError, Variable, type_of

OPS: dict[str, Any] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
ORDERED = ("<", "<=", ">", ">=")
_COMPARISON = re.compile(r"^\s*(==|!=|<=|>=|<|>)\s*(.*?)\s*$", re.S)
_INCREMENT = re.compile(r"^\s*([+-])=\s*(.+?)\s*$")


class LogicError(ValueError):
    """A malformed condition or effect; the message says what to write instead."""


@dataclass(frozen=True)
class Condition:
    var: str
    op: str
    value: Any

    def holds(self, world: Mapping[str, Any]) -> bool:
        return OPS[self.op](world[self.var], self.value)

    def __str__(self) -> str:
        return f"{self.var} {self.op} {_show(self.value)}"


@dataclass(frozen=True)
class Effect:
    var: str
    kind: str  # "set" or "add"
    value: Any

    def apply(self, world: dict[str, Any]) -> None:
        if self.kind == "set":
            world[self.var] = self.value
        else:
            world[self.var] = world[self.var] + self.value

    def __str__(self) -> str:
        if self.kind == "set":
            return f"{self.var} = {_show(self.value)}"
        sign = "+=" if self.value >= 0 else "-="
        return f"{self.var} {sign} {_show(abs(self.value))}"


def simulate(actions: Iterable[Any], world: Mapping[str, Any]) -> dict[str, Any]:
    """Replay actions (anything with ``name``, ``pre`` and ``effects``) on a copy of ``world``.

    Raises ValueError at the first step whose preconditions do not hold.
    """
    state = dict(world)
    for step, action in enumerate(actions, 1):
        unmet = [str(c) for c in action.pre if not c.holds(state)]
        if unmet:
            raise ValueError(f"step {step} ({action.name}) does not apply: {', '.join(unmet)}")
        state = with_effects(action.effects, state)
    return state


def with_effects(effects: Iterable[Effect], world: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``world`` with ``effects`` applied, preconditions unchecked (--force)."""
    state = dict(world)
    for effect in effects:
        effect.apply(state)
    return state


def _show(value: Any) -> str:
    return (
        {True: "true", False: "false"}.get(value, repr(value))
        if isinstance(value, bool)
        else repr(value)
        if isinstance(value, str)
        else str(value)
    )


def parse_condition(var: Variable, raw: Any) -> Condition:
    """``true``, ``5``, ``">= 5"``, ``"!= main"`` or ``{op: ">=", value: 5}``."""
    if isinstance(raw, Mapping):
        if set(raw) != {"op", "value"}:
            raise LogicError(
                f"a condition mapping has exactly the keys op and value, got "
                f"{sorted(raw)}; write e.g. {{op: '>=', value: 5}}"
            )
        op, value = raw["op"], raw["value"]
        if op not in OPS:
            raise LogicError(f"unknown operator {op!r}; use one of {', '.join(OPS)}")
    elif isinstance(raw, str) and (match := _COMPARISON.match(raw)):
        op, text = match.groups()
        value = _unquote(text) if var.type == "str" else _literal(text)
    else:
        op, value = "==", raw
    if op in ORDERED and not var.numeric:
        raise LogicError(f"{var.name} is {var.type}: only == and != apply, not {op}")
    try:
        value = var.coerce(value)
    except StateTypeError as exc:
        raise LogicError(f"{exc}; write a value of type {var.type}") from None
    return Condition(var.name, op, value)


def parse_effect(var: Variable, raw: Any) -> Effect:
    """A value to set, or ``"+=1"`` / ``"-=2"`` to add to a number."""
    if isinstance(raw, str) and (match := _INCREMENT.match(raw)):
        if not var.numeric:
            raise LogicError(
                f"{var.name} is {var.type}: an increment ({raw!r}) needs an int or "
                f"float variable; set a value instead"
            )
        sign, text = match.groups()
        amount = _literal(text)
        if type_of(amount) not in ("int", "float"):
            raise LogicError(f'increment {raw!r} needs a number after {sign}=, e.g. "+=1"')
        try:
            amount = var.coerce(amount)
        except StateTypeError as exc:
            raise LogicError(f"{exc}; increment an int by a whole number") from None
        return Effect(var.name, "add", -amount if sign == "-" else amount)
    try:
        return Effect(var.name, "set", var.coerce(raw))
    except StateTypeError as exc:
        raise LogicError(f"{exc}; write a value of type {var.type}") from None


def parse_goal_text(text: str) -> tuple[str, str, str]:
    """Split a command-line goal ``name>=5`` / ``name=true`` into name, operator and value."""
    match = re.match(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=|<=|>=|=|<|>)\s*(.*?)\s*$", text)
    if not match:
        raise LogicError(f"cannot read goal {text!r}; write NAME=VALUE or NAME>=NUMBER")
    name, op, value = match.groups()
    return name, "==" if op == "=" else op, value


def condition_from_text(var: Variable, op: str, text: str) -> Condition:
    """A condition whose value is command-line text, read as the variable's type."""
    try:
        value = var.parse(_unquote(text))
    except StateTypeError as exc:
        raise LogicError(str(exc)) from None
    return parse_condition(var, {"op": op, "value": value})


def _literal(text: str) -> Any:
    """Text read as YAML (``5``, ``true``), or the text itself where it is not YAML."""
    try:
        return load_value(text, "value") if text.strip() else ""
    except SourceError as exc:
        raise LogicError(f"{text[:40]!r}: {exc.problem}; {exc.fix}") from None


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
