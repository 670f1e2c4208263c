"""The web app's inference in headless Chromium (WASM) against onnxruntime-Python, same CPU.

Baseline: onnxruntime-Python's CPU provider with one intra-op thread on the same model files
(the page runs one WASM thread: a static server sends no cross-origin-isolation headers, so
ONNX Runtime Web has no threads). Measured in one run:

* classifier p50 latency of one image: the benchmark page's N runs (timed in the worker
  around session.run) against N session.run calls in Python;
* 10 Euler generation steps of the DiT (CFG 4, one guided-step call per step): the generate
  page's total time (worker loop, from the same seeded noise) against models.browser.sample.

Targets (issue 14): the browser within 3x of Python; 10 steps under 1 s. Usage, after `goap
demo` (or with any deployed site):

    python -m bench.web [--site goap-demo/site] [--runs 200] [--generations 5] [--json]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import platform
import statistics
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

CHROMIUM = "/usr/bin/chromium"


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """The site on 127.0.0.1 (a free port) from a background thread."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def browser_figures(url: str, runs: int, generations: int, chromium: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{url}?backend=wasm#benchmark")
        page.wait_for_function("document.body.dataset.ready !== undefined", timeout=60_000)
        if page.evaluate("document.body.dataset.ready") != "true":
            raise SystemExit(f"the app did not start: {page.text_content('#error')}")
        backend = page.text_content("#backend-detail")
        page.fill("#runs", str(runs))
        page.click("#bench-btn")
        page.wait_for_function(
            "['done','error'].includes(document.getElementById('bench-table').dataset.state)",
            timeout=600_000,
        )
        p50 = page.eval_on_selector(
            "#bench-rows tr[data-model=classifier] td[data-key=p50]", "e => Number(e.textContent)"
        )
        page.click("#nav-generate")
        page.fill("#steps", "10")
        page.fill("#cfg", "4")
        page.select_option("#method", "euler")
        totals = []
        for seed in range(generations + 1):  # the first one warms up
            page.fill("#seed", str(seed))
            page.click("#generate-btn")
            page.wait_for_function(
                "document.getElementById('gen-status').dataset.state === 'done' && "
                "!document.getElementById('generate-btn').disabled",
                timeout=120_000,
            )
            totals.append(float(page.eval_on_selector("#gen-status", "e => e.dataset.totalMs")))
            page.evaluate("document.getElementById('gen-status').dataset.state = ''")
        version = browser.version
        browser.close()
    return {"classifier_p50_ms": p50, "generate_10_ms": statistics.median(totals[1:]),
            "backend": backend, "chromium": version}  # fmt: skip


def python_figures(version_dir: Path, runs: int, generations: int) -> dict[str, Any]:
    import onnxruntime as ort

    from models import browser as reference

    manifest = json.loads((version_dir / "web-manifest.json").read_text())
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1

    def session(kind: str) -> Any:
        path = version_dir / manifest["models"][kind]["path"]
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    size = manifest["image_size"]
    classifier = session("classifier")
    feed = {"image": np.zeros((1, 3, size, size), np.float32)}
    for _ in range(3):
        classifier.run(None, feed)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        classifier.run(None, feed)
        times.append((time.perf_counter() - started) * 1000)
    dit = session("dit")
    totals = []
    for seed in range(generations + 1):  # the first one warms up
        noise = reference.seeded_noise(seed, (1, 3, size, size))
        started = time.perf_counter()
        reference.sample(dit, 0, 10, 4.0, "euler", noise)
        totals.append((time.perf_counter() - started) * 1000)
    return {"classifier_p50_ms": float(np.percentile(times, 50)),
            "generate_10_ms": statistics.median(totals[1:]),
            "onnxruntime": ort.__version__}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=Path("goap-demo/site"))
    parser.add_argument("--runs", type=int, default=200, help="classifier runs on each side")
    parser.add_argument("--generations", type=int, default=5, help="10-step generations")
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    config = args.site / "config.json"
    if not config.is_file():
        raise SystemExit(f"{config} does not exist: run `goap demo` first or pass --site")
    if not Path(args.chromium).is_file():
        raise SystemExit(f"no Chromium at {args.chromium}: apt-get install chromium")
    latest = json.loads(config.read_text())["latest"]
    server, url = serve(args.site)
    try:
        print(f"browser: {args.runs} classifier runs, {args.generations} generations …", flush=True)
        web = browser_figures(url, args.runs, args.generations, args.chromium)
    finally:
        server.shutdown()
    print("onnxruntime-Python: the same …", flush=True)
    py = python_figures(args.site / "models" / latest, args.runs, args.generations)
    rows = [
        ("classifier p50 (ms)", py["classifier_p50_ms"], web["classifier_p50_ms"]),
        ("10 DiT steps (ms)", py["generate_10_ms"], web["generate_10_ms"]),
    ]
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "site_version": latest,
        "baseline": "onnxruntime-Python CPU, 1 thread",
        "browser": f"Chromium {web['chromium']} headless, ONNX Runtime Web WASM ({web['backend']})",
        "runs": args.runs,
        "generations": args.generations,
        "figures": {name: {"python": p, "browser": b, "ratio": b / p} for name, p, b in rows},
        "targets": {
            "browser_within_3x": all(b / p <= 3 for _, p, b in rows),
            "ten_steps_under_1s": web["generate_10_ms"] < 1000,
        },
    }
    lines = [
        f"bench.web {result['date']} ({result['machine']}), site {latest}",
        f"baseline: {result['baseline']} (onnxruntime {py['onnxruntime']})",
        f"measured: {result['browser']}",
        f"{'':22} {'python':>10} {'browser':>10} {'ratio':>8}",
        *(f"{name:22} {p:10.3f} {b:10.3f} {b / p:7.2f}x" for name, p, b in rows),
        f"targets: browser within 3x of python: {result['targets']['browser_within_3x']}; "
        f"10 steps under 1 s: {result['targets']['ten_steps_under_1s']}",
    ]
    out = args.out or Path("bench/results") / f"web-{result['date']}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(json.dumps(result) if args.json else "\n".join(lines))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
