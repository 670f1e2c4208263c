"""The ``goap ui`` command, added to ``goap`` through the ``goap.commands`` entry point.

The server and its framework are imported only when the command runs, so every other
``goap`` command (which loads this module while it looks for plugins) pays nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from goap.faces.cli import FileArg, JsonOpt, StateOpt, Usage, err, handles_errors
from goap.loading.catalog import load_catalog
from state.files import default_state_path

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def listening(host: str, port: int) -> socket.socket:
    """A bound, listening socket (port 0: the kernel picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise Usage(f"--host {host} --port {port}: cannot listen there ({exc.strerror})") from None
    sock.listen(64)
    sock.set_inheritable(False)
    return sock


@handles_errors
def ui_cmd(
    file: FileArg,
    state: StateOpt = None,
    workdir: Annotated[
        Path, typer.Option(help="Where the catalog's actions run (default: here).")
    ] = Path("."),
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free one).")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Serve a live dashboard of the catalog's graph, plan, run, history, world state and
    artifacts in the browser; writes (run, approve) need the token it prints."""
    try:
        import starlette  # noqa: F401 - first, so a missing install names it
        import uvicorn

        from dashboard.reading import Where
        from dashboard.server import Dashboard
    except ModuleNotFoundError as exc:
        from goap.running.extras import install_hint

        hint = install_hint(exc.name or "", "dashboard") or "install it"
        raise Usage(f"goap ui needs the module {exc.name!r}; {hint}") from None

    if not workdir.is_dir():
        raise Usage(f"--workdir {workdir}: no such directory")
    if not 0 <= port <= 65535:
        raise Usage(f"--port {port}: use 0 (any free port) or 1-65535")
    catalog = load_catalog(file.absolute())
    state_path = (state or default_state_path(catalog.path)).absolute()
    where = Where(catalog, state_path, workdir.absolute())
    token = secrets.token_urlsafe(24)
    sock = listening(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    hosts = ["*"] if host in ("0.0.0.0", "::") else sorted({*LOOPBACK, host} - {"::1"})
    if hosts == ["*"]:
        err().print(f"warning: --host {host}: every machine that reaches this one can read it")
    app = Dashboard(where, token).app(hosts)
    if json_out:
        line = {"url": url, "token": token, "page": f"{url}#token={token}", "pid": os.getpid()}
        print(json.dumps(line | {"state": str(state_path), "workdir": str(where.workdir)}))
    else:
        print(f"goap ui: {catalog.name} at {url}#token={token}")
        print(f"token for writes (run, approve): {token}")
        print(f"state: {state_path}   (Ctrl-C stops the server, never a run it started)")
    sys.stdout.flush()
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=1, lifespan="off"
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
