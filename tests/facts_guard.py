"""The suite's drift check: a shipped executor returns only the facts its ``@facts`` declares.

``conftest`` installs it before any test module imports an executor. Each executor in
``actions/`` (and every module attribute naming it, so ``validate_ruff`` calling
``ruff_status`` is checked too) is replaced by a wrapper that compares the keys of each answer
and of each ``ActionFailed``'s facts with the declaration; the children goap starts check the
same in ``goap.running.worker`` (``GOAP_CHECK_FACTS=1``, inherited). An undeclared fact is
recorded, and the test that produced it fails at teardown naming executor, fact and fix.
Not a test module: it holds no tests.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

from actions.reference import executors
from goap.executor import ActionFailed
from goap.running.facts import CHECK_ENV, declared_facts, undeclared

VIOLATIONS: list[str] = []


def install() -> list[str]:
    """Guard every executor of ``actions``; the targets guarded."""
    os.environ[CHECK_ENV] = "1"
    found = executors()
    wrappers = {id(e.fn): guarded(e.target, e.fn) for e in found}
    for name, module in list(sys.modules.items()):
        if name != "actions" and not name.startswith("actions."):
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in wrappers:
                setattr(module, attr, wrappers[id(value)])
    return [e.target for e in found]


def guarded(target: str, fn: Any) -> Any:
    """``fn`` with the check around it; signature, hints and declaration seen through."""
    declared = declared_facts(fn)

    @functools.wraps(fn)
    def check(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
        except ActionFailed as exc:
            _note(target, declared, exc.facts, failed=True)
            raise
        if isinstance(result, dict):
            _note(target, declared, result, failed=False)
        return result

    return check


def _note(target: str, declared: Any, facts: dict[str, Any], failed: bool) -> None:
    if declared is None:
        VIOLATIONS.append(f"{target} declares no facts; add @facts(...) (goap.executor.facts)")
        return
    extra = undeclared(declared, facts, failed)
    if extra:
        how = "failed with" if failed else "returned"
        where = "failure=(...)" if failed else "the names"
        VIOLATIONS.append(
            f"{target} {how} undeclared fact(s) {', '.join(map(str, extra))}; add them to "
            f"{where} of its @facts(...) and run `python -m actions.reference`"
        )
