"""A bounded load generator: N labelled classify requests, K at a time, from M client keys.

It stands in for a model server's users in the demo, the tests and the rollout stages'
``[serving] traffic = "local"`` windows: dataset images (the test split by default) go to
``POST /v1/classify`` with ``X-Probe-Label`` (their true breed, so the server counts probe
accuracy per version) and an ``X-Client-Key`` drawn from ``clients`` keys (so the sticky
split sees many users). ``shift`` injects drift: each image's pixels are moved towards white
(shift > 0) or black (shift < 0) by that fraction, ``x + shift * (255 - x)`` or
``x * (1 + shift)``, and re-encoded as JPEG: exposure drift, which the drift features'
channel means and stds see. Every request is answered or counted as failed; nothing is retried.
"""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def shifted_jpeg(path: Path, shift: float) -> bytes:
    """The image file, or with ``shift`` applied, as JPEG bytes."""
    if shift == 0:
        return path.read_bytes()
    from PIL import Image

    with Image.open(path) as im:
        x = np.asarray(im.convert("RGB"), dtype=np.float32)
    x = x + shift * (255 - x) if shift > 0 else x * (1 + shift)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.round(x), 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def drive(
    url: str,
    data_root: str | Path,
    requests: int,
    concurrency: int = 4,
    clients: int = 50,
    shift: float = 0.0,
    split: str = "test",
    seed: int = 0,
    token: str | None = None,
    progress: bool = False,
    version: str | None = None,
) -> dict[str, Any]:
    """Send ``requests`` classify requests, ``concurrency`` at once; the client-side summary.
    ``version`` (with ``token``) forces every request to that version (``X-Version``)."""
    import httpx

    from models.pets import read_annotations
    from models.serve import percentiles

    if not -1 <= shift <= 1:  # NaN fails this too
        raise ValueError(f"shift must be between -1 and 1, got {shift}")
    if requests < 1:
        raise ValueError(f"requests must be at least 1, got {requests}")
    records = read_annotations(data_root, split)  # type: ignore[arg-type]
    if not records:
        raise ValueError(f"{data_root}: no images in the {split} split")
    rng = np.random.default_rng(seed)
    order = rng.integers(0, len(records), requests)
    keys = rng.integers(0, clients, requests)
    bodies: dict[int, bytes] = {}
    lock = threading.Lock()
    statuses: Counter = Counter()
    versions: Counter = Counter()
    correct: Counter = Counter()
    latencies: list[float] = []
    done = [0]
    local = threading.local()

    def body(i: int) -> bytes:
        with lock:
            if i in bodies:
                return bodies[i]
        data = shifted_jpeg(records[i].path, shift)
        with lock:
            return bodies.setdefault(i, data)

    def one(n: int) -> None:
        client = getattr(local, "client", None)
        if client is None:  # TCP_NODELAY: headers and body are two writes; with Nagle the
            # second waits for the server's delayed ACK (40 ms a request on Linux)
            transport = httpx.HTTPTransport(socket_options=[NODELAY])
            client = local.client = httpx.Client(timeout=30.0, transport=transport)
        record = records[int(order[n])]
        headers = {"Content-Type": "image/jpeg", "X-Client-Key": f"client-{keys[n]}",
                   "X-Probe-Label": str(record.label)}  # fmt: skip
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if version:
            headers["X-Version"] = version
        start = time.perf_counter()
        try:
            reply = client.post(f"{url}/v1/classify", content=body(int(order[n])), headers=headers)
            status = str(reply.status_code)
            answer = reply.json() if reply.status_code == 200 else {}
        except httpx.HTTPError as exc:
            status, answer = type(exc).__name__, {}
        ms = (time.perf_counter() - start) * 1000
        with lock:
            statuses[status] += 1
            if answer:
                versions[answer["version"]] += 1
                correct[answer["version"]] += answer["top5"][0]["index"] == record.label
                latencies.append(ms)
            done[0] += 1
            if progress and done[0] % max(1, requests // 10) == 0:
                print(f"load: {done[0]}/{requests}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        list(pool.map(one, range(requests)))
    seconds = time.perf_counter() - start

    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 2) if seconds else None,
        "statuses": dict(statuses),
        "errors": requests - statuses.get("200", 0),
        **percentiles(latencies),
        "versions": dict(versions),
        "accuracy": {v: round(correct[v] / n, 4) for v, n in versions.items()},
        "shift": shift,
    }  # fmt: skip
