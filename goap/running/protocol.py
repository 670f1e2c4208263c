"""The messages between the runner and ``python -m goap.running.worker``, typed once.

The parent writes one request as JSON and the child answers with one JSON document, written
atomically (a crashed child leaves no half answer). Both sides import these types, so the
contract is code, not a docstring; a request whose ``op`` is not one of ``OPS`` is refused.

- ``call``: run one executor (an action, or one sensor: each sensor has a process and a
  deadline of its own, so a hung one cannot take a healthy one down); an :class:`Answer`.
- ``check``: import each target and validate each call's arguments without running them;
  the answer is a :class:`CheckAnswer` with the problems, each target's JSON Schema and
  its declared facts.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

OPS = ("call", "check")


class Call(TypedDict):
    target: str  # "module:function"
    args: dict[str, Any]  # the action's `with:`, ${VAR} not yet resolved
    where: str  # "action NAME" or "sensor NAME", for messages


class CallRequest(Call):
    op: Literal["call"]
    workdir: str


class CheckRequest(TypedDict):
    op: Literal["check"]
    targets: list[str]
    calls: list[Call]
    workdir: str


Request = CallRequest | CheckRequest


class Answer(TypedDict):
    ok: bool
    facts: NotRequired[dict[str, Any]]
    error: NotRequired[str]
    tail: NotRequired[str]
    retryable: NotRequired[bool]  # False: a catalog mistake, trying again cannot help


class CheckAnswer(TypedDict):
    ok: bool
    problems: dict[str, str]  # target or "where" -> what is wrong
    schemas: dict[str, Any]  # target -> JSON Schema of its arguments
    facts: NotRequired[dict[str, Any]]  # target -> its declared facts (goap.running.facts)


class ProtocolError(ValueError):
    """A request the worker does not understand (a bug in goap, never the user's input)."""


def refusal(message: str) -> Answer:
    """The answer to a request that cannot be carried out at all."""
    return {"ok": False, "error": message, "retryable": False}
