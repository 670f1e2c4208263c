"""``goap mcp``: the catalog's actions as Model Context Protocol tools over stdio.

Tools: plan, next_action, explain, run_action, get_state, list_actions; approve and deny
with ``goap mcp --approvals`` (approval gates are meant for people).
Each returns the CLI's ``--json`` document, built by the same function (``goap.faces.
documents``, ``goap.planning.explain``, ``goap.running.approval``), as its
``structuredContent`` (and as JSON text), and publishes its shape as ``outputSchema``
(``goap.faces.document_schemas``); each carries ToolAnnotations saying whether it only reads
(``READS``), runs executors (``RUNS``) or records a person's answer (``ANSWERS``).
run_action reports the executor's progress and stops when the request is cancelled
(``goap.faces.mcp_runs``). Bad input comes back as an MCP tool error carrying the CLI's
message.

The stdio transport is our own, because the library's drops a line it cannot decode without
a word, so a client waiting on that request hangs. Every line is screened first: bad JSON,
a non-object (a batch too), a broken envelope or params that are not an object get their
JSON-RPC 2.0 error here, and the server reads on; a sound message goes to the library's
session. Every reply leaves through one writer, and an error reply there has each long
client string it repeats cut to ``ECHO_LIMIT`` and each text to ``ERROR_LIMIT``, so 1 MB
sent is not 1 MB echoed, whichever layer (goap or the library) wrote the message.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.message import SessionMessage
from mcp.types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    CallToolResult,
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
    TextContent,
    ToolAnnotations,
    jsonrpc_message_adapter,
)
from pydantic import Field, ValidationError

from goap.faces import documents, skills
from goap.faces.document_schemas import (
    DecisionDocument,
    ExplainDocument,
    GetStateDocument,
    NextDocument,
    PlanDocument,
    SkillListDocument,
    StepDocument,
)
from goap.faces.mcp_runs import run_reporting
from goap.loading.catalog import Catalog, CatalogError, load_catalog
from goap.loading.logic import LogicError
from goap.loading.secrets import MASKER
from goap.planning.explain import ExplainError
from goap.planning.explain import explain as explaining
from goap.planning.planner import plan
from goap.running import approval
from goap.running.errors import RunError
from goap.running.record import read_world
from goap.running.runner import Runner
from state.model import StateError, StateTypeError
from state.store import load_state

BAD_INPUT = (
    CatalogError,
    StateError,
    RunError,
    LogicError,
    StateTypeError,
    ExplainError,
    OSError,
)
ECHO_LIMIT = 200  # characters of one client string an error reply repeats
ERROR_LIMIT = 4000  # characters of one error text
PENDING_LIMIT = 64  # requests whose long strings are kept (a cancelled one is never answered)

# Hints for clients (MCP ToolAnnotations). Reading tools only read the catalog and the state
# file (list_actions also imports the executors in a child, to read their argument schemas).
READS = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
# run_action runs the action's executor: whatever the catalog says (a git push, a training
# job on a cloud GPU, a deploy), so it may overwrite what is there (destructive), reach
# services outside this machine (open world), and running it again runs it again.
RUNS = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)

# approve / deny record a decision in the state file (or the answers file a running goap
# takes in): they write (not read-only), add a decision and remove nothing (not destructive),
# stay on this machine (closed world), and are not idempotent: each call is a new decision
# with its own id, and while a run holds the state two quick approvals are both queued.
ANSWERS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
ActionName = Annotated[str, Field(description="the action a run waits to start")]
Who = Annotated[str, Field(description="the person whose decision this is (journalled)")]
Why = Annotated[str, Field(description="why, for the journal")]


def answer(document: dict[str, Any]) -> CallToolResult:
    """A tool's reply: the document as ``structuredContent``, and as JSON text for clients
    that read only ``content``. The library checks it against the tool's ``outputSchema``."""
    text = json.dumps(document, indent=2, allow_nan=False)
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=document
    )


