"""goap: goal-oriented action planning for ML pipelines, in four wings.

- ``goap.loading``: a YAML catalog read strictly into frozen structures (``load_catalog``).
- ``goap.planning``: the cheapest plan by A* over the compiled task (``plan``).
- ``goap.running``: executing a plan, the run record, child processes (``Runner``).
- ``goap.faces``: what people and agents talk to (CLI, live view, skills, MCP, documents).

Each wing imports only the ones below it (tests/test_layers.py checks it). The names below
are the public API, imported on first use so that ``import goap`` costs nothing; executors
import ``goap.executor.ActionFailed``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

PUBLIC = {
    "load_catalog": "goap.loading.catalog",
    "Catalog": "goap.loading.catalog",
    "CatalogError": "goap.loading.catalog",
    "plan": "goap.planning.planner",
    "PlanOptions": "goap.planning.planner",
    "PlanResult": "goap.planning.planner",
    "Runner": "goap.running.runner",
    "RunResult": "goap.running.runner",
    "RunError": "goap.running.errors",
    "ActionFailed": "goap.running.contract",
}
__all__ = sorted(PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in PUBLIC:
        raise AttributeError(f"module 'goap' has no attribute {name!r}")
    return getattr(import_module(PUBLIC[name]), name)
