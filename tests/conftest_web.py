"""Shared fixtures of the web tests: a deployed site made by the real pipeline steps, a static
server on 127.0.0.1, and headless Chromium driven by Playwright.

Imported by the test modules (``from conftest_web import ...``). The workspace is built once
per session: a generated dataset, a classifier and a DiT trained for a few steps, exported,
quantized, gated (with limits such small models meet), published to the local registry, the
app built by A03 (``npm ci``, ``tsc --noEmit``, the esbuild build) and deployed by A16. The
browser is Debian's ``/usr/bin/chromium`` (``apt-get install chromium``): Playwright cannot
download its own here. Tests that need npm or the browser skip, saying which is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("GOAP_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts" / "web"  # screenshots (gitignored)
WEB_SOURCES = ("package.json", "package-lock.json", "tsconfig.json", "build.mjs", "index.html",
               "style.css", "src")  # fmt: skip


def need_npm() -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed (install Node.js 20 and npm to build the web app)")


def need_browser() -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set GOAP_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")


def copy_web_sources(target: Path) -> Path:
    """The app's sources as a workspace holds them (no node_modules, no dist)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in WEB_SOURCES:
        source = ROOT / "web" / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copyfile(source, target / name)
    return target


def build_models(
    root: Path,
    per_class: int = 6,
    classifier_steps: int = 40,
    classifier_batch: int = 16,
    description: str = "tiny-cats for the browser tests",
) -> None:
    """Dataset, two briefly trained models, ONNX, int8, gates, and a published version."""
    from actions.gates import GatesArgs, run_gates
    from actions.onnx_export import ExportArgs, QuantizeArgs, export_onnx, quantize_onnx
    from actions.train import DatasetArgs, TrainArgs, prepare_dataset, train_model

    prepare_dataset(DatasetArgs(workdir=root, per_class=per_class, image_size=32))
    train_model(TrainArgs(workdir=root, kind="classifier", steps=classifier_steps,
                          batch_size=classifier_batch,
                          options={"image_size": 32}))  # fmt: skip
    train_model(TrainArgs(workdir=root, kind="dit", steps=6, batch_size=8,
                          options={"sample_steps": 2}))  # fmt: skip
    for kind in ("classifier", "dit"):
        export_onnx(ExportArgs(workdir=root, kind=kind, batch_sizes=[1, 2]))
        quantize_onnx(QuantizeArgs(workdir=root, kind=kind, samples_per_class=1, sample_steps=2,
                                   max_accuracy_drop=1.0))  # fmt: skip
    easy = {"min_conditional_accuracy": 0.0, "value_range": 100.0, "samples_per_class": 1}
    run_gates(GatesArgs(workdir=root, latency_runs=10, classifier={"min_accuracy": 0.0}, dit=easy))
    publish(root, description)


def publish(root: Path, description: str) -> dict[str, Any]:
    from actions.publish import ModelCard, PublishArgs, publish_model

    files = ["artifacts/classifier.int8.onnx", "artifacts/dit.int8.onnx",
             "artifacts/validation_report.json"]  # fmt: skip
    card = ModelCard(title="tiny-cats", description=description, tags=["onnx"])
    return publish_model(PublishArgs(workdir=root, name="tiny-cats", files=files, card=card))


@pytest.fixture(scope="session")
def web_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a published version, the app built by A03 and deployed by A16."""
    need_npm()
    from conftest_models import torch_threads

    from actions.checks import TypeScriptArgs, validate_typescript
    from actions.site import DeployArgs, deploy_site

    root = tmp_path_factory.mktemp("web-ws")
    (root / "goap.toml").write_text("[train]\nthreads = 1\n")
    with torch_threads(1):
        build_models(root)
    copy_web_sources(root / "web")
    built = validate_typescript(TypeScriptArgs(workdir=root, project_dir="web"))
    assert built["passed"] and built["command"].startswith("npm ci"), built
    deployed = deploy_site(DeployArgs(workdir=root))
    assert deployed["served_version"] == "v1", deployed
    return root


class StaticServer:
    """``python -m web.serve`` on 127.0.0.1 (the command the demo prints), as a child; with
    ``plain``, ``python -m http.server`` (no COOP/COEP headers, as GitHub Pages)."""

    def __init__(self, folder: Path, plain: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        argv = [sys.executable, "-m", "web.serve", str(folder), "--port", str(self.port)]
        if plain:
            argv = [sys.executable, "-m", "http.server", "-d", str(folder), "-b", "127.0.0.1",
                    str(self.port)]  # fmt: skip
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(self.url + "config.json", timeout=1).close()
                return
            except OSError as exc:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    message = f"the static server on port {self.port} did not start"
                    raise RuntimeError(message) from exc
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def site_server(web_workspace: Path) -> Iterator[StaticServer]:
    server = StaticServer(web_workspace / "site")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module: Playwright's sync API keeps an event loop on the main
    thread while it is open, which asyncio.run and another sync_playwright in a later module
    on the same worker (the MCP and dashboard tests) cannot share."""
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox"])  # fmt: skip
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.errors = errors
    yield opened
    context.close()


def open_app(page: Any, url: str, hash_: str) -> None:
    """Load the app and wait until it has started (or shown why it could not)."""
    page.goto(f"{url}#{hash_}")
    page.wait_for_function("document.body.dataset.ready !== undefined", timeout=30_000)
    assert page.evaluate("document.body.dataset.ready") == "true", page.text_content("#error")


def wait_state(page: Any, element: str, states: tuple[str, ...], timeout_ms: int = 60_000) -> str:
    states_js = "[" + ",".join(f"'{s}'" for s in states) + "]"
    page.wait_for_function(
        f"{states_js}.includes(document.querySelector('{element}').dataset.state)",
        timeout=timeout_ms,
    )
    return page.eval_on_selector(element, "e => e.dataset.state")


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
