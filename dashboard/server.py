"""The dashboard's HTTP face: the page, a JSON API, and server-sent events for live updates.

Reads need nothing; writes need the token printed at start-up, sent as
``Authorization: Bearer TOKEN`` (the page takes it from the URL's fragment, which never
reaches a server log or a Referer). A header, not a cookie, so another site's form or
script can never send a write with it; and only the Host names of this machine are served,
so a page elsewhere cannot rebind its own name to this port and read the dashboard.

Live updates: each event stream polls the state file and the progress channels of the
attempts in flight (their mtimes and sizes, ~0.3 s) and sends a new snapshot when any
changed. Streams are bounded (MAX_STREAMS), every JSON reply passes through the secret
masker, and a bad request is a 4xx JSON error, never a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dashboard import approvals, drawing, reading
from dashboard.reading import Where
from dashboard.writing import Refused, Runs
from goap.loading.secrets import MASKER
from goap.running.errors import RunError
from state.model import StateError, json_safe

POLL_S = 0.3
KEEPALIVE_S = 15.0
MAX_STREAMS = 16
NEEDS_TOKEN = (
    "this write needs the dashboard's token: send `Authorization: Bearer TOKEN` "
    "(`goap ui` printed it)"
)


def reply(document: Any, status: int = 200) -> Response:
    """A JSON reply: valid JSON always (NaN never), every secret masked."""
    text = json.dumps(json_safe(document), default=str, allow_nan=False)
    return Response(MASKER(text), status, media_type="application/json")


def error(status: int, message: str) -> Response:
    return reply({"error": message, "status": status}, status)


class Dashboard:
    """One catalog's dashboard: its paths, its token, the runs it started, its streams."""

    def __init__(self, where: Where, token: str):
        self.where, self.token = where, token
        self.runs = Runs(where)
        self.streams = 0

    # ------------------------------------------------------------ helpers

    def authorized(self, request: Request) -> None:
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.token.encode()
        ):
            raise HTTPException(401, NEEDS_TOKEN)

    def snapshot(self) -> dict[str, Any]:
        document = reading.snapshot(self.where)
        document["dashboard_run"] = self.runs.document()
        document["approvals"] = approvals.pending(self.where)
        return document

    def fingerprint(self, document: dict[str, Any] | None) -> tuple[Any, ...]:
        """What changes when the page must change: the state file, the channels in flight,
        the lock and the run this server started."""
        parts: list[Any] = [reading.mtime_ns(self.where.state_path)]
        for attempt in (document or {}).get("in_flight", []):
            parts.append(reading.mtime_ns(reading.channel_path(self.where, attempt)))
        parts.append(reading.lock_holder(self.where.state_path)["held"])
        run = self.runs.document()
        parts.append(run and (run["pid"], run["running"]))
        return tuple(parts)

    # ------------------------------------------------------------ reads

    async def index(self, request: Request) -> Response:
        page = files("dashboard") / "static" / "index.html"
        return Response(page.read_text(encoding="utf-8"), media_type="text/html")

    def get_snapshot(self, request: Request) -> Response:
        return reply(self.snapshot())

    def get_graph(self, request: Request) -> Response:
        svg = drawing.svg(self.where.catalog, self.snapshot())
        return Response(MASKER(svg), media_type="image/svg+xml")

    def get_attempt(self, request: Request) -> Response:
        seq = request.path_params["seq"]
        try:
            found = reading.attempt_detail(self.where, seq)
        except StateError as exc:
            return error(409, str(exc))
        if found is None:
            return error(404, f"no journal entry {seq} in {self.where.state_path}")
        return reply(found)

    def get_artifacts(self, request: Request) -> Response:
        return reply(reading.artifacts(self.where.workdir))

    async def events(self, request: Request) -> Response:
        if self.streams >= MAX_STREAMS:
            return error(503, f"{MAX_STREAMS} pages are watching already; close one")
        self.streams += 1

        async def stream():
            try:
                seen, document, quiet = None, None, 0.0
                while not await request.is_disconnected():
                    mark = await anyio.to_thread.run_sync(self.fingerprint, document)
                    if mark != seen:
                        document = await anyio.to_thread.run_sync(self.snapshot)
                        text = json.dumps(json_safe(document), default=str, allow_nan=False)
                        yield f"event: snapshot\ndata: {MASKER(text)}\n\n"
                        # the snapshot may have new attempts in flight: their channels count
                        seen = await anyio.to_thread.run_sync(self.fingerprint, document)
                        quiet = 0.0
                    elif quiet >= KEEPALIVE_S:
                        yield ": keepalive\n\n"
                        quiet = 0.0
                    await asyncio.sleep(POLL_S)
                    quiet += POLL_S
            finally:
                self.streams -= 1

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    # ------------------------------------------------------------ writes

    def post_run(self, request: Request) -> Response:
        self.authorized(request)
        try:
            return reply(self.runs.start(), 202)
        except (Refused, StateError) as exc:
            return error(409, str(exc))

    async def post_approval(self, request: Request) -> Response:
        self.authorized(request)
        try:
            body = Answer.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "body"
            return error(
                400, f'{where}: {first["msg"]}; send {{"approve": true|false, "why": "..."}}'
            )
        action = request.path_params["action"]
        return await anyio.to_thread.run_sync(self.answer, action, body)

    def answer(self, action: str, body: Answer) -> Response:
        try:
            return reply(approvals.answer(self.where, action, body.approve, body.why))
        except approvals.Unknown as exc:
            return error(404, str(exc))
        except (Refused, StateError, RunError) as exc:
            return error(409, str(exc))

    def check_token(self, request: Request) -> Response:
        self.authorized(request)
        return reply({"ok": True})

    # ------------------------------------------------------------ the app

    def app(self, hosts: list[str]) -> Starlette:
        static = StaticFiles(directory=str(Path(str(files("dashboard") / "static"))))
        routes = [
            Route("/", self.index),
            Route("/api/snapshot", self.get_snapshot),
            Route("/api/graph.svg", self.get_graph),
            Route("/api/attempts/{seq:int}", self.get_attempt),
            Route("/api/artifacts", self.get_artifacts),
            Route("/api/events", self.events),
            Route("/api/token", self.check_token, methods=["POST"]),
            Route("/api/run", self.post_run, methods=["POST"]),
            Route("/api/approvals/{action}", self.post_approval, methods=["POST"]),
            Mount("/static", static),
        ]
        handlers = {HTTPException: _http_error, Exception: _server_error}
        middleware = [Middleware(OnlyHosts, hosts=hosts)]
        return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)


class Answer(BaseModel):
    """The body of an approval's answer."""

    model_config = ConfigDict(extra="forbid", strict=True)
    approve: bool
    why: str = Field("", max_length=1000)


class OnlyHosts:
    """Serve only requests whose Host is one of ``hosts`` ("*": any), as a JSON 400 else:
    a page whose own name was rebound to 127.0.0.1 sends its own name, and is refused."""

    def __init__(self, app: Any, hosts: list[str]):
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "*" not in self.hosts:
            host = Headers(scope=scope).get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in self.hosts:
                said = f"Host {host[:100]!r} is not served: open the URL goap ui printed"
                response = error(400, said)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    response = error(exc.status_code, str(exc.detail))
    if headers:
        response.headers.update(headers)
    return response


async def _server_error(request: Request, exc: Exception) -> Response:
    """Never a traceback to the page: what failed, in one line (the server's log has more)."""
    return error(500, f"{type(exc).__name__}: {str(exc)[:300]}")
