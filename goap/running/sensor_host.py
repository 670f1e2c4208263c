"""A warm process that forks each sensor from modules it imported once.

After every step the runner asks all the catalog's sensors what the world is. A child of
its own per sensor starts an interpreter and imports the executor's module (pydantic,
GitPython, httpx...) every time: on two cores the seed catalog's nine sensors took about
three seconds of CPU a round, more than most of the steps they follow. The host imports the
sensors' modules once per run and forks a grandchild per sensor, in milliseconds.

Each grandchild keeps what a child of its own has: its own session (a timeout kills its
group), a mark in the environment of whatever it starts (``goap.running.orphans``), death
with its parent (PR_SET_PDEATHSIG; the host is single-threaded, so "the parent" is exact),
and its output on a pipe the runner made, scrubbed of secrets by the runner as it is
written to the log (the pipe's end travels to the host with SCM_RIGHTS). The host dies with
the runner: when the control socket closes (the runner exited or was killed), it kills
every grandchild and exits.

The host never runs stale code: before every fork it compares the files of the project
modules it imported (anything outside the standard library and site-packages) with what
they were at import; a change makes it answer ``stale`` and exit, and the runner starts a
fresh one. A host that cannot start, or dies, costs nothing but speed: the sensor runs in a
child of its own, as before.

Messages are JSON, one per SOCK_SEQPACKET datagram. To the host: ``{"id", "request",
"answer", "env"}`` with the pipe's write end. From it: ``{"id", "pid"}`` once forked, ``{"id",
"exit"}`` when reaped, ``{"id", "stale": true}`` instead of a fork.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from goap.running import orphans
from goap.running.child import Output, die_with, end_all, kill_group, wait_for

MESSAGE = 1 << 20  # the largest datagram read (a request with its whole environment)
WARM_UP = 120.0  # seconds the host may take to import the sensors' modules
FORKED = 30.0  # seconds a fork may take to be reported
OFF = "GOAP_SENSOR_HOST"  # "0": every sensor in a child of its own (the old way; benchmarks)


class HostLost(Exception):
    """The host died, or answered stale: run the sensor in a child of its own instead."""


# ----------------------------------------------------------------------- the runner's side


class SensorHost:
    """The runner's handle on one host process, shared by every sensor thread."""

    def __init__(self, targets: list[str], workdir: Path, env: dict[str, str]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [sys.executable, "-P", "-m", "goap.running.sensor_host", str(theirs.fileno())]
        argv += [str(workdir), *targets]
        try:
            self.proc = subprocess.Popen(
                argv,
                cwd=workdir,
                env={k: v for k, v in env.items() if k != orphans.CHILD},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
                start_new_session=True,
            )
        finally:
            theirs.close()
        self.sock = ours
        self.sending = threading.Lock()
        self.ids = itertools.count(1)
        self.waiting: dict[int, queue.Queue[dict[str, Any]]] = {}
        self.alive = True
        self.fit: bool | None = None  # None until the host said it is ready
        self.said = threading.Event()  # the host said whether it is fit, or went
        self.reader = threading.Thread(target=self._listen, daemon=True)
        self.reader.start()

    def _listen(self) -> None:
        """Hand each message to the sensor waiting for it; when the host goes, tell them all."""
        while True:
            try:
                data = self.sock.recv(MESSAGE)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            if message["id"] == 0:  # its first word, once warm
                self.fit = bool(message.get("fit"))
                self.alive = self.fit
                self.said.set()
                continue
            if message.get("stale"):
                self.alive = False
            box = self.waiting.get(message["id"])
            if box is not None:
                box.put(message)
        self.alive = False
        self.said.set()
        for box in list(self.waiting.values()):
            box.put({"lost": True})

    def ready(self) -> bool:
        """Whether the host warmed up and can fork (it waits for the host's first word)."""
        if not self.said.wait(WARM_UP):
            self.alive = False
        return bool(self.fit) and self.alive

    def fork(
        self,
        request: dict[str, Any],
        answer: Path,
        log: Path,
        secrets: list[str],
        env: dict[str, str],
    ) -> HostedChild:
        """Start one sensor in a grandchild; HostLost if the host cannot."""
        if not self.ready():
            raise HostLost("the sensor host is gone")
        ident = next(self.ids)
        box: queue.Queue[dict[str, Any]] = queue.Queue()
        self.waiting[ident] = box
        mark = orphans.child_mark()
        output = Output(log, secrets)
        read, write = os.pipe()
        message = {"id": ident, "request": request, "answer": str(answer),
                   "env": dict(env, **{orphans.CHILD: mark})}  # fmt: skip
        try:
            with self.sending:
                socket.send_fds(self.sock, [json.dumps(message).encode()], [write])
        except OSError as exc:
            self.alive = False
            os.close(read)
            self.waiting.pop(ident, None)
            output.close()
            raise HostLost(f"the sensor host is gone ({exc.strerror})") from None
        finally:
            os.close(write)
        output.pump(os.fdopen(read, "rb"))
        try:
            first = box.get(timeout=FORKED)
        except queue.Empty:
            first = {"lost": True}
            self.alive = False
        if "pid" not in first:
            self.waiting.pop(ident, None)
            output.close()
            raise HostLost("the sensor host answered stale" if first.get("stale") else "lost")
        return HostedChild(self, ident, first["pid"], mark, output, box)

    def close(self) -> None:
        """The host exits when its socket closes; it is killed if it does not."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class HostedChild:
    """One forked sensor, with the lifecycle of a ``Child``: wait, kill, close."""

    def __init__(
        self,
        host: SensorHost,
        ident: int,
        pid: int,
        mark: str,
        output: Output,
        box: queue.Queue[dict[str, Any]],
    ):
        self.host, self.ident, self.pid, self.mark = host, ident, pid, mark
        self.output, self.box = output, box
        self.code: int | None = None
        self.lost = False

    def _poll(self, seconds: float) -> int | None:
        if self.code is not None or self.lost:
            return self.code
        try:
            message = self.box.get(timeout=seconds)
        except queue.Empty:
            return None
        if message.get("lost"):  # the host died: its grandchildren died with it
            self.lost = True
            return None
        self.code = message["exit"]
        return self.code

    def _ended(self, seconds: float) -> bool:
        self._poll(seconds)
        return self.code is not None or self.lost

    def kill(self) -> None:
        kill_group(self.pid, self._ended)

    def wait(
        self, timeout: float, stop: Callable[[], bool], tick: Callable[[], None] = lambda: None
    ) -> tuple[int | None, str]:
        def poll(seconds: float) -> int | None:
            code = self._poll(seconds)
            if self.lost:
                raise HostLost("the sensor host died while a sensor ran")
            return code

        return wait_for(poll, self.kill, timeout, stop, tick)

    def close(self) -> str:
        self.host.waiting.pop(self.ident, None)
        return end_all(self.pid, self.mark, self.output)


class SensorHosts:
    """The run's host: started at its first round of sensors, replaced when it went stale or
    died, given up for the run when it is unfit or cannot start."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.host: SensorHost | None = None
        self.retired: list[SensorHost] = []
        self.given_up = os.environ.get(OFF) == "0"

    def get(self, targets: list[str], workdir: Path, env: dict[str, str]) -> SensorHost | None:
        with self.lock:
            if self.given_up:
                return None
            if self.host is not None and not self.host.alive:
                if self.host.fit is False:
                    self.given_up = True
                    return None
                self.retired.append(self.host)
                self.host = None
            if self.host is None:
                try:
                    self.host = SensorHost(targets, workdir, env)
                except OSError:
                    self.given_up = True
                    return None
            return self.host

    def close(self) -> None:
        with self.lock:
            hosts, self.host, self.retired = [*self.retired, self.host], None, []
        for host in hosts:
            if host is not None:
                host.close()


# ------------------------------------------------------------------------- the host's side


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return tuple(os.path.realpath(r) + os.sep for r in roots)


def _project_files() -> dict[str, tuple[int, int]]:
    """(mtime, size) of every imported module's file outside the standard library and
    site-packages: the code that can change while a run goes on."""
    roots, found = _library_roots(), {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or os.path.realpath(path).startswith(roots):
            continue
        with contextlib.suppress(OSError):
            stat = os.stat(path)
            found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


def _changed(files: dict[str, tuple[int, int]]) -> bool:
    for path, seen in files.items():
        try:
            stat = os.stat(path)
        except OSError:
            return True
        if (stat.st_mtime_ns, stat.st_size) != seen:
            return True
    return False


def _threads() -> int:
    """This process's threads, native ones included (Linux), else Python's."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _grandchild(message: dict[str, Any], fd: int, host: int) -> None:
    """In the fork: become the sensor's own process, run its request, never return."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        die_with(host)()  # PR_SET_PDEATHSIG, and out at once if the host is already gone
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(null)
        os.environ.clear()
        os.environ.update(message["env"])
        from goap.running import worker

        worker.answer(message["request"], Path(message["answer"]))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the answer file is missing; the log says why
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve(control: socket.socket, workdir: str, targets: list[str]) -> None:
    """The host's loop: fork on request, report exits, end everything when the runner goes."""
    from goap.running import worker

    worker.enter(workdir)
    for target in targets:  # a module that fails to import fails in its grandchild, located
        with contextlib.suppress(Exception):
            importlib.import_module(target.partition(":")[0])
    files = _project_files()
    # a fork copies only the forking thread: a lock another thread held stays held in the
    # grandchild, so a module that started threads (Python's or native) makes the host unfit
    fit = _threads() == 1
    control.send(json.dumps({"id": 0, "fit": fit}).encode())
    if not fit:
        return
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, int] = {}  # pid -> request id
    stale = False  # code changed: no new fork; exit once the running ones are reaped

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            ident = children.pop(pid, None)
            if ident is not None:
                control.send(json.dumps({"id": ident, "exit": os.waitstatus_to_exitcode(status)})
                             .encode())  # fmt: skip

    try:
        while True:
            ready, _, _ = select.select([control, wake_read], [], [], 1.0)
            if wake_read in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_read, 4096)
            reap()
            if stale and not children:
                return
            if control not in ready:
                continue
            data, fds, _, _ = socket.recv_fds(control, MESSAGE, 1)
            if not data:
                return  # the runner is gone
            message = json.loads(data)
            stale = stale or _changed(files)
            if stale or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                control.send(json.dumps({"id": message["id"], "stale": True}).encode())
                continue
            me = os.getpid()  # taken before the fork: the host may die right after it
            pid = os.fork()
            if pid == 0:
                control.close()
                os.close(wake_read)
                os.close(wake_write)
                _grandchild(message, fds[0], me)
            os.close(fds[0])
            children[pid] = message["id"]
            control.send(json.dumps({"id": message["id"], "pid": pid}).encode())
    except OSError:
        return  # the socket broke: the runner is gone
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def main() -> None:
    fd, workdir, targets = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    control = socket.socket(fileno=fd)
    try:
        serve(control, workdir, targets)
    finally:
        control.close()


if __name__ == "__main__":
    main()
