"""``goap mcp``: the catalog's actions as Model Context Protocol tools over stdio.

Tools: plan, next_action, run_action, get_state, list_actions. They return the same JSON
documents as the CLI's ``--json``; bad input comes back as an MCP tool error carrying the
CLI's message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from goap.faces import documents, skills
from goap.loading.catalog import Catalog, CatalogError, load_catalog
from goap.loading.logic import LogicError
from goap.planning.planner import plan
from goap.running.errors import RunError
from goap.running.record import read_world
from state.model import StateError, StateTypeError
from state.store import load_state

BAD_INPUT = (CatalogError, StateError, RunError, LogicError, StateTypeError)


def build_server(catalog_path: Path, state_path: Path, workdir: Path) -> MCPServer:
    server = MCPServer(
        name="goap",
        instructions=(
            "Goal-oriented action planning over a YAML catalog. Call next_action to learn what "
            "to do, run_action to do exactly one action, get_state to read the world state."
        ),
    )

    def catalog() -> Catalog:
        try:
            return load_catalog(catalog_path)  # re-read: the file may have been edited
        except CatalogError as exc:
            raise ToolError(str(exc)) from None

    def guarded(fn: Any) -> Any:
        try:
            return fn()
        except BAD_INPUT as exc:
            raise ToolError(str(exc)) from None

    @server.tool(
        name="plan",
        description="Cheapest plan from the persisted state to the goal (or to the "
        "given goal conditions like 'git_state.pushed=true').",
    )
    def plan_tool(goal: list[str] | None = None) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            cat = catalog()
            conditions = documents.parse_goals(cat, goal)
            return documents.plan_document(plan(cat, read_world(cat, state_path), conditions))

        return guarded(run)

    @server.tool(description="The next action of the current optimal plan, and the rest.")
    def next_action() -> dict[str, Any]:
        return guarded(lambda: skills.next_action(catalog(), state_path))

    @server.tool(
        description="Run exactly one action (preconditions checked unless force; "
        "args override the action's `with:`). Returns the outcome and the new state."
    )
    def run_action(
        action: str, args: dict[str, Any] | None = None, force: bool = False
    ) -> dict[str, Any]:
        return guarded(
            lambda: skills.run_action(catalog(), state_path, workdir, action, args or {}, force)
        )

    @server.tool(description="The persisted state file: status, progress, world state, journal.")
    def get_state() -> dict[str, Any]:
        def run() -> dict[str, Any]:
            cat = catalog()
            state = load_state(state_path, cat.schema, cat.name) if state_path.exists() else None
            return documents.state_document(cat, state, state_path)

        return guarded(run)

    @server.tool(
        description="Every action: skill, cost, preconditions, effects, argument "
        "schema and whether it applies now."
    )
    def list_actions() -> dict[str, Any]:
        return guarded(lambda: skills.list_actions(catalog(), state_path, workdir))

    return server


def serve(catalog_path: Path, state_path: Path, workdir: Path) -> None:
    build_server(catalog_path, state_path, workdir).run("stdio")