def build_server(
    catalog_path: Path, state_path: Path, workdir: Path, approvals: bool = False
) -> MCPServer:
    """The tools; approve and deny only with ``approvals``: approval gates are meant for
    people, so an agent gets to answer them only where its user says it relays their word."""
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

    def guarded(fn: Any) -> CallToolResult:
        try:
            return answer(fn())
        except BAD_INPUT as exc:
            raise ToolError(str(exc)) from None

    @server.tool(
        name="plan",
        description="Cheapest plan from the persisted state to the goal (or to the "
        "given goal conditions like 'git_state.pushed=true').",
        annotations=READS,
    )
    def plan_tool(goal: list[str] | None = None) -> Annotated[CallToolResult, PlanDocument]:
        def run() -> dict[str, Any]:
            cat = catalog()
            conditions = documents.parse_goals(cat, goal)
            result = plan(cat, read_world(cat, state_path), conditions)
            return documents.plan_document(result, documents.journal_durations(state_path))

        return guarded(run)

    @server.tool(
        description="The next action of the current optimal plan, and the rest.",
        annotations=READS,
    )
    def next_action() -> Annotated[CallToolResult, NextDocument]:
        return guarded(lambda: skills.next_action(catalog(), state_path))

    @server.tool(
        description="Run exactly one action (preconditions checked unless force; "
        "args override the action's `with:`). Returns the outcome and the new state. "
        "Send a progressToken to hear the executor's progress; cancel the request to stop "
        "the action (its process group is ended, the attempt recorded as interrupted).",
        annotations=RUNS,
    )
    async def run_action(
        action: str,
        ctx: Context,
        args: dict[str, Any] | None = None,
        force: bool = False,
    ) -> Annotated[CallToolResult, StepDocument]:
        cat = catalog()
        try:
            runner = Runner(cat, state_path, workdir)
            step = await run_reporting(runner, action, args or {}, force, ctx)
        except BAD_INPUT as exc:
            raise ToolError(str(exc)) from None
        return answer(documents.step_document(cat, step, state_path))

    @server.tool(
        description="The persisted state file: status, progress, world state, journal.",
        annotations=READS,
    )
    def get_state() -> Annotated[CallToolResult, GetStateDocument]:
        def run() -> dict[str, Any]:
            cat = catalog()
            state = load_state(state_path, cat.schema, cat.name) if state_path.exists() else None
            return documents.state_document(cat, state, state_path)

        return guarded(run)

    @server.tool(
        description="Every action: skill, cost, preconditions, effects, argument "
        "schema and whether it applies now.",
        annotations=READS,
    )
    def list_actions() -> Annotated[CallToolResult, SkillListDocument]:
        return guarded(lambda: skills.list_actions(catalog(), state_path, workdir))

    def answering(approve: bool) -> Any:
        def tool(
            action: ActionName, who: Who, why: Why = ""
        ) -> Annotated[CallToolResult, DecisionDocument]:
            return guarded(
                lambda: approval.answer(catalog_path, state_path, action, approve, who, why)
            )

        return tool

    @server.tool(
        description="Why this plan: what each step serves. With action: why it is not in "
        "the plan (unmet preconditions, those nothing can reach, the cheapest plan that runs "
        "it). For an unreachable goal: which conditions block it, which actions come closest.",
        annotations=READS,
    )
    def explain(
        action: Annotated[str | None, Field(description="the action to ask about")] = None,
    ) -> Annotated[CallToolResult, ExplainDocument]:
        def run() -> dict[str, Any]:
            cat = catalog()
            return explaining(cat, read_world(cat, state_path), action)

        return guarded(run)

    if not approvals:
        return server
    server.add_tool(
        answering(True),
        name="approve",
        description="Record a person's approval of an action the run waits for (one start "
        "of it; lifts a denial). Relay a human's decision: the journal names who and why.",
        annotations=ANSWERS,
    )
    server.add_tool(
        answering(False),
        name="deny",
        description="Record a person's denial of an action the run waits for: the run plans "
        "around it for the rest of the run, or ends naming the denial.",
        annotations=ANSWERS,
    )
    return server


def serve(catalog_path: Path, state_path: Path, workdir: Path, approvals: bool = False) -> None:
    anyio.run(serve_stdio, build_server(catalog_path, state_path, workdir, approvals))


async def serve_stdio(server: MCPServer) -> None:
    """``server`` over stdin/stdout, one JSON-RPC message a line, until stdin ends."""
    lowlevel = server._lowlevel_server  # what MCPServer.run_stdio_async serves too
    echoes: dict[RequestId, Sequence[str]] = {}  # long strings of the requests in flight
    to_session, inbound = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    outbound, to_wire = anyio.create_memory_object_stream[SessionMessage](0)
    rejections = outbound.clone()
    with _wire() as (stdin, stdout):

        async def read() -> None:
            async with to_session, rejections:
                async for line in stdin:
                    message = screen(line)
                    if isinstance(message, JSONRPCError):
                        await rejections.send(SessionMessage(message))
                    elif message is not None:
                        if isinstance(message, JSONRPCRequest):
                            remember(echoes, message)
                        await to_session.send(SessionMessage(message))

        async def write() -> None:
            async with to_wire:
                async for item in to_wire:
                    message = item.message
                    replied = isinstance(message, JSONRPCResponse | JSONRPCError)
                    echoed = echoes.pop(message.id, ()) if replied else ()
                    # the boundary: no secret of this process reaches the client
                    await stdout.write(MASKER(wire_text(message, echoed)) + "\n")
                    await stdout.flush()

        async with anyio.create_task_group() as tasks, outbound:
            tasks.start_soon(read)
            tasks.start_soon(write)
            await lowlevel.run(inbound, outbound, lowlevel.create_initialization_options())


