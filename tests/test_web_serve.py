"""`python -m web.serve`: the site's files on 127.0.0.1 with the cross-origin-isolation headers
(a real child process and real HTTP); bad input gets a sentence, not a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import free_port

from web.serve import ISOLATION_HEADERS


def serve(folder: Path, *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "web.serve", str(folder), *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_files_come_with_the_isolation_headers_on_127_0_0_1(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>site</title>")
    (tmp_path / "ort").mkdir()
    (tmp_path / "ort" / "x.wasm").write_bytes(b"\0asm")
    port = free_port()
    child = serve(tmp_path, "--port", str(port))
    try:
        assert f"http://127.0.0.1:{port}/" in child.stdout.readline()
        for path, body in (("", b"<!doctype html><title>site</title>"), ("ort/x.wasm", b"\0asm")):
            deadline = time.monotonic() + 10
            while True:
                try:
                    reply = urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=2)
                    break
                except OSError:
                    assert time.monotonic() < deadline, "web.serve did not answer"
                    time.sleep(0.1)
            with reply:
                assert reply.read() == body
                for name, value in ISOLATION_HEADERS.items():
                    assert reply.headers[name] == value
        assert listening_on(port) == ["0100007F"]  # 127.0.0.1 only, not every interface
    finally:
        child.terminate()
        child.wait(timeout=10)
    assert child.stderr.read() == ""  # no request log, no traceback


def listening_on(port: int) -> list[str]:
    """The local addresses (as /proc/net/tcp writes them) of the sockets listening on port."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":
            found.append(address)
    return found


def test_a_folder_without_a_site_and_a_taken_port_are_refused_with_the_fix(tmp_path):
    child = serve(tmp_path)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 2 and "has no index.html" in err and "Traceback" not in err
    (tmp_path / "index.html").write_text("x")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        child = serve(tmp_path, "--port", str(taken.getsockname()[1]))
        _, err = child.communicate(timeout=30)
    assert child.returncode == 2 and "pick another --port" in err and "Traceback" not in err
