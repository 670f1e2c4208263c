"""Environment interpolation and secret scrubbing.

Catalogs may write ``${HF_TOKEN}`` in ``cmd`` and ``with``. Those are resolved only at the
moment of execution, in memory, and never written anywhere: the catalog's raw text is what
the journal records, and every log or error tail we keep is scrubbed of secret values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE", re.I)
MASK = "***"


class MissingVariable(KeyError):
    def __init__(self, name: str, where: str):
        self.name, self.where = name, where
        super().__init__(name)

    def __str__(self) -> str:
        return (
            f"environment variable {self.name} is not set (needed by {self.where}); "
            f"export {self.name}=... before running"
        )


def interpolate(value: Any, where: str, env: Mapping[str, str] | None = None) -> Any:
    """Resolve ``${NAME}`` in every string of ``value`` (``$$`` is a literal ``$``)."""
    env = os.environ if env is None else env
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1)
            if name not in env:
                raise MissingVariable(name, where)
            return env[name]

        return _REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, where, env) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [interpolate(v, where, env) for v in value]
    return value


def referenced(value: Any) -> set[str]:
    """Names of the environment variables ``value`` refers to."""
    if isinstance(value, str):
        return {m.group(1) for m in _REF.finditer(value) if m.group(1)}
    if isinstance(value, dict):
        return set().union(*(referenced(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(referenced(v) for v in value)) if value else set()
    return set()


def secret_values(names: set[str] = frozenset(), env: Mapping[str, str] | None = None) -> list[str]:
    """Values to scrub: those interpolated into this action, and secret-looking variables."""
    env = os.environ if env is None else env
    values = {env[n] for n in names if n in env}
    values |= {v for k, v in env.items() if SECRET_NAME.search(k)}
    return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return text