@contextmanager
def _wire() -> Iterator[tuple[Any, Any]]:
    """The client's stdin/stdout on private descriptors, as the library's stdio transport does.

    Meanwhile fd 0 reads /dev/null and fd 1 writes to stderr, so a stray print or a child
    process cannot corrupt the JSON-RPC stream; both are restored on exit. The private
    descriptors are never closed: a reader thread may still block on one.
    """
    sys.stdout.flush()
    wire_in, wire_out, null = os.dup(0), os.dup(1), os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    try:
        yield (
            anyio.wrap_file(open(wire_in, encoding="utf-8", errors="replace", closefd=False)),
            anyio.wrap_file(open(wire_out, "w", encoding="utf-8", closefd=False)),
        )
    finally:
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)


def screen(line: str) -> JSONRPCMessage | None:
    """The message a line carries, the JSONRPCError that answers it, or None (a blank line).

    The reply goes to the request's id when it has a usable one (a string or an integer),
    else to null. A well-formed notification passes on and is never answered.
    """
    if not line.strip():
        return None
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return _error(None, PARSE_ERROR, "Parse error", "the line is not JSON")
    if not isinstance(data, dict):
        why = "batches are not supported" if isinstance(data, list) else "not a JSON object"
        return _error(None, INVALID_REQUEST, "Invalid Request", why)
    rid = data.get("id")
    rid = rid if isinstance(rid, str) or type(rid) is int else None
    if data.get("jsonrpc") != "2.0":
        return _error(rid, INVALID_REQUEST, "Invalid Request", 'jsonrpc must be "2.0"')
    if "id" in data and rid is None:
        return _error(None, INVALID_REQUEST, "Invalid Request", "id must be a string or an integer")
    if "method" in data or "id" not in data:  # a request or a notification
        if not isinstance(data.get("method"), str):
            return _error(rid, INVALID_REQUEST, "Invalid Request", "method must be a string")
        if not isinstance(data.get("params", {}), dict | None):
            return _error(rid, INVALID_PARAMS, "Invalid params", "params must be an object")
    try:
        return jsonrpc_message_adapter.validate_python(data, by_name=False)
    except ValidationError:  # an id but no method: not a response (result or error) either
        return _error(rid, INVALID_REQUEST, "Invalid Request", "no method, and not a response")


def _error(rid: RequestId | None, code: int, message: str, data: str) -> JSONRPCError:
    error = ErrorData(code=code, message=message, data=data)
    return JSONRPCError(jsonrpc="2.0", id=rid, error=error)


def remember(echoes: dict[RequestId, Sequence[str]], request: JSONRPCRequest) -> None:
    """Keep the request's strings longer than ECHO_LIMIT (name, keys, values) until its reply."""
    found, stack = set(), [request.method, request.params]
    while stack:  # not recursive: params may nest as deep as the JSON parser allows
        value = stack.pop()
        if isinstance(value, str) and len(value) > ECHO_LIMIT:
            found.add(value)
        elif isinstance(value, dict):
            stack += [*value, *value.values()]
        elif isinstance(value, list):
            stack += value
    echoes.pop(request.id, None)
    if found:
        echoes[request.id] = sorted(found, key=len, reverse=True)
        while len(echoes) > PENDING_LIMIT:
            del echoes[next(iter(echoes))]


def wire_text(message: JSONRPCMessage, echoed: Sequence[str]) -> str:
    """The line for ``message``: a JSON-RPC error or a tool error gets its texts ``bounded``."""
    tool_error = isinstance(message, JSONRPCResponse) and message.result.get("isError")
    if not (tool_error or isinstance(message, JSONRPCError)):
        return message.model_dump_json(by_alias=True, exclude_unset=True)
    doc = message.model_dump(by_alias=True, exclude_unset=True, mode="json")
    boxes = doc["result"].get("content", []) if tool_error else [doc["error"]]
    for box in boxes:
        for key in ("text", "message", "data"):
            if isinstance(box.get(key), str):
                box[key] = bounded(box[key], echoed)
    return json.dumps(doc, separators=(",", ":"))


def bounded(text: str, echoed: Sequence[str] = ()) -> str:
    """``text`` with each echoed client string capped to ECHO_LIMIT, all of it to ERROR_LIMIT."""
    for value in echoed:
        text = text.replace(value, capped(value, ECHO_LIMIT))
    return capped(text, ERROR_LIMIT)


def capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"
