"""The MCP ``run_action`` tool's run: one action in a worker thread, heard and stoppable.

A training step of minutes must neither look frozen to the client nor be impossible to
stop. While the runner waits for its child it hands each progress record
(``goap.running.progress``) to this module, which sends it as ``notifications/progress``
when the client asked for it (a ``progressToken``). A ``notifications/cancelled`` for the
request cancels its task here; that sets the runner's ``stop_requested``, exactly what
SIGINT sets in ``goap run``: the child's process group is terminated, the attempt is
journalled as interrupted and the state file written whole, and only then does the
request end (unanswered, as the protocol wants), so the next request finds the lock free.
"""

from __future__ import annotations

import math
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from mcp.server.mcpserver import Context

from goap.loading.catalog import Action
from goap.running.progress import shown
from goap.running.runner import Runner, Silent, StepResult

PROGRESS_BUFFER = 256  # records waiting for the client; a slow client loses some, never blocks us


class Heard(Silent):
    """The runner's events: progress records go to the request's stream, the rest nowhere."""

    def __init__(self, send: ObjectSendStream[dict[str, Any]]):
        self.send, self.token = send, anyio.lowlevel.current_token()

    def progress(self, action: Action, fields: dict[str, Any]) -> None:
        try:  # called on the runner's thread; never waits for the client
            anyio.from_thread.run_sync(self._put, fields, token=self.token)
        except RuntimeError:  # the event loop is gone: the server is shutting down
            pass

    def _put(self, fields: dict[str, Any]) -> None:
        try:
            self.send.send_nowait(fields)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # progress is best effort: a full buffer drops a record


async def run_reporting(
    runner: Runner, name: str, args: dict[str, Any], force: bool, ctx: Context
) -> StepResult:
    """``runner.run_one(name, args, force)``, its progress sent to the client as it comes.

    Raises what run_one raises; a cancelled request stops the action first, then ends.
    """
    send, receive = anyio.create_memory_object_stream[dict[str, Any]](PROGRESS_BUFFER)
    runner.events = Heard(send)
    drained = anyio.Event()

    async def stop_when_cancelled() -> None:
        try:
            await anyio.sleep_forever()
        finally:  # cancelled: the request was, or the step is over (then it changes nothing)
            runner.stop_requested = True

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(stop_when_cancelled)
        tasks.start_soon(forward, receive, ctx, drained)
        failure: Exception | None = None
        try:  # the thread is waited for even when cancelled: the step always ends whole
            step = await anyio.to_thread.run_sync(runner.run_one, name, args, force)
        except Exception as exc:  # re-raised outside the task group, not in an ExceptionGroup
            failure = exc
        finally:
            send.close()
        await drained.wait()  # every record heard is sent before the reply
        tasks.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return step


async def forward(
    receive: ObjectReceiveStream[dict[str, Any]], ctx: Context, drained: anyio.Event
) -> None:
    """Each record as one ``notifications/progress`` (a no-op without a progressToken).

    ``progress`` must grow with every notification: it is the record's ``step`` when that
    grew; a record without a step counts one more, unless the executor gave a total (a
    message then cannot say where it stands, and is skipped).
    """
    try:
        await _send_each(receive, ctx)
    finally:
        drained.set()


async def _send_each(receive: ObjectReceiveStream[dict[str, Any]], ctx: Context) -> None:
    last, total = 0.0, None
    async with receive:
        async for record in receive:
            step, given = record.get("step"), record.get("total")
            if _number(given) and given > 0:
                total = float(given)
            if _number(step) and step > last:
                value = float(step)
            elif step is None and total is None:
                value = last + 1
            else:
                continue
            last = value
            await ctx.report_progress(value, total, shown(record) or None)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
