"""The executor contract as this package applies it: a strict argument model in, facts out.

The engine builds an executor's single argument from the action's ``with:`` mapping and
publishes its JSON Schema to agents, so every argument model forbids unknown keys (a typo is
an error, not a silently ignored setting) and describes each field.

Path arguments are ``InWorkdir``: an agent may be allowed to set them (``agent.args``), and
a relative path with ``..`` or an absolute one would let it write or read any file the
runner can; so they are checked to resolve (links followed) inside the working directory.

Facts are what was observed. A fact that could not be observed is left out rather than set to
null: the engine then keeps the variable's declared or previous value, and a typed world-state
variable never receives a null. Every executor declares its facts with ``@facts(...)``
(``goap.executor.facts``): goap
publishes them to agents next to the argument schema, ``actions/README.md`` is generated from
them (``python -m actions.reference``), and the test suite fails on a fact that is returned but
not declared, so the three cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
"""A metric value: NaN and infinity are refused (they are not valid JSON either)."""


class _Inside:
    """Marks a path argument that must stay inside the run's working directory."""


InWorkdir = Annotated[str, _Inside()]
"""A path relative to the workdir that must resolve inside it (links followed)."""


class _Entry:
    """Marks a path that must lie inside the workdir as an entry: its own link not followed."""


OptionalInWorkdir = Annotated[str | None, _Inside()]
"""An optional path relative to the workdir that must resolve inside it (links followed)."""

InWorkdirEntry = Annotated[str, _Entry()]
"""A path inside the workdir, checked without following a link at its last component."""


class ExecutorArgs(BaseModel):
    """Arguments of an executor or sensor: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


class WorkdirArgs(ExecutorArgs):
    """Arguments of an executor that works inside the run's working directory."""

    workdir: Path = Field(
        default=Path("."),
        description="Working directory of the run (the project checkout); the engine fills it.",
    )

    @field_validator("workdir")
    @classmethod
    def _workdir_is_a_directory(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"workdir {value} is not an existing directory; pass the project root")
        return value.absolute()

    @model_validator(mode="after")
    def _paths_stay_inside(self) -> WorkdirArgs:
        """Every marked path, also inside lists, dicts and nested models, stays inside."""
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            for label, path, follow in _marked(info.annotation, info.metadata, value, name):
                try:
                    outside = leads_outside(self.workdir, path, follow_last=follow)
                except (OSError, RuntimeError):  # a link loop, a name too long
                    outside = True
                if outside:
                    raise ValueError(outside_message(label, path))
        return self


def leads_outside(workdir: Path, value: str, follow_last: bool = True) -> bool:
    """Does ``value`` (relative to ``workdir``, or absolute) lead outside the workdir?"""
    root = workdir.resolve()
    if follow_last:
        return not (root / value).resolve().is_relative_to(root)
    entry = Path(os.path.normpath(root / value))
    if entry == root:
        return False
    return not (entry.parent.resolve() / entry.name).is_relative_to(root)


def outside_message(name: str, value: str) -> str:
    """The refusal of a path argument, in the words of actions.contract."""
    shown = value if len(value) <= 80 else value[:80] + "..."
    return f"{name}: {shown!r} leads outside the working directory; give a path inside it"


def _marked(
    annotation: Any, metadata: list[Any], value: Any, label: str
) -> Iterator[tuple[str, str, bool]]:
    """(label, path, follow the last link) of every marked path in ``value``."""
    if value is None:
        return
    if any(isinstance(m, _Inside) for m in metadata) and isinstance(value, str):
        yield label, value, True
        return
    if any(isinstance(m, _Entry) for m in metadata) and isinstance(value, str):
        yield label, value, False
        return
    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            yield from _marked(
                info.annotation, info.metadata, getattr(value, name), f"{label}.{name}"
            )
        return
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        yield from _marked(args[0], list(annotation.__metadata__), value, label)
    elif origin in (Union, UnionType):
        options = [a for a in args if a is not NoneType]
        if len(options) == 1:
            yield from _marked(options[0], [], value, label)
    elif origin in (list, tuple, set, frozenset) and args and isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _marked(args[0], [], item, f"{label}[{index}]")
    elif origin is dict and len(args) == 2 and isinstance(value, dict):
        for key, item in value.items():
            yield from _marked(args[1], [], item, f"{label}[{key!r}]")


def known(facts: dict[str, Any]) -> dict[str, Any]:
    """``facts`` without the unknown (None) ones."""
    return {name: value for name, value in facts.items() if value is not None}
