"""Child side of running Python executors: ``python -m goap.running.worker REQUEST RESULT``.

Executors run in a child process so that a timeout can kill them, a crash cannot take the
runner down, heavy imports (torch) never enter the runner, and memory is returned after
each action. The request and the answer are the typed messages of ``goap.running.protocol``;
the answer is written atomically as JSON.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import os
import sys
import traceback
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError, create_model

from goap.loading.secrets import MASKER, MissingVariable, interpolate
from goap.running.contract import ActionFailed
from goap.running.extras import install_hint
from goap.running.facts import CHECK_ENV, declared_facts, undeclared
from goap.running.jobs import ANSWER_LINE, ANSWER_MARK
from goap.running.protocol import (
    OPS,
    Answer,
    CheckAnswer,
    CheckRequest,
    ProtocolError,
    refusal,
)


class TargetError(Exception):
    """The executor itself is missing or malformed (a catalog mistake, not a failure)."""


def resolve(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is reported, not raised
        raise TargetError(
            f"cannot import {module_name!r} for {target}: {type(exc).__name__}: {exc}"
            f"{_missing(exc, module_name)}"
        ) from None
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise TargetError(
            f"{module_name} has no function {attr!r} (run: {target}); "
            f"check the name after the colon"
        )
    return fn


def args_model(fn: Any) -> tuple[type[BaseModel], bool]:
    """The pydantic model of ``fn``'s arguments, and whether fn takes it as one parameter."""
    hints = typing.get_type_hints(fn)
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if len(params) == 1:
        hint = hints.get(params[0].name)
        if isinstance(hint, type) and issubclass(hint, BaseModel):
            return hint, True
    fields = {
        p.name: (hints.get(p.name, Any), ... if p.default is p.empty else p.default) for p in params
    }
    return create_model(f"{fn.__name__}_args", **fields), False


def bind(target: str, args: dict[str, Any], workdir: str, where: str) -> tuple[Any, Any, bool]:
    """Import the executor and build its validated arguments (``${VAR}`` resolved)."""
    fn = resolve(target)
    model, single = args_model(fn)
    unknown = sorted(set(args) - set(model.model_fields))
    if unknown:
        raise TargetError(
            f"invalid arguments for {target} ({where}): unknown argument(s) "
            f"{', '.join(unknown)}; it takes {', '.join(model.model_fields) or 'none'}"
        )
    args = interpolate(args, where)
    if "workdir" in model.model_fields and "workdir" not in args:
        args["workdir"] = workdir
    try:
        parsed = model.model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        raise TargetError(f"invalid arguments for {target} ({where}): {problems}") from None
    return fn, parsed, single


def call(target: str, args: dict[str, Any], workdir: str, where: str) -> dict[str, Any]:
    fn, parsed, single = bind(target, args, workdir, where)
    try:
        result = (
            fn(parsed)
            if single
            else fn(**{k: getattr(parsed, k) for k in type(parsed).model_fields})
        )
    except ActionFailed as exc:
        _check_declared(target, fn, exc.facts, failed=True)
        raise
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise TargetError(
            f"{target} returned {type(result).__name__}; an executor returns a "
            f"dict of observed facts (or None)"
        )
    _check_declared(target, fn, result, failed=False)
    return result


def _check_declared(target: str, fn: Any, facts: dict[str, Any], failed: bool) -> None:
    """With GOAP_CHECK_FACTS=1 (test suites): a fact the executor does not declare is an error."""
    declared = declared_facts(fn) if os.environ.get(CHECK_ENV) == "1" else None
    extra = undeclared(declared, facts, failed) if declared else []
    if extra:
        raise TargetError(
            f"{target} {'failed with' if failed else 'returned'} undeclared fact(s) "
            f"{', '.join(map(str, extra))}; add them to its facts declaration (goap_facts)"
        )


def outcome_of(target: str, args: dict[str, Any], workdir: str, where: str) -> Answer:
    """Call one executor and describe what happened as JSON (never raises)."""
    try:
        facts = call(target, args, workdir, where)
        json.dumps(facts)
        return {"ok": True, "facts": facts}
    except ActionFailed as exc:
        return {
            "ok": False,
            "error": exc.message,
            "tail": exc.tail,
            "facts": exc.facts,
            "retryable": True,
        }
    except (TargetError, MissingVariable) as exc:
        return {"ok": False, "error": str(exc), "retryable": False}
    except (TypeError, ValueError) as exc:
        if "JSON serializable" in str(exc) or "Exceeds the limit" in str(exc):
            return {
                "ok": False,
                "error": f"{target} returned facts that are not JSON: {str(exc)[:200]}",
                "retryable": False,
            }
        return _crash(exc, target)
    except Exception as exc:  # noqa: BLE001 - the executor's own failure
        return _crash(exc, target)


