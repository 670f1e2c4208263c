"""The facts an executor declares it may return, read from a plain attribute of the function.

An executor's facts are its vocabulary: a catalog's ``observe:`` binds them to world-state
variables, and agents read them in ``goap skill list --json``. Declaring them on the function
(``fn.goap_facts``, set by ``actions.contract.facts`` or by hand) lets goap publish them next to
the argument schema without importing the executor's package, and lets a test suite check
that what an executor returns is what it declares (``GOAP_CHECK_FACTS=1``), so the published
list cannot drift from the code. Executors declare with ``@facts(...)`` from ``goap.executor``.

The attribute is a plain mapping: ``names`` (facts any answer may carry), ``on_failure``
(facts only a failure carries) and ``note`` (one sentence, or ""). A name may hold a
``<placeholder>`` that stands for any non-empty part (``<group>_committed``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

ATTRIBUTE = "goap_facts"
CHECK_ENV = "GOAP_CHECK_FACTS"
_PLACEHOLDER = re.compile(r"<[a-z_]+>")
_NAME = re.compile(r"(?:[a-z0-9_]|<[a-z_]+>)+")

Executor = TypeVar("Executor", bound=Callable[..., Any])


def facts(
    *names: str, failure: tuple[str, ...] = (), note: str = ""
) -> Callable[[Executor], Executor]:
    """Declare the facts an executor may return (``names``) and those only its ActionFailed
    carries (``failure``); ``note`` is one short sentence, when one is needed.

    The function itself is returned with the declaration as a plain attribute: its signature
    and type hints stay what they were, so the runner builds the same argument model.
    A bad declaration is a programming error, raised when the module is imported.
    """
    every = [*names, *failure]
    bad = [name for name in every if not _NAME.fullmatch(name)]
    repeated = sorted({name for name in every if every.count(name) > 1})
    if not names or bad or repeated or not isinstance(note, str):
        raise ValueError(
            f"@facts: give at least one fact name, each lower_snake_case with optional "
            f"<placeholder> parts (bad: {bad}), none twice (repeated: {repeated})"
        )

    def declare(fn: Executor) -> Executor:
        setattr(fn, ATTRIBUTE, {"names": list(names), "on_failure": list(failure), "note": note})
        return fn

    return declare


def declared_facts(fn: Any) -> dict[str, Any] | None:
    """``fn``'s declaration as JSON (names, on_failure, note), or None when it declares none."""
    found = getattr(fn, ATTRIBUTE, None)
    if not isinstance(found, dict):
        return None
    names, failure = found.get("names"), found.get("on_failure", [])
    note = found.get("note", "")
    if not _strings(names) or not _strings(failure) or not isinstance(note, str):
        return None
    return {"names": list(names), "on_failure": list(failure), "note": note}


def undeclared(declared: dict[str, Any], facts: dict[str, Any], failed: bool) -> list[str]:
    """The keys of ``facts`` that ``declared`` does not name (a failure may use on_failure)."""
    allowed = declared["names"] + (declared["on_failure"] if failed else [])
    exact = {name for name in allowed if not _PLACEHOLDER.search(name)}
    patterns = [_pattern(name) for name in allowed if _PLACEHOLDER.search(name)]
    return [
        key
        for key in facts
        if key not in exact and not any(p.fullmatch(str(key)) for p in patterns)
    ]


def _pattern(name: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(name)
    return re.compile(".+".join(re.escape(part) for part in parts))


def _strings(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
