"""Environment interpolation and secret scrubbing.

Catalogs may write ``${HF_TOKEN}`` in ``cmd`` and ``with``. Those are resolved only at the
moment of execution, in memory, and never written anywhere: the catalog's raw text is what
the journal records.

Scrubbing happens once per boundary, not per message: :data:`MASKER` knows every value this
process must never write (each value ``interpolate`` substituted, and the values of
environment variables whose names look secret, or that the catalog's ``secrets:`` names),
and every text that leaves goap passes through it: a child's log lines, an outcome's error,
tail and facts, the state file's whole text, everything the CLI prints and every MCP reply.
Not masked, and said so in the README: values shorter than 6 characters, and transformed
forms of a secret (base64, URL-encoded, split across lines).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE|CREDENTIAL"
    r"|(^|_)(AUTH|AUTHORIZATION|COOKIE|SESSION|DSN|KEY|PASS|CREDS|PIN|SIGNATURE|CERT"
    r"|CONNECTION_STRING|DATABASE_URL|WEBHOOK)(_|$)",
    re.I,
)
MASK = "***"
SHORTEST = 6  # shorter values are not masked: "main" or "1" would mask half of every log


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
            MASKER.add(env[name])  # substituted here, so never written from here on
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


def secret_name(name: str, declared: Iterable[str] = ()) -> bool:
    """Whether an environment variable's value is a secret by its name (or the catalog's word)."""
    return bool(SECRET_NAME.search(name)) or any(fnmatch.fnmatchcase(name, p) for p in declared)


def secret_values(names: set[str] = frozenset(), env: Mapping[str, str] | None = None) -> list[str]:
    """Values to scrub: those interpolated into this action, and secret-looking variables."""
    env = os.environ if env is None else env
    values = {env[n] for n in names if n in env}
    values |= {v for k, v in env.items() if secret_name(k, MASKER.declared)}
    return sorted((v for v in values if len(v) >= SHORTEST), key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return text


def scrub_document(value: Any, secrets: list[str]) -> Any:
    """A JSON-like document with every string in it (keys included) masked."""
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {scrub(str(k), secrets): scrub_document(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_document(v, secrets) for v in value]
    return value


class Masker:
    """Every value this process must never write, and the one function that masks them."""

    def __init__(self) -> None:
        self.values: set[str] = set()
        self.declared: tuple[str, ...] = ()  # extra secret names (globs) from the catalog

    def declare(self, patterns: Iterable[str]) -> None:
        self.declared = tuple(sorted({*self.declared, *patterns}))

    def add(self, value: str) -> None:
        if len(value) >= SHORTEST:
            self.values.add(value)

    def secrets(self, env: Mapping[str, str] | None = None) -> list[str]:
        """Longest first, each also in its JSON-escaped form (as it appears in a file)."""
        found = {*self.values, *secret_values(env=env)}
        if env is not None and env is not os.environ:
            found |= set(secret_values(env=os.environ))
        forms = {json.dumps(v)[1:-1] for v in found} | {
            json.dumps(v, ensure_ascii=False)[1:-1] for v in found
        }
        return sorted(found | forms, key=len, reverse=True)

    def __call__(self, text: str, env: Mapping[str, str] | None = None) -> str:
        return scrub(text, self.secrets(env))

    def document(self, value: Any) -> Any:
        """A JSON-like document with every string in it masked."""
        return scrub_document(value, self.secrets())


MASKER = Masker()