def handle(request: Any) -> Answer | CheckAnswer:
    """Carry out one request; ProtocolError for a request that is not one of OPS."""
    op = request.get("op") if isinstance(request, dict) else None
    if op not in OPS:
        raise ProtocolError(f"unknown request op {op!r}; the worker handles {', '.join(OPS)}")
    try:
        if op == "call":
            return outcome_of(
                request["target"], request["args"], request["workdir"], request["where"]
            )
        return check(request)
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"malformed {op} request: {type(exc).__name__}: {exc}") from None


def check(request: CheckRequest) -> CheckAnswer:
    """Import each target and validate each call's arguments, running nothing."""
    problems: dict[str, str] = {}
    schemas: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    for target in request["targets"]:
        try:
            fn = resolve(target)
            model, _ = args_model(fn)
            schemas[target] = model.model_json_schema()
            facts[target] = declared_facts(fn)
        except TargetError as exc:
            problems[target] = str(exc)
    for item in request["calls"]:  # arguments checked before anything runs
        if item["target"] in problems:
            continue
        try:
            bind(item["target"], item["args"], request["workdir"] or ".", item["where"])
        except TargetError as exc:
            problems[item["where"]] = str(exc)
        except MissingVariable:
            pass  # reported when the action runs, naming the variable
    return {"ok": not problems, "problems": problems, "schemas": schemas, "facts": facts}


def _crash(exc: BaseException, target: str = "") -> Answer:
    tail = "".join(traceback.format_exception(exc)[-6:])
    error = f"{type(exc).__name__}: {exc}{_missing(exc, target.partition(':')[0])}"
    # a missing module stays missing: trying again cannot help
    retryable = not isinstance(exc, ModuleNotFoundError)
    return {"ok": False, "error": error, "tail": tail, "retryable": retryable}


def _missing(exc: BaseException, importer: str) -> str:
    """For a missing module: which extra of the executor's distribution brings it."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name or not importer:
        return ""
    hint = install_hint(exc.name, importer)
    return f"; {hint}" if hint else ""


def _log(answer: Any) -> None:
    """What the executor answered, on stdout, so its log says it (most executors print nothing)."""
    if not isinstance(answer, dict) or "ok" not in answer or "problems" in answer:
        return
    if answer["ok"]:
        print(f"[goap] succeeded; facts: {json.dumps(answer.get('facts', {}), default=str)[:4000]}")
        return
    print(f"[goap] failed: {answer.get('error', '')}")
    if answer.get("tail"):
        print(str(answer["tail"]).rstrip())
    sys.stdout.flush()


def main() -> None:
    if sys.argv[1] == ANSWER_LINE:  # a remote job: request in argv, answer on stdout
        request, result_path = json.loads(base64.b64decode(sys.argv[2])), None
    else:
        request_path, result_path = sys.argv[1], Path(sys.argv[2])
        request = json.loads(Path(request_path).read_text())
    answer(request, result_path)


def enter(workdir: str) -> None:
    """Work in ``workdir``, whose own modules can be executors: last on the path (we run
    with -P), so its json.py or typing.py never replaces the standard library's."""
    os.chdir(workdir)
    if workdir not in sys.path:
        sys.path.append(workdir)


def answer(request: Any, result_path: Path | None) -> None:
    """Handle one request; the answer goes (atomically) to ``result_path``, else to stdout."""
    if request.get("workdir"):
        enter(request["workdir"])
    try:
        result: Any = handle(request)
    except ProtocolError as exc:
        result = refusal(str(exc))
    # the boundary: what this process interpolated or holds as secrets never leaves it
    result = MASKER.document(result)
    _log(result)
    text = json.dumps(result, default=str)
    if result_path is None:
        print(ANSWER_MARK + base64.b64encode(text.encode()).decode(), flush=True)
        return
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, result_path)


if __name__ == "__main__":
    main()
