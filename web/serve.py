"""Serve a built site on 127.0.0.1 with the headers that make it cross-origin isolated.

ONNX Runtime Web runs its WASM kernels on several threads only in a cross-origin-isolated page
(SharedArrayBuffer), and a page is isolated only when its responses carry COOP and COEP headers:
``python -m http.server`` sends none, nor does GitHub Pages, where the site's service worker
(``web/src/isolation-sw.ts``) adds them at the cost of one reload on a browser's first visit.
This server sends them itself, so the page is isolated from its first load. Every file here
is same-origin, so ``require-corp`` costs nothing. Otherwise this is the standard library's
static server.

    python -m web.serve DIR [--port 8000] [--bind 127.0.0.1]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
from pathlib import Path
from typing import Any

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with no request log on stderr (a plain static server, as GitHub Pages:
    the page then isolates itself with its service worker)."""

    def log_message(self, *args: Any) -> None:
        pass


class IsolatedHandler(QuietHandler):
    """Static files, each reply with the isolation headers."""

    def end_headers(self) -> None:
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()


def server(
    folder: Path, port: int = 0, bind: str = "127.0.0.1", isolated: bool = True
) -> http.server.ThreadingHTTPServer:
    """A server of ``folder`` (not yet serving; port 0 picks a free one); ``isolated=False``
    leaves the headers out (bench.web's --plain)."""
    handler = functools.partial(
        IsolatedHandler if isolated else QuietHandler, directory=str(folder)
    )
    return http.server.ThreadingHTTPServer((bind, port), handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m web.serve", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("dir", type=Path, help="the built site (goap demo's site/)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--bind", default="127.0.0.1")
    args = parser.parse_args(argv)
    if not (args.dir / "index.html").is_file():
        print(f"{args.dir} has no index.html: give the site folder that goap demo or the deploy "
              "action wrote", file=sys.stderr)  # fmt: skip
        return 2
    try:
        httpd = server(args.dir, args.port, args.bind)
    except OSError as error:
        print(f"cannot listen on {args.bind}:{args.port}: {error.strerror}; pick another --port",
              file=sys.stderr)  # fmt: skip
        return 2
    print(f"serving {args.dir} at http://{args.bind}:{httpd.server_address[1]}/ "
          "(cross-origin isolated; Ctrl-C stops)", flush=True)  # fmt: skip
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
