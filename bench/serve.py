"""The model server under a bounded load, against onnxruntime called directly, same machine.

The server (``python -m models serve``, a real subprocess on 127.0.0.1) serves the latest
version of a registry; models/loadgen.py sends N labelled classify requests (dataset JPEGs),
K at a time. Baseline, measured in the same run: the same images through the same work in
this process without HTTP (JPEG decode, resize, onnxruntime ``session.run`` with one
intra-op thread, softmax), one after another. Reported:

* concurrency 1: the client's p50 and p99 per request, and the ratio of its p50 to the
  baseline's p50 (the server's overhead per request: HTTP, routing, validation, counting);
* concurrency K: requests per second, p50 and p99, and the ratio of its throughput to the
  baseline's single-thread throughput.

Usage, after ``goap demo`` (or with any workspace whose registry has a version):

    python -m bench.serve [--workspace goap-demo] [--requests 1000] [--concurrency 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np


def start(registry: Path, name: str, folder: Path) -> tuple[subprocess.Popen, str]:
    ready = folder / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "models", "serve", "--registry", str(registry), "--name", name,
         "--port", "0", "--state-dir", str(folder), "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server did not start: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())["url"]


def baseline(model: Path, images: list[bytes], n: int) -> dict[str, float]:
    """The server's per-request work in-process, sequential: decode, resize, run, softmax."""
    import onnxruntime as ort

    from models.serve import decode

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    size = session.get_inputs()[0].shape[2]
    times = []
    for i in range(n):
        start = time.perf_counter()
        pixels = decode(images[i % len(images)], size)
        x = (pixels.astype(np.float32) / np.float32(127.5) - 1).transpose(2, 0, 1)[None]
        logits = session.run(None, {"image": x})[0]
        e = np.exp(logits - logits.max())
        _ = e / e.sum()
        times.append((time.perf_counter() - start) * 1000)
    ordered = sorted(times)
    return {
        "p50_ms": ordered[len(ordered) // 2],
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "rps": n / (sum(times) / 1000),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.split("\n")[0])
    p.add_argument("--workspace", type=Path, default=Path("goap-demo"))
    p.add_argument("--name", default="tiny-cats")
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from models.loadgen import drive
    from models.pets import read_annotations
    from models.serve import registry_versions

    registry = args.workspace / ".goap" / "registry"
    versions = registry_versions(registry / args.name)
    data = args.workspace / "data" / "pets"
    if not versions or not (data / "annotations").is_dir():
        print(f"error: no published version or dataset in {args.workspace}; run `goap demo` first",
              file=sys.stderr)  # fmt: skip
        return 2
    model = registry / args.name / versions[-1] / "classifier.int8.onnx"
    images = [r.path.read_bytes() for r in read_annotations(data, "test")]
    os.environ.setdefault("GOAP_SERVE_THREADS", "1")
    with tempfile.TemporaryDirectory() as folder:
        proc, url = start(registry, args.name, Path(folder))
        try:
            drive(url, data, requests=100, concurrency=args.concurrency)  # warm-up
            base = baseline(model, images, min(args.requests, 2000))
            single = drive(url, data, requests=args.requests // 2, concurrency=1, seed=1)
            loaded = drive(url, data, requests=args.requests, concurrency=args.concurrency, seed=2)
        finally:
            proc.terminate()
            proc.wait(20)
    if not single["p50_ms"] or not loaded["p50_ms"]:
        print(f"error: the server answered no request of {versions[-1]}: {single['statuses']}",
              file=sys.stderr)  # fmt: skip
        return 1
    result: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "version": versions[-1],
        "baseline": {k: round(v, 3) for k, v in base.items()},
        "concurrency_1": {k: single[k] for k in ("requests", "rps", "p50_ms", "p99_ms", "errors")},
        f"concurrency_{args.concurrency}": {
            k: loaded[k] for k in ("requests", "rps", "p50_ms", "p99_ms", "errors")
        },
        "overhead_p50_ratio": round(single["p50_ms"] / base["p50_ms"], 2),
        "throughput_ratio": round(loaded["rps"] / base["rps"], 3),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"bench.serve {result['date']} on {result['machine']}; {versions[-1]} of {args.name}")
    print(f"baseline (in-process decode + onnxruntime, sequential): p50 {base['p50_ms']:.2f} ms, "
          f"p99 {base['p99_ms']:.2f} ms, {base['rps']:.0f} req/s")  # fmt: skip
    print(f"server, concurrency 1: {single['requests']} requests, p50 {single['p50_ms']} ms, "
          f"p99 {single['p99_ms']} ms, {single['rps']} req/s, "
          f"errors {single['errors']}")  # fmt: skip
    print(f"server, concurrency {args.concurrency}: {loaded['requests']} requests, "
          f"{loaded['rps']} req/s, p50 {loaded['p50_ms']} ms, p99 {loaded['p99_ms']} ms, "
          f"errors {loaded['errors']}")  # fmt: skip
    print(f"overhead per request (server p50 at concurrency 1 / baseline p50): "
          f"{result['overhead_p50_ratio']}x")  # fmt: skip
    print(f"throughput (server at concurrency {args.concurrency} / baseline sequential): "
          f"{result['throughput_ratio']}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
