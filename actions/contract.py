"""The executor contract as this package applies it: a strict argument model in, facts out.

The engine builds an executor's single argument from the action's ``with:`` mapping and
publishes its JSON Schema to agents, so every argument model forbids unknown keys (a typo is
an error, not a silently ignored setting) and describes each field.

Facts are what was observed. A fact that could not be observed is left out rather than set to
null: the engine then keeps the variable's declared or previous value, and a typed world-state
variable never receives a null.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
"""A metric value: NaN and infinity are refused (they are not valid JSON either)."""


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


def known(facts: dict[str, Any]) -> dict[str, Any]:
    """``facts`` without the unknown (None) ones."""
    return {name: value for name, value in facts.items() if value is not None}
